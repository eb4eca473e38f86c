"""VH-02..VH-10: reissue and replacement from the citizen's application through the office's queue, the
post and the archive, against the real vehicle_test database."""

from __future__ import annotations

import secrets
from datetime import datetime, timedelta
from typing import Any

import httpx
import pytest
from sqlalchemy import select

from servicekit.clock import SHANGHAI, FixedClock
from servicekit.runtime import Runtime
from servicekit.testing import TokenFactory, new_resident_id
from vehicle_service.applications import sweep_missed_pickups
from vehicle_service.post import LOCAL_POST
from vehicle_service.tables import applications

from .conftest import Actors, bind, bind_owner, events_about, register, register_bound, unbind

JPEG = b"\xff\xd8\xff\xe0\x00\x10JFIF\x00" + bytes(range(256)) * 4 + b"\xff\xd9"

pytestmark = pytest.mark.integration


@pytest.fixture
def actors(tokens: TokenFactory) -> Actors:
    """An office of this test alone: the queue it reads holds only this test's applications."""
    return Actors(tokens, office="13" + "".join(secrets.choice("0123456789") for _ in range(4)))


ADDRESS = "河北省石家庄市长安区建设北大街1号"


def clerk(actors: Actors, *roles: str) -> dict[str, str]:
    return actors.tokens.headers(actors.tokens.clerk(roles=roles or ("clerk.intake",), office=actors.office))


async def apply(
    client: httpx.AsyncClient, actors: Actors, vehicle: dict[str, Any], channel: str = "counter", **body: Any
) -> httpx.Response:
    payload = {
        "vehicle_id": vehicle["id"],
        "item": "plate",
        "kind": "reissue",
        "delivery": "mail",
        "address": ADDRESS,
    } | body
    return await client.post(
        "/api/v1/vehicle-applications",
        json=payload,
        headers=actors.citizen(vehicle["owner_id_number"], channel),
    )


async def step(
    client: httpx.AsyncClient, headers: dict[str, str], case: str, what: str, **body: Any
) -> dict[str, Any]:
    r = await client.post(f"/api/v1/vehicle-applications/{case}/{what}", json=body, headers=headers)
    assert r.status_code == 200, r.text
    data: dict[str, Any] = r.json()
    return data


async def test_vh09_citizen_to_delivered_plate_with_a_clerk_working_the_queue(
    client: httpx.AsyncClient, actors: Actors, runtime: Runtime
) -> None:
    vehicle = await register_bound(client, actors, runtime)
    r = await apply(client, actors, vehicle, temp_plate=True)
    assert r.status_code == 201, r.text
    case = r.json()
    # Intake within 1 working day: applied Monday 2027-03-01, due by the end of Tuesday.
    due = datetime.fromisoformat(case["intake_due"]).astimezone(SHANGHAI)
    assert (due.date().isoformat(), due.hour, due.minute) == ("2027-03-02", 23, 59)
    intake = clerk(actors)
    queue = (
        await client.get(
            "/api/v1/vehicle-applications", params={"state": "submitted", "limit": 200}, headers=intake
        )
    ).json()
    assert case["id"] in [c["id"] for c in queue]
    await step(client, intake, case["id"], "intake", decision="accept")
    await step(client, intake, case["id"], "production")
    mailed = await step(client, intake, case["id"], "handoff")
    assert mailed["state"] == "mailed"
    assert mailed["tracking_number"] in LOCAL_POST.parcels
    assert "临时号牌" in LOCAL_POST.parcels[mailed["tracking_number"]].contents
    r = await client.post(
        "/api/v1/vehicle-applications/post-events",
        json={"tracking_number": mailed["tracking_number"], "event": "delivered"},
        headers=actors.system,
    )
    assert r.status_code == 200
    assert r.json()["state"] == "delivered"
    r = await client.get(
        f"/api/v1/vehicle-applications/{case['id']}", headers=actors.citizen(vehicle["owner_id_number"])
    )
    assert r.json()["state"] == "delivered"
    events = [p for t, p in await events_about(runtime, case["id"])]
    assert [p["state"] for p in events] == ["submitted", "accepted", "produced", "mailed", "delivered"]
    # The applicant's account on every step, so that notify keeps the messages in their inbox (NT-01).
    assert {p["account_id"] for p in events} == {f"person-{vehicle['owner_id_number']}"}
    r = await client.get(f"/api/v1/vehicles/{vehicle['id']}", headers=actors.system)
    assert r.json()["plate_reissue_count"] == 1
    archive = clerk(actors, "clerk.archive")
    filed = await step(client, archive, case["id"], "archive", action="file")
    assert filed["archived"] is True


