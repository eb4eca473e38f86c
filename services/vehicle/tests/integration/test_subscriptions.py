"""ID-06 and the PP-09 projection: the handlers in a unit of work, as the consumer runs them."""

from __future__ import annotations

import uuid
from typing import Any

import httpx
import pytest
from sqlalchemy import select

from servicekit.runtime import Runtime
from servicekit.testing import new_phone, new_resident_id
from vehicle_service import records
from vehicle_service import subscriptions as subs
from vehicle_service.tables import vehicle_bindings

from .conftest import START, Actors, binding_event, deliver, events_about, register, registration
from .factories import new_plate, new_uscc, new_vin

pytestmark = pytest.mark.integration


async def test_id06_counter_registration_replaces_the_phone_on_every_vehicle_of_the_person(
    client: httpx.AsyncClient, actors: Actors, runtime: Runtime
) -> None:
    owner = {"id_kind": "resident_id", "id_number": new_resident_id(), "name": "孙八"}
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
    owner = {"id_kind": "resident_id", "id_number": new_resident_id(), "name": "周九"}
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


async def test_vh15_a_units_selection_confirmed_with_the_old_kind_spelling_registers_as_uscc(
    client: httpx.AsyncClient, actors: Actors, runtime: Runtime
) -> None:
    """ADR 0045: plate-pool wrote a unit's kind `social_credit_code` before the one vocabulary; such a
    message still in flight is read as `uscc`, so the counter registers the unit's car with its number."""
    code, vin, phone, plate = new_uscc(), new_vin(), new_phone(), new_plate()
    selection_id = str(uuid.uuid4())
    unit = {"id_kind": "social_credit_code", "id_number": code, "name": "石家庄某某科技有限公司"}
    await deliver(
        runtime,
        subs.SELECTION_CONFIRMED,
        {
            "selection_id": selection_id,
            "office_code": "130100",
            "plate_number": plate,
            "vin": vin,
            "owner": unit,
            "phone": phone,
            "register_by": "2027-03-04T23:59:59.999999+08:00",
        },
    )
    owner = {**unit, "id_kind": "uscc"}
    body = registration(plate_number=None, selection_id=selection_id, vin=vin, phone=phone, owner=owner)
    r = await client.post("/api/v1/vehicles", json=body, headers=actors.clerk)
    assert r.status_code == 201, r.text
    assert (r.json()["plate_number"], r.json()["owner_id_kind"]) == (plate, "uscc")


async def test_pp09_a_cancellation_arriving_before_its_confirmation_still_wins(
    client: httpx.AsyncClient, actors: Actors, runtime: Runtime
) -> None:
    """Confirmations and cancellations come on separate queues: either may be first."""
    owner = {"id_kind": "resident_id", "id_number": new_resident_id(), "name": "蒋十六"}
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


CREATED, ENDED = "identity.binding.created.v1", "identity.binding.ended.v1"


async def _live(runtime: Runtime, account_id: str, vehicle_id: str) -> bool:
    async with runtime.uow() as uow:
        return await records.is_bound(uow, account_id, uuid.UUID(vehicle_id))


async def test_vh13_binding_projection_is_idempotent_and_an_early_end_is_never_revived(
    runtime: Runtime,
) -> None:
    """ADR 0044: created twice is one live binding; ended twice stays ended; an end that overtakes its
    start (the relay does not order them) leaves no live binding when the start comes."""
    account, vehicle_id = f"person-{new_resident_id()}", str(uuid.uuid4())
    in_order = binding_event(account, vehicle_id)
    for _ in range(2):
        await deliver(runtime, subs.BINDINGS, in_order, CREATED)
    assert await _live(runtime, account, vehicle_id)
    for _ in range(2):
        await deliver(runtime, subs.BINDINGS, in_order, ENDED)
    assert not await _live(runtime, account, vehicle_id)
    await deliver(runtime, subs.BINDINGS, in_order, CREATED)  # a late duplicate of the start
    assert not await _live(runtime, account, vehicle_id)

    overtaken = binding_event(account, vehicle_id)
    await deliver(runtime, subs.BINDINGS, overtaken, ENDED)
    await deliver(runtime, subs.BINDINGS, overtaken, CREATED)
    assert not await _live(runtime, account, vehicle_id)
    async with runtime.engine.connect() as conn:
        row = (
            await conn.execute(
                select(vehicle_bindings).where(vehicle_bindings.c.binding_id == overtaken["binding_id"])
            )
        ).one()
    assert (row.bound_at, row.ended_at) == (START, START)  # both known: ended


async def test_vh13_binding_events_of_other_records_are_ignored(runtime: Runtime) -> None:
    account, ref = f"person-{new_resident_id()}", str(uuid.uuid4())
    await deliver(runtime, subs.BINDINGS, binding_event(account, ref) | {"record_kind": "licence"}, CREATED)
    assert not await _live(runtime, account, ref)
