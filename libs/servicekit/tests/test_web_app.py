"""A tiny service built with create_service_app, called in-process: health, readiness, problems, auth,
idempotency, request ids, tracing and masked access logs. Real PostgreSQL, Redis and RabbitMQ."""

from __future__ import annotations

import asyncio
import dataclasses
import json
import socket
import time
from collections.abc import AsyncIterator, Callable
from typing import Annotated, Any, ClassVar

import aio_pika
import httpx
import pytest
from fastapi import APIRouter, Depends, FastAPI, Request
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import SpanKind, format_span_id, format_trace_id
from pydantic import BaseModel, Field, SecretStr
from redis.asyncio import Redis
from sqlalchemy import text
from sqlalchemy.engine import make_url
from starlette.responses import Response

from servicekit.db import new_metadata
from servicekit.refusal import Refusal, refusal
from servicekit.runtime import Runtime
from servicekit.settings import (
    AuthSettings,
    BrokerSettings,
    CryptoSettings,
    DatabaseSettings,
    Environment,
    RedisSettings,
    ServiceSettings,
    settings_config,
)
from servicekit.testing import PROD_KEYS, TokenFactory, service_client
from servicekit.topology import declare_handler_queues, queue_names
from servicekit.tracecontext import current_trace_headers
from servicekit.web import (
    CurrentPrincipal,
    IdempotencyKeyHeader,
    Principal,
    ReadinessCheck,
    actor_from,
    create_service_app,
    idempotent,
    require_roles,
)
from servicekit.web.app import BrokerProbe
from servicekit.web.revocation import Revocations

pytestmark = pytest.mark.integration

IDN = "130102199003071233"
PHONE = "13812345678"


class DemoSettings(ServiceSettings):
    service_name: ClassVar[str] = "demo"
    model_config = settings_config("demo")


class VehicleIn(BaseModel):
    vin: str = Field(min_length=17, max_length=17)
    plate: str


DemoRuleError = refusal("CODE_EXPIRED", "ID-07", 409)


created: list[str] = []
router = APIRouter()


@router.get("/api/v1/demo/me")
async def me(principal: CurrentPrincipal) -> dict[str, Any]:
    return {"subject": principal.subject, "roles": sorted(principal.roles)}


@router.get("/api/v1/demo/review")
async def review(
    principal: Annotated[Principal, Depends(require_roles("clerk.review", "clerk.admin"))],
) -> dict[str, str]:
    return {"subject": principal.subject}


@router.get("/api/v1/demo/problem")
async def problem() -> None:
    raise Refusal(
        "no attempts left",
        code="CUSTOM_ATTEMPTS_EXHAUSTED",
        rule="PP-05",
        status=422,
        extra={"attempts_left": 0},
    )


@router.get("/api/v1/demo/rule")
async def rule() -> None:
    raise DemoRuleError(f"code sent to {PHONE} has expired", extra={"attempts_left": 2})


@router.get("/api/v1/demo/boom")
async def boom() -> None:
    raise RuntimeError(f"internal detail: password=hunter2 for {IDN}")


@router.post("/api/v1/demo/vehicles", status_code=201)
async def create_vehicle(
    request: Request, body: VehicleIn, principal: CurrentPrincipal, _key: IdempotencyKeyHeader = None
) -> Response:
    async def handler() -> dict[str, Any]:
        created.append(body.vin)
        return {"id": f"veh-{len(created)}", "vin": body.vin, "owner": principal.subject}

    return await idempotent(request, principal.subject, handler, status_code=201)


@router.get("/api/v1/demo/trace")
async def trace_headers() -> dict[str, str]:
    return current_trace_headers()


@router.get("/api/v1/demo/actor")
async def actor(request: Request, principal: CurrentPrincipal) -> dict[str, Any]:
    return dataclasses.asdict(actor_from(request, principal))


@router.get("/api/v1/demo/people/{id_number}")
async def person(id_number: str) -> dict[str, str]:
    return {"phone": PHONE}


@router.get("/api/v1/demo/calendar")
async def calendar(response: Response) -> dict[str, str]:
    response.headers["Cache-Control"] = "public, max-age=60"  # public reference data says so itself
    return {"2027-01-01": "holiday"}


HELD, ENTERED = asyncio.Event(), asyncio.Event()


@router.get("/api/v1/demo/held")
async def held() -> dict[str, bool]:
    ENTERED.set()
    await HELD.wait()
    return {"held": True}


