"""The gateway app with fake upstreams (httpx.MockTransport) and the real Redis, database 14."""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import AsyncIterator, Callable
from datetime import datetime, timedelta
from typing import Any

import httpx
import pytest
from redis.asyncio import Redis

from gateway_service.app import create_app
from gateway_service.settings import GatewaySettings
from servicekit.clock import SHANGHAI, RedisOffsetClock
from servicekit.settings import Environment, RedisSettings

REDIS_URL = "redis://127.0.0.1:6379/14"
PORT_NAMES = {
    8010: "identity",
    8020: "vehicle",
    8030: "license",
    8040: "plate-pool",
    8041: "plate-pool",
    8050: "violation",
    8060: "notify",
}
PREFIXES = {
    "identity": "/api/v1/users",
    "vehicle": "/api/v1/vehicles",
    "license": "/api/v1/licences",
    "plate-pool": "/api/v1/plate-selections",
    "violation": "/api/v1/violations",
    "notify": "/api/v1/messages",
}

Handler = Callable[[httpx.Request], httpx.Response]


class Upstreams:
    """Fake services keyed by port: `down` ports refuse connections, `unready` answer /readyz with 503."""

    def __init__(self) -> None:
        self.down: set[int] = set()
        self.unready: set[int] = set()
        self.calls: list[httpx.Request] = []

    def __call__(self, request: httpx.Request) -> httpx.Response:
        self.calls.append(request)
        port = request.url.port or 80
        if port in self.down:
            raise httpx.ConnectError("connection refused", request=request)
        name = PORT_NAMES[port]
        if request.url.path == "/readyz":
            if port in self.unready:
                return httpx.Response(503, json={"status": "not_ready", "checks": {"database": "down"}})
            return httpx.Response(200, json={"status": "ready"})
        if request.url.path == "/openapi.json":
            return httpx.Response(200, json=self.openapi(name))
        if request.url.path.startswith("/api/v1/_test/"):
            body = request.content.decode() or None
            return httpx.Response(
                201 if request.method == "POST" else 200,
                json={"upstream": name, "query": dict(request.url.params), "body": body},
                headers={"X-Upstream": name, "Location": "/somewhere"},
            )
        return httpx.Response(404, json={"detail": "fake has no such path"})

    @staticmethod
    def openapi(name: str) -> dict[str, Any]:
        return {
            "openapi": "3.1.0",
            "info": {"title": name, "version": "1"},
            "paths": {
                f"{PREFIXES[name]}/{{id}}": {"get": {"responses": {"200": {"description": name}}}},
                "/healthz": {"get": {"responses": {"200": {"description": "ok"}}}},
            },
            "components": {"schemas": {"Thing": {"title": name}}},
        }

    def count(self, path: str) -> int:
        return sum(1 for r in self.calls if r.url.path == path)


@pytest.fixture
def upstreams() -> Upstreams:
    return Upstreams()


@pytest.fixture
async def redis() -> AsyncIterator[Redis]:
    client = Redis.from_url(REDIS_URL)
    await client.flushdb()
    yield client
    await client.flushdb()
    await client.aclose()


def make_client(
    upstreams: Upstreams, redis: Redis | None, env: Environment = Environment.dev, **settings: Any
) -> httpx.AsyncClient:
    cfg = GatewaySettings(env=env, redis=RedisSettings(url=REDIS_URL), **settings)
    app = create_app(cfg, transport=httpx.MockTransport(upstreams), redis=redis)
    return httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://gateway")


@pytest.fixture
async def client(upstreams: Upstreams, redis: Redis) -> AsyncIterator[httpx.AsyncClient]:
    async with make_client(upstreams, redis) as c:
        yield c


@pytest.fixture
async def prod_client(upstreams: Upstreams) -> AsyncIterator[httpx.AsyncClient]:
    async with make_client(upstreams, None, Environment.prod) as c:
        yield c


def assert_problem(response: httpx.Response, status: int, code: str) -> dict[str, Any]:
    assert response.status_code == status, response.text
    assert response.headers["content-type"] == "application/problem+json"
    body: dict[str, Any] = response.json()
    assert body["status"] == status
    assert body["code"] == code
    assert body["type"] == "https://errors.tms.example/" + code.lower().replace("_", "-")
    return body


# -- /readyz, /healthz ------------------------------------------------------------------------------


async def test_ready_when_every_upstream_is(client: httpx.AsyncClient) -> None:
    response = await client.get("/readyz")
    assert response.status_code == 200
    assert response.json() == {
        "status": "ready",
        "upstreams": {
            "identity": "ready",
            "vehicle": "ready",
            "license": "ready",
            "plate-pool#8040": "ready",
            "plate-pool#8041": "ready",
            "violation": "ready",
            "notify": "ready",
        },
    }
    assert (await client.get("/healthz")).json() == {"status": "ok"}


