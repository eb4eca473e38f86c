"""Input no service can store, refused once for every route before any handler sees it (ADR 0084).

PostgreSQL refuses a NUL character in text (psycopg raises DataError), and a control character, an
unpaired surrogate or invalid UTF-8 in a stored name or address is garbage for every reader after it.
So, for every request, the strings of the JSON body (keys and values), of form fields, of the query and
of the path parameters may not hold:
- C0 control characters other than tab, line feed and carriage return, and DEL (U+007F);
- lone surrogates (U+D800..U+DFFF: JSON's `\\ud800` escape, or their UTF-8 bytes, which Python's JSON
  decoder lets through);
- bytes that are not UTF-8 (query and path: Starlette and uvicorn would turn them into U+FFFD);
JSON numbers must fit what the columns hold: integers within 64 bits, floats finite (`1e400` is
infinity to Python's decoder; `NaN` and `Infinity` are not JSON at all); and a path parameter is one
segment of at most 256 characters: not `.` or `..`, no encoded slash or backslash (a traversal reaches no
resource; an id of thousands of characters is no id).

A refusal is 422 problem+json naming each field in `errors` the way VALIDATION_FAILED does (`body.name`,
`query.plate_number`, `path.case_id`): `INVALID_CHARACTERS`, `INVALID_NUMBER` or
`INVALID_PATH_PARAMETER`.

Where: one app-level dependency (`create_service_app` passes it to FastAPI), so every route of every
service has it without a model changing; a pydantic string type would need every model and every
parameter declared with it, and a forgotten one is the 500 again. A dependency (not an ASGI middleware)
knows the route's path parameters by name and reads the body FastAPI has already read and decoded
(Starlette caches both), so the plate-pool hot path pays a byte scan of its small bodies, nothing more:
bodies are parsed again only when a byte pattern says one of the refused things may be there. Bodies
that are not JSON or a form (uploads, CSV, NDJSON streams) are the route's own to read and check.

The safety net behind it: a `DataError` from the database (SQLSTATE class 22: a value out of a column's
range, a NUL from a source this check does not see) answers 422 `INVALID_VALUE` instead of 500, and is
logged with its SQLSTATE, since it can also be our own bug.
"""

from __future__ import annotations

import importlib.util
import logging
import math
import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qsl, unquote_to_bytes

from fastapi import FastAPI, Request
from sqlalchemy.exc import DataError
from starlette.datastructures import UploadFile
from starlette.responses import Response

from servicekit.web.problems import Problem, problem_response

log = logging.getLogger("servicekit.web.input")

INVALID_CHARACTERS = "INVALID_CHARACTERS"
INVALID_NUMBER = "INVALID_NUMBER"
INVALID_PATH_PARAMETER = "INVALID_PATH_PARAMETER"

INT64_MIN, INT64_MAX = -(2**63), 2**63 - 1
MAX_REPORTED = 10  # fields named in one refusal
MAX_PATH_PARAMETER = 256  # characters: the longest id of any service is 64

REFUSED_CHARACTERS = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\x7f\ud800-\udfff]")
# A JSON body may hold a refused string or number only if one of these byte patterns is in it: an
# escape of a C0 character, DEL or a surrogate; a raw DEL; a raw surrogate's UTF-8 (ED A0..BF); 19+
# digits in a row; an exponent of three digits; NaN or Infinity.
_JSON_SUSPECT = re.compile(
    rb"\\u00[01][0-9a-fA-F]|\\u007[fF]|\\u[dD][89a-fA-F]|\x7f|\xed[\xa0-\xbf]"
    rb"|[0-9]{19}|[eE][+-]?[0-9]{3}|NaN|Infinity"
)
# A query string or path needs a closer look only with a percent escape or a byte outside printable ASCII.
_URL_SUSPECT = re.compile(rb"[%\x00-\x20\x7f-\xff]")
# Starlette reads multipart forms only with python-multipart; without it no route can take one either.
_MULTIPART = importlib.util.find_spec("python_multipart") is not None


