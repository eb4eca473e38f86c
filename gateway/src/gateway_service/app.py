"""The gateway app beside nginx (127.0.0.1:8001): what nginx cannot do by itself.

nginx sends it `/readyz`, `/api/v1/openapi.json` and, in dev and test only, `/api/v1/_test/*`. It never
sits on the path of ordinary API traffic: an httpx proxy kept 0.05 of direct throughput on these
machines, nginx 0.96.

    uvicorn --factory gateway_service.app:create_app --host 127.0.0.1 --port 8001
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from datetime import datetime, timedelta
from typing import Any, TypeVar

import httpx
from fastapi import FastAPI, Request, Response
from fastapi.responses import JSONResponse
from pydantic import AwareDatetime, BaseModel
from redis.asyncio import Redis
from redis.exceptions import RedisError

from gateway_service import problems
from gateway_service.openapi import Doc, merge
from gateway_service.problems import Problem
from gateway_service.routes import GATEWAY, OPENAPI_PATH, TEST_FORWARDS, TEST_PREFIX, Server, Upstream
from gateway_service.settings import GatewaySettings
from servicekit.clock import OFFSET_KEY, SHANGHAI, reset_platform_time, set_platform_time

T = TypeVar("T")

# Request headers a forwarded /_test/ call keeps; hop-by-hop and Host are the proxy's own business.
FORWARD_REQUEST_HEADERS = (
    "accept",
    "authorization",
    "content-type",
    "idempotency-key",
    "traceparent",
    "tracestate",
    "x-request-id",
)
FORWARD_RESPONSE_HEADERS = ("content-type", "location", "retry-after")


class ClockIn(BaseModel):
    now: AwareDatetime


class ClockOut(BaseModel):
    now: datetime
    offset_s: float


class Gateway:
    """What one gateway process holds: the upstream client, Redis (dev/test) and the OpenAPI cache."""

    def __init__(
        self,
        settings: GatewaySettings,
        transport: httpx.AsyncBaseTransport | None = None,
        redis: Redis | None = None,
    ) -> None:
        self.settings = settings
        self.table = settings.route_table()
        self.http = httpx.AsyncClient(
            transport=transport,
            timeout=settings.upstream_timeout_s,
            limits=httpx.Limits(max_connections=64, max_keepalive_connections=16),
        )
        self.redis: Redis | None = redis
        if self.redis is None and settings.is_test_env:
            self.redis = Redis.from_url(settings.redis.url)
        self._openapi: tuple[float, Doc] | None = None
        self._openapi_lock = asyncio.Lock()

    async def aclose(self) -> None:
        await self.http.aclose()
        if self.redis is not None:
            await self.redis.aclose()

    # -- upstream calls ------------------------------------------------------------------------------

    async def first_answer(
        self, upstream: Upstream, call: Callable[[Server], Awaitable[T]]
    ) -> tuple[T | None, BaseException | None]:
        """Try the servers of an upstream in turn; any replica's answer will do."""
        error: BaseException | None = None
        for server in upstream.servers:
            try:
                return await call(server), None
            except httpx.HTTPError as exc:
                error = exc
        return None, error

    async def readiness(self) -> dict[str, str]:
        async def probe(server: Server) -> str:
            try:
                response = await self.http.get(f"{server.base_url}/readyz")
            except httpx.HTTPError as exc:
                return f"unreachable: {type(exc).__name__}"
            return "ready" if response.status_code == 200 else f"not ready: HTTP {response.status_code}"

        labelled = [pair for up in self.table.upstreams.values() for pair in up.labelled()]
        states = await asyncio.gather(*(probe(server) for _, server in labelled))
        return {label: state for (label, _), state in zip(labelled, states, strict=True)}

    async def fetch_openapi(self, upstream: Upstream) -> Doc | None:
        async def get(server: Server) -> Doc:
            response = await self.http.get(f"{server.base_url}/openapi.json")
            response.raise_for_status()
            try:
                doc = response.json()
            except ValueError as exc:
                raise httpx.DecodingError(f"{server.address}/openapi.json is not JSON") from exc
            if not isinstance(doc, dict) or "paths" not in doc:
                raise httpx.DecodingError(f"{server.address}/openapi.json is not an OpenAPI document")
            return doc

        doc, _ = await self.first_answer(upstream, get)
        return doc

    async def openapi(self, own: Doc) -> Doc:
        """The merged document, rebuilt at most every `openapi_cache_s` (clients poll it; services don't
        change their API between deploys). The lock makes concurrent misses fetch once."""
        async with self._openapi_lock:
            now = time.monotonic()
            if self._openapi and now - self._openapi[0] < self.settings.openapi_cache_s:
                return self._openapi[1]
            upstreams = list(self.table.upstreams.values())
            fetched = await asyncio.gather(*(self.fetch_openapi(u) for u in upstreams))
            docs: dict[str, Doc | None] = {u.name: d for u, d in zip(upstreams, fetched, strict=True)}
            docs[GATEWAY] = own
            merged = merge(self.table, docs)
            self._openapi = (now, merged)
            return merged

    async def forward(self, request: Request, upstream: Upstream) -> Response:
        """Pass a /_test/ call to the service that owns the data: same method, path, query and body."""
        body = await request.body()
        headers = {k: v for k, v in request.headers.items() if k.lower() in FORWARD_REQUEST_HEADERS}
        target = request.url.path + (f"?{request.url.query}" if request.url.query else "")

        async def send(server: Server) -> httpx.Response:
            return await self.http.request(
                request.method,
                server.base_url + target,
                content=body,
                headers=headers,
                timeout=self.settings.test_forward_timeout_s,
            )

        answer, error = await self.first_answer(upstream, send)
        if answer is None:
            raise Problem(
                502, "UPSTREAM_UNAVAILABLE", f"{upstream.name} did not answer ({type(error).__name__})"
            )
        kept = {k: v for k, v in answer.headers.items() if k.lower() in FORWARD_RESPONSE_HEADERS}
        return Response(answer.content, status_code=answer.status_code, headers=kept)

    # -- the platform clock (dev/test) -------------------------------------------------------------

    def _redis(self) -> Redis:
        if self.redis is None:  # only prod has none, and prod has no /_test/ routes
            raise Problem(404, "ROUTE_NOT_FOUND", "the platform clock is fixed in prod")
        return self.redis

    async def clock(self) -> ClockOut:
        try:
            raw = await self._redis().get(OFFSET_KEY)
        except RedisError as exc:
            raise _redis_down(exc) from exc
        offset = timedelta(microseconds=int(raw)) if raw else timedelta(0)
        return ClockOut(now=datetime.now(SHANGHAI) + offset, offset_s=offset.total_seconds())

    async def set_clock(self, moment: datetime) -> ClockOut:
        try:
            offset = await set_platform_time(self._redis(), moment)
        except RedisError as exc:
            raise _redis_down(exc) from exc
        return ClockOut(now=datetime.now(SHANGHAI) + offset, offset_s=offset.total_seconds())

    async def reset_clock(self) -> ClockOut:
        try:
            await reset_platform_time(self._redis())
        except RedisError as exc:
            raise _redis_down(exc) from exc
        return ClockOut(now=datetime.now(SHANGHAI), offset_s=0.0)


