"""The app factory every service's `main.py` calls: one shape for start-up, health, errors, tracing, logs.

    app = create_service_app(settings, title="plate-pool", routers=[api.router],
                             runtime_factory=lambda: Runtime.open(settings, tables.metadata))

What it gives every service:
- a lifespan that sets up telemetry, opens the `Runtime` into `app.state.runtime`, the JWKS verifier into
  `app.state.verifier` (unless a test put one there first), the revocation marks (ADR 0082) into
  `app.state.revocations` and the idempotency store into `app.state.idempotency`, and closes them in
  reverse order;
- `GET /healthz` (the process runs) and `GET /readyz` (database, Redis and broker answer, plus the
  service's own checks), both outside the OpenAPI document;
- problem+json for every error (`servicekit.web.problems`), and input no service can store (NUL and other
  control characters, numbers beyond 64 bits) refused with 422 on every route (`servicekit.web.input`);
- a pure-ASGI middleware (cheap enough for the plate-pool hot path) that runs each request in a SERVER
  span continuing the caller's `traceparent`, gives it a request id (`X-Request-ID`, echoed), answers an
  unhandled exception with a generic 500 problem, and writes one masked access line.
- `/openapi.json` always (the gateway merges them), each operation listing the problems it can answer
  (`servicekit.web.openapi_problems`); `/docs` outside prod only.
"""

from __future__ import annotations

import asyncio
import contextlib
import inspect
import logging
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from dataclasses import dataclass
from typing import Annotated, Any

import aio_pika
import aiormq.exceptions
from aio_pika.abc import AbstractConnection
from fastapi import APIRouter, Depends, FastAPI, Request
from opentelemetry import context as otel_context
from opentelemetry import propagate, trace
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.sampling import Decision
from opentelemetry.trace import (
    NonRecordingSpan,
    Span,
    SpanContext,
    SpanKind,
    Status,
    StatusCode,
    TraceFlags,
)
from sqlalchemy import text
from starlette.responses import JSONResponse
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from servicekit.amqp import broker_addresses
from servicekit.clock import Clock
from servicekit.heap import server_heap
from servicekit.masking import mask_text
from servicekit.runtime import Runtime
from servicekit.service import SERVICE_NAMES, load_spec
from servicekit.settings import Environment, ServiceSettings
from servicekit.telemetry import (
    REQUEST_ID,
    flush_telemetry,
    get_meter,
    get_tracer,
    metrics_unread,
    setup_telemetry,
    tracer_provider,
)
from servicekit.uow import UnitOfWork
from servicekit.web.auth import JwksVerifier
from servicekit.web.context import (
    IPNetwork,
    accept_or_new_request_id,
    parse_networks,
    resolve_client_ip,
)
from servicekit.web.gate import Busy, Gate
from servicekit.web.idempotency import IdempotencyStore
from servicekit.web.input import install_input_handlers, refuse_bad_input
from servicekit.web.openapi_problems import document_problems
from servicekit.web.problems import install_problem_handlers, internal_error, problem_of, unavailable_of
from servicekit.web.revocation import Revocations

log = logging.getLogger("servicekit.web")
access_log = logging.getLogger("servicekit.access")

Hook = Callable[[FastAPI], Awaitable[None]]
PROBE_PATHS = frozenset({"/healthz", "/readyz"})
_CLIENT_IP_CACHE_SIZE = 4096


def _span_processors_of(provider: TracerProvider) -> tuple[object, ...] | None:
    """The provider's span processors, or None when the SDK's internals are not what we know."""
    active = getattr(provider, "_active_span_processor", None)
    processors = getattr(active, "_span_processors", None)
    return processors if isinstance(processors, tuple) else None


def _unexported_span(provider: TracerProvider, parent: otel_context.Context, name: str) -> Span | None:
    """A span nobody would ever see (the provider has no span processor: no exporter configured, no test
    exporter): a `NonRecordingSpan` with the ids and sampling decision the SDK would have given it, so the
    trace context that reaches logs, outgoing calls and outbox rows is the same, for a fraction of the CPU
    of a recorded SDK span. None when the span must be a real one."""
    processors = _span_processors_of(provider)
    if processors is None or processors:
        return None
    parent_span_context = trace.get_current_span(parent).get_span_context()
    if parent_span_context.is_valid:
        trace_id = parent_span_context.trace_id
    else:
        trace_id = provider.id_generator.generate_trace_id()
    decision = provider.sampler.should_sample(parent, trace_id, name, SpanKind.SERVER)
    flags = TraceFlags(
        TraceFlags.SAMPLED if decision.decision is Decision.RECORD_AND_SAMPLE else TraceFlags.DEFAULT
    )
    return NonRecordingSpan(
        SpanContext(
            trace_id,
            provider.id_generator.generate_span_id(),
            is_remote=False,
            trace_flags=flags,
            trace_state=decision.trace_state,
        )
    )