@dataclass(frozen=True, slots=True)
class BadField:
    field: str  # "body.owner.name", "query.limit", "path.case_id"
    code: str
    message: str

    def as_error(self) -> dict[str, str]:
        return {"field": self.field, "message": self.message, "type": self.code.lower()}


def _bad_string(value: str, field: str) -> BadField | None:
    found = REFUSED_CHARACTERS.search(value)
    if found is None:
        return None
    return BadField(field, INVALID_CHARACTERS, f"holds the control character U+{ord(found.group()):04X}")


def _bad_number(value: int | float, field: str) -> BadField | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        if INT64_MIN <= value <= INT64_MAX:
            return None
        return BadField(field, INVALID_NUMBER, "is an integer beyond 64 bits")
    if math.isfinite(value):
        return None
    return BadField(field, INVALID_NUMBER, "is not a finite number")


def json_problems(document: Any, prefix: str = "body") -> Iterator[BadField]:
    """Each refused string (key or value) and number in a decoded JSON document, depth first, without
    recursion (the decoder accepts nesting deeper than Python's stack)."""
    stack: list[tuple[str, Any]] = [(prefix, document)]
    while stack:
        field, value = stack.pop()
        if isinstance(value, str):
            bad = _bad_string(value, field)
            if bad is not None:
                yield bad
        elif isinstance(value, int | float):
            bad = _bad_number(value, field)
            if bad is not None:
                yield bad
        elif isinstance(value, dict):
            for key, sub in reversed(value.items()):
                bad_key = _bad_string(key, field)
                if bad_key is not None:
                    yield BadField(field, INVALID_CHARACTERS, "holds a key with a control character")
                    continue
                stack.append((f"{field}.{key}", sub))
        elif isinstance(value, list):
            stack.extend((f"{field}.{index}", sub) for index, sub in reversed(list(enumerate(value))))


def _text_of(raw: bytes, field: str) -> tuple[str | None, BadField | None]:
    try:
        return raw.decode("utf-8"), None
    except UnicodeDecodeError:
        return None, BadField(field, INVALID_CHARACTERS, "is not valid UTF-8")


def pairs_problems(raw: bytes, prefix: str) -> Iterator[BadField]:
    """Each refused name or value of a query string or urlencoded form, from its raw bytes (percent
    escapes decoded to bytes first, so invalid UTF-8 is seen before anything replaces it)."""
    if not _URL_SUSPECT.search(raw):
        return
    for raw_name, raw_value in parse_qsl(raw.decode("latin-1"), keep_blank_values=True, encoding="latin-1"):
        name, bad = _text_of(raw_name.encode("latin-1"), prefix)
        if name is None:
            yield bad or BadField(prefix, INVALID_CHARACTERS, "is not valid UTF-8")
            continue
        field = f"{prefix}.{name}"
        bad_name = _bad_string(name, prefix)
        if bad_name is not None:
            yield BadField(prefix, INVALID_CHARACTERS, "holds a name with a control character")
            continue
        value, bad = _text_of(raw_value.encode("latin-1"), field)
        if bad is not None:
            yield bad
        elif value is not None:
            bad = _bad_string(value, field)
            if bad is not None:
                yield bad


def _bad_segment(value: str, field: str) -> BadField | None:
    if value in (".", "..") or "/" in value or "\\" in value:
        return BadField(field, INVALID_PATH_PARAMETER, "is not a single path segment")
    if len(value) > MAX_PATH_PARAMETER:
        return BadField(field, INVALID_PATH_PARAMETER, f"is longer than {MAX_PATH_PARAMETER} characters")
    return None


