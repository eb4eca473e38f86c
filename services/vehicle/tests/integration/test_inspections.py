"""VH-13, VH-14: stations, published plans, slots, appointments, station suspension; capacity under load."""

from __future__ import annotations

import asyncio
import io
import time
from collections import Counter
from datetime import timedelta
from typing import Any

import httpx
import pytest
from sqlalchemy import func, select

from servicekit.clock import FixedClock
from servicekit.runtime import Runtime
from servicekit.testing import new_resident_id
from vehicle_service.importer import import_rows, read_csv
from vehicle_service.tables import inspection_bookings, inspection_slots, vehicles

from .conftest import Actors, bind, bind_owner, events_about, register, unbind
from .factories import new_plate, new_vin
from .test_importer import as_csv, good_row

pytestmark = pytest.mark.integration

# The clock starts on Monday 2027-03-01 09:00 (conftest.START).


async def station_with_slots(
    client: httpx.AsyncClient,
    actors: Actors,
    *,
    city: str = "130100",
    capacity: int = 2,
    other_cities: bool = False,
    first_day: str = "2027-03-02",
    last_day: str = "2027-03-05",
    publish: bool = True,
) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    r = await client.post(
        "/api/v1/inspection-stations",
        json={
            "name": f"检测站-{new_vin()[:6]}",
            "address": "石家庄市长安区建设北大街1号",
            "city_code": city,
            "vehicle_kinds": ["small_car", "large_car"],
            "max_axle_load_kg": 10000,
            "brake_kinds": ["hydraulic"],
        },
        headers=actors.system,
    )
    assert r.status_code == 201, r.text
    station = r.json()
    r = await client.post(
        f"/api/v1/inspection-stations/{station['id']}/plans",
        json={
            "first_day": first_day,
            "last_day": last_day,
            "times": [
                {"start": "09:00", "end": "10:00", "capacity": capacity},
                {"start": "14:00", "end": "15:00", "capacity": capacity},
            ],
            "other_cities": other_cities,
        },
        headers=actors.system,
    )
    assert r.status_code == 201, r.text
    if not publish:
        return station, []
    r = await client.post(f"/api/v1/inspection-plans/{r.json()['id']}/publication", headers=actors.system)
    assert r.status_code == 200, r.text
    r = await client.get(
        "/api/v1/inspection-slots", params={"station_id": station["id"]}, headers=actors.system
    )
    return station, r.json()


async def bound_vehicle(
    client: httpx.AsyncClient, actors: Actors, runtime: Runtime, **overrides: Any
) -> dict[str, Any]:
    """A registered vehicle its owner has bound in identity (VH-13 books only bound vehicles)."""
    vehicle = await register(client, actors, **overrides)
    await bind_owner(runtime, vehicle)
    return vehicle


async def book(
    client: httpx.AsyncClient, actors: Actors, vehicle: dict[str, Any], slot: dict[str, Any]
) -> httpx.Response:
    return await client.post(
        "/api/v1/inspection-bookings",
        json={"vehicle_id": vehicle["id"], "slot_id": slot["id"]},
        headers=actors.citizen(vehicle["owner_id_number"]),
    )


async def test_vh14_published_plan_opens_slots_and_is_published(
    client: httpx.AsyncClient, actors: Actors, runtime: Runtime
) -> None:
    _station, slots = await station_with_slots(client, actors)
    assert len(slots) == 8  # 4 days x 2 times
    assert all(s["available"] == 2 for s in slots)


async def test_vh14_filed_but_unpublished_plan_has_no_slots(
    client: httpx.AsyncClient, actors: Actors
) -> None:
    station, _ = await station_with_slots(client, actors, publish=False)
    r = await client.get(
        "/api/v1/inspection-slots", params={"station_id": station["id"]}, headers=actors.system
    )
    assert r.json() == []


async def test_vh13_owner_books_within_the_window_and_it_is_published(
    client: httpx.AsyncClient, actors: Actors, runtime: Runtime
) -> None:
    _, slots = await station_with_slots(client, actors)
    vehicle = await bound_vehicle(client, actors, runtime, inspection_valid_until="2027-05-31")
    r = await book(client, actors, vehicle, slots[0])
    assert r.status_code == 201, r.text
    events = await events_about(runtime, r.json()["id"])
    assert [t for t, _ in events] == ["vehicle.inspection_booking.booked.v1"]
    # The holder's account, so that notify keeps the message in their inbox (NT-01).
    assert events[0][1]["account_id"] == f"person-{vehicle['owner_id_number']}"
    # One live appointment per vehicle.
    r = await book(client, actors, vehicle, slots[1])
    assert r.status_code == 409
    assert r.json()["code"] == "ALREADY_BOOKED"


