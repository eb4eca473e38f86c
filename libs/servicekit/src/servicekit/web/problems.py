"""Errors as RFC 9457 `application/problem+json`, the one error shape of every service.

Body: `type`, `title`, `status`, `detail`, `code` (stable, UPPER_SNAKE), `rule` (catalogue ID such as
`PP-05`, only where a business rule refused), `instance` (the request path), `request_id`, plus the
problem's extension members (e.g. `attempts_left`, `errors`).

`type` scheme: every code has its own URI, `https://errors.tms.example/<code in lower case, "_" → "-">`
(`CUSTOM_ATTEMPTS_EXHAUSTED` → `https://errors.tms.example/custom-attempts-exhausted`). It is an
identifier, not a promise that the URL resolves; clients switch on `code`, which carries the same
information. `about:blank` is not used because RFC 9457 ties it to a bare HTTP status, and every problem
here has a more precise code.

Status use (api.md): 404 for "not yours or not there" (object-level authorisation never says 403), 409 a
rule refused because of state, 422 a rule refused the input, 429 with `Retry-After`. A 5xx means our
fault: its body is generic and the cause goes to the log, never to the client.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from http import HTTPStatus
from typing import Any, ClassVar

import psycopg
import redis.exceptions
import sqlalchemy.exc
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.responses import JSONResponse, Response

from servicekit.masking import mask_text
from servicekit.refusal import Refusal
from servicekit.telemetry import REQUEST_ID

PROBLEM_CONTENT_TYPE = "application/problem+json"
TYPE_BASE = "https://errors.tms.example/"

_RESERVED = frozenset({"type", "title", "status", "detail", "code", "rule", "instance", "request_id"})

log = logging.getLogger("servicekit.web.problems")


def type_uri(code: str) -> str:
    return TYPE_BASE + code.lower().replace("_", "-")


# RFC 9110 names; Python 3.11's HTTPStatus still has the older ones ("Unprocessable Entity").
_TITLES = {413: "Content Too Large", 422: "Unprocessable Content"}


def _title_of(status: int) -> str:
    if status in _TITLES:
        return _TITLES[status]
    try:
        return HTTPStatus(status).phrase
    except ValueError:
        return "Error"


def code_for_status(status: int) -> str:
    """The code of a problem that only has a status: `404` → `NOT_FOUND`, `401` → `UNAUTHENTICATED`."""
    special = {401: "UNAUTHENTICATED", 403: "FORBIDDEN", 422: "VALIDATION_FAILED", 500: "INTERNAL_ERROR"}
    if status in special:
        return special[status]
    try:
        return HTTPStatus(status).phrase.upper().replace(" ", "_").replace("-", "_").replace("'", "")
    except ValueError:
        return f"HTTP_{status}"


class Problem(Exception):
    """Raise from anywhere in a request to answer with this problem."""

    def __init__(
        self,
        status: int,
        code: str,
        detail: str | None = None,
        *,
        title: str | None = None,
        rule: str | None = None,
        extra: Mapping[str, Any] | None = None,
        headers: Mapping[str, str] | None = None,
    ) -> None:
        super().__init__(detail or code)
        self.status = status
        self.code = code
        self.title = title or _title_of(status)
        self.detail = detail
        self.rule = rule
        clash = _RESERVED.intersection(extra or {})
        if clash:
            raise ValueError(f"extension members may not replace standard ones: {sorted(clash)}")
        self.extra: dict[str, Any] = dict(extra or {})
        self.headers: dict[str, str] = dict(headers or {})

    def body(self, instance: str | None = None, request_id: str | None = None) -> dict[str, Any]:
        body: dict[str, Any] = {"type": type_uri(self.code), "title": self.title, "status": self.status}
        if self.detail is not None:
            body["detail"] = self.detail
        body["code"] = self.code
        if self.rule is not None:
            body["rule"] = self.rule
        if instance is not None:
            body["instance"] = instance
        if request_id is not None:
            body["request_id"] = request_id
        body.update(self.extra)
        return body

    def response(self, instance: str | None = None, request_id: str | None = None) -> JSONResponse:
        return JSONResponse(
            self.body(instance, request_id),
            status_code=self.status,
            headers=self.headers or None,
            media_type=PROBLEM_CONTENT_TYPE,
        )

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.status}, {self.code!r}, rule={self.rule!r})"


class NotFound(Problem):
    """404. Also the answer for another person's record, so that its existence does not leak."""

    def __init__(self, what: str = "resource", *, detail: str | None = None) -> None:
        super().__init__(404, "NOT_FOUND", detail or f"{what} not found")


class _WebRefusal(Problem):
    """A refusal the web layer makes on its own: a request it cannot read (a required header, a filter)
    or an account's state at sign-in. It names no rule: a business rule refuses through the domain's
    `servicekit.refusal.Refusal`, the one refusal type (conventions.md)."""

    status_code: ClassVar[int]

    def __init__(
        self,
        code: str,
        detail: str | None = None,
        *,
        extra: Mapping[str, Any] | None = None,
        headers: Mapping[str, str] | None = None,
    ) -> None:
        super().__init__(self.status_code, code, detail, extra=extra, headers=headers)


class Conflict(_WebRefusal):
    """409: the request cannot be served in the current state."""

    status_code = 409


class Unprocessable(_WebRefusal):
    """422: the request cannot be read as it is."""

    status_code = 422


