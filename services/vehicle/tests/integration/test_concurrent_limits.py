"""Limits that are checked by reading and then writing, under concurrent requests through the API against
the real vehicle_test database: each fires its requests at once (asyncio.gather) and shows the limit
holds. The slot capacity of VH-14 has its own (500 bookings for 100 places, test_inspections.py)."""

from __future__ import annotations

import asyncio
from collections import Counter
from typing import Any

import httpx
import pytest
from sqlalchemy import func, select

from servicekit.runtime import Runtime
from servicekit.testing import new_phone
from vehicle_service.tables import applications, inspection_bookings, inspection_slots, temp_plates

from .conftest import Actors, register_bound
from .factories import new_uscc
from .test_inspections import station_with_slots
from .test_temp_plates import DOCUMENTS, Desk, collect, plate_for, qualify

pytestmark = pytest.mark.integration

N = 8


def codes(responses: list[httpx.Response]) -> Counter[tuple[int, str | None]]:
    return Counter((r.status_code, r.json().get("code")) for r in responses)


async def test_vh12_concurrent_qualifications_of_one_unit_grant_one(
    client: httpx.AsyncClient, actors: Actors
) -> None:
    """VH-12: one live qualification per unit, also when the review post submits it several times at once
    (a count of live rows, then an insert: the partial unique index decides)."""
    desk = Desk(actors)
    uscc = new_uscc()
    body = {
        "account_subject": desk.subject,
        "uscc": uscc,
        "name": "石家庄某汽车销售有限公司",
        "legal_rep_name": "郑十一",
        "legal_rep_phone": new_phone(),
        "authorised": ["大众"],
        "documents": DOCUMENTS,
        "quota": 50,
    }
    responses = await asyncio.gather(
        *(client.post("/api/v1/temp-plates/dealers", json=body, headers=desk.review) for _ in range(N))
    )
    assert codes(responses) == {(201, None): 1, (409, "DEALER_ALREADY_QUALIFIED"): N - 1}


async def test_vh02_concurrent_applications_for_one_item_open_one_case(
    client: httpx.AsyncClient, actors: Actors, runtime: Runtime
) -> None:
    """VH-02: one open case per vehicle and item, whatever arrives at once (the vehicle's row lock, and the
    open-case index behind it)."""
    vehicle = await register_bound(client, actors, runtime)
    body = {"vehicle_id": vehicle["id"], "item": "licence", "kind": "reissue", "delivery": "pickup"}
    headers = actors.citizen(vehicle["owner_id_number"])
    responses = await asyncio.gather(
        *(client.post("/api/v1/vehicle-applications", json=body, headers=headers) for _ in range(N))
    )
    assert codes(responses) == {(201, None): 1, (409, "APPLICATION_OPEN"): N - 1}
    async with runtime.engine.connect() as conn:
        count = (
            await conn.execute(select(func.count()).where(applications.c.vehicle_id == vehicle["id"]))
        ).scalar_one()
    assert count == 1


async def test_vh13_concurrent_bookings_of_one_vehicle_book_one_place(
    client: httpx.AsyncClient, actors: Actors, runtime: Runtime
) -> None:
    """VH-13: one live appointment per vehicle, even when it books several slots at once; no slot keeps a
    place for a refused booking."""
    station, slots = await station_with_slots(client, actors, capacity=5)
    vehicle = await register_bound(client, actors, runtime)
    headers = actors.citizen(vehicle["owner_id_number"])
    responses = await asyncio.gather(
        *(
            client.post(
                "/api/v1/inspection-bookings",
                json={"vehicle_id": vehicle["id"], "slot_id": slot["id"]},
                headers=headers,
            )
            for slot in slots
        )
    )
    assert codes(responses) == {(201, None): 1, (409, "ALREADY_BOOKED"): len(slots) - 1}
    async with runtime.engine.connect() as conn:
        booked = (
            await conn.execute(
                select(func.sum(inspection_slots.c.booked)).where(
                    inspection_slots.c.station_id == station["id"]
                )
            )
        ).scalar_one()
        live = (
            await conn.execute(
                select(func.count()).where(
                    inspection_bookings.c.vehicle_id == vehicle["id"], inspection_bookings.c.state == "booked"
                )
            )
        ).scalar_one()
    assert (booked, live) == (1, 1)


async def _dealer_with_blanks(client: httpx.AsyncClient, desk: Desk, blanks: int) -> dict[str, Any]:
    dealer = await qualify(client, desk)
    r = await collect(client, desk, dealer, quantity=blanks)
    assert r.status_code == 201, r.text
    return dealer