async def test_vh13_a_repeated_booking_with_the_same_idempotency_key_books_once(
    client: httpx.AsyncClient, actors: Actors, runtime: Runtime
) -> None:
    _, slots = await station_with_slots(client, actors)
    vehicle = await bound_vehicle(client, actors, runtime)
    headers = actors.citizen(vehicle["owner_id_number"]) | {"Idempotency-Key": "book-" + new_vin()}
    body = {"vehicle_id": vehicle["id"], "slot_id": slots[0]["id"]}
    first = await client.post("/api/v1/inspection-bookings", json=body, headers=headers)
    again = await client.post("/api/v1/inspection-bookings", json=body, headers=headers)
    assert (first.status_code, again.status_code) == (201, 201)
    assert again.json() == first.json()
    assert again.headers["Idempotent-Replayed"] == "true"
    r = await client.get(
        "/api/v1/inspection-slots", params={"station_id": slots[0]["station_id"]}, headers=actors.system
    )
    assert next(s for s in r.json() if s["id"] == slots[0]["id"])["booked"] == 1


async def test_vh13_before_the_three_month_window_is_refused(
    client: httpx.AsyncClient, actors: Actors, runtime: Runtime
) -> None:
    _, slots = await station_with_slots(client, actors)
    vehicle = await bound_vehicle(
        client, actors, runtime, inspection_valid_until="2027-06-02"
    )  # opens 2027-03-02
    r = await book(client, actors, vehicle, slots[0])
    assert r.status_code == 409
    assert r.json()["code"] == "OUTSIDE_INSPECTION_WINDOW"
    assert r.json()["rule"] == "VH-13"


@pytest.mark.parametrize("flag", ["seized", "locked", "stolen", "hit_and_run"])
async def test_vh13_blocked_states_cannot_book(
    client: httpx.AsyncClient, actors: Actors, runtime: Runtime, flag: str
) -> None:
    _, slots = await station_with_slots(client, actors)
    vehicle = await bound_vehicle(client, actors, runtime)
    r = await client.put(
        f"/api/v1/vehicles/{vehicle['id']}/state", json={"flags": [flag]}, headers=actors.system
    )
    assert r.status_code == 200
    r = await book(client, actors, vehicle, slots[0])
    assert r.status_code == 409
    assert r.json()["code"] == "VEHICLE_STATE_BLOCKS_INSPECTION"


async def test_vh13_someone_elses_vehicle_answers_404(client: httpx.AsyncClient, actors: Actors) -> None:
    _, slots = await station_with_slots(client, actors)
    vehicle = await register(client, actors)
    r = await client.post(
        "/api/v1/inspection-bookings",
        json={"vehicle_id": vehicle["id"], "slot_id": slots[0]["id"]},
        headers=actors.citizen(new_resident_id()),
    )
    assert r.status_code == 404


async def test_vh13_an_owned_vehicle_not_bound_cannot_be_booked(
    client: httpx.AsyncClient, actors: Actors, runtime: Runtime
) -> None:
    _, slots = await station_with_slots(client, actors)
    vehicle = await register(client, actors)
    r = await book(client, actors, vehicle, slots[0])
    assert r.status_code == 409
    assert (r.json()["code"], r.json()["rule"]) == ("VEHICLE_NOT_BOUND", "VH-13")
    # Someone else's binding of it is not the owner's.
    await bind(runtime, f"person-{new_resident_id()}", vehicle["id"])
    assert (await book(client, actors, vehicle, slots[0])).json()["code"] == "VEHICLE_NOT_BOUND"
    await bind_owner(runtime, vehicle)
    assert (await book(client, actors, vehicle, slots[0])).status_code == 201


async def test_vh13_the_end_of_the_binding_makes_booking_refuse_again(
    client: httpx.AsyncClient, actors: Actors, runtime: Runtime
) -> None:
    _, slots = await station_with_slots(client, actors)
    vehicle = await register(client, actors)
    owner = f"person-{vehicle['owner_id_number']}"
    binding_id = await bind_owner(runtime, vehicle)
    await unbind(runtime, owner, vehicle["id"], binding_id)
    r = await book(client, actors, vehicle, slots[0])
    assert r.status_code == 409
    assert r.json()["code"] == "VEHICLE_NOT_BOUND"
    await bind_owner(runtime, vehicle)  # bound again: a new binding
    assert (await book(client, actors, vehicle, slots[0])).status_code == 201