async def test_vh02_online_registered_user_is_refused(
    client: httpx.AsyncClient, actors: Actors, runtime: Runtime
) -> None:
    vehicle = await register_bound(client, actors, runtime)
    r = await apply(client, actors, vehicle, channel="online")
    assert r.status_code == 409
    assert (r.json()["code"], r.json()["rule"]) == ("COUNTER_REGISTERED_USERS_ONLY", "VH-02")


@pytest.mark.parametrize(
    ("item", "kind", "extra"),
    [
        ("plate", "reissue", {}),
        ("plate", "replace", {}),
        ("licence", "reissue", {}),
        ("licence", "replace", {}),
        ("mark", "reissue", {}),  # a draft until its insurance certificate is stored (AR-01)
    ],
)
async def test_vh02_an_owned_vehicle_not_bound_is_refused_for_every_item(
    client: httpx.AsyncClient, actors: Actors, runtime: Runtime, item: str, kind: str, extra: dict[str, str]
) -> None:
    """VH-02 (seed 000, §27(1): 绑定在本人名下): ownership alone is not enough; the applicant's account must
    have bound the vehicle in identity (ADR 0044), and a binding by another account does not count."""
    vehicle = await register(client, actors)
    r = await apply(client, actors, vehicle, item=item, kind=kind, delivery="pickup", **extra)
    assert r.status_code == 409
    assert (r.json()["code"], r.json()["rule"]) == ("VEHICLE_NOT_BOUND", "VH-02")
    await bind(runtime, f"person-{new_resident_id()}", vehicle["id"])
    r = await apply(client, actors, vehicle, item=item, kind=kind, delivery="pickup", **extra)
    assert r.json()["code"] == "VEHICLE_NOT_BOUND"
    binding_id = await bind_owner(runtime, vehicle)
    await unbind(runtime, f"person-{vehicle['owner_id_number']}", vehicle["id"], binding_id)
    r = await apply(client, actors, vehicle, item=item, kind=kind, delivery="pickup", **extra)
    assert r.json()["code"] == "VEHICLE_NOT_BOUND"
    await bind_owner(runtime, vehicle)
    r = await apply(client, actors, vehicle, item=item, kind=kind, delivery="pickup", **extra)
    assert r.status_code == 201, r.text


async def test_vh02_someone_elses_vehicle_answers_404(
    client: httpx.AsyncClient, actors: Actors, runtime: Runtime
) -> None:
    vehicle = await register_bound(client, actors, runtime)
    r = await client.post(
        "/api/v1/vehicle-applications",
        json={"vehicle_id": vehicle["id"], "item": "plate", "kind": "reissue", "delivery": "pickup"},
        headers=actors.citizen(new_resident_id()),
    )
    assert r.status_code == 404


async def test_vh03_blocked_vehicle_is_refused_with_its_rule(
    client: httpx.AsyncClient, actors: Actors, runtime: Runtime
) -> None:
    vehicle = await register_bound(client, actors, runtime)
    await client.put(
        f"/api/v1/vehicles/{vehicle['id']}/state", json={"flags": ["detained"]}, headers=actors.system
    )
    r = await apply(client, actors, vehicle)
    assert r.status_code == 409
    assert (r.json()["code"], r.json()["rule"]) == ("VEHICLE_STATE_BLOCKS", "VH-03")


async def test_vh03_intake_rejects_when_the_vehicle_became_blocked(
    client: httpx.AsyncClient, actors: Actors, runtime: Runtime
) -> None:
    vehicle = await register_bound(client, actors, runtime)
    case = (await apply(client, actors, vehicle)).json()
    await client.put(
        f"/api/v1/vehicles/{vehicle['id']}/state", json={"flags": ["locked"]}, headers=actors.system
    )
    done = await step(client, clerk(actors), case["id"], "intake", decision="accept")
    assert done["state"] == "rejected"
    assert "locked" in done["refusal_reason"]


async def test_vh04_licence_needs_the_stored_photo(
    client: httpx.AsyncClient, actors: Actors, runtime: Runtime
) -> None:
    vehicle = await register_bound(client, actors, runtime, licence_photo_stored=False)
    r = await apply(client, actors, vehicle, item="licence")
    assert (r.status_code, r.json()["rule"]) == (409, "VH-04")