@dataclass(frozen=True)
class ReadinessCheck:
    """One line of /readyz: `probe` raises (or overruns `timeout_s`) when the dependency is not usable."""

    name: str
    probe: Callable[[FastAPI], Awaitable[object]]
    timeout_s: float = 2.0


class BrokerProbe:
    """One AMQP connection for /readyz, opened at the first check and reopened after it drops.

    Opening a channel is a round trip to the broker: an open socket to a hung broker would pass a mere
    `is_closed` check.
    """

    def __init__(self, url: str, timeout_s: float = 2.0, queues: Sequence[str] = ()) -> None:
        self._url = url
        self._timeout_s = timeout_s
        self._queues = tuple(queues)
        self._connection: AbstractConnection | None = None
        self._lock = asyncio.Lock()

    async def check(self) -> None:
        async with self._lock:
            if self._connection is None or self._connection.is_closed:
                self._connection = await self._connect()
            channel = await self._connection.channel()
            await channel.close()
            for queue in self._queues:
                await self._check_queue(queue)

    async def _connect(self) -> AbstractConnection:
        """The first node of the list that answers: a cluster is ready while any node is (ADR 0098)."""
        failure: Exception | None = None
        for address in broker_addresses(self._url):
            try:
                return await aio_pika.connect(address, timeout=self._timeout_s)
            except Exception as exc:  # this node is away: the next one
                failure = exc
        assert failure is not None
        raise failure

    async def _check_queue(self, name: str) -> None:
        """A quorum queue without a leader answers nothing: the passive declare times out and the check
        fails (architecture.md, traps). A queue the worker has not declared yet is not a failure."""
        assert self._connection is not None
        channel = await self._connection.channel()
        try:
            await channel.declare_queue(name, passive=True)
        except aiormq.exceptions.ChannelNotFoundEntity:
            return  # the channel is closed by the broker with the 404
        await channel.close()

    async def aclose(self) -> None:
        if self._connection is not None and not self._connection.is_closed:
            await self._connection.close()
        self._connection = None


async def _database_probe(app: FastAPI) -> None:
    async with get_runtime_of(app).engine.connect() as conn:
        await conn.execute(text("SELECT 1"))


async def _redis_probe(app: FastAPI) -> None:
    await get_runtime_of(app).redis.ping()


async def _broker_probe(app: FastAPI) -> None:
    probe = app.state.broker_probe
    assert isinstance(probe, BrokerProbe)
    await probe.check()


async def _run_check(app: FastAPI, check: ReadinessCheck) -> str:
    try:
        async with asyncio.timeout(check.timeout_s):
            await check.probe(app)
    except TimeoutError:
        log.warning("readiness check timed out", extra={"check": check.name, "timeout_s": check.timeout_s})
        return "timeout"
    except Exception as exc:
        log.warning("readiness check failed", extra={"check": check.name, "error": repr(exc)})
        # The class only: messages can carry hosts and credentials, and /readyz is unauthenticated.
        return f"error: {type(exc).__name__}"
    return "ok"


async def healthz() -> dict[str, str]:
    return {"status": "ok"}


async def readyz(request: Request) -> JSONResponse:
    app: FastAPI = request.app
    checks: Sequence[ReadinessCheck] = app.state.readiness_checks
    results = await asyncio.gather(*(_run_check(app, check) for check in checks))
    detail = {check.name: result for check, result in zip(checks, results, strict=True)}
    ready = all(result == "ok" for result in results)
    return JSONResponse(
        {"status": "ok" if ready else "unavailable", "checks": detail},
        status_code=200 if ready else 503,
        headers={"Cache-Control": "no-store"},
    )