async def test_not_ready_names_what_is_not(client: httpx.AsyncClient, upstreams: Upstreams) -> None:
    upstreams.down.add(8041)
    upstreams.unready.add(8060)
    response = await client.get("/readyz")
    assert response.status_code == 503
    body = response.json()
    assert body["status"] == "not_ready"
    assert body["not_ready"] == ["notify", "plate-pool#8041"]
    assert body["upstreams"]["plate-pool#8041"] == "unreachable: ConnectError"
    assert body["upstreams"]["notify"] == "not ready: HTTP 503"
    assert body["upstreams"]["plate-pool#8040"] == "ready"


async def test_readiness_probes_run_concurrently(upstreams: Upstreams, redis: Redis) -> None:
    """A hanging upstream costs one timeout, not one per upstream."""

    async def slow(request: httpx.Request) -> httpx.Response:
        await asyncio.sleep(0.3)
        return upstreams(request)

    cfg = GatewaySettings(env=Environment.dev)
    app = create_app(cfg, transport=httpx.MockTransport(slow), redis=redis)
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://gw") as c:
        started = time.monotonic()
        assert (await c.get("/readyz")).status_code == 200
        assert time.monotonic() - started < 1.0  # seven probes of 0.3 s each, side by side


# -- /api/v1/openapi.json -----------------------------------------------------------------------------


async def test_openapi_merges_every_upstream(client: httpx.AsyncClient, upstreams: Upstreams) -> None:
    response = await client.get("/api/v1/openapi.json")
    assert response.status_code == 200
    doc = response.json()
    assert doc["x-unavailable"] == []
    for name, prefix in PREFIXES.items():
        assert doc["paths"][f"{prefix}/{{id}}"]["x-upstream"] == name
    assert "/healthz" not in doc["paths"]
    assert {"/api/v1/_test/clock", "/api/v1/_test/sms", "/api/v1/_test/population"} <= set(doc["paths"])
    assert "/readyz" in doc["paths"]
    assert doc["components"]["schemas"]["Thing"] == {"title": "identity"}
    assert doc["components"]["schemas"]["vehicle.Thing"] == {"title": "vehicle"}
    # plate-pool is fetched from one replica only
    assert sum(1 for r in upstreams.calls if r.url.path == "/openapi.json") == 6


async def test_openapi_lists_unavailable_upstreams_and_falls_back_to_another_replica(
    client: httpx.AsyncClient, upstreams: Upstreams
) -> None:
    upstreams.down |= {8040, 8050}
    doc = (await client.get("/api/v1/openapi.json")).json()
    assert doc["x-unavailable"] == ["violation"]
    assert "/api/v1/plate-selections/{id}" in doc["paths"]
    assert "/api/v1/violations/{id}" not in doc["paths"]


async def test_openapi_is_cached(upstreams: Upstreams, redis: Redis) -> None:
    async with make_client(upstreams, redis) as c:
        await c.get("/api/v1/openapi.json")
        await c.get("/api/v1/openapi.json")
        assert upstreams.count("/openapi.json") == 6
    async with make_client(upstreams, redis, openapi_cache_s=0.0) as c:
        await c.get("/api/v1/openapi.json")
        await c.get("/api/v1/openapi.json")
        assert upstreams.count("/openapi.json") == 6 + 12


async def test_openapi_in_prod_has_no_test_paths(prod_client: httpx.AsyncClient) -> None:
    doc = (await prod_client.get("/api/v1/openapi.json")).json()
    assert not [p for p in doc["paths"] if p.startswith("/api/v1/_test/")]
    assert "/api/v1/users/{id}" in doc["paths"]


# -- the platform clock ------------------------------------------------------------------------------


async def test_clock_moves_every_service_and_resets(client: httpx.AsyncClient, redis: Redis) -> None:
    target = datetime(2027, 3, 1, 9, 0, tzinfo=SHANGHAI)
    response = await client.post("/api/v1/_test/clock", json={"now": "2027-03-01T09:00:00+08:00"})
    assert response.status_code == 200, response.text
    body = response.json()
    assert abs(datetime.fromisoformat(body["now"]) - target) < timedelta(seconds=5)
    assert body["offset_s"] == pytest.approx((target - datetime.now(SHANGHAI)).total_seconds(), abs=5)

    # what every service's clock reads now
    service_now = await RedisOffsetClock(redis).now()
    assert abs(service_now - target) < timedelta(seconds=5)

    read = (await client.get("/api/v1/_test/clock")).json()
    assert abs(datetime.fromisoformat(read["now"]) - target) < timedelta(seconds=5)
    assert read["offset_s"] == pytest.approx(body["offset_s"], abs=0.001)

    reset = await client.delete("/api/v1/_test/clock")
    assert reset.status_code == 200
    assert reset.json()["offset_s"] == 0.0
    assert abs(await RedisOffsetClock(redis).now() - datetime.now(SHANGHAI)) < timedelta(seconds=5)
    assert (await client.get("/api/v1/_test/clock")).json()["offset_s"] == 0.0