@router.get("/api/v1/demo/stores")
async def stores(request: Request) -> dict[str, Any]:
    runtime: Runtime = request.app.state.runtime
    async with runtime.engine.connect() as conn:
        one = (await conn.execute(text("SELECT 1"))).scalar()
    return {"database": one, "redis": await runtime.redis.ping()}


def closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


AppFactory = Callable[..., FastAPI]


@pytest.fixture
def make_app(pg_database: str, redis_url: str, amqp_url: str, tokens: TokenFactory) -> AppFactory:
    def make(
        *,
        redis: str = redis_url,
        database: str = pg_database,
        env: Environment = Environment.test,
        readiness: tuple[ReadinessCheck, ...] = (),
        http_max_active: int | None = None,
        http_wait_s: float = 20.0,
    ) -> FastAPI:
        settings = DemoSettings(
            http_max_active=http_max_active,
            http_wait_s=http_wait_s,
            TMS_ENV=Environment.test,  # `env` is read by its alias only
            secret_key=SecretStr("test-secret"),
            database=DatabaseSettings(url=database, pool_size=2),
            redis=RedisSettings(url=redis),
            broker=BrokerSettings(url=SecretStr(amqp_url)),
            auth=AuthSettings(claim_keys=SecretStr(tokens.claim_keys.spec())),
            crypto=CryptoSettings.model_validate(PROD_KEYS["crypto"]),  # prod's Runtime needs them (ADR 0095)
        )
        # prod's switches on this machine's plain servers, which prod settings would refuse (ADR 0094)
        settings = settings.model_copy(update={"env": env})
        app = create_service_app(
            settings,
            title="demo",
            routers=[router],
            runtime_factory=lambda: Runtime.open(settings, new_metadata()),
            readiness=readiness,
        )
        app.state.verifier = tokens.verifier()
        return app

    return make


@pytest.fixture
async def client(make_app: AppFactory, redis: object) -> AsyncIterator[httpx.AsyncClient]:
    async with service_client(make_app()) as c:
        yield c


def access_lines(out: str) -> list[dict[str, Any]]:
    lines = [json.loads(line) for line in out.splitlines() if line.startswith("{")]
    return [line for line in lines if line["logger"] == "servicekit.access"]


async def test_healthz(client: httpx.AsyncClient) -> None:
    r = await client.get("/healthz")
    assert (r.status_code, r.json()) == (200, {"status": "ok"})


async def test_readyz_ok_when_database_redis_and_broker_answer(client: httpx.AsyncClient) -> None:
    r = await client.get("/readyz")
    assert r.status_code == 200, r.text
    assert r.json() == {"status": "ok", "checks": {"database": "ok", "redis": "ok", "broker": "ok"}}
    assert (await client.get("/readyz")).status_code == 200  # the broker connection is reused


async def test_readyz_503_when_redis_does_not_answer(make_app: AppFactory) -> None:
    async with service_client(make_app(redis=f"redis://127.0.0.1:{closed_port()}/0")) as client:
        r = await client.get("/readyz")
    assert r.status_code == 503
    body = r.json()
    assert body["status"] == "unavailable"
    assert body["checks"]["database"] == "ok"
    assert body["checks"]["broker"] == "ok"
    assert body["checks"]["redis"] != "ok"


async def test_readyz_reports_a_slow_check_as_timeout(make_app: AppFactory) -> None:
    async def hangs(app: FastAPI) -> None:
        import asyncio

        await asyncio.sleep(10)

    app = make_app(readiness=(ReadinessCheck("queues", hangs, timeout_s=0.1),))
    async with service_client(app) as client:
        r = await client.get("/readyz")
    assert r.status_code == 503
    assert r.json()["checks"]["queues"] == "timeout"


async def test_problem_shape(client: httpx.AsyncClient) -> None:
    r = await client.get("/api/v1/demo/problem")
    assert r.status_code == 422
    assert r.headers["content-type"] == "application/problem+json"
    body = r.json()
    assert body == {
        "type": "https://errors.tms.example/custom-attempts-exhausted",
        "title": "Unprocessable Content",
        "status": 422,
        "detail": "no attempts left",
        "code": "CUSTOM_ATTEMPTS_EXHAUSTED",
        "rule": "PP-05",
        "instance": "/api/v1/demo/problem",
        "request_id": r.headers["x-request-id"],
        "attempts_left": 0,
    }


