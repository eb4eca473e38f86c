"""Each operation's OpenAPI `responses` list the problems it can answer, derived from what the route
declares rather than written per route (ADR 0084).

    document_problems(app)   # create_service_app does it after including the routers

From the generated operation and the route's dependencies:
- 400 for every operation: a malformed request (refused at the edge or by the service) or a malformed
  Idempotency-Key;
- 401, 403 and 404 when it needs a bearer token (its `security`): no or a bad token; roles or a channel
  that do not allow it (roles are checked in dependencies and in handlers alike); a record it names, in
  its path, its body or as "mine", not there or not the caller's (api.md);
- 404 when it has path parameters (api.md: "not yours or not there");
- 414 when it takes query parameters: a request line longer than the edge reads;
- 409 for a state-changing method (POST, PUT, PATCH, DELETE): a rule refused because of state, or an
  idempotency key reused while its first request runs;
- 413 for every request body (the edge's limit, a document's) and 415 for a body that is not JSON (an
  upload typed by its bytes);
- 422 when it takes parameters or a body: FastAPI's `HTTPValidationError` is replaced, since every
  service answers VALIDATION_FAILED, INVALID_CHARACTERS and the rules' refusals as problems;
- 429 when `per_user_limit` / `per_ip_limit` guards it.
Each is `application/problem+json` with the shared `Problem` schema. An answer the route declares
itself (`responses=`) is kept: the derived ones only fill the gaps.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator, Sequence
from typing import Any

from fastapi import FastAPI
from fastapi.dependencies.models import Dependant
from fastapi.routing import APIRoute, iter_route_contexts
from starlette.routing import BaseRoute

from servicekit.web.problems import PROBLEM_CONTENT_TYPE, TYPE_BASE

Doc = dict[str, Any]

PROBLEM_REF = "#/components/schemas/Problem"
STATE_CHANGING = frozenset({"post", "put", "patch", "delete"})
_LIMITERS = ("per_user_limit.", "per_ip_limit.")
# FastAPI's own validation error shapes, which no service answers once its 422 is a problem.
_FASTAPI_VALIDATION = ("HTTPValidationError", "ValidationError")

PROBLEM_SCHEMA: Doc = {
    "title": "Problem",
    "description": "RFC 9457 problem details: every error answer of every service.",
    "type": "object",
    "required": ["type", "title", "status", "code"],
    "properties": {
        "type": {"type": "string", "description": f"{TYPE_BASE}<code in kebab case>"},
        "title": {"type": "string"},
        "status": {"type": "integer"},
        "detail": {"type": "string"},
        "code": {"type": "string", "description": "stable, UPPER_SNAKE; what clients switch on"},
        "rule": {"type": "string", "description": "the business rule's catalogue id, where one refused"},
        "instance": {"type": "string"},
        "request_id": {"type": "string"},
        "retry_after_s": {"type": "integer", "description": "with 429 (and Retry-After)"},
        "errors": {
            "type": "array",
            "description": "with 422: each field refused",
            "items": {
                "type": "object",
                "required": ["field", "message", "type"],
                "properties": {
                    "field": {"type": "string"},
                    "message": {"type": "string"},
                    "type": {"type": "string"},
                },
            },
        },
    },
    "additionalProperties": True,
}

_HEADER_STRING = {"schema": {"type": "string"}}
DESCRIPTIONS: dict[str, str] = {
    "400": "BAD_REQUEST or IDEMPOTENCY_KEY_INVALID: the request (or its Idempotency-Key) is malformed",
    "401": "UNAUTHENTICATED: no bearer token, or an invalid or expired one",
    "403": "FORBIDDEN: the caller's roles or channel do not allow this",
    "404": "NOT_FOUND: not there, or not the caller's",
    "409": "A rule refused because of the current state, or the idempotency key's request still runs",
    "413": "The body is larger than this operation takes",
    "414": "URI_TOO_LONG: the path and query are longer than the edge reads",
    "415": "The body's type is not one this operation takes",
    "422": (
        "VALIDATION_FAILED, INVALID_CHARACTERS, INVALID_NUMBER, INVALID_PATH_PARAMETER, INVALID_VALUE, "
        "or a rule refused the input"
    ),
    "429": "RATE_LIMITED: retry after `Retry-After` seconds",
}


def problem_response(status: str, description: str | None = None) -> Doc:
    response: Doc = {
        "description": description or DESCRIPTIONS[status],
        "content": {PROBLEM_CONTENT_TYPE: {"schema": {"$ref": PROBLEM_REF}}},
    }
    if status == "401":
        response["headers"] = {"WWW-Authenticate": _HEADER_STRING}
    elif status == "429":
        response["headers"] = {"Retry-After": _HEADER_STRING}
    return response


def declared(answers: dict[int, str]) -> dict[int | str, Doc]:
    """A route's own problem answers, those its dependencies cannot tell (an anonymous sign-in that answers
    401 for wrong credentials): `@router.post(..., responses=declared({401: "INVALID_CREDENTIALS: ..."}))`."""
    return {status: problem_response(str(status), description) for status, description in answers.items()}


def _calls(dependant: Dependant) -> Iterator[Callable[..., Any]]:
    for sub in dependant.dependencies:
        if sub.call is not None:
            yield sub.call
        yield from _calls(sub)


def _is_rate_limited(dependant: Dependant) -> bool:
    return any(getattr(call, "__qualname__", "").startswith(_LIMITERS) for call in _calls(dependant))


def problem_statuses(method: str, operation: Doc, *, rate_limited: bool) -> list[str]:
    """The problem statuses an operation can answer, from its generated OpenAPI entry."""
    params = operation.get("parameters", [])
    body = operation.get("requestBody", {}).get("content", {})
    statuses: list[str] = ["400"]
    if operation.get("security"):
        statuses += ["401", "403", "404"]
    elif any(p.get("in") == "path" for p in params):
        statuses.append("404")
    if method in STATE_CHANGING:
        statuses.append("409")
    if body:
        statuses.append("413")
        if any(not kind.endswith("json") for kind in body):
            statuses.append("415")
    if any(p.get("in") == "query" for p in params):
        statuses.append("414")
    if params or body:
        statuses.append("422")
    if rate_limited:
        statuses.append("429")
    return sorted(statuses)


def _is_fastapi_validation(response: Doc) -> bool:
    schema = response.get("content", {}).get("application/json", {}).get("schema", {})
    return bool(schema.get("$ref", "").endswith("/HTTPValidationError"))


def add_problems(doc: Doc, routes: Sequence[BaseRoute]) -> Doc:
    """`doc` (an app's generated document) with each route's problem answers filled in."""
    paths: Doc = doc.get("paths", {})
    # The routes as FastAPI's own document generator walks them (included routers flattened).
    for route in iter_route_contexts(routes):
        if not isinstance(route.original_route, APIRoute) or not route.include_in_schema:
            continue
        item = paths.get(route.path_format or "", {})
        rate_limited = _is_rate_limited(route.dependant)
        for method in sorted(m.lower() for m in route.methods or ()):
            operation = item.get(method)
            if not isinstance(operation, dict):
                continue
            responses: Doc = operation.setdefault("responses", {})
            for status in problem_statuses(method, operation, rate_limited=rate_limited):
                if status not in responses or _is_fastapi_validation(responses[status]):
                    responses[status] = problem_response(status)
    schemas: Doc = doc.setdefault("components", {}).setdefault("schemas", {})
    schemas["Problem"] = PROBLEM_SCHEMA
    for name in _FASTAPI_VALIDATION:  # HTTPValidationError first: it is what refers to ValidationError
        if name in schemas:
            definition = schemas.pop(name)
            if f'"#/components/schemas/{name}"' in json.dumps(doc):
                schemas[name] = definition  # a route still names it in a response of its own
    return doc


def document_problems(app: FastAPI) -> None:
    """Make `app.openapi()` answer the document with every operation's problems (built once, cached by
    FastAPI like the document itself)."""
    generate = app.openapi

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is not None:
            return app.openapi_schema
        return add_problems(generate(), app.routes)

    app.openapi = openapi  # type: ignore[method-assign]
