"""NT-01, VH-07: the one-year ban after a refused delivery or a missed pickup is published with the phone
notify tells it to (the case's phone, the registered one unless the applicant gave another) and the item,
in the unit of work that imposes it."""

from __future__ import annotations

import secrets
import uuid
from datetime import timedelta

import httpx
import pytest
from sqlalchemy import func, select

from servicekit.clock import FixedClock
from servicekit.crypto import blind_match
from servicekit.runtime import Runtime
from servicekit.testing import TokenFactory, new_phone
from vehicle_service import subscriptions as subs
from vehicle_service.applications import sweep_missed_pickups
from vehicle_service.tables import delivery_bans

from .conftest import Actors, deliver, events_about, register_bound
from .test_applications import apply, clerk, step

pytestmark = pytest.mark.integration

BAN = "vehicle.delivery_ban.imposed.v1"


@pytest.fixture
def actors(tokens: TokenFactory) -> Actors:
    return Actors(tokens, office="13" + "".join(secrets.choice("0123456789") for _ in range(4)))


async def test_nt01_delivery_ban_refused_is_published_with_the_registered_phone_and_item(
    client: httpx.AsyncClient, actors: Actors, runtime: Runtime
) -> None:
    phone = new_phone()
    vehicle = await register_bound(client, actors, runtime, phone=phone)
    intake = clerk(actors)
    case = (await apply(client, actors, vehicle)).json()
    await step(client, intake, case["id"], "intake", decision="accept")
    await step(client, intake, case["id"], "production")
    mailed = await step(client, intake, case["id"], "handoff")
    r = await client.post(
        "/api/v1/vehicle-applications/post-events",
        json={"tracking_number": mailed["tracking_number"], "event": "refused"},
        headers=actors.system,
    )
    assert r.status_code == 200, r.text
    (ban,) = [p for t, p in await events_about(runtime, case["id"]) if t == BAN]
    assert (ban["reason"], ban["phone"], ban["item"]) == ("refused", phone, "plate")


async def test_nt01_delivery_ban_not_collected_is_published_with_the_cases_own_phone(
    client: httpx.AsyncClient, actors: Actors, runtime: Runtime, clock: FixedClock
) -> None:
    vehicle = await register_bound(client, actors, runtime)
    contact = new_phone()  # the applicant gave another phone for this case: the case's messages go there
    intake = clerk(actors)
    case = (await apply(client, actors, vehicle, item="licence", delivery="pickup", phone=contact)).json()
    await step(client, intake, case["id"], "intake", decision="accept")
    await step(client, intake, case["id"], "production")
    await step(client, intake, case["id"], "handoff")
    clock.advance(timedelta(days=31, minutes=1))
    await sweep_missed_pickups(runtime)
    (ban,) = [p for t, p in await events_about(runtime, case["id"]) if t == BAN]
    assert (ban["reason"], ban["phone"], ban["item"]) == ("not_collected", contact, "licence")


async def test_vh07_licence_delivery_a_refused_driving_licence_bars_vehicle_reissues_for_a_year(
    client: httpx.AsyncClient, actors: Actors, runtime: Runtime
) -> None:
    """license's `license.delivery_ban.imposed.v1` reaches vehicle's handler: the one-year ban of seed 002
    §27(6) holds for plates, vehicle licence and marks too; a redelivery keeps one ban."""
    vehicle = await register_bound(client, actors, runtime)
    data = {
        "id_kind": "resident_id",
        "id_number": vehicle["owner_id_number"],
        "until": "2028-02-29",
        "reason": "refused",
        "case_id": str(uuid.uuid4()),
        "imposed_at": "2027-03-01T09:00:00+08:00",
        "phone": vehicle["phone"],
    }
    for _ in range(2):
        await deliver(runtime, subs.LICENCE_DELIVERY_BANS, data)
    async with runtime.engine.connect() as conn:
        kept = (
            await conn.execute(
                select(func.count()).where(blind_match(delivery_bans.c.id_number, vehicle["owner_id_number"]))
            )
        ).scalar_one()
    assert kept == 1
    r = await apply(client, actors, vehicle)
    assert (r.status_code, r.json()["code"], r.json()["until"]) == (409, "DELIVERY_BAN", "2028-02-29")
