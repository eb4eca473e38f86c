"""vehicle against its real `vehicle_test` database (TMS_ENV=test, set by the root conftest)."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from pydantic import BaseModel
from sqlalchemy import select

from servicekit.clock import SHANGHAI, FixedClock
from servicekit.consumer import Subscription
from servicekit.envelope import Envelope
from servicekit.migrate import migrate
from servicekit.runtime import Runtime
from servicekit.testing import (
    TokenFactory,
    new_phone,
    new_resident_id,
    service_client,
    set_test_calendar_years,
)
from servicekit.web import create_service_app
from vehicle_service import subscriptions as subs
from vehicle_service.api import router
from vehicle_service.service import SPEC
from vehicle_service.tables import metadata

from .factories import new_plate, new_vin

START = datetime(2027, 3, 1, 9, 0, tzinfo=SHANGHAI)  # a Monday


@pytest.fixture(scope="session")
def vehicle_database() -> str:
    settings = SPEC.settings()
    assert settings.env.value == "test", "the tests run with TMS_ENV=test (root conftest.py)"
    migrate("vehicle")
    # The tests live in 2027 and 2028 (a year after a ban), years the calendar package does not carry:
    # vehicle's copy of the office calendar holds them (WD-01), as identity's event would. A test fixture,
    # not the State Council's notice: weekends only. 2031 stays unset (test_wd01_...).
    set_test_calendar_years(settings.database.url, 2027, 2028)
    return settings.database.url


@pytest.fixture
def clock() -> FixedClock:
    return FixedClock(START)


@pytest.fixture
async def runtime(vehicle_database: str, clock: FixedClock) -> AsyncIterator[Runtime]:
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
        title="vehicle",
        routers=[router],
        runtime_factory=lambda: Runtime.open(settings, SPEC.metadata, clock=clock),
    )
    app.state.verifier = tokens.verifier()
    return app


@pytest.fixture
async def client(
    vehicle_database: str, tokens: TokenFactory, clock: FixedClock
) -> AsyncIterator[httpx.AsyncClient]:
    async with service_client(build_app(tokens, clock)) as c:
        yield c


class Actors:
    """Tokens for the callers of one test, each with its own identity."""

    def __init__(self, tokens: TokenFactory, office: str = "130100") -> None:
        self.tokens = tokens
        self.office = office
        self.clerk = tokens.headers(
            tokens.clerk(roles=("clerk.intake", "clerk.review", "clerk.archive"), office=office)
        )
        self.system = tokens.headers(tokens.system())

    def citizen(self, id_number: str, channel: str = "counter") -> dict[str, str]:
        return self.tokens.headers(
            self.tokens.citizen(subject=f"person-{id_number}", id_number=id_number, channel=channel)  # type: ignore[arg-type]
        )


@pytest.fixture
def actors(tokens: TokenFactory) -> Actors:
    return Actors(tokens)


def registration(**overrides: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "plate_kind": "02",
        "plate_number": new_plate(),
        "vin": new_vin(),
        "owner": {"id_kind": "resident_id", "id_number": new_resident_id(), "name": "张三"},
        "phone": new_phone(),
        "use": "non_commercial",
        "inspection_valid_until": "2027-05-31",
        "insurance_valid_until": "2027-12-31",
    }
    body.update(overrides)
    return body


async def register(client: httpx.AsyncClient, actors: Actors, **overrides: Any) -> dict[str, Any]:
    r = await client.post("/api/v1/vehicles", json=registration(**overrides), headers=actors.clerk)
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


async def deliver(
    runtime: Runtime, subscription: Subscription, data: dict[str, Any], message_type: str | None = None
) -> None:
    """Run the subscription's handler on one message in a unit of work, as the consumer does."""
    message_type = message_type or next(iter(subscription.handles))
    parsed: BaseModel = subscription.handles[message_type].model_validate(data)
    envelope = Envelope(
        id=uuid.uuid4(),
        type=message_type,
        source="/identity",
        time=datetime.now(UTC),
        subject=None,
        data=data,
        trace_headers={},
    )
    async with runtime.uow() as uow:
        await subscription.handler(uow, parsed, envelope)
        await uow.commit()


def binding_event(subject: str, vehicle_id: str, binding_id: str | None = None) -> dict[str, Any]:
    """identity's `identity.binding.created.v1` / `ended.v1` data for the account `subject` (its token's
    `sub`) and the vehicle."""
    return {
        "binding_id": binding_id or str(uuid.uuid4()),
        "account_id": subject,
        "record_kind": "vehicle",
        "ref": vehicle_id,
        "owned": True,
        "channel": "online",
        "reason": "by_user",
        "at": START.isoformat(),
    }


async def bind(runtime: Runtime, subject: str, vehicle_id: str) -> str:
    """VH-13: the account has bound the vehicle in identity (its event, through vehicle's handler)."""
    data = binding_event(subject, vehicle_id)
    await deliver(runtime, subs.BINDINGS, data, "identity.binding.created.v1")
    return str(data["binding_id"])


async def bind_owner(runtime: Runtime, vehicle: dict[str, Any]) -> str:
    """The owner (as `Actors.citizen` signs them in) has bound the vehicle."""
    return await bind(runtime, f"person-{vehicle['owner_id_number']}", str(vehicle["id"]))


async def unbind(runtime: Runtime, subject: str, vehicle_id: str, binding_id: str) -> None:
    data = binding_event(subject, vehicle_id, binding_id)
    await deliver(runtime, subs.BINDINGS, data, "identity.binding.ended.v1")


async def register_bound(
    client: httpx.AsyncClient, actors: Actors, runtime: Runtime, **overrides: Any
) -> dict[str, Any]:
    """A registered vehicle its owner has bound (VH-02, VH-11, VH-13 serve bound vehicles only)."""
    vehicle = await register(client, actors, **overrides)
    await bind_owner(runtime, vehicle)
    return vehicle
