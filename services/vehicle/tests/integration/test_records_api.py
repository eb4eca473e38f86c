"""VH-01, VH-11, VH-15, VH-16 through the API, against the real vehicle_test database."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import httpx
import pytest

from servicekit.clock import FixedClock
from servicekit.runtime import Runtime
from servicekit.testing import new_phone, new_resident_id

from .conftest import (
    Actors,
    bind,
    bind_owner,
    events_about,
    register,
    register_bound,
    registration,
    unbind,
)
from .factories import new_plate, new_vin

pytestmark = pytest.mark.integration


async def test_vh01_record_holds_the_catalogue_fields_and_the_owner_sees_it(
    client: httpx.AsyncClient, actors: Actors
) -> None:
    vehicle = await register(client, actors)
    owner = vehicle["owner_id_number"]
    r = await client.get(f"/api/v1/vehicles/{vehicle['id']}", headers=actors.citizen(owner))
    assert r.status_code == 200
    body = r.json()
    for field in (
        "plate_kind",
        "plate_number",
        "vin",
        "owner_id_kind",
        "owner_id_number",
        "owner_name",
        "phone",
        "use",
        "state",
        "inspection_valid_until",
        "insurance_valid_until",
        "licence_photo_stored",
        "plate_reissue_count",
    ):
        assert field in body
    assert body["state"] == "registered"
    assert body["plate_reissue_count"] == 0


async def test_vh01_another_persons_vehicle_answers_404(client: httpx.AsyncClient, actors: Actors) -> None:
    vehicle = await register(client, actors)
    stranger = actors.citizen(new_resident_id())
    r = await client.get(f"/api/v1/vehicles/{vehicle['id']}", headers=stranger)
    assert r.status_code == 404
    r = await client.put(
        f"/api/v1/vehicles/{vehicle['id']}/contact", json={"phone": new_phone()}, headers=stranger
    )
    assert r.status_code == 404


async def test_vh01_citizen_lists_only_own_vehicles_masked(client: httpx.AsyncClient, actors: Actors) -> None:
    owner = new_resident_id()
    mine = [
        await register(client, actors, owner={"id_kind": "resident_id", "id_number": owner, "name": "王五"})
        for _ in range(2)
    ]
    await register(client, actors)
    r = await client.get("/api/v1/vehicles", headers=actors.citizen(owner))
    assert r.status_code == 200
    items = r.json()["items"]
    assert sorted(i["id"] for i in items) == sorted(v["id"] for v in mine)
    assert all("*" in i["owner_id_number"] and "*" in i["phone"] for i in items)


async def test_vh15_first_registration_without_selection_is_published(
    client: httpx.AsyncClient, actors: Actors, runtime: Runtime
) -> None:
    vehicle = await register(client, actors)
    events = await events_about(runtime, vehicle["id"])
    assert [t for t, _ in events] == ["vehicle.vehicle.registered.v1"]
    payload = events[0][1]
    assert payload["vin"] == vehicle["vin"]
    assert payload["selection_id"] is None
    assert payload["owner"]["id_number"] == vehicle["owner_id_number"]


async def test_vh15_duplicate_vin_is_refused(client: httpx.AsyncClient, actors: Actors) -> None:
    vehicle = await register(client, actors)
    r = await client.post("/api/v1/vehicles", json=registration(vin=vehicle["vin"]), headers=actors.clerk)
    assert r.status_code == 409
    assert r.json()["code"] == "VEHICLE_ALREADY_REGISTERED"


async def test_vh15_citizen_cannot_register(client: httpx.AsyncClient, actors: Actors) -> None:
    r = await client.post("/api/v1/vehicles", json=registration(), headers=actors.citizen(new_resident_id()))
    assert r.status_code == 403


def _selection(owner_id: str, phone: str, vin: str, plate: str, register_by: str) -> dict[str, Any]:
    return {
        "office_code": "130100",
        "plate_number": plate,
        "vin": vin,
        "owner": {"id_kind": "resident_id", "id_number": owner_id, "name": "赵六"},
        "phone": phone,
        "register_by": register_by,
    }


async def _feed_selection(client: httpx.AsyncClient, actors: Actors, **kw: str) -> tuple[str, dict[str, Any]]:
    selection_id = "sel-" + new_vin()
    body = _selection(
        kw["owner_id"],
        kw["phone"],
        kw["vin"],
        kw["plate"],
        kw.get("register_by", "2027-03-04T23:59:59+08:00"),
    )
    r = await client.put(f"/api/v1/vehicles/preselections/{selection_id}", json=body, headers=actors.system)
    assert r.status_code == 200, r.text
    return selection_id, body


async def test_vh15_pp09_registration_consumes_the_matching_preselection(
    client: httpx.AsyncClient, actors: Actors, runtime: Runtime
) -> None:
    owner_id, phone, vin, plate = new_resident_id(), new_phone(), new_vin(), new_plate()
    selection_id, sel = await _feed_selection(
        client, actors, owner_id=owner_id, phone=phone, vin=vin, plate=plate
    )
    body = registration(
        plate_number=None, selection_id=selection_id, vin=vin, phone=phone, owner=sel["owner"]
    )
    r = await client.post("/api/v1/vehicles", json=body, headers=actors.clerk)
    assert r.status_code == 201, r.text
    assert r.json()["plate_number"] == plate
    events = await events_about(runtime, r.json()["id"])
    assert events[0][0] == "vehicle.vehicle.registered.v1"
    assert events[0][1]["selection_id"] == selection_id
    # Consumed: a second registration with it is refused.
    again = registration(
        plate_number=None, selection_id=selection_id, vin=new_vin(), phone=phone, owner=sel["owner"]
    )
    r = await client.post("/api/v1/vehicles", json=again, headers=actors.clerk)
    assert r.status_code == 409
    assert r.json()["code"] == "SELECTION_NOT_USABLE"
    assert r.json()["rule"] == "PP-09"


@pytest.mark.parametrize("field", ["vin", "owner.id_number", "owner.name", "owner.id_kind", "phone"])
async def test_pp09_registration_differing_from_the_preselection_is_refused_and_published(
    client: httpx.AsyncClient, actors: Actors, runtime: Runtime, field: str
) -> None:
    owner_id, phone, vin, plate = new_resident_id(), new_phone(), new_vin(), new_plate()
    selection_id, sel = await _feed_selection(
        client, actors, owner_id=owner_id, phone=phone, vin=vin, plate=plate
    )
    owner = dict(sel["owner"])
    body = registration(plate_number=None, selection_id=selection_id, vin=vin, phone=phone, owner=owner)
    if field == "vin":
        body["vin"] = new_vin()
    elif field == "phone":
        body["phone"] = new_phone()
    elif field == "owner.name":
        owner["name"] = "钱七"
    elif field == "owner.id_kind":
        owner["id_kind"], owner["id_number"] = "passport", "E12345678"
    else:
        owner["id_number"] = new_resident_id()
    r = await client.post("/api/v1/vehicles", json=body, headers=actors.clerk)
    assert r.status_code == 409, r.text
    problem = r.json()
    assert problem["code"] == "SELECTION_MISMATCH"
    assert problem["rule"] == "PP-09"
    assert field in problem["mismatched"]
    events = await events_about(runtime, selection_id)
    assert [t for t, _ in events] == ["vehicle.registration.refused.v1"]


async def test_pp09_selection_past_its_register_by_is_refused(
    client: httpx.AsyncClient, actors: Actors, clock: FixedClock
) -> None:
    owner_id, phone, vin, plate = new_resident_id(), new_phone(), new_vin(), new_plate()
    selection_id, sel = await _feed_selection(
        client, actors, owner_id=owner_id, phone=phone, vin=vin, plate=plate
    )
    clock.advance(timedelta(days=4))  # past 2027-03-04 23:59:59
    body = registration(
        plate_number=None, selection_id=selection_id, vin=vin, phone=phone, owner=sel["owner"]
    )
    r = await client.post("/api/v1/vehicles", json=body, headers=actors.clerk)
    assert r.status_code == 409
    assert r.json()["code"] == "SELECTION_NOT_REGISTERED_IN_TIME"


async def test_pp09_unknown_selection_is_refused(client: httpx.AsyncClient, actors: Actors) -> None:
    body = registration(plate_number=None, selection_id="sel-unknown-" + new_vin())
    r = await client.post("/api/v1/vehicles", json=body, headers=actors.clerk)
    assert r.status_code == 409
    assert r.json()["code"] == "SELECTION_UNKNOWN"


async def test_vh11_owner_changes_the_phone_and_it_is_published(
    client: httpx.AsyncClient, actors: Actors, runtime: Runtime
) -> None:
    vehicle = await register_bound(client, actors, runtime)
    phone = new_phone()
    # Any personal user: an online-registered owner may change the contact too.
    headers = actors.citizen(vehicle["owner_id_number"], channel="online")
    r = await client.put(f"/api/v1/vehicles/{vehicle['id']}/contact", json={"phone": phone}, headers=headers)
    assert r.status_code == 200
    assert r.json()["phone"] == phone
    events = await events_about(runtime, vehicle["id"])
    assert events[-1] == (
        "vehicle.vehicle.contact_changed.v1",
        {
            "vehicle_id": vehicle["id"],
            "plate_number": vehicle["plate_number"],
            "owner_id_number": vehicle["owner_id_number"],
            "phone": phone,
            "changed_at": events[-1][1]["changed_at"],
        },
    )


async def test_vh11_an_owned_vehicle_not_bound_keeps_its_contact(
    client: httpx.AsyncClient, actors: Actors, runtime: Runtime
) -> None:
    """VH-11 (seed 000: 变更绑定在本人名下的机动车联系方式): the owner's account must have bound it."""
    vehicle = await register(client, actors)
    owner = f"person-{vehicle['owner_id_number']}"
    headers = actors.citizen(vehicle["owner_id_number"], channel="online")
    url = f"/api/v1/vehicles/{vehicle['id']}/contact"
    r = await client.put(url, json={"phone": new_phone()}, headers=headers)
    assert r.status_code == 409
    assert (r.json()["code"], r.json()["rule"]) == ("VEHICLE_NOT_BOUND", "VH-11")
    # Someone else's binding of it is not the owner's.
    await bind(runtime, f"person-{new_resident_id()}", vehicle["id"])
    assert (await client.put(url, json={"phone": new_phone()}, headers=headers)).status_code == 409
    binding_id = await bind_owner(runtime, vehicle)
    assert (await client.put(url, json={"phone": new_phone()}, headers=headers)).status_code == 200
    await unbind(runtime, owner, vehicle["id"], binding_id)
    r = await client.put(url, json={"phone": new_phone()}, headers=headers)
    assert (r.status_code, r.json()["code"]) == (409, "VEHICLE_NOT_BOUND")
    events = [t for t, _ in await events_about(runtime, vehicle["id"])]
    assert events.count("vehicle.vehicle.contact_changed.v1") == 1