async def test_clock_accepts_other_offsets_and_refuses_naive_times(client: httpx.AsyncClient) -> None:
    response = await client.post("/api/v1/_test/clock", json={"now": "2027-03-01T01:00:00Z"})
    assert response.status_code == 200
    assert datetime.fromisoformat(response.json()["now"]).utcoffset() == timedelta(hours=8)

    body = assert_problem(
        await client.post("/api/v1/_test/clock", json={"now": "2027-03-01T09:00:00"}),
        422,
        "VALIDATION_FAILED",
    )
    assert body["errors"][0]["field"] == "now"
    assert_problem(await client.post("/api/v1/_test/clock", json={}), 422, "VALIDATION_FAILED")


async def test_clock_without_redis_is_a_503_problem(upstreams: Upstreams) -> None:
    dead = Redis.from_url("redis://127.0.0.1:1/0", socket_connect_timeout=0.5)
    async with make_client(upstreams, dead) as c:
        assert_problem(await c.get("/api/v1/_test/clock"), 503, "REDIS_UNAVAILABLE")


# -- forwarded /_test/ endpoints ----------------------------------------------------------------------


async def test_sms_and_population_are_forwarded(client: httpx.AsyncClient, upstreams: Upstreams) -> None:
    response = await client.get(
        "/api/v1/_test/sms", params={"phone": "13800138000"}, headers={"X-Request-ID": "abc", "Cookie": "x"}
    )
    assert response.status_code == 200
    assert response.json() == {"upstream": "notify", "query": {"phone": "13800138000"}, "body": None}
    assert response.headers["location"] == "/somewhere"
    assert "x-upstream" not in response.headers  # only the headers a client needs come back
    sent = upstreams.calls[-1]
    assert str(sent.url) == "http://127.0.0.1:8060/api/v1/_test/sms?phone=13800138000"
    assert sent.headers["x-request-id"] == "abc"
    assert "cookie" not in sent.headers

    payload = {"persons": 100, "seed": 7}
    response = await client.post("/api/v1/_test/population", json=payload)
    assert response.status_code == 201
    assert response.json()["upstream"] == "identity"
    assert json.loads(response.json()["body"]) == payload
    assert upstreams.calls[-1].url.port == 8010


async def test_the_local_banks_checkout_and_statement_are_forwarded_to_violation(
    client: httpx.AsyncClient, upstreams: Upstreams
) -> None:
    """VI-04 (dev/test): an online order's pay_url leads to the local bank's checkout, at violation."""
    query = {"order_number": "VI2027030100000001", "amount_fen": "20000"}
    page = await client.get("/api/v1/_test/bank-checkout", params=query)
    assert page.json()["upstream"] == "violation"
    assert upstreams.calls[-1].url.port == 8050
    paid = await client.post("/api/v1/_test/bank-checkout", params=query, content="notice=send")
    assert (paid.json()["query"], paid.json()["body"]) == (query, "notice=send")
    statement = await client.post("/api/v1/_test/bank-statement", json={"day": "2027-03-01"})
    assert statement.json()["upstream"] == "violation"


async def test_forward_to_a_down_upstream_is_a_502_problem(
    client: httpx.AsyncClient, upstreams: Upstreams
) -> None:
    upstreams.down.add(8060)
    assert_problem(await client.get("/api/v1/_test/sms?phone=1"), 502, "UPSTREAM_UNAVAILABLE")


async def test_wrong_method_on_a_forward_is_a_problem(client: httpx.AsyncClient) -> None:
    assert_problem(await client.delete("/api/v1/_test/population"), 405, "METHOD_NOT_ALLOWED")


# -- prod and unknown paths -------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("GET", "/api/v1/_test/clock"),
        ("POST", "/api/v1/_test/clock"),
        ("DELETE", "/api/v1/_test/clock"),
        ("GET", "/api/v1/_test/sms?phone=1"),
        ("POST", "/api/v1/_test/population"),
        ("GET", "/api/v1/_test/bank-checkout?order_number=VI1&amount_fen=1"),
        ("POST", "/api/v1/_test/bank-checkout?order_number=VI1&amount_fen=1"),
        ("POST", "/api/v1/_test/bank-statement"),
    ],
)
async def test_prod_has_no_test_endpoints(
    prod_client: httpx.AsyncClient, upstreams: Upstreams, method: str, path: str
) -> None:
    body = assert_problem(await prod_client.request(method, path, json={}), 404, "ROUTE_NOT_FOUND")
    assert body["instance"] == path.split("?")[0]
    assert not [r for r in upstreams.calls if "/_test/" in r.url.path]


async def test_unknown_path_is_a_404_problem(client: httpx.AsyncClient) -> None:
    assert_problem(await client.get("/api/v1/nothing-here"), 404, "ROUTE_NOT_FOUND")


def test_problem_type_scheme_matches_servicekit() -> None:
    from gateway_service.problems import type_uri

    web = pytest.importorskip("servicekit.web.problems")
    assert type_uri("CUSTOM_ATTEMPTS_EXHAUSTED") == web.type_uri("CUSTOM_ATTEMPTS_EXHAUSTED")
