"""ID-06 and the PP-09 projection: the handlers in a unit of work, as the consumer runs them."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Any

import httpx
import pytest
from pydantic import BaseModel

from servicekit.consumer import Subscription
from servicekit.envelope import Envelope
from servicekit.runtime import Runtime
from vehicle_service import subscriptions as subs

from .conftest import Actors, events_about, register, registration
from .factories import new_owner_id, new_phone, new_plate, new_vin

pytestmark = pytest.mark.integration


async def deliver(runtime: Runtime, subscription: Subscription, data: dict[str, Any]) -> None:
    message_type, model = next(iter(subscription.handles.items()))
    parsed: BaseModel = model.model_validate(data)
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


async def test_id06_counter_registration_replaces_the_phone_on_every_vehicle_of_the_person(
    client: httpx.AsyncClient, actors: Actors, runtime: Runtime
) -> None:
    owner = {"id_kind": "resident_id", "id_number": new_owner_id(), "name": "孙八"}
    first = await register(client, actors, owner=owner)
    second = await register(client, actors, owner=owner)
    other = await register(client, actors)
    phone = new_phone()
    await deliver(
        runtime,
        subs.PHONE_CHANGED,
        {
            "id_kind": "resident_id",
            "id_number": owner["id_number"],
            "name": "孙八",
            "phone": phone,
            "registration_id": "reg-1",
            "changed_at": "2027-03-01T09:05:00+08:00",  # after the vehicles were registered
        },
    )
    for vehicle in (first, second):
        r = await client.get(f"/api/v1/vehicles/{vehicle['id']}", headers=actors.system)
        assert r.json()["phone"] == phone
        assert (await events_about(runtime, vehicle["id"]))[-1][0] == "vehicle.vehicle.contact_changed.v1"
    r = await client.get(f"/api/v1/vehicles/{other['id']}", headers=actors.system)
    assert r.json()["phone"] == other["phone"]


async def test_pp09_projection_from_plate_pool_events_allows_then_stops_registration(
    client: httpx.AsyncClient, actors: Actors, runtime: Runtime
) -> None:
    owner = {"id_kind": "resident_id", "id_number": new_owner_id(), "name": "周九"}
    vin, phone, plate = new_vin(), new_phone(), new_plate()
    selection_id = str(uuid.uuid4())
    confirmed = {
        "selection_id": selection_id,
        "office_code": "130100",
        "plate_number": plate,
        "vin": vin,
        "owner": owner,
        "phone": phone,
        "account_id": "acc-1",
        "certificate_number": "YX-1",
        "confirmed_at": "2027-03-01T08:00:00+08:00",
        "register_by": "2027-03-04T23:59:59.999999+08:00",
    }
    await deliver(runtime, subs.SELECTION_CONFIRMED, confirmed)
    await deliver(runtime, subs.SELECTION_CANCELLED, {"selection_id": selection_id, "reason": "abandoned"})
    body = registration(plate_number=None, selection_id=selection_id, vin=vin, phone=phone, owner=owner)
    r = await client.post("/api/v1/vehicles", json=body, headers=actors.clerk)
    assert r.status_code == 409
    assert r.json()["code"] == "SELECTION_NOT_USABLE"
    # A late confirmed event does not revive a cancelled selection.
    await deliver(runtime, subs.SELECTION_CONFIRMED, confirmed)
    r = await client.post("/api/v1/vehicles", json=body, headers=actors.clerk)
    assert r.status_code == 409
    assert r.json()["code"] == "SELECTION_NOT_USABLE"


async def test_pp09_a_cancellation_arriving_before_its_confirmation_still_wins(
    client: httpx.AsyncClient, actors: Actors, runtime: Runtime
) -> None:
    """Confirmations and cancellations come on separate queues: either may be first."""
    owner = {"id_kind": "resident_id", "id_number": new_owner_id(), "name": "蒋十六"}
    vin, phone = new_vin(), new_phone()
    selection_id = str(uuid.uuid4())
    await deliver(runtime, subs.SELECTION_CANCELLED, {"selection_id": selection_id, "reason": "abandoned"})
    await deliver(
        runtime,
        subs.SELECTION_CONFIRMED,
        {
            "selection_id": selection_id,
            "office_code": "130100",
            "plate_number": new_plate(),
            "vin": vin,
            "owner": owner,
            "phone": phone,
            "register_by": "2027-03-04T23:59:59.999999+08:00",
        },
    )
    body = registration(plate_number=None, selection_id=selection_id, vin=vin, phone=phone, owner=owner)
    r = await client.post("/api/v1/vehicles", json=body, headers=actors.clerk)
    assert r.status_code == 409
    assert r.json()["code"] == "SELECTION_NOT_USABLE"


async def test_id06_a_late_phone_change_does_not_undo_a_newer_one(
    client: httpx.AsyncClient, actors: Actors, runtime: Runtime
) -> None:
    """Registered at 09:00 (the clock of these tests); an ID-06 change from 08:00 arrives afterwards."""
    vehicle = await register(client, actors)

    def change(phone: str, at: str) -> dict[str, Any]:
        return {
            "id_kind": "resident_id",
            "id_number": vehicle["owner_id_number"],
            "name": "x",
            "phone": phone,
            "registration_id": "reg",
            "changed_at": at,
        }

    await deliver(runtime, subs.PHONE_CHANGED, change(new_phone(), "2027-03-01T08:00:00+08:00"))
    r = await client.get(f"/api/v1/vehicles/{vehicle['id']}", headers=actors.system)
    assert r.json()["phone"] == vehicle["phone"]
    newer = new_phone()
    await deliver(runtime, subs.PHONE_CHANGED, change(newer, "2027-03-01T10:00:00+08:00"))
    await deliver(runtime, subs.PHONE_CHANGED, change(new_phone(), "2027-03-01T09:30:00+08:00"))
    r = await client.get(f"/api/v1/vehicles/{vehicle['id']}", headers=actors.system)
    assert r.json()["phone"] == newer
