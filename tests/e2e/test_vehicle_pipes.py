"""vehicle with its neighbours over the real broker (ID-06, PP-08/PP-09, VH-15, VH-16):

- identity's outbox publishes `identity.person.phone_changed.v1`; vehicle's worker applies it to every
  record of the person and publishes each `vehicle.vehicle.contact_changed.v1`;
- plate-pool's outbox publishes `plate-pool.selection.confirmed.v1`; vehicle's worker projects it; the
  counter then registers the car with that selection and `vehicle.vehicle.registered.v1` is written to
  vehicle's outbox; a `cancelled.v1` of another selection stops its registration.

Real PostgreSQL (`identity_test`, `plate_pool_test`, `vehicle_test`) and RabbitMQ (vhost tms-test); the
producers run relay-only workers and vehicle its consumers, in this process, stopped by the fixture.
Numbers are new on every run.
"""

from __future__ import annotations

import dataclasses
import secrets
import uuid
from collections.abc import AsyncIterator
from datetime import datetime, timedelta
from typing import Any

import httpx
import pytest
from sqlalchemy import select

from identity_service.published import PersonPhoneChanged
from identity_service.service import SPEC as IDENTITY
from plate_pool_service.published import Owner as PoolOwner
from plate_pool_service.published import SelectionCancelled, SelectionConfirmed
from plate_pool_service.service import SPEC as PLATE_POOL
from servicekit.clock import SHANGHAI
from servicekit.crypto import blind_match
from servicekit.migrate import migrate
from servicekit.runtime import Runtime
from servicekit.service import ServiceSpec
from servicekit.testing import TokenFactory, new_phone, new_resident_id, service_client
from servicekit.validators import PROVINCES, vin_check_digit
from servicekit.web import create_service_app
from servicekit.worker import Worker
from vehicle_service.api import router as vehicle_router
from vehicle_service.service import SPEC as VEHICLE
from vehicle_service.tables import metadata as vehicle_metadata
from vehicle_service.tables import preselections, vehicles

from .workers import eventually, relay_only, running_workers

pytestmark = pytest.mark.integration


def consumers_only(spec: ServiceSpec) -> ServiceSpec:
    """vehicle's worker without its sweeps (they run on the real clock; the tests move their own)."""
    return dataclasses.replace(spec, sweeps=())


def new_vin() -> str:
    body = "L" + "".join(secrets.choice("ABCDEFGHJKLMNPRSTUVWXYZ0123456789") for _ in range(16))
    return body[:8] + vin_check_digit(body[:8] + "0" + body[9:]) + body[9:]


def new_plate() -> str:
    letters = "ABCDEFGHJKLMNPQRSTUVWXYZ"
    return (
        secrets.choice(PROVINCES)
        + secrets.choice(letters)
        + "".join(secrets.choice(letters + "0123456789") for _ in range(5))
    )


@pytest.fixture(scope="module")
def databases() -> None:
    for spec in (IDENTITY, PLATE_POOL, VEHICLE):
        migrate(spec.name)


@pytest.fixture(scope="module")
async def platform(databases: None) -> AsyncIterator[dict[str, Any]]:
    tokens = TokenFactory()
    settings = VEHICLE.settings()
    app = create_service_app(
        settings,
        title="vehicle",
        routers=[vehicle_router],
        runtime_factory=lambda: Runtime.open(settings, VEHICLE.metadata),
    )
    app.state.verifier = tokens.verifier()
    async with (
        running_workers(relay_only(IDENTITY), relay_only(PLATE_POOL), consumers_only(VEHICLE)) as (
            identity,
            plate_pool,
            vehicle,
        ),
        service_client(app) as client,
    ):
        yield {
            "identity": identity,
            "plate_pool": plate_pool,
            "vehicle": vehicle,
            "client": client,
            "clerk": tokens.headers(tokens.clerk(roles=("clerk.intake",), office="130100")),
            "system": tokens.headers(tokens.system()),
        }


async def in_outbox(runtime: Runtime, subject: str, message_type: str) -> bool:
    """The event committed with its change. Whether the relay has sent it yet is not awaited here: the
    `vehicle_test` outbox keeps every integration test's events (thousands per run) that no relay drains
    between runs, so this run's rows queue behind them; servicekit's messaging tests prove the relay."""
    outbox = vehicle_metadata.tables["outbox"]
    async with runtime.engine.connect() as conn:
        row = (
            await conn.execute(
                select(outbox.c.id).where(outbox.c.subject == subject, outbox.c.routing_key == message_type)
            )
        ).first()
    return row is not None


