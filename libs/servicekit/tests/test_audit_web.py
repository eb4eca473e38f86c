"""AU-01 (ADR 0090): the auditor searches and exports a service's audit trail, masked, each reading itself
audited; no other role reaches it, and the auditor reaches nothing else."""

from __future__ import annotations

import csv
import io
import json
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from typing import Any, ClassVar

import httpx
import pytest
from fastapi import APIRouter, Depends
from pydantic import SecretStr
from sqlalchemy import select

from servicekit.clock import FixedClock
from servicekit.db import new_metadata
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
from servicekit.uow import Actor
from servicekit.vocabulary import AUDITOR
from servicekit.web import CurrentPrincipal, create_service_app, require_roles
from servicekit.web import audit as audit_web
from servicekit.web.audit import audit_router
from servicekit.web.auth import auditor_may

from .messaging_kit import create_tables

pytestmark = pytest.mark.integration

NOW = datetime(2027, 3, 1, 9, 30, tzinfo=UTC)
IDN = "130102199003071233"
PHONE = "13812345678"
ENTRIES = "/api/v1/audit/demo/entries"
EXPORT = "/api/v1/audit/demo/export"


class DemoSettings(ServiceSettings):
    service_name: ClassVar[str] = "demo"
    model_config = settings_config("demo")


others = APIRouter()


@others.get("/api/v1/demo/mine")
async def mine(principal: CurrentPrincipal) -> dict[str, str]:
    """A route any signed-in caller reaches (no role check of its own)."""
    return {"subject": principal.subject}


@others.post("/api/v1/demo/review", dependencies=[Depends(require_roles("clerk.review", "clerk.admin"))])
async def review() -> dict[str, str]:
    return {"ok": "yes"}


@pytest.fixture
async def runtime(pg_database: str, amqp_url: str, redis_url: str) -> AsyncIterator[Runtime]:
    metadata = new_metadata()
    create_tables(pg_database, metadata)
    settings = DemoSettings(
        TMS_ENV=Environment.test,
        secret_key=SecretStr("test-secret"),
        database=DatabaseSettings(url=pg_database, pool_size=2),
        redis=RedisSettings(url=redis_url),
        broker=BrokerSettings(url=SecretStr(amqp_url)),
        crypto=CryptoSettings.model_validate(PROD_KEYS["crypto"]),
    )
    runtime = Runtime.open(settings, metadata, clock=FixedClock(NOW))
    yield runtime
    await runtime.aclose()


@pytest.fixture
async def client(runtime: Runtime, tokens: TokenFactory, redis: object) -> AsyncIterator[httpx.AsyncClient]:
    settings = runtime.settings.model_copy(
        update={"auth": AuthSettings(claim_keys=SecretStr(tokens.claim_keys.spec()))}
    )
    app = create_service_app(
        settings,
        title="demo",
        routers=[others, audit_router("demo")],
        runtime_factory=lambda: Runtime.open(settings, runtime.metadata, clock=runtime.clock),
    )
    app.state.verifier = tokens.verifier()
    async with service_client(app) as c:
        yield c


def auditor(tokens: TokenFactory, *more_roles: str) -> dict[str, str]:
    token = tokens.mint("A0001", kind="staff", channel="counter", roles=(AUDITOR, *more_roles))
    return tokens.headers(token)


async def seed(runtime: Runtime) -> None:
    """Five entries over five days: two clerks, a person's record holding an identity number and phone."""
    clock = runtime.clock
    assert isinstance(clock, FixedClock)
    for day, (who, action) in enumerate(
        [
            ("J0001", "person.update"),
            ("J0002", "person.update"),
            ("J0001", "vehicle.approve"),
            ("J0001", "person.update"),
            ("J0002", "vehicle.approve"),
        ]
    ):
        clock.set(NOW + timedelta(days=day))
        async with runtime.uow() as uow:
            uow.audit(
                Actor(id=who, role="clerk.review", source_ip="10.0.0.7", request_id=f"r{day}"),
                action,
                f"person:{IDN}",
                {"phone": "13900000000"},
                {"phone": PHONE, "id_number": IDN, "note": f"called {PHONE}"},
            )
            await uow.commit()
    clock.set(NOW + timedelta(days=10))


async def readings(runtime: Runtime) -> list[dict[str, Any]]:
    audit = runtime.metadata.tables["audit_log"]
    async with runtime.engine.connect() as conn:
        rows = await conn.execute(select(audit).where(audit.c.action.like("audit.%")).order_by(audit.c.id))
        return [dict(r._mapping) for r in rows]