async def test_vh13_other_city_of_the_province_only_by_a_published_plan(
    client: httpx.AsyncClient, actors: Actors, runtime: Runtime
) -> None:
    _, closed = await station_with_slots(client, actors, city="130200", other_cities=False)
    _, open_ = await station_with_slots(client, actors, city="130200", other_cities=True)
    _, other_province = await station_with_slots(client, actors, city="110100", other_cities=True)
    vehicle = await bound_vehicle(client, actors, runtime)  # registered at 130100
    r = await book(client, actors, vehicle, closed[0])
    assert r.status_code == 409
    assert r.json()["code"] == "STATION_NOT_IN_PLAN"
    r = await book(client, actors, vehicle, other_province[0])
    assert r.status_code == 409
    r = await book(client, actors, vehicle, open_[0])
    assert r.status_code == 201


async def test_vh13_cancel_before_the_day_frees_the_place_not_on_the_day(
    client: httpx.AsyncClient, actors: Actors, clock: FixedClock, runtime: Runtime
) -> None:
    _, slots = await station_with_slots(client, actors, capacity=1)
    first, second = await bound_vehicle(client, actors, runtime), await bound_vehicle(client, actors, runtime)
    slot = slots[0]  # 2027-03-02 09:00
    r = await book(client, actors, first, slot)
    booking = r.json()
    assert (await book(client, actors, second, slot)).json()["code"] == "SLOT_FULL"
    r = await client.post(
        f"/api/v1/inspection-bookings/{booking['id']}/cancellation",
        headers=actors.citizen(first["owner_id_number"]),
    )
    assert r.status_code == 200
    assert r.json()["state"] == "cancelled"
    assert (await events_about(runtime, booking["id"]))[-1][0] == "vehicle.inspection_booking.cancelled.v1"
    r = await book(client, actors, second, slot)
    assert r.status_code == 201
    clock.set(clock_day(clock, 1))  # 2027-03-02 00:30: the inspection day
    r = await client.post(
        f"/api/v1/inspection-bookings/{r.json()['id']}/cancellation",
        headers=actors.citizen(second["owner_id_number"]),
    )
    assert r.status_code == 409
    assert r.json()["code"] == "CANCEL_ONLY_BEFORE_INSPECTION_DAY"


def clock_day(clock: Any, days: int) -> Any:
    from datetime import datetime

    from servicekit.clock import SHANGHAI

    return datetime(2027, 3, 1 + days, 0, 30, tzinfo=SHANGHAI)


async def test_vh14_suspended_station_cancels_future_bookings_tells_holders_and_takes_no_more(
    client: httpx.AsyncClient, actors: Actors, runtime: Runtime
) -> None:
    station, slots = await station_with_slots(client, actors)
    holders = [await bound_vehicle(client, actors, runtime) for _ in range(3)]
    bookings = [(await book(client, actors, v, slots[i])).json() for i, v in enumerate(holders)]
    r = await client.put(
        f"/api/v1/inspection-stations/{station['id']}/state",
        json={"state": "suspended", "reason": "设备故障"},
        headers=actors.system,
    )
    assert r.status_code == 200
    assert r.json()["cancelled_bookings"] == 3
    for booking, vehicle in zip(bookings, holders, strict=True):
        events = await events_about(runtime, booking["id"])
        kind, payload = events[-1]
        assert kind == "vehicle.inspection_booking.cancelled.v1"
        assert payload["by"] == "station"
        assert payload["phone"] == vehicle["phone"]
        assert payload["account_id"] == f"person-{vehicle['owner_id_number']}"
    assert [t for t, _ in await events_about(runtime, station["id"])] == [
        "vehicle.inspection_station.state_changed.v1"
    ]
    r = await book(client, actors, await bound_vehicle(client, actors, runtime), slots[4])
    assert r.status_code == 409
    assert r.json()["code"] == "STATION_NOT_TAKING_BOOKINGS"
    async with runtime.engine.connect() as conn:
        booked = await conn.execute(
            select(func.sum(inspection_slots.c.booked)).where(inspection_slots.c.station_id == station["id"])
        )
        assert booked.scalar_one() == 0