class TooManyRequests(Problem):
    """429 with `Retry-After` (whole seconds, rounded up, at least 1)."""

    def __init__(
        self,
        retry_after_s: float,
        code: str = "RATE_LIMITED",
        detail: str | None = None,
        *,
        rule: str | None = None,
        extra: Mapping[str, Any] | None = None,
    ) -> None:
        seconds = max(1, int(-(-retry_after_s // 1)))
        super().__init__(
            429,
            code,
            detail or f"too many requests; retry after {seconds} s",
            rule=rule,
            extra={"retry_after_s": seconds, **(extra or {})},
            headers={"Retry-After": str(seconds)},
        )


class Unauthenticated(Problem):
    """401 with the `WWW-Authenticate: Bearer` challenge (RFC 6750)."""

    def __init__(
        self, detail: str = "a valid bearer token is required", *, invalid_token: bool = False
    ) -> None:
        challenge = 'Bearer error="invalid_token"' if invalid_token else "Bearer"
        super().__init__(401, "UNAUTHENTICATED", detail, headers={"WWW-Authenticate": challenge})


class Forbidden(Problem):
    """403: authenticated, but no role allows this. Not for someone else's record: that is NotFound."""

    def __init__(self, detail: str = "your roles do not allow this") -> None:
        super().__init__(403, "FORBIDDEN", detail)


def problem_of(exc: BaseException) -> Problem | None:
    """The problem that answers a domain's `Refusal` (detail and string members masked); None for any
    other exception, which is our fault and answers 500."""
    if not isinstance(exc, Refusal):
        return None
    extra = {k: mask_text(v) if isinstance(v, str) else v for k, v in exc.extra.items() if k not in _RESERVED}
    headers = {} if exc.retry_after_s is None else {"Retry-After": str(exc.retry_after_s)}
    return Problem(exc.status, exc.code, mask_text(exc.detail), rule=exc.rule, extra=extra, headers=headers)


# A store or the broker away (restarted, cut off, its connections reset) or a transaction the database
# aborted for the request to be tried again (deadlock, serialisation, a statement timeout): not the
# caller's fault and not a bug, but a moment. Answered 503 with Retry-After, never a 500 (ADR 0088).
_TRANSIENT: tuple[type[BaseException], ...] = (
    sqlalchemy.exc.OperationalError,  # psycopg's OperationalError: the server, the network, a rollback
    sqlalchemy.exc.InterfaceError,
    sqlalchemy.exc.TimeoutError,  # no pooled connection within pool_timeout
    psycopg.OperationalError,
    redis.exceptions.ConnectionError,  # TimeoutError included
    redis.exceptions.TimeoutError,
    ConnectionError,  # builtin: a socket reset (plate-pool's RESP pipe)
    TimeoutError,
)
RETRY_AFTER_UNAVAILABLE_S = 2


def unavailable_of(exc: BaseException) -> Problem | None:
    """503 `TEMPORARILY_UNAVAILABLE` for an exception that says a store is away for a moment; None for
    any other. A DBAPIError that invalidated its connection counts too (the pool reconnects next time)."""
    transient = isinstance(exc, _TRANSIENT) or (
        isinstance(exc, sqlalchemy.exc.DBAPIError) and exc.connection_invalidated
    )
    if not transient:
        return None
    return Problem(
        503,
        "TEMPORARILY_UNAVAILABLE",
        "the service cannot reach its data right now; try again shortly",
        headers={"Retry-After": str(RETRY_AFTER_UNAVAILABLE_S)},
    )


def internal_error() -> Problem:
    return Problem(
        500,
        "INTERNAL_ERROR",
        "an unexpected error occurred; quote the request_id when reporting it",
    )


def _request_id(request: Request) -> str | None:
    return getattr(request.state, "request_id", None) or REQUEST_ID.get()


def problem_response(request: Request, problem: Problem) -> JSONResponse:
    return problem.response(request.url.path, _request_id(request))


async def _on_problem(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, Problem)
    return problem_response(request, exc)


async def _on_validation(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, RequestValidationError)
    errors = [
        {
            "field": ".".join(str(part) for part in err.get("loc", ())),
            # Messages, not inputs: the input may be an identity number; a custom message is masked too.
            "message": mask_text(str(err.get("msg", "invalid"))),
            "type": str(err.get("type", "value_error")),
        }
        for err in exc.errors()
    ]
    problem = Problem(
        422,
        "VALIDATION_FAILED",
        "the request has invalid fields" if len(errors) != 1 else f"invalid field {errors[0]['field']}",
        extra={"errors": errors},
    )
    return problem_response(request, problem)


async def _on_http_exception(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, StarletteHTTPException)
    detail = exc.detail if isinstance(exc.detail, str) and exc.detail != _title_of(exc.status_code) else None
    problem = Problem(exc.status_code, code_for_status(exc.status_code), detail, headers=exc.headers)
    if exc.status_code in (204, 304):  # no body allowed
        return Response(status_code=exc.status_code, headers=exc.headers)
    return problem_response(request, problem)


async def _on_unexpected(request: Request, exc: Exception) -> Response:
    """Last resort (Starlette's ServerErrorMiddleware): the web middleware normally answers first."""
    rule_problem = problem_of(exc)
    if rule_problem is not None:
        return problem_response(request, rule_problem)
    unavailable = unavailable_of(exc)
    if unavailable is not None:
        log.warning(
            "a store is unavailable",
            extra={"error_type": type(exc).__name__, "error": mask_text(str(exc))[:300]},
        )
        return problem_response(request, unavailable)
    log.error("unhandled error", exc_info=exc)
    return problem_response(request, internal_error())


def install_problem_handlers(app: FastAPI) -> None:
    app.add_exception_handler(Problem, _on_problem)
    app.add_exception_handler(RequestValidationError, _on_validation)
    app.add_exception_handler(StarletteHTTPException, _on_http_exception)
    app.add_exception_handler(Exception, _on_unexpected)