def path_problems(raw_path: bytes | None, params: dict[str, Any]) -> Iterator[BadField]:
    """Each path parameter holding a refused character, a traversal (`..`, an encoded slash) or more than
    MAX_PATH_PARAMETER characters; invalid UTF-8 (which uvicorn decoded to U+FFFD) names the parameters
    holding U+FFFD, or `path` when none does."""
    if raw_path is None:
        return
    suspect = _URL_SUSPECT.search(raw_path) is not None
    if not suspect and len(raw_path) <= MAX_PATH_PARAMETER:
        return
    strings = {name: value for name, value in params.items() if isinstance(value, str)}
    if suspect:
        _, invalid = _text_of(unquote_to_bytes(raw_path), "path")
        if invalid is not None:
            named = [f"path.{name}" for name, value in strings.items() if "\ufffd" in value]
            for field in named or ["path"]:
                yield BadField(field, INVALID_CHARACTERS, invalid.message)
            return
    for name, value in strings.items():
        field = f"path.{name}"
        bad = _bad_string(value, field) or _bad_segment(value, field)
        if bad is not None:
            yield bad


async def _body_problems(request: Request) -> Iterable[BadField]:
    media = request.headers.get("content-type", "").partition(";")[0].strip().lower()
    if media == "application/json" or media.endswith("+json"):
        body = await request.body()
        if not _JSON_SUSPECT.search(body):
            return ()
        try:
            document = await request.json()
        except ValueError:
            return ()  # not JSON: FastAPI has answered 422/400 for a declared body; the rest are the route's
        return json_problems(document)
    if media == "application/x-www-form-urlencoded":
        return list(pairs_problems(await request.body(), "form"))
    if media == "multipart/form-data" and _MULTIPART:
        await request.body()  # cached, so the route can still read the form or the stream after this
        form = await request.form()
        bad: list[BadField] = []
        for name, value in form.multi_items():
            field = f"form.{name}"
            found = _bad_string(name, "form") or (
                None if isinstance(value, UploadFile) else _bad_string(value, field)
            )
            if found is not None:
                bad.append(found)
        return bad
    return ()


def _refusal(bad: list[BadField]) -> Problem:
    detail = (
        f"{bad[0].field} {bad[0].message}"
        if len(bad) == 1
        else f"{len(bad)} fields hold characters or numbers that cannot be stored"
    )
    extra = {"errors": [b.as_error() for b in bad]}
    if all(b.code == INVALID_NUMBER for b in bad):
        return Problem(422, "INVALID_NUMBER", detail, extra=extra)
    if all(b.code == INVALID_PATH_PARAMETER for b in bad):
        return Problem(422, "INVALID_PATH_PARAMETER", detail, extra=extra)
    return Problem(422, "INVALID_CHARACTERS", detail, extra=extra)


async def refuse_bad_input(request: Request) -> None:
    """The app-level dependency: 422 INVALID_CHARACTERS / INVALID_NUMBER naming each field (at most
    MAX_REPORTED) whose input no service can store."""
    scope = request.scope
    bad: list[BadField] = []
    for found in (
        path_problems(scope.get("raw_path"), request.path_params),
        pairs_problems(scope.get("query_string", b""), "query"),
        await _body_problems(request),
    ):
        bad.extend(found)
        if len(bad) >= MAX_REPORTED:
            break
    if bad:
        raise _refusal(bad[:MAX_REPORTED])


async def _on_data_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, DataError)
    sqlstate = getattr(exc.orig, "sqlstate", None)
    # The class and SQLSTATE only: the statement's parameters are the caller's input.
    log.warning("database refused a value", extra={"sqlstate": sqlstate, "error": type(exc.orig).__name__})
    problem = Problem(422, "INVALID_VALUE", "a value in the request cannot be stored")
    return problem_response(request, problem)


def install_input_handlers(app: FastAPI) -> None:
    """The database's DataError answers 422 INVALID_VALUE (the safety net behind `refuse_bad_input`)."""
    app.add_exception_handler(DataError, _on_data_error)
