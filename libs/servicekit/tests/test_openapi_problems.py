"""ADR 0084: each operation's OpenAPI responses list the problems it can answer, derived from what its route
declares (token, path parameters, body, method, rate limit), each with the shared Problem schema; no
FastAPI HTTPValidationError is left, since no service answers it."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, FastAPI
from pydantic import BaseModel

from servicekit.web.auth import CurrentPrincipal, Principal, require_roles
from servicekit.web.limits import per_user_limit
from servicekit.web.openapi_problems import PROBLEM_REF, declared, document_problems
from servicekit.web.problems import PROBLEM_CONTENT_TYPE


class NoteIn(BaseModel):
    text: str


router = APIRouter(prefix="/api/v1/notes")


@router.get("/server-time")
async def server_time() -> dict[str, str]:
    return {}


@router.get("")
async def list_notes(principal: CurrentPrincipal, limit: int = 10) -> list[str]:
    return []


@router.put("/{note_id}")
async def put_note(
    note_id: str,
    body: NoteIn,
    principal: Annotated[Principal, Depends(require_roles("clerk.admin"))],
) -> dict[str, str]:
    return {}


@router.post("/{note_id}/photo", openapi_extra={"requestBody": {"content": {"image/png": {}}}})
async def upload(
    note_id: str, principal: Annotated[Principal, Depends(per_user_limit("5/minute", "photo"))]
) -> None:
    return None


@router.get("/{note_id}/gone", responses={404: {"description": "this route's own words"}})
async def gone(note_id: str) -> None:
    return None


def document() -> dict[str, Any]:
    app = FastAPI()
    app.include_router(router)
    document_problems(app)
    doc = app.openapi()
    assert app.openapi() is doc  # built once
    return doc


def problems(doc: dict[str, Any], path: str, method: str) -> list[str]:
    return sorted(s for s in doc["paths"][path][method]["responses"] if s >= "400")


def test_each_operation_lists_the_problems_its_route_declares() -> None:
    doc = document()
    # 400 (malformed) everywhere; 404 with a token too (a record named in the body, or "mine"); 414 with
    # query parameters
    assert problems(doc, "/api/v1/notes/server-time", "get") == ["400"]
    assert problems(doc, "/api/v1/notes", "get") == ["400", "401", "403", "404", "414", "422"]
    assert problems(doc, "/api/v1/notes/{note_id}", "put") == [
        *("400", "401", "403", "404", "409", "413", "422"),
    ]
    assert problems(doc, "/api/v1/notes/{note_id}/photo", "post") == [
        "400",
        "401",
        "403",
        "404",
        "409",
        "413",
        "415",
        "422",
        "429",
    ]


def test_every_problem_is_problem_json_with_the_shared_schema() -> None:
    doc = document()
    responses = doc["paths"]["/api/v1/notes/{note_id}/photo"]["post"]["responses"]
    for status in ("401", "403", "404", "409", "413", "415", "422", "429"):
        assert responses[status]["content"] == {PROBLEM_CONTENT_TYPE: {"schema": {"$ref": PROBLEM_REF}}}
    assert "WWW-Authenticate" in responses["401"]["headers"]
    assert "Retry-After" in responses["429"]["headers"]
    problem = doc["components"]["schemas"]["Problem"]
    assert {"type", "title", "status", "code"} <= set(problem["required"])


def test_fastapis_validation_error_is_replaced_and_a_routes_own_answer_kept() -> None:
    doc = document()
    assert "HTTPValidationError" not in doc["components"]["schemas"]
    assert "ValidationError" not in doc["components"]["schemas"]
    gone = doc["paths"]["/api/v1/notes/{note_id}/gone"]["get"]["responses"]
    assert gone["404"]["description"] == "this route's own words"
    assert gone["422"]["content"][PROBLEM_CONTENT_TYPE]["schema"] == {"$ref": PROBLEM_REF}


def test_a_route_declares_the_problems_its_dependencies_cannot_tell() -> None:
    app = FastAPI()
    sign_in = APIRouter()

    @sign_in.post("/api/v1/login", responses=declared({401: "INVALID_CREDENTIALS: wrong password"}))
    async def login() -> None:
        return None

    app.include_router(sign_in)
    document_problems(app)
    answer = app.openapi()["paths"]["/api/v1/login"]["post"]["responses"]["401"]
    assert answer["description"] == "INVALID_CREDENTIALS: wrong password"
    assert answer["content"] == {PROBLEM_CONTENT_TYPE: {"schema": {"$ref": PROBLEM_REF}}}
