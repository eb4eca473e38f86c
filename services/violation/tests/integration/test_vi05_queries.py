"""VI-05: citizens and units list the violations of their bound vehicles (never another's); clerks and
other police systems search them."""

from __future__ import annotations

import httpx
import pytest

from servicekit.runtime import Runtime

from .conftest import Actors, bind_vehicle, has_vehicle, owner_of, take

pytestmark = pytest.mark.integration


async def test_vi05_a_citizen_and_a_unit_list_the_violations_of_their_bound_vehicles_only(
    client: httpx.AsyncClient, actors: Actors, runtime: Runtime
) -> None:
    first = await take(client, actors)
    second = await take(client, actors, plate_number=first["plate_number"], violation_code="1345")
    elsewhere = await take(client, actors)
    owner = await owner_of(runtime, actors, first["plate_number"])
    unit = actors.unit()
    await bind_vehicle(runtime, unit, await has_vehicle(runtime, elsewhere["plate_number"]))
    listed = (await client.get("/api/v1/violations", headers=owner.headers)).json()
    assert [v["id"] for v in listed["items"]] == [second["id"], first["id"]]  # newest first
    assert [
        v["id"] for v in (await client.get("/api/v1/violations", headers=unit.headers)).json()["items"]
    ] == [elsewhere["id"]]
    stranger = actors.person()
    assert (await client.get("/api/v1/violations", headers=stranger.headers)).json()["items"] == []
    # Even asking for another's plate finds nothing.
    r = await client.get(
        "/api/v1/violations", params={"plate_number": elsewhere["plate_number"]}, headers=owner.headers
    )
    assert r.json()["items"] == []
    page = (await client.get("/api/v1/violations", params={"limit": 1}, headers=owner.headers)).json()
    assert page["next_cursor"] is not None
    rest = await client.get(
        "/api/v1/violations", params={"cursor": page["next_cursor"]}, headers=owner.headers
    )
    assert [v["id"] for v in rest.json()["items"]] == [first["id"]]


async def test_vi05_clerks_and_other_police_systems_search_by_plate_or_time(
    client: httpx.AsyncClient, actors: Actors
) -> None:
    taken = await take(client, actors)
    for headers in (actors.system, actors.clerk):
        r = await client.get(
            "/api/v1/violations", params={"plate_number": taken["plate_number"]}, headers=headers
        )
        assert [v["id"] for v in r.json()["items"]] == [taken["id"]]
    far = await client.get(
        "/api/v1/violations", params={"plate_number": taken["plate_number"]}, headers=actors.far_clerk
    )
    assert far.json()["items"] == []  # another city's clerk
    r = await client.get("/api/v1/violations", headers=actors.system)
    assert (r.status_code, r.json()["code"]) == (422, "SEARCH_NEEDS_A_KEY")
    r = await client.get("/api/v1/violations", params={"since": "2027-03-01T00:00:00"}, headers=actors.system)
    assert (r.status_code, r.json()["code"]) == (422, "SINCE_NEEDS_OFFSET")
    r = await client.get("/api/v1/violations", params={"cursor": "nonsense!"}, headers=actors.system)
    assert r.status_code == 422