async def test_vh05_second_plate_reissue_cannot_be_mailed(
    client: httpx.AsyncClient, actors: Actors, runtime: Runtime
) -> None:
    vehicle = await register_bound(client, actors, runtime)
    intake = clerk(actors)
    case = (await apply(client, actors, vehicle, delivery="pickup")).json()
    await step(client, intake, case["id"], "intake", decision="accept")
    await step(client, intake, case["id"], "production")
    await step(client, intake, case["id"], "handoff")
    await step(client, intake, case["id"], "pickup")
    r = await apply(client, actors, vehicle, delivery="mail")
    assert (r.status_code, r.json()["code"], r.json()["rule"]) == (
        422,
        "SECOND_PLATE_REISSUE_NOT_BY_MAIL",
        "VH-05",
    )
    r = await apply(client, actors, vehicle, delivery="pickup")
    assert r.status_code == 201


async def test_vh06_replacement_pickup_needs_the_damaged_item(
    client: httpx.AsyncClient, actors: Actors, runtime: Runtime
) -> None:
    vehicle = await register_bound(client, actors, runtime)
    intake = clerk(actors)
    case = (await apply(client, actors, vehicle, item="licence", kind="replace", delivery="pickup")).json()
    await step(client, intake, case["id"], "intake", decision="accept")
    await step(client, intake, case["id"], "production")
    await step(client, intake, case["id"], "handoff")
    r = await client.post(f"/api/v1/vehicle-applications/{case['id']}/pickup", json={}, headers=intake)
    assert (r.status_code, r.json()["rule"]) == (409, "VH-06")
    done = await step(client, intake, case["id"], "pickup", damaged_item_returned=True)
    assert done["returned_item_received"] is True
    # VH-10: the archive destroys the returned licence.
    destroyed = await step(
        client, clerk(actors, "clerk.archive"), case["id"], "archive", action="destroy_returned"
    )
    assert destroyed["returned_item_destroyed"] is True


async def test_vh07_refused_delivery_bans_online_reissue_for_a_year_and_is_published(
    client: httpx.AsyncClient, actors: Actors, runtime: Runtime, clock: FixedClock
) -> None:
    vehicle = await register_bound(client, actors, runtime)
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
    assert r.json()["state"] == "refused"
    bans = [p for t, p in await events_about(runtime, case["id"]) if t == "vehicle.delivery_ban.imposed.v1"]
    assert len(bans) == 1
    assert bans[0]["until"] == "2028-02-29"
    assert (bans[0]["reason"], bans[0]["id_number"]) == ("refused", vehicle["owner_id_number"])
    r = await apply(client, actors, vehicle, item="licence", delivery="pickup")
    assert (r.status_code, r.json()["code"], r.json()["rule"]) == (409, "DELIVERY_BAN", "VH-07")
    clock.set(datetime(2028, 3, 1, 9, 0, tzinfo=SHANGHAI))
    r = await apply(client, actors, vehicle, item="licence", delivery="pickup")
    assert r.status_code == 201, r.text


async def test_vh07_missed_pickup_after_one_month_is_swept_and_banned(
    client: httpx.AsyncClient, actors: Actors, runtime: Runtime, clock: FixedClock
) -> None:
    vehicle = await register_bound(client, actors, runtime)
    intake = clerk(actors)
    case = (await apply(client, actors, vehicle, delivery="pickup")).json()
    await step(client, intake, case["id"], "intake", decision="accept")
    await step(client, intake, case["id"], "production")
    ready = await step(client, intake, case["id"], "handoff")
    assert datetime.fromisoformat(ready["pickup_due"]) == datetime(2027, 4, 1, 9, 0, tzinfo=SHANGHAI)
    ready_event = next(p for t, p in await events_about(runtime, case["id"]) if p.get("state") == "ready")
    assert datetime.fromisoformat(ready_event["pickup_due"]) == datetime(2027, 4, 1, 9, 0, tzinfo=SHANGHAI)
    r = await client.post(f"/api/v1/vehicle-applications/{case['id']}/missed-pickup", headers=intake)
    assert (r.status_code, r.json()["code"]) == (409, "PICKUP_NOT_YET_MISSED")
    clock.advance(timedelta(days=31, minutes=1))
    await sweep_missed_pickups(runtime)
    async with runtime.engine.connect() as conn:
        state = (
            await conn.execute(select(applications.c.state).where(applications.c.id == case["id"]))
        ).scalar_one()
    assert state == "not_collected"
    kinds = [t for t, _ in await events_about(runtime, case["id"])]
    assert "vehicle.delivery_ban.imposed.v1" in kinds
    # VH-10: not filed, so the archive withdraws the case.
    settled = await step(client, clerk(actors, "clerk.archive"), case["id"], "archive", action="settle")
    assert settled["state"] == "withdrawn"


