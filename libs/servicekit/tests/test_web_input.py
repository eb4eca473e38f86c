"""ADR 0084: input no service can store (NUL and other control characters, lone surrogates, invalid UTF-8,
numbers beyond 64 bits or not finite) is refused with 422 problem+json naming the field, on every route,
before the handler; a value the database still refuses answers 422 INVALID_VALUE, not 500. The app
stores what it is given in a real PostgreSQL table, where a NUL would have been a 500."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Annotated, Any

import httpx
import pytest
from fastapi import APIRouter, Depends, FastAPI, Query, Request
from pydantic import BaseModel
from sqlalchemy import text
from sqlalchemy.ext.asyncio import create_async_engine

from servicekit.web.input import (
    INVALID_CHARACTERS,
    INVALID_NUMBER,
    INVALID_PATH_PARAMETER,
    install_input_handlers,
    json_problems,
    pairs_problems,
    path_problems,
    refuse_bad_input,
)
from servicekit.web.problems import install_problem_handlers


class Thing(BaseModel):
    name: str
    count: int = 0
    weight: float = 1.0
    tags: list[str] = []


def build_app(database_url: str) -> FastAPI:
    engine = create_async_engine(database_url)
    router = APIRouter()

    @router.post("/things/{thing_id}", status_code=201)
    async def store(thing_id: str, thing: Thing, q: Annotated[str | None, Query()] = None) -> dict[str, Any]:
        async with engine.begin() as conn:
            await conn.execute(text("CREATE TABLE IF NOT EXISTS things (id text, name text, q text, n int)"))
            await conn.execute(
                text("INSERT INTO things VALUES (:id, :name, :q, :n)"),
                {"id": thing_id, "name": thing.name, "q": q, "n": thing.count},
            )
        return {"id": thing_id}

    @router.post("/raw")
    async def raw(request: Request) -> dict[str, int]:
        return {"bytes": len(await request.body())}

    app = FastAPI(dependencies=[Depends(refuse_bad_input)])
    install_problem_handlers(app)
    install_input_handlers(app)
    app.include_router(router)
    return app


@pytest.fixture
async def client(pg_database: str) -> AsyncIterator[httpx.AsyncClient]:
    app = build_app(pg_database)
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://t") as c:
        yield c


def assert_refused(r: httpx.Response, code: str, field: str) -> None:
    assert r.status_code == 422, r.text
    assert r.headers["content-type"] == "application/problem+json"
    body = r.json()
    assert body["code"] == code
    assert field in [e["field"] for e in body["errors"]], body


pytestmark = pytest.mark.integration


async def test_a_nul_in_a_json_string_is_refused_naming_the_field(client: httpx.AsyncClient) -> None:
    r = await client.post(
        "/things/t1", content=b'{"name": "a\\u0000b"}', headers={"content-type": "application/json"}
    )
    assert_refused(r, INVALID_CHARACTERS, "body.name")


async def test_the_other_refused_characters_in_nested_strings_and_keys(client: httpx.AsyncClient) -> None:
    for escape in ("\\u001b", "\\u007f", "\\ud800", "\\u0008"):
        raw = b'{"name": "ok", "tags": ["fine", "a' + escape.encode() + b'"]}'
        r = await client.post("/things/t1", content=raw, headers={"content-type": "application/json"})
        assert_refused(r, INVALID_CHARACTERS, "body.tags.1")
    raw_surrogate = '{"name": "a\ud800"}'.encode("utf-8", "surrogatepass")  # UTF-8 bytes of a lone surrogate
    r = await client.post("/things/t1", content=raw_surrogate, headers={"content-type": "application/json"})
    assert_refused(r, INVALID_CHARACTERS, "body.name")


async def test_tab_newline_and_every_script_pass(client: httpx.AsyncClient) -> None:
    body = {"name": "冀A·12345\tline\r\nnext 😀 é", "tags": ["\\u0000 as text"]}
    r = await client.post("/things/t2", json=body, params={"q": "河北 省"})
    assert r.status_code == 201, r.text


async def test_numbers_beyond_64_bits_and_not_finite_are_refused(client: httpx.AsyncClient) -> None:
    for raw, field in (
        (b'{"name": "x", "count": 18446744073709551616}', "body.count"),
        (b'{"name": "x", "weight": 1e400}', "body.weight"),
        (b'{"name": "x", "weight": NaN}', "body.weight"),
        (b'{"name": "x", "weight": -Infinity}', "body.weight"),
    ):
        r = await client.post("/things/t1", content=raw, headers={"content-type": "application/json"})
        assert_refused(r, INVALID_NUMBER, field)


async def test_query_path_and_form_values_are_checked(client: httpx.AsyncClient) -> None:
    r = await client.post("/things/t1?q=a%00b", json={"name": "x"})
    assert_refused(r, INVALID_CHARACTERS, "query.q")
    r = await client.post("/things/t1?q=%FF%FE", json={"name": "x"})
    assert_refused(r, INVALID_CHARACTERS, "query.q")
    r = await client.post("/things/a%01b", json={"name": "x"})
    assert_refused(r, INVALID_CHARACTERS, "path.thing_id")
    r = await client.post("/things/%ED%A0%80", json={"name": "x"})
    assert_refused(r, INVALID_CHARACTERS, "path.thing_id")
    r = await client.post(
        "/raw", content=b"a=1&b=x%00y", headers={"content-type": "application/x-www-form-urlencoded"}
    )
    assert_refused(r, INVALID_CHARACTERS, "form.b")


async def test_a_path_parameter_is_one_short_segment(client: httpx.AsyncClient) -> None:
    for raw in ("%2e%2e", "%2E", "a%5Cb", "x" * 257):  # an encoded slash routes elsewhere: 404
        url = httpx.URL("http://t/").copy_with(raw_path=f"/things/{raw}".encode())  # as sent: no normalising
        r = await client.post(url, json={"name": "x"})
        assert_refused(r, INVALID_PATH_PARAMETER, "path.thing_id")
    r = await client.post(f"/things/{'x' * 256}", json={"name": "x"})
    assert r.status_code == 201, r.text


async def test_bodies_that_are_not_json_or_a_form_are_the_routes_own(client: httpx.AsyncClient) -> None:
    r = await client.post("/raw", content=b"a,b\x00c\n", headers={"content-type": "text/csv"})
    assert r.status_code == 200
    assert r.json() == {"bytes": 6}


async def test_a_value_the_database_refuses_is_422_not_500(client: httpx.AsyncClient) -> None:
    # 2^40 fits 64 bits (the check lets it through) but not the int column: PostgreSQL's DataError.
    r = await client.post("/things/t3", json={"name": "x", "count": 2**40})
    assert r.status_code == 422, r.text
    assert r.headers["content-type"] == "application/problem+json"
    assert r.json()["code"] == "INVALID_VALUE"


def test_the_pure_checks() -> None:
    assert [b.field for b in json_problems({"a": [{"b": "x\x00"}], "c": 2**63})] == ["body.a.0.b", "body.c"]
    assert list(json_problems({"a": "\t\n\r ok", "n": -(2**63), "f": 1.5e300})) == []
    deep: Any = "\x00"
    for _ in range(5000):  # deeper than Python's stack: the walk does not recurse
        deep = [deep]
    assert len(list(json_problems(deep))) == 1
    assert [b.field for b in pairs_problems(b"limit=10&plate=%E5%86%80A", "query")] == []
    assert [b.field for b in pairs_problems(b"x=%7F", "query")] == ["query.x"]
    assert [b.field for b in path_problems(b"/v/%FF", {"id": "\ufffd"})] == ["path.id"]
    assert list(path_problems(b"/v/abc", {"id": "abc"})) == []
