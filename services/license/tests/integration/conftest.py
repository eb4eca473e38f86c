"""license against its real `license_test` database (TMS_ENV=test, set by the root conftest)."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from datetime import UTC, date, datetime
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from pydantic import BaseModel
from sqlalchemy import select
from sqlalchemy.engine import RowMapping

from license_service import records
from license_service.api import router
from license_service.service import SPEC
from license_service.tables import metadata
from servicekit.clock import SHANGHAI, FixedClock
from servicekit.consumer import Subscription
from servicekit.envelope import Envelope
from servicekit.migrate import migrate
from servicekit.runtime import Runtime
from servicekit.testing import TokenFactory, service_client
from servicekit.uow import SYSTEM_ACTOR
from servicekit.web import create_service_app

from .factories import facts, licence_body

START = datetime(2027, 3, 1, 9, 0, tzinfo=SHANGHAI)  # a Monday


@pytest.fixture(scope="session")
def license_database() -> str:
    settings = SPEC.settings()
    assert settings.env.value == "test", "the tests run with TMS_ENV=test (root conftest.py)"
    migrate("license")
    return settings.database.url


@pytest.fixture
def clock() -> FixedClock:
    return FixedClock(START)


@pytest.fixture
async def runtime(license_database: str, clock: FixedClock) -> AsyncIterator[Runtime]:
    rt = Runtime.open(SPEC.settings(), SPEC.metadata, clock=clock)
    yield rt
    await rt.aclose()


@pytest.fixture(scope="session")
def tokens() -> TokenFactory:
    return TokenFactory()


def build_app(tokens: TokenFactory, clock: FixedClock) -> FastAPI:
    settings = SPEC.settings()
    app = create_service_app(
        settings,
        title="license",
        routers=[router],
        runtime_factory=lambda: Runtime.open(settings, SPEC.metadata, clock=clock),
    )
    app.state.verifier = tokens.verifier()
    return app


@pytest.fixture
async def client(
    license_database: str, tokens: TokenFactory, clock: FixedClock
) -> AsyncIterator[httpx.AsyncClient]:
    async with service_client(build_app(tokens, clock)) as c:
        yield c


class Actors:
    """Tokens for the callers of one test, each with its own identity."""

    def __init__(self, tokens: TokenFactory, office: str = "130100") -> None:
        self.tokens = tokens
        self.office = office
        self.system = tokens.headers(tokens.system(subject="police-system-" + uuid.uuid4().hex[:8]))
        self.clerk = tokens.headers(tokens.clerk(roles=("clerk.intake",), office=office))
        self.other_office_clerk = tokens.headers(tokens.clerk(roles=("clerk.intake",), office="130200"))
        self.admin = tokens.headers(tokens.clerk(roles=("clerk.admin",), office=None))

    def citizen(self, id_number: str, channel: str = "counter") -> dict[str, str]:
        return self.tokens.headers(
            self.tokens.citizen(subject=f"person-{id_number}", id_number=id_number, channel=channel)  # type: ignore[arg-type]
        )


@pytest.fixture
def actors(tokens: TokenFactory) -> Actors:
    return Actors(tokens)


async def issue(client: httpx.AsyncClient, actors: Actors, **overrides: Any) -> dict[str, Any]:
    """A licence a police system issued through the API."""
    r = await client.post("/api/v1/licences", json=licence_body(**overrides), headers=actors.system)
    assert r.status_code == 201, r.text
    data: dict[str, Any] = r.json()
    return data


async def events_about(runtime: Runtime, subject: str) -> list[tuple[str, dict[str, Any]]]:
    outbox = metadata.tables["outbox"]
    async with runtime.engine.connect() as conn:
        rows = await conn.execute(
            select(outbox.c.routing_key, outbox.c.payload)
            .where(outbox.c.subject == subject)
            .order_by(outbox.c.id)
        )
        return [(r.routing_key, r.payload) for r in rows]


async def audits_about(runtime: Runtime, target: str) -> list[dict[str, Any]]:
    audit = metadata.tables["audit_log"]
    async with runtime.engine.connect() as conn:
        rows = await conn.execute(select(audit).where(audit.c.target == target).order_by(audit.c.id))
        return [dict(r._mapping) for r in rows]


async def deliver(
    runtime: Runtime, subscription: Subscription, data: dict[str, Any], message_type: str | None = None
) -> None:
    """Run the subscription's handler on one message in a unit of work, as the consumer does."""
    message_type = message_type or next(iter(subscription.handles))
    parsed: BaseModel = subscription.handles[message_type].model_validate(data)
    envelope = Envelope(
        id=uuid.uuid4(),
        type=message_type,
        source="/" + message_type.split(".", 1)[0],
        time=datetime.now(UTC),
        subject=None,
        data=data,
        trace_headers={},
    )
    async with runtime.uow() as uow:
        await subscription.handler(uow, parsed, envelope)
        await uow.commit()


async def issue_record(runtime: Runtime, **overrides: Any) -> RowMapping:
    """A licence record as a police system issues it (DL-01), straight through records.py; first issued
    on 20 August 2015 unless told (the points tests count their cycles from it)."""
    overrides.setdefault("first_issue", date(2015, 8, 20))
    async with runtime.uow() as uow:
        row = await records.issue(uow, SYSTEM_ACTOR, facts(**overrides), "police_system")
        await uow.commit()
    return row


async def record(runtime: Runtime, record_id: uuid.UUID) -> RowMapping:
    async with runtime.uow() as uow:
        row = await records.load(uow, record_id)
    assert row is not None
    return row