async def test_vh11_invalid_phone_is_422(client: httpx.AsyncClient, actors: Actors) -> None:
    vehicle = await register(client, actors)
    headers = actors.citizen(vehicle["owner_id_number"])
    r = await client.put(
        f"/api/v1/vehicles/{vehicle['id']}/contact", json={"phone": "12345"}, headers=headers
    )
    assert r.status_code == 422


async def test_vh16_transfer_deregistration_and_use_change_are_published(
    client: httpx.AsyncClient, actors: Actors, runtime: Runtime
) -> None:
    vehicle = await register(client, actors, use="commercial")
    vid = vehicle["id"]
    r = await client.put(f"/api/v1/vehicles/{vid}/use", json={"use": "non_commercial"}, headers=actors.system)
    assert r.status_code == 200
    assert r.json()["use"] == "non_commercial"
    new_owner = {"id_kind": "resident_id", "id_number": new_resident_id(), "name": "李四"}
    r = await client.post(
        f"/api/v1/vehicles/{vid}/transfer",
        json={"owner": new_owner, "phone": new_phone()},
        headers=actors.system,
    )
    assert r.status_code == 200
    assert r.json()["owner_id_number"] == new_owner["id_number"]
    # The previous owner no longer sees it; the new one does.
    assert (
        await client.get(f"/api/v1/vehicles/{vid}", headers=actors.citizen(vehicle["owner_id_number"]))
    ).status_code == 404
    assert (
        await client.get(f"/api/v1/vehicles/{vid}", headers=actors.citizen(new_owner["id_number"]))
    ).status_code == 200
    r = await client.post(f"/api/v1/vehicles/{vid}/deregistration", json={}, headers=actors.clerk)
    assert r.status_code == 200
    assert r.json()["state"] == "deregistered"
    events = await events_about(runtime, vid)
    types = [t for t, _ in events]
    assert types == [
        "vehicle.vehicle.registered.v1",
        "vehicle.vehicle.use_changed.v1",
        "vehicle.vehicle.transferred.v1",
        "vehicle.vehicle.deregistered.v1",
    ]
    use_changed, transferred = events[1][1], events[2][1]
    assert (use_changed["from_use"], use_changed["to_use"]) == ("commercial", "non_commercial")
    assert transferred["previous_owner_id_number"] == vehicle["owner_id_number"]
    # A deregistered vehicle changes no further.
    r = await client.put(f"/api/v1/vehicles/{vid}/use", json={"use": "commercial"}, headers=actors.system)
    assert r.status_code == 409


