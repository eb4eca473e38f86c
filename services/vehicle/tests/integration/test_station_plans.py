"""VH-14: the plans filed for a station, as the admins who publish them read them."""

from __future__ import annotations

import uuid

import httpx
import pytest

from .conftest import Actors
from .test_inspections import station_with_slots

pytestmark = pytest.mark.integration


async def test_vh14_a_station_lists_its_plans_filed_then_published(
    client: httpx.AsyncClient, actors: Actors
) -> None:
    admin = actors.tokens.headers(actors.tokens.clerk(roles=("clerk.admin",), office="130100"))
    station, _ = await station_with_slots(client, actors, publish=False)
    url = f"/api/v1/inspection-stations/{station['id']}/plans"
    r = await client.get(url, headers=admin)
    assert r.status_code == 200, r.text
    (plan,) = r.json()
    assert (plan["state"], plan["slots"], plan["published_at"], plan["weekdays_only"]) == (
        "filed",
        0,
        None,
        False,
    )
    assert plan["times"] == [
        {"start": "09:00:00", "end": "10:00:00", "capacity": 2},
        {"start": "14:00:00", "end": "15:00:00", "capacity": 2},
    ]
    r = await client.post(f"/api/v1/inspection-plans/{plan['id']}/publication", headers=admin)
    assert (r.status_code, r.json()["slots"]) == (200, 8)
    (plan,) = (await client.get(url, headers=admin)).json()
    assert (plan["state"], plan["slots"]) == ("published", 8)
    assert plan["published_at"] is not None
    assert (await client.get(url, headers=actors.clerk)).status_code == 403  # intake, review, archive
    missing = await client.get(f"/api/v1/inspection-stations/{uuid.uuid4()}/plans", headers=admin)
    assert missing.status_code == 404
