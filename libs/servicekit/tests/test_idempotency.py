"""IdempotencyStore against real Redis (db 14)."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Awaitable, Callable

import pytest
from redis.asyncio import Redis
from starlette.responses import JSONResponse, Response

from servicekit.refusal import Refusal
from servicekit.web.idempotency import REPLAYED_HEADER, IdempotencyStore
from servicekit.web.problems import Problem

pytestmark = pytest.mark.integration

BODY = b'{"plate": "A12345", "vin": "LSVAU2180N2183294"}'


class Counter:
    def __init__(self, status: int = 201) -> None:
        self.calls = 0
        self.status = status

    async def __call__(self) -> Response:
        self.calls += 1
        return JSONResponse(
            {"id": f"v-{self.calls}"}, status_code=self.status, headers={"Location": f"/v/{self.calls}"}
        )


@pytest.fixture
def store(redis: Redis, unique: str) -> IdempotencyStore:
    return IdempotencyStore(redis, f"demo-{unique}", b"pepper")


async def run(
    store: IdempotencyStore,
    handler: Callable[[], Awaitable[Response]] | None = None,
    body: bytes = BODY,
    key: str = "k-1",
) -> Response:
    return await store.run(
        subject="p-1",
        method="POST",
        path="/api/v1/vehicles",
        key=key,
        body=body,
        handler=handler or Counter(),
    )


async def test_repeat_returns_the_first_response_verbatim(store: IdempotencyStore) -> None:
    handler = Counter()
    first = await run(store, handler)
    again = await run(store, handler)
    assert handler.calls == 1
    assert (again.status_code, again.body) == (201, first.body)
    assert again.headers["location"] == "/v/1"
    assert again.headers["content-type"] == "application/json"
    assert again.headers[REPLAYED_HEADER] == "true"


async def test_same_json_with_other_spacing_is_the_same_request(store: IdempotencyStore) -> None:
    handler = Counter()
    await run(store, handler)
    await run(store, handler, body=json.dumps(json.loads(BODY), indent=2).encode())
    assert handler.calls == 1


async def test_a_body_nested_deeper_than_the_decoder_goes_is_kept_as_bytes(store: IdempotencyStore) -> None:
    """An upload that merely looks like JSON (a CSV of `{"a":` lines) was a RecursionError, a 500."""
    handler = Counter()
    deep = b'{"a":' * 5000
    await run(store, handler, body=deep)
    await run(store, handler, body=deep)
    assert handler.calls == 1


async def test_key_is_scoped_to_subject_and_path(store: IdempotencyStore) -> None:
    handler = Counter()
    await run(store, handler)
    await store.run(
        subject="p-2", method="POST", path="/api/v1/vehicles", key="k-1", body=BODY, handler=handler
    )
    await store.run(
        subject="p-1", method="POST", path="/api/v1/payments", key="k-1", body=BODY, handler=handler
    )
    assert handler.calls == 3


async def test_different_body_with_the_same_key_is_refused(store: IdempotencyStore) -> None:
    await run(store)
    with pytest.raises(Problem) as refused:
        await run(store, body=b'{"plate": "B99999"}')
    assert (refused.value.status, refused.value.code) == (422, "IDEMPOTENCY_KEY_REUSED")


async def test_repeat_while_the_first_runs_is_refused(store: IdempotencyStore) -> None:
    release = asyncio.Event()
    entered = asyncio.Event()

    async def slow() -> Response:
        entered.set()
        await release.wait()
        return JSONResponse({"id": "v-1"}, status_code=201)

    first = asyncio.create_task(
        store.run(subject="p-1", method="POST", path="/p", key="k", body=b"{}", handler=slow)
    )
    await entered.wait()
    with pytest.raises(Problem) as refused:
        await store.run(subject="p-1", method="POST", path="/p", key="k", body=b"{}", handler=Counter())
    assert (refused.value.status, refused.value.code) == (409, "IDEMPOTENCY_KEY_IN_USE")
    assert refused.value.headers["Retry-After"] == "1"
    release.set()
    assert (await first).status_code == 201
    replay = await store.run(subject="p-1", method="POST", path="/p", key="k", body=b"{}", handler=Counter())
    assert replay.body == b'{"id":"v-1"}'


async def test_exception_releases_the_key_so_a_retry_runs(store: IdempotencyStore) -> None:
    async def broken() -> Response:
        raise RuntimeError("database went away")

    with pytest.raises(RuntimeError):
        await store.run(subject="p-1", method="POST", path="/p", key="k", body=b"{}", handler=broken)
    handler = Counter()
    await store.run(subject="p-1", method="POST", path="/p", key="k", body=b"{}", handler=handler)
    assert handler.calls == 1


async def test_server_errors_are_not_stored(store: IdempotencyStore) -> None:
    failing = Counter(status=503)
    assert (await run(store, failing)).status_code == 503
    assert (await run(store, failing)).status_code == 503
    assert failing.calls == 2


async def test_an_interim_answer_marked_no_store_is_not_replayed(store: IdempotencyStore) -> None:
    calls = 0

    async def queued_then_done() -> Response:
        nonlocal calls
        calls += 1
        if calls == 1:  # e.g. a draw waiting in line: asking again must ask again
            return JSONResponse({"queued": True}, status_code=202, headers={"Cache-Control": "no-store"})
        return JSONResponse({"numbers": ["A1"]}, status_code=201)

    assert (await run(store, queued_then_done)).status_code == 202
    assert (await run(store, queued_then_done)).status_code == 201
    again = await run(store, queued_then_done)
    assert (again.status_code, again.headers[REPLAYED_HEADER]) == (201, "true")
    assert calls == 2


async def test_a_rules_refusal_is_the_stored_answer(store: IdempotencyStore) -> None:
    calls = 0

    async def refuse() -> Response:
        nonlocal calls
        calls += 1
        raise Refusal("the plate was taken", code="PLATE_TAKEN", rule="PP-05")

    first = await store.run(subject="p", method="POST", path="/p", key="k", body=b"{}", handler=refuse)
    again = await store.run(subject="p", method="POST", path="/p", key="k", body=b"{}", handler=refuse)
    assert calls == 1
    assert first.status_code == again.status_code == 409
    assert again.body == first.body
    assert json.loads(bytes(again.body))["rule"] == "PP-05"


async def test_records_expire_after_24_hours(store: IdempotencyStore, redis: Redis) -> None:
    await run(store)
    ttl = await redis.ttl(store.redis_key("p-1", "POST", "/api/v1/vehicles", "k-1"))
    assert 24 * 3600 - 5 < ttl <= 24 * 3600


async def test_invalid_key_is_refused(store: IdempotencyStore) -> None:
    with pytest.raises(Problem) as refused:
        await run(store, key="x" * 300)
    assert refused.value.code == "IDEMPOTENCY_KEY_INVALID"
