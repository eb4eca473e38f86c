"""The demo data loads, and loading it again adds nothing (make run runs it at every start)."""

from __future__ import annotations

import uuid
from datetime import date

import pytest
from sqlalchemy import func, select

from servicekit.relay import connect_broker
from servicekit.runtime import Runtime
from servicekit.validators import mobile_phone, plate_number, resident_id, social_credit_code, vin
from vehicle_service import demo
from vehicle_service import subscriptions as subs
from vehicle_service.tables import vehicles

pytestmark = pytest.mark.integration


def test_demo_records_are_valid_and_span_the_states() -> None:
    rows = demo.demo_vehicles(date(2027, 3, 1))
    assert len(rows) == demo.COUNT + len(demo.UNIT_VEHICLES)
    for row in rows[len(demo.KNOWN_OWNERS) :]:  # identity's demo numbers are taken as identity has them
        if row["owner_id_kind"] == "uscc":
            social_credit_code(row["owner_id_number"])
        else:
            resident_id(row["owner_id_number"])
        mobile_phone(row["phone"])
        vin(row["vin"])
        plate_number(row["plate_number"])
    states = {row["state"] for row in rows} | {f for row in rows for f in row["flags"]}
    assert {"registered", "deregistered", "transferred_out", "locked", "stolen"} <= states
    assert rows == demo.demo_vehicles(date(2027, 3, 1))


async def test_demo_load_is_idempotent(runtime: Runtime) -> None:
    async with runtime.uow() as uow:
        await demo.load_vehicles(uow)
        await demo.load_stations(uow)
        await uow.commit()
    async with runtime.uow() as uow:
        assert await demo.load_vehicles(uow) == 0
        assert await demo.load_stations(uow) == 0
        await uow.commit()
    rows = demo.demo_vehicles(date(2027, 3, 1))
    vins, plates = [row["vin"] for row in rows], [row["plate_number"] for row in rows]
    async with runtime.engine.connect() as conn:
        # A plate taken earlier by a test's random vehicle keeps that demo row out: count either key.
        count = (
            await conn.execute(
                select(func.count()).where(vehicles.c.vin.in_(vins) | vehicles.c.plate_number.in_(plates))
            )
        ).scalar_one()
    assert count >= demo.COUNT + len(demo.UNIT_VEHICLES)


def test_id08_demo_units_own_vehicles_one_of_them_bookable() -> None:
    """identity's demo units (ADR 0012) own a few vehicles, under credit codes identity's demo uses."""
    today = date(2027, 3, 1)
    rows = demo.demo_vehicles(today)
    units = [row for row in rows if row["owner_id_kind"] == "uscc"]
    assert {row["owner_id_number"] for row in units} == {"91130100MA0CXXXX1M", "12130100MA0HQ8PT3A"}
    assert any((row["inspection_valid_until"] - today).days <= 90 for row in units)  # VH-13 window
    plates = [row["plate_number"] for row in rows]
    assert len(set(plates)) == len(plates)  # no generated plate hides a unit's vehicle


async def test_vh13_demo_declares_the_binding_queue_before_any_worker_starts(runtime: Runtime) -> None:
    """ADR 0044: identity's demo binding events find vehicle's queue on a first `make run`."""
    await demo.declare_binding_queue(runtime)
    await demo.declare_binding_queue(runtime)  # every run: declaring again is harmless
    connection = await connect_broker(runtime.settings.broker)
    try:
        channel = await connection.channel()
        queue = await channel.get_queue(subs.BINDINGS.queue("vehicle").main, ensure=True)  # passive
        assert queue.name == "vehicle.project-bindings"
    finally:
        await connection.close()


def test_vh13_demo_vehicles_of_identitys_demo_owners_have_the_ids_identity_binds() -> None:
    rows = demo.demo_vehicles(date(2027, 3, 1))
    fixed = {(row["owner_id_number"], row["id"]) for row in rows if "id" in row}
    assert fixed == {
        ("130102199003071233", demo.demo_vehicle_id("130102199003071233", 0)),
        ("130105197701010040", demo.demo_vehicle_id("130105197701010040", 0)),
        ("91130100MA0CXXXX1M", demo.demo_vehicle_id("91130100MA0CXXXX1M", 0)),
        ("91130100MA0CXXXX1M", demo.demo_vehicle_id("91130100MA0CXXXX1M", 1)),
        ("12130100MA0HQ8PT3A", demo.demo_vehicle_id("12130100MA0HQ8PT3A", 0)),
    }
    # identity's demo (`demo_vehicle_ref`) binds the ids of this formula; it has the same test.
    assert demo.demo_vehicle_id("130102199003071233", 0) == uuid.uuid5(
        uuid.NAMESPACE_URL, "tms-demo/vehicle/130102199003071233/0"
    )


def test_vh02_vh11_demo_owners_vehicles_serve_a_reissue_and_a_contact_change_once_bound() -> None:
    """`make run`: identity's demo binds 张三's (online) and 赵六's (counter-registered) vehicle 0, whose ids
    these rows carry; on the vehicle side they are registered, unblocked and fit for a plate or licence
    reissue (VH-02..VH-08) and a contact change (VH-11)."""
    from vehicle_service import applications, domain

    rows = {row["owner_id_number"]: row for row in demo.demo_vehicles(date(2027, 3, 1))[:2]}
    for id_number, row in rows.items():
        assert row["id"] == demo.demo_vehicle_id(id_number, 0)
        domain.check_registered(row["state"])
    zhao = rows["130105197701010040"]
    for item in ("plate", "licence"):
        domain.check_application(
            applications.facts(zhao),  # type: ignore[arg-type]
            channel="counter",
            bound=True,
            item=item,
            delivery="mail",
            ban_until=None,
            today=date(2027, 3, 1),
        )