class RequestMiddleware:
    """Pure ASGI (no BaseHTTPMiddleware: no extra task, no body buffering) around every HTTP request."""

    def __init__(self, app: ASGIApp, *, gateway_peers: Sequence[IPNetwork], gate: Gate | None = None) -> None:
        self.app = app
        self._gateway_peers = tuple(gateway_peers)
        # The process's one gate (ADR 0101), shared with any stack served beside this one; probes skip it.
        self._gate = gate or Gate(0, 0)
        # resolve_client_ip is a pure function of (peer, X-Forwarded-For): memoised, bounded.
        self._client_ips: dict[tuple[str | None, str | None], str | None] = {}
        # Proxies until setup_telemetry installs the providers; they then forward to them.
        self._tracer = get_tracer("servicekit.web")
        self._duration = get_meter("servicekit.web").create_histogram(
            "http.server.request.duration", unit="s", description="Duration of HTTP server requests"
        )

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started_at = time.perf_counter()
        carrier: dict[str, str] = {}
        incoming_id: str | None = None
        forwarded_for: str | None = None
        for name, value in scope["headers"]:
            if name == b"traceparent" or name == b"tracestate":
                carrier[name.decode()] = value.decode("latin-1")
            elif name == b"x-request-id":
                incoming_id = value.decode("latin-1")
            elif name == b"x-forwarded-for":
                # Twice is not the gateway's one address: joined, it is a list, which is not believed.
                decoded = value.decode("latin-1")
                forwarded_for = decoded if forwarded_for is None else f"{forwarded_for},{decoded}"
        request_id = accept_or_new_request_id(incoming_id)
        peer = scope["client"][0] if scope.get("client") else None
        state = scope.setdefault("state", {})
        state["request_id"] = request_id
        ip_key = (peer, forwarded_for)
        try:
            client_ip = self._client_ips[ip_key]
        except KeyError:
            client_ip = resolve_client_ip(peer, forwarded_for, self._gateway_peers)
            if len(self._client_ips) >= _CLIENT_IP_CACHE_SIZE:
                self._client_ips.clear()
            self._client_ips[ip_key] = client_ip
        if client_ip is not None:
            state["client_ip"] = client_ip
        exchange = _Exchange(send, request_id.encode("latin-1"))
        method: str = scope["method"]
        path: str = scope["path"]
        token = REQUEST_ID.set(request_id)
        try:
            if path in PROBE_PATHS:  # probes every few seconds: no span, and a log line only when unwell
                try:
                    await self._serve(scope, receive, exchange, None, gated=False)
                finally:
                    if exchange.status >= 400:
                        self._log_access(scope, exchange, started_at, client_ip)
                return
            parent = propagate.extract(carrier)
            provider = tracer_provider()
            cheap = _unexported_span(provider, parent, method) if provider is not None else None
            if cheap is not None:
                attached = otel_context.attach(trace.set_span_in_context(cheap, parent))
                try:
                    await self._serve(scope, receive, exchange, cheap)
                finally:
                    otel_context.detach(attached)
                    self._finish(scope, exchange, started_at, client_ip, cheap)
                return
            with self._tracer.start_as_current_span(
                method,
                context=parent,
                kind=SpanKind.SERVER,
                attributes={"http.request.method": method, "url.path": path, "url.scheme": scope["scheme"]},
                record_exception=False,
                set_status_on_exception=False,
            ) as span:
                try:
                    await self._serve(scope, receive, exchange, span)
                finally:
                    self._finish(scope, exchange, started_at, client_ip, span)
        finally:
            REQUEST_ID.reset(token)

    def _finish(
        self, scope: Scope, exchange: _Exchange, started_at: float, client_ip: str | None, span: Span
    ) -> None:
        method: str = scope["method"]
        route = _route_template(scope)
        if span.is_recording():
            if route is not None:
                span.update_name(f"{method} {route}")
                span.set_attribute("http.route", route)
            span.set_attribute("http.response.status_code", exchange.status)
            if exchange.status >= 500:
                span.set_status(Status(StatusCode.ERROR))
        if not metrics_unread():  # without a reader the SDK would build and drop the measurement
            self._duration.record(
                time.perf_counter() - started_at,
                {
                    "http.request.method": method,
                    "http.route": route or "",
                    "http.response.status_code": exchange.status,
                },
            )
        self._log_access(scope, exchange, started_at, client_ip)

    async def _serve(
        self, scope: Scope, receive: Receive, exchange: _Exchange, span: Span | None, *, gated: bool = True
    ) -> None:
        try:
            if gated:
                async with self._gate.turn():
                    await self.app(scope, receive, exchange.send)
            else:
                await self.app(scope, receive, exchange.send)
        except Exception as exc:
            problem = exc if isinstance(exc, Busy) else problem_of(exc)
            if problem is None:
                problem = unavailable_of(exc)
                if problem is not None:  # a moment, not a bug: one line, no traceback
                    log.warning(
                        "a store is unavailable",
                        extra={"error_type": type(exc).__name__, "error": mask_text(str(exc))[:300]},
                    )
            if problem is None:
                log.error("unhandled error", exc_info=exc)
                if span is not None:
                    span.record_exception(exc)
                problem = internal_error()
            if exchange.started:
                raise  # too late for a problem body: let the server drop the connection
            state = scope.get("state", {})
            response = problem.response(scope["path"], state.get("request_id"))
            await response(scope, receive, exchange.send)

    @staticmethod
    def _log_access(scope: Scope, exchange: _Exchange, started_at: float, client_ip: str | None) -> None:
        status = exchange.status
        level = logging.ERROR if status >= 500 else logging.INFO
        if not access_log.isEnabledFor(level):
            return
        state = scope.get("state", {})
        principal = state.get("principal")
        query = scope.get("query_string", b"")
        # The route template, not the raw path, where there is one: path parameters can be secrets (a
        # provider's callback token) and ids belong to traces, not to every log line.
        route = _route_template(scope)
        shown_path = route or scope["path"]  # an unmatched path is masked by the formatter, like every field
        fields: dict[str, Any] = {
            "http_method": scope["method"],
            "path": shown_path,
            "route": route,
            "status": status,
            "duration_ms": round((time.perf_counter() - started_at) * 1000, 2),
            "client_ip": client_ip,
            "subject": getattr(principal, "subject", None),
            "response_bytes": exchange.bytes_sent,
        }
        if query:
            fields["query"] = query.decode("latin-1")
        access_log.log(level, "%s %s %s", scope["method"], shown_path, status, extra=fields)


