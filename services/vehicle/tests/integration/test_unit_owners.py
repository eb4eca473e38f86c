"""ID-08, VH-13 for units (ADR 0012): a unit's token names it by its unified social credit code, and the
unit owns the vehicles recorded under that code: it lists and reads them and books their inspections;
another unit, a person with the same spelling of number, and the unit's agent as a person get 404."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from servicekit.runtime import Runtime
from servicekit.testing import TokenFactory, new_resident_id

from .conftest import Actors, bind, register
from .factories import new_uscc
from .test_inspections import station_with_slots

pytestmark = pytest.mark.integration


def unit_headers(tokens: TokenFactory, credit_code: str, *roles: str) -> dict[str, str]:
    """A unit account as identity signs it in (its agent operates it): kind `unit`, `idn` its code."""
    token = tokens.mint(f"unit-{credit_code}", kind="unit", roles=("unit", *roles), id_number=credit_code)
    return tokens.headers(token)


async def unit_vehicle(client: httpx.AsyncClient, actors: Actors, credit_code: str) -> dict[str, Any]:
    owner = {"id_kind": "uscc", "id_number": credit_code, "name": "石家庄某物流有限公司"}
    return await register(client, actors, owner=owner, inspection_valid_until="2027-05-31")


async def test_id08_vh01_unit_lists_and_reads_its_own_vehicles_only(
    client: httpx.AsyncClient, actors: Actors, tokens: TokenFactory
) -> None:
    code, other = new_uscc(), new_uscc()
    mine = await unit_vehicle(client, actors, code)
    theirs = await unit_vehicle(client, actors, other)
    me = unit_headers(tokens, code)
    r = await client.get("/api/v1/vehicles", headers=me)
    assert r.status_code == 200, r.text
    assert [v["id"] for v in r.json()["items"]] == [mine["id"]]
    assert (await client.get(f"/api/v1/vehicles/{mine['id']}", headers=me)).json()["owner_id_number"] == code
    # Another unit's vehicle: not there for this one (404, never 403).
    r = await client.get(f"/api/v1/vehicles/{theirs['id']}", headers=me)
    assert r.status_code == 404
    assert r.json()["code"] == "NOT_FOUND"


async def test_vh13_id08_unit_books_an_inspection_for_its_own_vehicle_another_unit_gets_404(
    client: httpx.AsyncClient, actors: Actors, tokens: TokenFactory, runtime: Runtime
) -> None:
    code = new_uscc()
    _, slots = await station_with_slots(client, actors)
    vehicle = await unit_vehicle(client, actors, code)
    body = {"vehicle_id": vehicle["id"], "slot_id": slots[0]["id"]}
    stranger = unit_headers(tokens, new_uscc())
    r = await client.post("/api/v1/inspection-bookings", json=body, headers=stranger)
    assert r.status_code == 404
    me = unit_headers(tokens, code)
    # ID-08, ADR 0044: a unit binds its own vehicles too, and books only bound ones.
    r = await client.post("/api/v1/inspection-bookings", json=body, headers=me)
    assert (r.status_code, r.json()["code"]) == (409, "VEHICLE_NOT_BOUND")
    await bind(runtime, f"unit-{code}", vehicle["id"])
    r = await client.post("/api/v1/inspection-bookings", json=body, headers=me)
    assert r.status_code == 201, r.text
    booking = r.json()
    assert [b["id"] for b in (await client.get("/api/v1/inspection-bookings", headers=me)).json()] == [
        booking["id"]
    ]
    assert (await client.get("/api/v1/inspection-bookings", headers=stranger)).json() == []
    cancel = f"/api/v1/inspection-bookings/{booking['id']}/cancellation"
    assert (await client.post(cancel, headers=stranger)).status_code == 404
    r = await client.post(cancel, headers=me)
    assert r.status_code == 200, r.text
    assert r.json()["state"] == "cancelled"


async def test_id08_a_unit_and_a_person_with_the_same_number_own_nothing_of_each_other(
    client: httpx.AsyncClient, actors: Actors, tokens: TokenFactory
) -> None:
    """ADR 0012: ownership matches the number and the owner's kind (credit code for units)."""
    person_id = new_resident_id()
    persons = await register(
        client, actors, owner={"id_kind": "resident_id", "id_number": person_id, "name": "张三"}
    )
    posing_unit = unit_headers(tokens, person_id)
    assert (await client.get(f"/api/v1/vehicles/{persons['id']}", headers=posing_unit)).status_code == 404
    assert (await client.get("/api/v1/vehicles", headers=posing_unit)).json()["items"] == []
    code = new_uscc()
    units = await unit_vehicle(client, actors, code)
    posing_person = actors.citizen(code, channel="online")
    assert (await client.get(f"/api/v1/vehicles/{units['id']}", headers=posing_person)).status_code == 404
    assert (await client.get("/api/v1/vehicles", headers=posing_person)).json()["items"] == []


async def test_id08_the_agent_signed_in_as_a_person_does_not_own_the_units_vehicles(
    client: httpx.AsyncClient, actors: Actors, tokens: TokenFactory
) -> None:
    """The agent acts for the unit only when signed in as the unit (identity's unit account)."""
    code, agent = new_uscc(), new_resident_id()
    vehicle = await unit_vehicle(client, actors, code)
    as_person = actors.citizen(agent, channel="online")
    assert (await client.get(f"/api/v1/vehicles/{vehicle['id']}", headers=as_person)).status_code == 404
    as_unit = unit_headers(tokens, code)
    assert (await client.get(f"/api/v1/vehicles/{vehicle['id']}", headers=as_unit)).status_code == 200


async def test_id08_units_have_no_reissue_or_contact_change_services(
    client: httpx.AsyncClient, actors: Actors, tokens: TokenFactory
) -> None:
    """ID-08 lists the units' services; reissue/replacement (VH-02) and the owner's phone change (VH-11)
    are personal services: a unit is refused with 403 even for its own vehicle."""
    code = new_uscc()
    vehicle = await unit_vehicle(client, actors, code)
    me = unit_headers(tokens, code) | {"Idempotency-Key": "unit-" + code}
    r = await client.post(
        "/api/v1/vehicle-applications",
        json={"vehicle_id": vehicle["id"], "item": "plate", "kind": "reissue", "delivery": "pickup"},
        headers=me,
    )
    assert r.status_code == 403, r.text
    url = f"/api/v1/vehicles/{vehicle['id']}"
    r = await client.put(url + "/contact", json={"phone": "13912345678"}, headers=me)
    assert r.status_code == 403, r.text
    assert (await client.get(url, headers=me)).json()["phone"] == vehicle["phone"]