async def test_rule_errors_of_the_domain_become_problems(client: httpx.AsyncClient) -> None:
    r = await client.get("/api/v1/demo/rule")
    assert r.status_code == 409
    body = r.json()
    assert (body["code"], body["rule"], body["attempts_left"]) == ("CODE_EXPIRED", "ID-07", 2)
    assert body["detail"] == "code sent to 138****5678 has expired"


async def test_validation_error_lists_each_bad_field(client: httpx.AsyncClient, tokens: TokenFactory) -> None:
    r = await client.post(
        "/api/v1/demo/vehicles", json={"vin": "SHORT"}, headers=tokens.headers(tokens.citizen())
    )
    assert r.status_code == 422
    assert r.headers["content-type"] == "application/problem+json"
    body = r.json()
    assert body["code"] == "VALIDATION_FAILED"
    fields = {e["field"]: e for e in body["errors"]}
    assert set(fields) == {"body.vin", "body.plate"}
    assert fields["body.plate"]["type"] == "missing"
    assert all(e["message"] for e in body["errors"])


async def test_unexpected_exception_is_a_generic_500_and_logged(
    client: httpx.AsyncClient, capsys: pytest.CaptureFixture[str]
) -> None:
    r = await client.get("/api/v1/demo/boom")
    assert r.status_code == 500
    body = r.json()
    assert body["code"] == "INTERNAL_ERROR"
    assert "hunter2" not in r.text
    assert "RuntimeError" not in r.text
    out = capsys.readouterr().out
    errors = [json.loads(x) for x in out.splitlines() if x.startswith("{") and '"unhandled error"' in x]
    assert errors
    assert errors[0]["error_type"] == "RuntimeError"
    assert errors[0]["request_id"] == r.headers["x-request-id"]
    assert IDN not in out


@pytest.mark.parametrize("away", ["database", "redis"])
async def test_a_store_away_is_a_503_problem_not_a_500(
    make_app: AppFactory, pg_database: str, away: str, capsys: pytest.CaptureFixture[str]
) -> None:
    """ADR 0088: a request that finds its database or Redis away answers at once 503 problem+json with
    Retry-After (the client asks again), logged as a warning without a traceback, not as our bug."""
    port = closed_port()
    if away == "database":
        app = make_app(database=make_url(pg_database).set(port=port).render_as_string(hide_password=False))
    else:
        app = make_app(redis=f"redis://127.0.0.1:{port}/0")
    async with service_client(app) as client:
        r = await client.get("/api/v1/demo/stores")
    assert r.status_code == 503, r.text
    assert r.headers["content-type"].startswith("application/problem+json")
    assert r.headers["retry-after"] == "2"
    assert r.json()["code"] == "TEMPORARILY_UNAVAILABLE"
    assert str(port) not in r.text  # where the store lives is not the caller's business
    out = capsys.readouterr().out
    assert '"unhandled error"' not in out
    assert '"a store is unavailable"' in out


async def test_past_its_turns_a_process_answers_503_busy_and_probes_still_answer(
    make_app: AppFactory,
) -> None:
    """ADR 0101: with its one turn taken, the next request waits its wait and is told 503 problem+json
    with Retry-After; the probes skip the gate; the turn comes back when the first is done."""
    HELD.clear()
    ENTERED.clear()
    app = make_app(http_max_active=1, http_wait_s=0.05)
    async with service_client(app) as client:
        first = asyncio.create_task(client.get("/api/v1/demo/held"))
        await ENTERED.wait()
        assert app.state.gate.active == 1
        r = await client.get("/api/v1/demo/calendar")
        assert r.status_code == 503, r.text
        assert r.headers["content-type"].startswith("application/problem+json")
        assert r.headers["retry-after"] == "1"
        assert r.json()["code"] == "TEMPORARILY_UNAVAILABLE"
        assert r.json()["request_id"] == r.headers["x-request-id"]
        assert (await client.get("/healthz")).status_code == 200
        HELD.set()
        assert (await first).json() == {"held": True}
        assert (await client.get("/api/v1/demo/calendar")).status_code == 200


async def test_by_default_a_process_runs_as_many_requests_as_its_database_pool_serves(
    make_app: AppFactory,
) -> None:
    app = make_app()
    assert (app.state.gate.max_active, app.state.gate.wait_s) == (2 + 10, 20.0)  # pool_size 2, overflow 10