NO_STORE = (b"cache-control", b"no-store")


class _Exchange:
    """Wraps `send`: notes status and size, adds X-Request-ID to the response, and `Cache-Control:
    no-store` to any answer that does not say how it may be cached: answers hold tokens and personal data,
    and only a route that knows its content is public (reference data) sets a Cache-Control of its own."""

    __slots__ = ("_request_id", "_send", "bytes_sent", "started", "status")

    def __init__(self, send: Send, request_id: bytes) -> None:
        self._send = send
        self._request_id = request_id
        self.status = 500  # if nothing is ever sent, the server answers 500
        self.started = False
        self.bytes_sent = 0

    async def send(self, message: Message) -> None:
        if message["type"] == "http.response.start":
            self.started = True
            self.status = message["status"]
            headers = [*message.get("headers", ()), (b"x-request-id", self._request_id)]
            if not any(name.lower() == b"cache-control" for name, _ in headers):
                headers.append(NO_STORE)
            message["headers"] = headers
        elif message["type"] == "http.response.body":
            self.bytes_sent += len(message.get("body", b""))
        await self._send(message)


def _route_template(scope: Scope) -> str | None:
    """`/api/v1/vehicles/{vehicle_id}`: low-cardinality span names and metrics, no ids in them."""
    route = scope.get("route")
    path = getattr(route, "path", None)
    return path if isinstance(path, str) else None


def get_runtime_of(app: FastAPI) -> Runtime:
    runtime = getattr(app.state, "runtime", None)
    if not isinstance(runtime, Runtime):
        raise RuntimeError("app.state.runtime is not open (is the lifespan running?)")
    return runtime


def get_runtime(request: Request) -> Runtime:
    """Dependency: the process's `Runtime`."""
    return get_runtime_of(request.app)


def get_uow(request: Request) -> UnitOfWork:
    """Dependency: a fresh, unopened unit of work (`async with uow: ...; await uow.commit()`)."""
    return get_runtime_of(request.app).uow()


def get_clock(request: Request) -> Clock:
    return get_runtime_of(request.app).clock


RuntimeDep = Annotated[Runtime, Depends(get_runtime)]
UowDep = Annotated[UnitOfWork, Depends(get_uow)]
ClockDep = Annotated[Clock, Depends(get_clock)]

# FastAPI's own OpenTelemetry instrumentation (newer releases) would make a second SERVER span around
# ours and send validation inputs to the log pipeline unmasked: the middleware above owns both.
_FASTAPI_TELEMETRY_OFF = {
    "tracing": False,
    "metrics": False,
    "logs": False,
    "operation_spans": False,
    "auto_configure": False,
}


def _own_queues(settings: ServiceSettings) -> list[str]:
    """The consumer queues of the service these settings belong to (none for an app that is no service)."""
    if settings.service_name not in SERVICE_NAMES:
        return []
    spec = load_spec(settings.service_name)
    return [subscription.queue(spec.name).main for subscription in spec.subscriptions]


