"""The edge through the real nginx and identity's real api (ADR 0083): the client address is decided once,
at the edge, so a caller's own X-Forwarded-For neither reaches the audit trail nor escapes a per-address
limit, while a configured load balancer's header is believed; tokens are never cacheable; every answer
carries one request id.

nginx trusts 127.0.0.2 as a load balancer; the tests call from 127.0.0.1 as a plain client (from this
machine, which the services also take for the gateway: the case that was forgeable).
"""

from __future__ import annotations

import asyncio
import secrets
from collections.abc import Iterator

import httpx
import pytest
from redis import Redis
from sqlalchemy import select

from identity_service.service import SPEC as IDENTITY
from servicekit.runtime import Runtime
from servicekit.testing import new_phone, new_resident_id

from .stack import PASSWORD, Person, gateway_stack, make_accounts

pytestmark = pytest.mark.integration

LOAD_BALANCER = "127.0.0.2"
LOGIN_LIMIT = 4  # per address and minute, for this module (identity's default is 30)


@pytest.fixture(scope="module")
def edge() -> Iterator[str]:
    with pytest.MonkeyPatch.context() as env:
        env.setenv("TMS_IDENTITY__LOGIN_RATE_PER_IP", f"{LOGIN_LIMIT}/minute")
        _forget_login_counts()
        with gateway_stack([], trusted_proxies=(LOAD_BALANCER + "/32",)) as url:
            yield url


def _forget_login_counts() -> None:
    """The per-address counts are real time; a run a minute ago must not have used this run's budget."""
    redis = Redis.from_url(IDENTITY.settings().redis.url)
    try:
        for key in redis.scan_iter(match="tms:identity:rl*"):
            redis.delete(key)
    finally:
        redis.close()


@pytest.fixture(scope="module")
def person(edge: str) -> Person:
    person = Person(id_number=new_resident_id(), phone=new_phone())
    make_accounts({}, [person], system=False)
    return person


def client(edge: str, source: str | None = None) -> httpx.Client:
    transport = httpx.HTTPTransport(local_address=source) if source else None
    return httpx.Client(base_url=edge, trust_env=False, timeout=30, transport=transport)


def audited_source(request_id: str) -> tuple[str, str | None]:
    """(action, source address) of the audit row identity wrote in the request `request_id`."""

    async def read() -> tuple[str, str | None]:
        runtime = Runtime.open(IDENTITY.settings(), IDENTITY.metadata)
        audit = IDENTITY.metadata.tables["audit_log"]
        try:
            async with runtime.engine.connect() as conn:
                row = (
                    await conn.execute(
                        select(audit.c.action, audit.c.source_ip).where(audit.c.request_id == request_id)
                    )
                ).one()
        finally:
            await runtime.aclose()
        return row.action, None if row.source_ip is None else str(row.source_ip)

    return asyncio.run(read())


def test_a_forged_forwarded_for_does_not_reach_the_audit_trail(edge: str, person: Person) -> None:
    rid = "edge-forged-" + secrets.token_hex(6)
    with client(edge) as c:
        r = c.post(
            "/api/v1/auth/login",
            json={"username": person.id_number, "password": PASSWORD},
            headers={"X-Forwarded-For": "203.0.113.66", "X-Request-ID": rid},
        )
    assert r.status_code == 200, r.text
    assert audited_source(rid) == ("login", "127.0.0.1")


def test_a_forged_forwarded_for_does_not_escape_the_per_address_limit(edge: str) -> None:
    """Sign-in and /auth/token count per client address: a new forged address on every try must not
    give a new budget."""
    statuses = []
    with client(edge) as c:
        for n in range(LOGIN_LIMIT + 1):
            r = c.post(
                "/api/v1/auth/login",
                json={"username": "nobody-" + secrets.token_hex(4), "password": "wrong"},
                headers={"X-Forwarded-For": f"198.51.100.{n + 1}"},
            )
            statuses.append(r.status_code)
        token = c.post(
            "/api/v1/auth/token",
            json={"grant_type": "client_credentials", "client_id": "nobody", "client_secret": "wrong"},
            headers={"X-Forwarded-For": "198.51.100.200"},
        )
    assert statuses[-1] == 429, statuses
    assert token.status_code == 429, token.text
    assert token.json()["code"] == "RATE_LIMITED"


def test_a_trusted_load_balancers_forwarded_for_is_believed(edge: str, person: Person) -> None:
    rid = "edge-lb-" + secrets.token_hex(6)
    with client(edge, source=LOAD_BALANCER) as lb:
        r = lb.post(
            "/api/v1/auth/login",
            json={"username": person.id_number, "password": PASSWORD},
            # what the client wrote (left) is not believed; what the load balancer appended is
            headers={"X-Forwarded-For": "6.6.6.6, 203.0.113.77", "X-Request-ID": rid},
        )
    assert r.status_code == 200, r.text
    assert audited_source(rid) == ("login", "203.0.113.77")


def test_tokens_are_never_cacheable_and_answers_carry_one_request_id(edge: str, person: Person) -> None:
    with client(edge, source=LOAD_BALANCER) as c:
        # from a load balancer's own clients, so this module's exhausted 127.0.0.1 budget does not count
        forwarded = {"X-Forwarded-For": "203.0.113.90", "X-Request-ID": "edge-once-1"}
        tokens = c.post(
            "/api/v1/auth/login",
            json={"username": person.id_number, "password": PASSWORD},
            headers=forwarded,
        )
        assert tokens.status_code == 200, tokens.text
        assert tokens.headers.get_list("cache-control") == ["no-store"]
        assert tokens.headers.get_list("x-request-id") == ["edge-once-1"]
        bearer = {"Authorization": f"Bearer {tokens.json()['access_token']}"}
        me = c.get("/api/v1/auth/whoami", headers=bearer)
        assert me.headers.get_list("cache-control") == ["no-store"]
        assert len(me.headers.get_list("x-request-id")) == 1
        refused = c.get("/api/v1/auth/whoami")
        assert refused.status_code == 401
        assert refused.headers.get_list("cache-control") == ["no-store"]
        assert len(refused.headers.get_list("x-request-id")) == 1
        # public reference data keeps the service's own caching
        keys = c.get("/api/v1/auth/jwks.json")
        assert keys.headers.get_list("cache-control") == ["public, max-age=60"]