async def test_unknown_route_is_a_404_problem(client: httpx.AsyncClient) -> None:
    r = await client.get("/api/v1/nothing-here")
    assert r.status_code == 404
    assert r.json()["code"] == "NOT_FOUND"


async def test_missing_token_is_401_with_bearer_challenge(client: httpx.AsyncClient) -> None:
    r = await client.get("/api/v1/demo/me")
    assert r.status_code == 401
    assert r.headers["www-authenticate"] == "Bearer"
    assert r.json()["code"] == "UNAUTHENTICATED"


async def test_garbage_token_is_401(client: httpx.AsyncClient) -> None:
    r = await client.get("/api/v1/demo/me", headers={"Authorization": "Bearer not.a.token"})
    assert r.status_code == 401
    assert r.headers["www-authenticate"] == 'Bearer error="invalid_token"'


async def test_expired_token_is_401(client: httpx.AsyncClient, tokens: TokenFactory) -> None:
    import time

    r = await client.get("/api/v1/demo/me", headers=tokens.headers(tokens.citizen(exp=int(time.time()) - 60)))
    assert r.status_code == 401
    assert r.json()["detail"] == "the access token has expired"


async def test_valid_token_is_200(client: httpx.AsyncClient, tokens: TokenFactory) -> None:
    r = await client.get("/api/v1/demo/me", headers=tokens.headers(tokens.citizen("p-9")))
    assert (r.status_code, r.json()) == (200, {"subject": "p-9", "roles": ["citizen"]})


async def test_a_revoked_session_or_account_is_refused_at_once(
    make_app: AppFactory, redis: Redis, tokens: TokenFactory
) -> None:
    """ADR 0082: identity's marks in the service's own Redis end a token before its `exp`."""
    marks = Revocations(redis, ttl_s=60)
    now = time.time()
    signed_out = tokens.headers(tokens.citizen("p-10", session_id="s-1", iat=int(now) - 5))
    other_session = tokens.headers(tokens.citizen("p-10", session_id="s-2", iat=int(now) - 5))
    suspended = tokens.headers(tokens.citizen("p-11", session_id="s-3", iat=int(now) - 5))
    async with service_client(make_app()) as client:
        for headers in (signed_out, other_session, suspended):
            assert (await client.get("/api/v1/demo/me", headers=headers)).status_code == 200
        await marks.revoke_session("p-10", "s-1")
        await marks.revoke_account("p-11", now)
        for headers in (signed_out, suspended):
            r = await client.get("/api/v1/demo/me", headers=headers)  # the verified-token cache holds it
            assert r.status_code == 401, r.text
            assert r.headers["content-type"] == "application/problem+json"
            assert (r.json()["code"], r.json()["detail"]) == (
                "UNAUTHENTICATED",
                "the access token has been revoked",
            )
        assert (await client.get("/api/v1/demo/me", headers=other_session)).status_code == 200
        signed_in_again = tokens.headers(tokens.citizen("p-11", session_id="s-4", iat=now + 0.002))
        assert (await client.get("/api/v1/demo/me", headers=signed_in_again)).status_code == 200


async def test_revocations_unreadable_fail_closed_with_503(
    make_app: AppFactory, tokens: TokenFactory
) -> None:
    """ADR 0082: a token whose revocation cannot be checked (Redis down) is not served."""
    async with service_client(make_app(redis=f"redis://127.0.0.1:{closed_port()}/0")) as client:
        r = await client.get("/api/v1/demo/me", headers=tokens.headers(tokens.citizen("p-12")))
    assert r.status_code == 503
    assert r.json()["code"] == "AUTH_UNAVAILABLE"
    assert r.headers["retry-after"] == "5"


async def test_roles_403_and_200(client: httpx.AsyncClient, tokens: TokenFactory) -> None:
    r = await client.get("/api/v1/demo/review", headers=tokens.headers(tokens.clerk(roles=["clerk.intake"])))
    assert r.status_code == 403
    assert r.json()["code"] == "FORBIDDEN"
    r = await client.get("/api/v1/demo/review", headers=tokens.headers(tokens.clerk(roles=["clerk.review"])))
    assert r.status_code == 200