async def test_id06_phone_change_from_identity_reaches_every_vehicle_record_and_is_republished(
    platform: dict[str, Any],
) -> None:
    client: httpx.AsyncClient = platform["client"]
    owner = {"id_kind": "resident_id", "id_number": new_resident_id(), "name": "褚十三"}
    made = []
    for _ in range(2):
        body = {"plate_number": new_plate(), "vin": new_vin(), "owner": owner, "phone": new_phone()}
        r = await client.post("/api/v1/vehicles", json=body, headers=platform["clerk"])
        assert r.status_code == 201, r.text
        made.append(r.json())
    phone = new_phone()
    identity: Worker = platform["identity"]
    async with identity.runtime.uow() as uow:
        uow.emit(
            PersonPhoneChanged(
                id_kind="resident_id",
                id_number=owner["id_number"],
                name=owner["name"],
                phone=phone,
                registration_id=str(uuid.uuid4()),
                changed_at=datetime.now(SHANGHAI),
            )
        )
        await uow.commit()
    vehicle: Worker = platform["vehicle"]

    async def applied() -> bool:
        async with vehicle.runtime.engine.connect() as conn:
            phones = (
                (
                    await conn.execute(
                        select(vehicles.c.phone).where(
                            blind_match(vehicles.c.owner_id_number, owner["id_number"])
                        )
                    )
                )
                .scalars()
                .all()
            )
        return list(phones) == [phone, phone]

    await eventually(applied, "the phone applied to both records")
    for made_vehicle in made:
        assert await in_outbox(vehicle.runtime, made_vehicle["id"], "vehicle.vehicle.contact_changed.v1")


async def test_vh15_selection_confirmed_in_plate_pool_is_registered_at_the_counter(
    platform: dict[str, Any],
) -> None:
    client: httpx.AsyncClient = platform["client"]
    plate_pool: Worker = platform["plate_pool"]
    owner = PoolOwner(id_kind="resident_id", id_number=new_resident_id(), name="卫十四")
    confirmed = SelectionConfirmed(
        selection_id=str(uuid.uuid4()),
        office_code="130100",
        plate_number=new_plate(),
        vin=new_vin(),
        owner=owner,
        phone=new_phone(),
        account_id=str(uuid.uuid4()),
        certificate_number="WAC" + new_vin()[:12],
        confirmed_at=datetime.now(SHANGHAI),
        register_by=datetime.now(SHANGHAI) + timedelta(days=3),
    )
    doomed = confirmed.model_copy(
        update={"selection_id": str(uuid.uuid4()), "vin": new_vin(), "plate_number": new_plate()}
    )
    async with plate_pool.runtime.uow() as uow:
        uow.emit(confirmed, doomed)
        await uow.commit()
    async with plate_pool.runtime.uow() as uow:
        uow.emit(
            SelectionCancelled(
                selection_id=doomed.selection_id,
                plate_number=doomed.plate_number,
                vin=doomed.vin,
                account_id=doomed.account_id,
                phone=doomed.phone,
                reason="abandoned",
                ban_until=None,
                cancelled_at=datetime.now(SHANGHAI),
            )
        )
        await uow.commit()
    body = {
        "selection_id": confirmed.selection_id,
        "vin": confirmed.vin,
        "owner": owner.model_dump(),
        "phone": confirmed.phone,
    }

    async def registered() -> bool:
        r = await client.post("/api/v1/vehicles", json=body, headers=platform["clerk"])
        if r.status_code == 409 and r.json()["code"] == "SELECTION_UNKNOWN":
            return False  # the projection has not caught up yet
        assert r.status_code == 201, r.text
        assert r.json()["plate_number"] == confirmed.plate_number
        body["vehicle_id"] = r.json()["id"]
        return True

    await eventually(registered, "the confirmed selection projected and registered")
    vehicle: Worker = platform["vehicle"]
    assert await in_outbox(vehicle.runtime, body["vehicle_id"], "vehicle.vehicle.registered.v1")
    doomed_body = {
        "selection_id": doomed.selection_id,
        "vin": doomed.vin,
        "owner": owner.model_dump(),
        "phone": doomed.phone,
    }

    async def projected_cancelled() -> bool:
        async with vehicle.runtime.engine.connect() as conn:
            state = (
                await conn.execute(
                    select(preselections.c.state).where(preselections.c.selection_id == doomed.selection_id)
                )
            ).scalar_one_or_none()
        return bool(state == "cancelled")

    await eventually(projected_cancelled, "the cancellation projected")
    r = await client.post("/api/v1/vehicles", json=doomed_body, headers=platform["clerk"])
    assert r.status_code == 409, r.text
    assert r.json()["code"] == "SELECTION_NOT_USABLE"