async def test_au01_auditor_searches_by_actor_action_and_time_page_by_page_masked(
    runtime: Runtime, client: httpx.AsyncClient, tokens: TokenFactory
) -> None:
    await seed(runtime)
    headers = auditor(tokens)
    first = await client.get(ENTRIES, params={"actor": "J0001", "limit": 2}, headers=headers)
    assert first.status_code == 200, first.text
    page = first.json()
    assert [e["action"] for e in page["items"]] == ["person.update", "vehicle.approve"]  # newest first
    assert page["next_cursor"]
    second = await client.get(
        ENTRIES, params={"actor": "J0001", "limit": 2, "cursor": page["next_cursor"]}, headers=headers
    )
    rest = second.json()
    assert [e["request_id"] for e in rest["items"]] == ["r0"]
    assert rest["next_cursor"] is None

    entry = rest["items"][0]
    assert entry["target"] == "person:1301**********1233"
    assert entry["after"] == {
        "phone": "138****5678",
        "id_number": "1301**********1233",
        "note": "called 138****5678",
    }
    assert entry["before"] == {"phone": "139****0000"}
    assert IDN not in first.text + second.text
    assert PHONE not in first.text + second.text

    by_time = await client.get(
        ENTRIES,
        params={
            "action": "person.update",
            "target": f"person:{IDN}",  # searched by the stored value, shown masked
            "since": (NOW + timedelta(days=1)).isoformat(),
            "until": (NOW + timedelta(days=4)).isoformat(),
        },
        headers=headers,
    )
    assert [e["request_id"] for e in by_time.json()["items"]] == ["r3", "r1"]

    bad = await client.get(
        ENTRIES, params={"since": NOW.isoformat(), "until": NOW.isoformat()}, headers=headers
    )
    assert (bad.status_code, bad.json()["code"]) == (422, "AUDIT_RANGE_INVALID")

    # Each search is itself an entry: who, as auditor, which filters.
    searches = await readings(runtime)
    assert [(r["actor"], r["role"], r["action"], r["target"]) for r in searches] == [
        ("A0001", AUDITOR, "audit.search", "audit_log:demo")
    ] * 3
    assert searches[0]["after"] == {"actor": "J0001", "cursor": None}


async def test_au01_auditor_exports_json_lines_and_csv_with_count_and_limits(
    runtime: Runtime, client: httpx.AsyncClient, tokens: TokenFactory, monkeypatch: pytest.MonkeyPatch
) -> None:
    await seed(runtime)
    headers = auditor(tokens)
    window = {"since": NOW.isoformat(), "until": (NOW + timedelta(days=31)).isoformat()}

    lines = await client.get(EXPORT, params=window, headers=headers)
    assert lines.status_code == 200, lines.text
    assert lines.headers["content-type"].startswith("application/x-ndjson")
    assert lines.headers["x-export-entries"] == "5"
    exported = [json.loads(line) for line in lines.text.splitlines()]
    assert [e["request_id"] for e in exported] == ["r0", "r1", "r2", "r3", "r4"]  # oldest first
    assert IDN not in lines.text
    assert PHONE not in lines.text

    table = await client.get(EXPORT, params={**window, "format": "csv", "actor": "J0002"}, headers=headers)
    assert table.status_code == 200, table.text
    assert table.headers["x-export-entries"] == "2"
    rows = list(csv.DictReader(io.StringIO(table.text.lstrip("\ufeff"))))
    assert [(r["actor"], r["request_id"]) for r in rows] == [("J0002", "r1"), ("J0002", "r4")]
    assert json.loads(rows[0]["after"])["id_number"] == "1301**********1233"

    no_range = await client.get(EXPORT, headers=headers)
    too_long = await client.get(
        EXPORT,
        params={"since": NOW.isoformat(), "until": (NOW + timedelta(days=32)).isoformat()},
        headers=headers,
    )
    monkeypatch.setattr(audit_web, "EXPORT_MAX_ENTRIES", 4)
    too_many = await client.get(EXPORT, params=window, headers=headers)
    assert [(r.status_code, r.json()["code"]) for r in (no_range, too_long, too_many)] == [
        (422, "AUDIT_RANGE_REQUIRED"),
        (422, "AUDIT_RANGE_REQUIRED"),
        (422, "EXPORT_TOO_LARGE"),
    ]

    exports = [r for r in await readings(runtime) if r["action"] == "audit.export"]
    assert [(r["actor"], r["after"]["format"], r["after"]["entries"]) for r in exports] == [
        ("A0001", "jsonl", 5),
        ("A0001", "csv", 2),
    ]


async def test_au01_no_other_role_reaches_the_audit_trail(
    client: httpx.AsyncClient, tokens: TokenFactory
) -> None:
    callers = {
        "citizen": tokens.citizen(),
        "clerk.admin": tokens.clerk(roles=("clerk.admin",)),
        "clerk.review": tokens.clerk(roles=("clerk.review",)),
        "system": tokens.system(),
    }
    window = {"since": NOW.isoformat(), "until": (NOW + timedelta(days=1)).isoformat()}
    for label, token in callers.items():
        for path, params in ((ENTRIES, {}), (EXPORT, window)):
            r = await client.get(path, params=params, headers=tokens.headers(token))
            assert r.status_code == 403, (label, path, r.text)
    assert (await client.get(ENTRIES)).status_code == 401


async def test_au01_the_auditor_reaches_nothing_else(client: httpx.AsyncClient, tokens: TokenFactory) -> None:
    """Not a route without a role check of its own, not a clerk's route even with a clerk's role too."""
    for headers in (auditor(tokens), auditor(tokens, "clerk.admin")):
        mine = await client.get("/api/v1/demo/mine", headers=headers)
        review = await client.post("/api/v1/demo/review", headers=headers)
        assert (mine.status_code, review.status_code) == (403, 403)
        assert mine.json()["code"] == "FORBIDDEN"
    clerk = tokens.headers(tokens.clerk(roles=("clerk.admin",)))
    assert (await client.post("/api/v1/demo/review", headers=clerk)).status_code == 200
    # Besides the trail, only the auditor's own sign-in and account.
    assert auditor_may("GET", "/api/v1/auth/whoami")
    assert auditor_may("PUT", "/api/v1/users/me/password")
    assert not auditor_may("PATCH", "/api/v1/users/me")
    assert not auditor_may("GET", "/api/v1/users/{account_id}")