async def test_idempotent_repeat_returns_the_same_body(
    client: httpx.AsyncClient, tokens: TokenFactory
) -> None:
    headers = tokens.headers(tokens.citizen("p-idem"), **{"Idempotency-Key": "create-1"})
    vehicle = {"vin": "LSVAU2180N2183294", "plate": "冀A12345"}
    before = len(created)
    first = await client.post("/api/v1/demo/vehicles", json=vehicle, headers=headers)
    again = await client.post("/api/v1/demo/vehicles", json=vehicle, headers=headers)
    assert first.status_code == again.status_code == 201
    assert again.content == first.content
    assert again.headers["idempotent-replayed"] == "true"
    assert len(created) == before + 1
    other = await client.post("/api/v1/demo/vehicles", json={**vehicle, "plate": "冀B1"}, headers=headers)
    assert (other.status_code, other.json()["code"]) == (422, "IDEMPOTENCY_KEY_REUSED")
    plain = tokens.headers(tokens.citizen("p-idem"))
    await client.post("/api/v1/demo/vehicles", json=vehicle, headers=plain)
    assert len(created) == before + 2  # without the header every request runs


async def test_request_id_is_echoed_or_made(client: httpx.AsyncClient) -> None:
    r = await client.get("/healthz", headers={"X-Request-ID": "gw-123"})
    assert r.headers["x-request-id"] == "gw-123"
    r = await client.get("/healthz", headers={"X-Request-ID": "bad id\nwith newline"})
    assert r.headers["x-request-id"] != "bad id\nwith newline"
    assert len(r.headers["x-request-id"]) == 32


async def test_request_runs_in_a_server_span_continuing_the_callers_trace(
    client: httpx.AsyncClient, spans: InMemorySpanExporter
) -> None:
    trace_id, parent_id = "4bf92f3577b34da6a3ce929d0e0e4736", "00f067aa0ba902b7"
    r = await client.get("/api/v1/demo/trace", headers={"traceparent": f"00-{trace_id}-{parent_id}-01"})
    inside = r.json()["traceparent"]
    assert inside.startswith(f"00-{trace_id}-")  # what an outbox row written here would carry
    (span,) = [s for s in spans.get_finished_spans() if s.kind is SpanKind.SERVER]
    assert span.name == "GET /api/v1/demo/trace"
    assert format_trace_id(span.context.trace_id) == trace_id
    assert span.parent is not None
    assert format_span_id(span.parent.span_id) == parent_id
    assert inside.split("-")[2] == format_span_id(span.context.span_id)
    assert span.attributes is not None
    assert span.attributes["http.response.status_code"] == 200


async def test_access_log_is_masked(
    client: httpx.AsyncClient, tokens: TokenFactory, capsys: pytest.CaptureFixture[str]
) -> None:
    capsys.readouterr()
    r = await client.get(
        f"/api/v1/demo/people/{IDN}",
        params={"phone": PHONE},
        headers={"X-Request-ID": "req-mask", **tokens.headers(tokens.citizen())},
    )
    assert r.status_code == 200
    out = capsys.readouterr().out
    assert IDN not in out
    assert PHONE not in out
    (line,) = [x for x in access_lines(out) if x.get("request_id") == "req-mask"]
    # A matched route is logged by its template: path parameters (ids, a provider's token) stay out.
    assert line["path"] == line["route"] == "/api/v1/demo/people/{id_number}"
    assert line["query"] == "phone=138****5678"
    assert line["status"] == 200
    assert line["message"] == "GET /api/v1/demo/people/{id_number} 200"
    assert "trace_id" in line
    assert line["client_ip"] == "127.0.0.1"
    # A path no route matched is logged as it came, masked.
    await client.get(f"/api/v1/nowhere/{IDN}", headers={"X-Request-ID": "req-unmatched"})
    out = capsys.readouterr().out
    assert IDN not in out
    (line,) = [x for x in access_lines(out) if x.get("request_id") == "req-unmatched"]
    assert line["path"] == "/api/v1/nowhere/1301**********1233"


async def test_actor_for_the_audit_trail(client: httpx.AsyncClient, tokens: TokenFactory) -> None:
    headers = {"X-Forwarded-For": "203.0.113.7", "X-Request-ID": "req-actor"}
    token = tokens.clerk("staff-7", roles=["clerk.intake", "clerk.review"])
    r = await client.get("/api/v1/demo/actor", headers=tokens.headers(token, **headers))
    assert r.json() == {
        "id": "staff-7",
        "role": "clerk.review",
        "source_ip": "203.0.113.7",
        "request_id": "req-actor",
    }