async def test_vh01_state_flags_and_dates_are_set_by_systems_and_published(
    client: httpx.AsyncClient, actors: Actors, runtime: Runtime
) -> None:
    vehicle = await register(client, actors)
    vid = vehicle["id"]
    r = await client.put(
        f"/api/v1/vehicles/{vid}/state", json={"flags": ["locked", "stolen"]}, headers=actors.system
    )
    assert r.status_code == 200
    assert r.json()["flags"] == ["locked", "stolen"]
    r = await client.patch(
        f"/api/v1/vehicles/{vid}/validity",
        json={"inspection_valid_until": "2029-05-31"},
        headers=actors.system,
    )
    assert r.status_code == 200
    assert r.json()["inspection_valid_until"] == "2029-05-31"
    assert r.json()["insurance_valid_until"] == vehicle["insurance_valid_until"]
    types = [t for t, _ in await events_about(runtime, vid)]
    assert types[-2:] == ["vehicle.vehicle.state_changed.v1", "vehicle.vehicle.validity_changed.v1"]
    # A citizen may not set markers.
    r = await client.put(
        f"/api/v1/vehicles/{vid}/state",
        json={"flags": []},
        headers=actors.citizen(vehicle["owner_id_number"]),
    )
    assert r.status_code == 403


async def test_vh01_clerk_of_another_office_does_not_see_the_vehicle(
    client: httpx.AsyncClient, actors: Actors
) -> None:
    vehicle = await register(client, actors)
    other = Actors(actors.tokens, office="130200")
    assert (await client.get(f"/api/v1/vehicles/{vehicle['id']}", headers=other.clerk)).status_code == 404


async def test_vh01_clerk_searches_by_owner_and_pages_through_with_a_cursor(
    client: httpx.AsyncClient, actors: Actors
) -> None:
    owner = {"id_kind": "resident_id", "id_number": new_resident_id(), "name": "陈十五"}
    made = {(await register(client, actors, owner=owner))["id"] for _ in range(5)}
    seen: list[str] = []
    cursor = None
    while True:
        params = {"owner_id_number": owner["id_number"], "limit": 2} | ({"cursor": cursor} if cursor else {})
        r = await client.get("/api/v1/vehicles", params=params, headers=actors.clerk)
        assert r.status_code == 200
        page = r.json()
        seen += [item["id"] for item in page["items"]]
        cursor = page["next_cursor"]
        if cursor is None:
            break
    assert sorted(seen) == sorted(made)
    r = await client.get("/api/v1/vehicles", headers=actors.clerk)
    assert (r.status_code, r.json()["code"]) == (422, "SEARCH_NEEDS_A_KEY")
    r = await client.get("/api/v1/vehicles", params={"vin": new_vin(), "cursor": "!!"}, headers=actors.clerk)
    assert r.status_code == 422