async def test_vh10_refused_case_already_filed_has_its_core_number_restored(
    client: httpx.AsyncClient, actors: Actors, runtime: Runtime
) -> None:
    vehicle = await register_bound(client, actors, runtime)
    intake, archive = clerk(actors), clerk(actors, "clerk.archive")
    case = (await apply(client, actors, vehicle)).json()
    await step(client, intake, case["id"], "intake", decision="accept")
    await step(client, archive, case["id"], "archive", action="file")
    await step(client, intake, case["id"], "production")
    mailed = await step(client, intake, case["id"], "handoff")
    await client.post(
        "/api/v1/vehicle-applications/post-events",
        json={"tracking_number": mailed["tracking_number"], "event": "refused"},
        headers=actors.system,
    )
    settled = await step(client, archive, case["id"], "archive", action="settle")
    assert (settled["state"], settled["core_number_restored"]) == ("refused", True)


async def test_vh08_temporary_plate_only_with_a_plate(
    client: httpx.AsyncClient, actors: Actors, runtime: Runtime
) -> None:
    vehicle = await register_bound(client, actors, runtime)
    r = await apply(client, actors, vehicle, item="licence", temp_plate=True)
    assert r.status_code == 422


async def test_vh09_mark_needs_the_insurance_photo_and_its_check_at_intake(
    client: httpx.AsyncClient, actors: Actors, runtime: Runtime
) -> None:
    vehicle = await register_bound(client, actors, runtime)
    owner = actors.citizen(vehicle["owner_id_number"])
    r = await apply(client, actors, vehicle, item="mark", delivery="pickup")
    assert r.status_code == 201, r.text
    case = r.json()
    assert (case["state"], case["intake_due"], case["insurance_photo"]) == ("draft", None, None)
    path = f"/api/v1/vehicle-applications/{case['id']}"
    r = await client.post(f"{path}/submission", headers=owner)
    assert (r.status_code, r.json()["code"], r.json()["rule"]) == (422, "INSURANCE_PHOTO_MISSING", "VH-09")
    r = await client.put(f"{path}/insurance-photo", content=JPEG, headers=owner)
    assert r.status_code == 200, r.text
    r = await client.post(f"{path}/submission", headers=owner)
    assert (r.status_code, r.json()["state"]) == (200, "submitted")
    r = await client.post(
        f"/api/v1/vehicle-applications/{case['id']}/intake",
        json={"decision": "accept"},
        headers=clerk(actors),
    )
    assert (r.status_code, r.json()["code"]) == (422, "INSURANCE_PHOTO_NOT_CHECKED")
    done = await step(
        client, clerk(actors), case["id"], "intake", decision="accept", insurance_photo_valid=True
    )
    assert done["state"] == "accepted"


async def test_vh09_queue_shows_applications_past_their_intake_day(
    client: httpx.AsyncClient, actors: Actors, runtime: Runtime, clock: FixedClock
) -> None:
    vehicle = await register_bound(client, actors, runtime)
    case = (await apply(client, actors, vehicle)).json()  # Monday: due by the end of Tuesday
    intake = clerk(actors)
    r = await client.get(f"/api/v1/vehicle-applications/{case['id']}", headers=intake)
    assert r.json()["intake_overdue"] is False
    clock.set(datetime(2027, 3, 3, 0, 1, tzinfo=SHANGHAI))
    queue = (
        await client.get(
            "/api/v1/vehicle-applications", params={"state": "submitted", "limit": 200}, headers=intake
        )
    ).json()
    assert next(c for c in queue if c["id"] == case["id"])["intake_overdue"] is True


async def test_vh09_office_steps_only_in_order(
    client: httpx.AsyncClient, actors: Actors, runtime: Runtime
) -> None:
    vehicle = await register_bound(client, actors, runtime)
    case = (await apply(client, actors, vehicle)).json()
    r = await client.post(f"/api/v1/vehicle-applications/{case['id']}/production", headers=clerk(actors))
    assert (r.status_code, r.json()["code"]) == (409, "WRONG_STATE")
    # A citizen cannot work the queue.
    r = await client.post(
        f"/api/v1/vehicle-applications/{case['id']}/intake",
        json={"decision": "accept"},
        headers=actors.citizen(vehicle["owner_id_number"]),
    )
    assert r.status_code == 403