def _redis_down(exc: RedisError) -> Problem:
    return Problem(503, "REDIS_UNAVAILABLE", f"the platform clock lives in Redis, which failed: {exc}")


def create_app(
    settings: GatewaySettings | None = None,
    transport: httpx.AsyncBaseTransport | None = None,
    redis: Redis | None = None,
) -> FastAPI:
    """uvicorn calls this with no arguments; tests pass settings, a fake transport and their Redis."""
    settings = settings or GatewaySettings()
    gateway = Gateway(settings, transport=transport, redis=redis)

    @asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        yield
        await gateway.aclose()

    # The app's own document is only an input to the merged one, so FastAPI serves none of its own.
    app = FastAPI(
        title="TMS gateway",
        version="1",
        lifespan=lifespan,
        openapi_url=None,
        docs_url=None,
        redoc_url=None,
    )
    app.state.gateway = gateway
    problems.install(app)

    @app.get("/healthz", tags=["gateway"], summary="The gateway app process is alive")
    async def healthz() -> dict[str, str]:
        return {"status": "ok"}

    @app.get("/readyz", tags=["gateway"], summary="Every upstream (each replica) answers its /readyz")
    async def readyz() -> JSONResponse:
        states = await gateway.readiness()
        not_ready = sorted(label for label, state in states.items() if state != "ready")
        if not_ready:
            body: dict[str, Any] = {"status": "not_ready", "upstreams": states, "not_ready": not_ready}
            return JSONResponse(body, status_code=503)
        return JSONResponse({"status": "ready", "upstreams": states})

    @app.get(OPENAPI_PATH, include_in_schema=False)
    async def openapi() -> JSONResponse:
        return JSONResponse(await gateway.openapi(app.openapi()))

    if settings.is_test_env:
        _install_test_routes(app, gateway)
    return app


def _install_test_routes(app: FastAPI, gateway: Gateway) -> None:
    """dev and test only: in prod these routes do not exist, so they answer 404 like any unknown path."""
    clock_path = f"{TEST_PREFIX}clock"

    @app.get(clock_path, tags=["test"], summary="Read the platform clock")
    async def get_clock() -> ClockOut:
        return await gateway.clock()

    @app.post(clock_path, tags=["test"], summary="Move every service's clock to `now`")
    async def set_clock(body: ClockIn) -> ClockOut:
        return await gateway.set_clock(body.now)

    @app.delete(clock_path, tags=["test"], summary="Back to real time")
    async def reset_clock() -> ClockOut:
        return await gateway.reset_clock()

    def forwarder(upstream: Upstream) -> Callable[[Request], Awaitable[Response]]:
        async def forward(request: Request) -> Response:
            return await gateway.forward(request, upstream)

        return forward

    for path, (name, methods) in TEST_FORWARDS.items():
        for method in methods:  # a route per method: each gets its own operation id in the document
            app.add_api_route(
                path,
                forwarder(gateway.table.upstreams[name]),
                methods=[method],
                tags=["test"],
                summary=f"Forwarded to {name}'s own {path}",
            )