async def test_vh14_500_concurrent_bookings_for_100_places_book_exactly_100(
    client: httpx.AsyncClient, actors: Actors, runtime: Runtime
) -> None:
    """The proof the issue asks for: 500 owners book one slot of capacity 100 at once, through the API."""
    _, slots = await station_with_slots(
        client, actors, capacity=100, first_day="2027-03-03", last_day="2027-03-03"
    )
    slot = slots[0]
    rows = [good_row(inspection_valid_until="2027-04-30") for _ in range(500)]
    report = await import_rows(runtime, read_csv(io.StringIO(as_csv(rows))))
    assert report.ok
    async with runtime.engine.connect() as conn:
        ids = dict(
            (
                await conn.execute(
                    select(vehicles.c.vin, vehicles.c.id).where(vehicles.c.vin.in_([r["vin"] for r in rows]))
                )
            ).all()
        )
    for row in rows:
        await bind(runtime, f"person-{row['owner_id_number']}", str(ids[row["vin"]]))
    headers = [actors.citizen(r["owner_id_number"]) for r in rows]

    async def one(i: int) -> int:
        r = await client.post(
            "/api/v1/inspection-bookings",
            json={"vehicle_id": str(ids[rows[i]["vin"]]), "slot_id": slot["id"]},
            headers=headers[i],
        )
        return r.status_code

    started = time.perf_counter()
    statuses = Counter(await asyncio.gather(*(one(i) for i in range(500))))
    elapsed = time.perf_counter() - started
    print(f"\n500 concurrent bookings for 100 places: {dict(statuses)} in {elapsed:.2f} s")
    assert statuses == {201: 100, 409: 400}
    async with runtime.engine.connect() as conn:
        booked = (
            await conn.execute(select(inspection_slots.c.booked).where(inspection_slots.c.id == slot["id"]))
        ).scalar_one()
        live = (
            await conn.execute(
                select(func.count()).where(
                    inspection_bookings.c.slot_id == slot["id"], inspection_bookings.c.state == "booked"
                )
            )
        ).scalar_one()
    assert (booked, live) == (100, 100)


async def test_vh14_concurrent_bookings_over_many_slots_never_overbook(
    client: httpx.AsyncClient, actors: Actors, runtime: Runtime
) -> None:
    """100 slots of one place each (25 a day over 4 days), 300 owners, three for each slot."""
    r = await client.post(
        "/api/v1/inspection-stations",
        json={
            "name": "多时段站",
            "address": "石家庄市",
            "city_code": "130100",
            "vehicle_kinds": ["small_car"],
        },
        headers=actors.system,
    )
    station = r.json()
    times = [
        {
            "start": f"{8 + i // 6:02d}:{(i % 6) * 10:02d}",
            "end": f"{8 + i // 6:02d}:{(i % 6) * 10 + 9:02d}",
            "capacity": 1,
        }
        for i in range(25)
    ]
    r = await client.post(
        f"/api/v1/inspection-stations/{station['id']}/plans",
        json={"first_day": "2027-03-03", "last_day": "2027-03-06", "times": times},
        headers=actors.system,
    )
    await client.post(f"/api/v1/inspection-plans/{r.json()['id']}/publication", headers=actors.system)
    slots = (
        await client.get(
            "/api/v1/inspection-slots", params={"station_id": station["id"]}, headers=actors.system
        )
    ).json()
    assert len(slots) == 100
    rows = [good_row(inspection_valid_until="2027-04-30") for _ in range(300)]
    assert (await import_rows(runtime, read_csv(io.StringIO(as_csv(rows))))).ok
    async with runtime.engine.connect() as conn:
        ids = dict(
            (
                await conn.execute(
                    select(vehicles.c.vin, vehicles.c.id).where(vehicles.c.vin.in_([r["vin"] for r in rows]))
                )
            ).all()
        )

    for row in rows:
        await bind(runtime, f"person-{row['owner_id_number']}", str(ids[row["vin"]]))

    async def one(i: int) -> int:
        r = await client.post(
            "/api/v1/inspection-bookings",
            json={"vehicle_id": str(ids[rows[i]["vin"]]), "slot_id": slots[i % 100]["id"]},
            headers=actors.citizen(rows[i]["owner_id_number"]),
        )
        return r.status_code

    statuses = Counter(await asyncio.gather(*(one(i) for i in range(300))))
    assert statuses == {201: 100, 409: 200}
    async with runtime.engine.connect() as conn:
        over = await conn.execute(
            select(func.count()).where(
                inspection_slots.c.station_id == station["id"], inspection_slots.c.booked != 1
            )
        )
        assert over.scalar_one() == 0


__all__ = ["new_plate", "timedelta"]