def create_service_app(
    settings: ServiceSettings,
    *,
    title: str,
    routers: Sequence[APIRouter],
    runtime_factory: Callable[[], Runtime],
    readiness: Sequence[ReadinessCheck] = (),
    on_startup: Sequence[Hook] = (),
    on_shutdown: Sequence[Hook] = (),
    version: str = "1.0.0",
    description: str = "",
    check_timeout_s: float = 2.0,
) -> FastAPI:
    """Build a service's API app. `on_startup` hooks run after the runtime is open, `on_shutdown` hooks
    before it closes (in reverse order)."""
    service = settings.service_name

    @contextlib.asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        setup_telemetry(service, settings.telemetry)
        async with contextlib.AsyncExitStack() as stack:
            runtime = runtime_factory()
            app.state.runtime = runtime
            stack.push_async_callback(_clear_state, app, "runtime")
            stack.push_async_callback(runtime.aclose)
            if getattr(app.state, "verifier", None) is None:
                verifier = JwksVerifier(
                    settings.auth.jwks_url,
                    settings.auth.issuer,
                    settings.auth.audience,
                    settings.auth.leeway_s,
                    claim_keys=settings.auth.claim_key_ring(),
                )
                app.state.verifier = verifier
                stack.push_async_callback(_clear_state, app, "verifier")
                stack.push_async_callback(verifier.aclose)
            if getattr(app.state, "revocations", None) is None:
                # The service's own Redis, where identity writes the marks (ADR 0082).
                app.state.revocations = revocations = Revocations(runtime.redis)
                stack.push_async_callback(_clear_state, app, "revocations")
                stack.push_async_callback(revocations.aclose)
            app.state.idempotency = IdempotencyStore(
                runtime.redis, service, settings.secret_key.get_secret_value().encode()
            )
            broker_url = settings.broker.url.get_secret_value()
            probe = BrokerProbe(broker_url, timeout_s=check_timeout_s, queues=_own_queues(settings))
            app.state.broker_probe = probe
            stack.push_async_callback(probe.aclose)
            for hook in on_startup:
                await hook(app)
            for hook in on_shutdown:
                stack.push_async_callback(hook, app)
            log.info("service started", extra={"env": str(settings.env), "version": version})
            try:
                with server_heap():  # start-up done: its objects leave the collector's walks (ADR 0100)
                    yield
            finally:
                log.info("service stopping")
        flush_telemetry()

    fastapi_kwargs: dict[str, Any] = {}
    if "telemetry" in inspect.signature(FastAPI.__init__).parameters:  # FastAPI >= 0.16x
        fastapi_kwargs["telemetry"] = _FASTAPI_TELEMETRY_OFF
    prod = settings.env is Environment.prod
    app = FastAPI(
        title=title,
        version=version,
        description=description,
        lifespan=lifespan,
        openapi_url="/openapi.json",
        docs_url=None if prod else "/docs",
        redoc_url=None,
        swagger_ui_oauth2_redirect_url=None if prod else "/docs/oauth2-redirect",
        # Every route refuses what no service can store (NUL, control characters, ...): ADR 0084.
        dependencies=[Depends(refuse_bad_input)],
        **fastapi_kwargs,
    )
    app.state.settings = settings
    # Only the gateway's X-Forwarded-For is believed, and only from these addresses (ADR 0083).
    app.state.gateway_peers = parse_networks(settings.gateway_peers)
    app.state.readiness_checks = (
        ReadinessCheck("database", _database_probe, check_timeout_s),
        ReadinessCheck("redis", _redis_probe, check_timeout_s),
        ReadinessCheck("broker", _broker_probe, check_timeout_s),
        *readiness,
    )
    install_problem_handlers(app)
    install_input_handlers(app)
    app.state.gate = Gate(settings.max_active_requests(), settings.http_wait_s)
    app.add_middleware(RequestMiddleware, gateway_peers=app.state.gateway_peers, gate=app.state.gate)
    app.add_api_route("/healthz", healthz, methods=["GET"], include_in_schema=False)
    app.add_api_route("/readyz", readyz, methods=["GET"], include_in_schema=False)
    for router in routers:
        app.include_router(router)
    if service in SERVICE_NAMES:
        from servicekit.web.audit import audit_router  # it builds on this module's dependencies

        app.include_router(audit_router(service))  # the auditor's view of every service (ADR 0090)
    document_problems(app)
    return app


async def _clear_state(app: FastAPI, name: str) -> None:
    """Lifespan-owned objects leave `app.state` at shutdown, so a restart (tests) builds fresh ones."""
    with contextlib.suppress(AttributeError):
        delattr(app.state, name)