async def test_a_forwarded_list_or_a_second_header_is_not_believed(
    client: httpx.AsyncClient, tokens: TokenFactory
) -> None:
    """The gateway sends one address it decided; a list or two headers were written by someone else (a
    caller forging its address to escape a per-address limit), so the peer's own address counts."""
    token = tokens.clerk("staff-8", roles=["clerk.intake"])
    for forged in ("6.6.6.6, 203.0.113.7", "6.6.6.6,127.0.0.1", "not-an-address"):
        r = await client.get(
            "/api/v1/demo/actor", headers=tokens.headers(token, **{"X-Forwarded-For": forged})
        )
        assert r.json()["source_ip"] == "127.0.0.1", forged
    twice = [
        ("Authorization", f"Bearer {token}"),
        ("X-Forwarded-For", "6.6.6.6"),
        ("X-Forwarded-For", "7.7.7.7"),
    ]
    r = await client.get("/api/v1/demo/actor", headers=twice)
    assert r.json()["source_ip"] == "127.0.0.1"


async def test_answers_are_not_stored_unless_a_route_says_they_are_public(
    client: httpx.AsyncClient, tokens: TokenFactory
) -> None:
    """Tokens and personal data must never sit in a browser's or a proxy's cache."""
    me = await client.get("/api/v1/demo/me", headers=tokens.headers(tokens.citizen("p-cache")))
    assert me.headers.get_list("cache-control") == ["no-store"]
    refused = await client.get("/api/v1/demo/me")
    assert (refused.status_code, refused.headers.get_list("cache-control")) == (401, ["no-store"])
    assert (await client.get("/api/v1/demo/boom")).headers.get_list("cache-control") == ["no-store"]
    assert (await client.get("/readyz")).headers.get_list("cache-control") == ["no-store"]
    public = await client.get("/api/v1/demo/calendar")
    assert public.headers.get_list("cache-control") == ["public, max-age=60"]
    assert len(public.headers.get_list("x-request-id")) == 1


async def test_openapi_is_served_and_docs_are_off_in_prod(
    make_app: AppFactory, client: httpx.AsyncClient
) -> None:
    spec = (await client.get("/openapi.json")).json()
    assert "/api/v1/demo/vehicles" in spec["paths"]
    assert "/healthz" not in spec["paths"]
    assert (await client.get("/docs")).status_code == 200
    async with service_client(make_app(env=Environment.prod)) as prod:
        assert (await prod.get("/docs")).status_code == 404
        assert (await prod.get("/openapi.json")).status_code == 200


async def test_access_log_names_the_subject(
    client: httpx.AsyncClient, tokens: TokenFactory, capsys: pytest.CaptureFixture[str]
) -> None:
    headers = tokens.headers(tokens.citizen("p-logged"), **{"X-Request-ID": "req-subject"})
    assert (await client.get("/api/v1/demo/me", headers=headers)).status_code == 200
    (line,) = [x for x in access_lines(capsys.readouterr().out) if x.get("request_id") == "req-subject"]
    assert line["subject"] == "p-logged"


async def test_method_not_allowed_is_a_problem_with_allow(client: httpx.AsyncClient) -> None:
    r = await client.delete("/healthz")
    assert r.status_code == 405
    assert r.json()["code"] == "METHOD_NOT_ALLOWED"
    assert "GET" in r.headers["allow"]


async def test_readiness_checks_the_services_own_queues_answer(amqp_url: str, unique: str) -> None:
    """A queue that answers passes; one not declared yet is not a failure (the worker declares it); a
    broker that does not answer fails the check (a leaderless quorum queue does not answer either)."""
    names = queue_names(f"ready-{unique}", "probe")
    connection = await aio_pika.connect(amqp_url)
    async with connection:
        await declare_handler_queues(await connection.channel(), names, [])
        probe = BrokerProbe(amqp_url, timeout_s=2, queues=[names.main, f"never-declared-{unique}"])
        try:
            await probe.check()
        finally:
            await probe.aclose()
        channel = await connection.channel()
        for name in (names.main, names.retry, names.dlq):
            await channel.queue_delete(name)
    unreachable = BrokerProbe("amqp://guest:guest@127.0.0.1:1/", timeout_s=0.5, queues=[names.main])
    with pytest.raises((OSError, aio_pika.exceptions.AMQPConnectionError, TimeoutError)):
        await unreachable.check()