async def test_vh12_concurrent_issues_and_damage_reports_never_spend_more_blanks_than_held(
    client: httpx.AsyncClient, actors: Actors, runtime: Runtime
) -> None:
    """VH-12: plates issued and blanks reported damaged come out of the blanks held (a stock counted, then
    a plate inserted): fired at once, no more than the stock succeed and the stock never goes below 0."""
    desk = Desk(actors)
    dealer = await _dealer_with_blanks(client, desk, 5)
    issues = [client.post("/api/v1/temp-plates", json=plate_for(), headers=desk.dealer) for _ in range(N)]
    damage = [
        client.post(
            "/api/v1/temp-plates/damaged-blanks", json={"count": 1, "cause": "受潮"}, headers=desk.dealer
        )
        for _ in range(4)
    ]
    responses = await asyncio.gather(*issues, *damage)
    issued_ok = sum(r.status_code == 201 for r in responses[:N])
    damaged_ok = sum(r.status_code == 200 for r in responses[N:])
    assert issued_ok + damaged_ok == 5
    refused = [r for r in responses if r.status_code not in (200, 201)]
    assert codes(refused) == {(409, "NO_BLANK_TEMP_PLATES"): N + 4 - 5}
    r = await client.get(f"/api/v1/temp-plates/dealers/{dealer['id']}", headers=desk.review)
    assert r.json()["blanks_in_stock"] == 0
    assert r.json()["damaged_outstanding"] == damaged_ok
    async with runtime.engine.connect() as conn:
        issued = (
            await conn.execute(select(func.count()).where(temp_plates.c.dealer_id == dealer["id"]))
        ).scalar_one()
    assert issued == issued_ok


async def test_vh12_concurrent_collections_take_the_damaged_blanks_back_once(
    client: httpx.AsyncClient, actors: Actors
) -> None:
    """VH-12: the damaged blanks due back are returned at one collection; collections fired at once with
    them do not each count them as returned."""
    desk = Desk(actors)
    dealer = await _dealer_with_blanks(client, desk, 10)
    r = await client.post(
        "/api/v1/temp-plates/damaged-blanks", json={"count": 2, "cause": "印刷故障"}, headers=desk.dealer
    )
    assert r.status_code == 200, r.text
    responses = await asyncio.gather(*(collect(client, desk, dealer, damaged_returned=2) for _ in range(N)))
    assert codes(responses) == {(201, None): 1, (422, "DAMAGED_BLANKS_COUNT_WRONG"): N - 1}
    r = await client.get(f"/api/v1/temp-plates/dealers/{dealer['id']}", headers=desk.review)
    assert (r.json()["damaged_outstanding"], r.json()["blanks_in_stock"]) == (0, 18)


async def test_vh14_bookings_racing_a_suspension_leave_no_live_appointment_at_the_station(
    client: httpx.AsyncClient, actors: Actors, runtime: Runtime
) -> None:
    """VH-14: a suspended station takes no appointments and every holder is told. A booking that read the
    station open while the suspension was cancelling its appointments must not survive it: either it
    commits first (and is cancelled with the rest) or it sees the station suspended."""
    station, slots = await station_with_slots(client, actors, capacity=50)
    vehicles = [await register_bound(client, actors, runtime) for _ in range(16)]

    async def booking(i: int) -> httpx.Response:
        await asyncio.sleep(0.002 * i)
        return await client.post(
            "/api/v1/inspection-bookings",
            json={"vehicle_id": vehicles[i]["id"], "slot_id": slots[i % len(slots)]["id"]},
            headers=actors.citizen(vehicles[i]["owner_id_number"]),
        )

    async def suspension() -> httpx.Response:
        await asyncio.sleep(0.01)
        return await client.put(
            f"/api/v1/inspection-stations/{station['id']}/state",
            json={"state": "suspended", "reason": "设备检修"},
            headers=actors.system,
        )

    *booked, suspended = await asyncio.gather(*(booking(i) for i in range(len(vehicles))), suspension())
    assert suspended.status_code == 200, suspended.text
    assert {r.status_code for r in booked} <= {201, 409}
    async with runtime.engine.connect() as conn:
        live = (
            await conn.execute(
                select(func.count()).where(
                    inspection_bookings.c.station_id == station["id"], inspection_bookings.c.state == "booked"
                )
            )
        ).scalar_one()
        places = (
            await conn.execute(
                select(func.sum(inspection_slots.c.booked)).where(
                    inspection_slots.c.station_id == station["id"]
                )
            )
        ).scalar_one()
    assert (live, places) == (0, 0)
    assert suspended.json()["cancelled_bookings"] == sum(r.status_code == 201 for r in booked)


async def test_vh13_concurrent_cancellations_return_the_place_once(
    client: httpx.AsyncClient, actors: Actors, runtime: Runtime
) -> None:
    """VH-13: a booking cancelled several times at once gives its place back to the slot once."""
    _, slots = await station_with_slots(client, actors, capacity=3)
    vehicle = await register_bound(client, actors, runtime)
    headers = actors.citizen(vehicle["owner_id_number"])
    r = await client.post(
        "/api/v1/inspection-bookings",
        json={"vehicle_id": vehicle["id"], "slot_id": slots[0]["id"]},
        headers=headers,
    )
    assert r.status_code == 201, r.text
    url = f"/api/v1/inspection-bookings/{r.json()['id']}/cancellation"
    responses = await asyncio.gather(*(client.post(url, headers=headers) for _ in range(N)))
    assert codes(responses) == {(200, None): 1, (409, "WRONG_STATE"): N - 1}
    async with runtime.engine.connect() as conn:
        booked = (
            await conn.execute(
                select(inspection_slots.c.booked).where(inspection_slots.c.id == slots[0]["id"])
            )
        ).scalar_one()
    assert booked == 0
