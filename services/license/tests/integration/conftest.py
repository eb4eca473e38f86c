"""license against its real `license_test` database (TMS_ENV=test, set by the root conftest)."""

from __future__ import annotations

import secrets
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

START = datetime(2027, 3, 1, 9, 0, tzinfo=SHANGHAI)
_RIC_WEIGHTS = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)


def new_id_number() -> str:
    """A valid resident identity number that no other test uses (the test database keeps every run's)."""
    year, month, day = 1960 + secrets.randbelow(40), 1 + secrets.randbelow(12), 1 + secrets.randbelow(28)
    body = f"130102{year:04d}{month:02d}{day:02d}{secrets.randbelow(1000):03d}"
    return body + "10X98765432"[sum(int(c) * w for c, w in zip(body, _RIC_WEIGHTS, strict=True)) % 11]


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
    def __init__(self, tokens: TokenFactory) -> None:
        self.tokens = tokens
        self.clerk = tokens.headers(tokens.clerk(roles=("clerk.intake",), office="130100"))
        self.system = tokens.headers(tokens.system())

    def citizen(self, id_number: str) -> dict[str, str]:
        return self.tokens.headers(
            self.tokens.citizen(subject=f"person-{id_number}", id_number=id_number, channel="counter")
        )


@pytest.fixture
def actors(tokens: TokenFactory) -> Actors:
    return Actors(tokens)


def facts(number: str | None = None, first_issue: date = date(2015, 8, 20)) -> records.Facts:
    return records.Facts(
        number=number or new_id_number(),
        name="张三",
        birth_date=date(1990, 3, 7),
        classes=frozenset({"C1"}),
        first_issue=first_issue,
        valid_from=date(2021, 8, 20),
        valid_until=date(2031, 8, 20),
        office_code="130100",
    )


async def issue(runtime: Runtime, **kw: Any) -> RowMapping:
    """A licence record as a police system issues it (DL-01)."""
    async with runtime.uow() as uow:
        row = await records.issue(uow, SYSTEM_ACTOR, facts(**kw), "police_system")
        await uow.commit()
    return row


async def record(runtime: Runtime, record_id: uuid.UUID) -> RowMapping:
    async with runtime.uow() as uow:
        row = await records.load(uow, record_id)
    assert row is not None
    return row


async def events_about(runtime: Runtime, subject: str) -> list[tuple[str, dict[str, Any]]]:
    outbox = metadata.tables["outbox"]
    async with runtime.engine.connect() as conn:
        rows = await conn.execute(
            select(outbox.c.routing_key, outbox.c.payload)
            .where(outbox.c.subject == subject)
            .order_by(outbox.c.id)
        )
        return [(r.routing_key, r.payload) for r in rows]


async def deliver(
    runtime: Runtime, subscription: Subscription, data: dict[str, Any], message_type: str | None = None
) -> None:
    """Run the subscription's handler on one message in a unit of work, as the consumer does."""
    message_type = message_type or next(iter(subscription.handles))
    parsed: BaseModel = subscription.handles[message_type].model_validate(data)
    envelope = Envelope(
        id=uuid.uuid4(),
        type=message_type,
        source="/violation",
        time=datetime.now(UTC),
        subject=None,
        data=data,
        trace_headers={},
    )
    async with runtime.uow() as uow:
        await subscription.handler(uow, parsed, envelope)
        await uow.commit()
