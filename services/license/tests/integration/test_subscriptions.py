"""What license takes from identity's events: ID-06 (the counter's phone on the licence record) and DL-05
(the licence photo the review post approved, ID-15), each change of a record published."""

from __future__ import annotations

import uuid
from datetime import datetime, timedelta
from typing import Any

import httpx
import pytest

from license_service import subscriptions as subs
from servicekit.clock import SHANGHAI
from servicekit.runtime import Runtime
from servicekit.testing import new_phone, new_resident_id

from .conftest import Actors, audits_about, deliver, events_about, issue
from .factories import licence_body

pytestmark = pytest.mark.integration

APPROVED = datetime(2027, 3, 1, 9, 30, tzinfo=SHANGHAI)


def phone_changed(number: str, phone: str, changed_at: datetime) -> dict[str, Any]:
    """identity's `identity.person.phone_changed.v1` data (its published example's shape)."""
    return {
        "id_kind": "resident_id",
        "id_number": number,
        "name": "张三",
        "phone": phone,
        "registration_id": str(uuid.uuid4()),
        "changed_at": changed_at.isoformat(),
    }


def photo_approved(number: str, approved_at: datetime = APPROVED) -> dict[str, Any]:
    """identity's `identity.licence_photo.approved.v1` data."""
    photo_id = str(uuid.uuid4())
    return {
        "photo_id": photo_id,
        "account_id": str(uuid.uuid4()),
        "id_kind": "resident_id",
        "id_number": number,
        "photo_ref": f"/api/v1/users/licence-photos/{photo_id}/content",
        "format": "jpeg",
        "approved_at": approved_at.isoformat(),
        "phone": "13800138000",
    }


async def _record(client: httpx.AsyncClient, actors: Actors, made: dict[str, Any]) -> dict[str, Any]:
    r = await client.get(f"/api/v1/licences/{made['id']}", headers=actors.system)
    assert r.status_code == 200
    data: dict[str, Any] = r.json()
    return data


async def test_id06_the_counter_registrations_phone_replaces_the_phone_on_the_licence_record(
    client: httpx.AsyncClient, actors: Actors, runtime: Runtime
) -> None:
    made = await issue(client, actors)
    phone = new_phone()
    await deliver(runtime, subs.PHONE_CHANGED, phone_changed(made["number"], phone, APPROVED))
    after = await _record(client, actors, made)
    assert (after["phone"], after["version"]) == (phone, 2)
    kind, payload = (await events_about(runtime, made["id"]))[-1]
    assert (kind, payload["change"], payload["phone"]) == ("license.record.changed.v1", "phone", phone)
    audit = (await audits_about(runtime, f"licence:{made['id']}"))[-1]
    assert audit["action"] == "licence.phone_replaced_by_counter_registration"


async def test_id06_an_older_phone_change_arriving_late_does_not_overwrite_a_newer_one(
    client: httpx.AsyncClient, actors: Actors, runtime: Runtime
) -> None:
    made = await issue(client, actors)
    newer, older = new_phone(), new_phone()
    later = APPROVED + timedelta(hours=1)
    await deliver(runtime, subs.PHONE_CHANGED, phone_changed(made["number"], newer, later))
    await deliver(
        runtime, subs.PHONE_CHANGED, phone_changed(made["number"], older, later - timedelta(minutes=5))
    )
    after = await _record(client, actors, made)
    assert (after["phone"], after["version"]) == (newer, 2)


async def test_id06_a_phone_change_for_a_person_without_a_licence_or_a_cancelled_one_changes_nothing(
    client: httpx.AsyncClient, actors: Actors, runtime: Runtime
) -> None:
    await deliver(runtime, subs.PHONE_CHANGED, phone_changed(new_resident_id(), new_phone(), APPROVED))
    made = await issue(client, actors)
    r = await client.post(
        f"/api/v1/licences/{made['id']}/state-changes",
        json={"action": "cancel", "reason": "注销"},
        headers=actors.system,
    )
    assert r.status_code == 200
    await deliver(
        runtime,
        subs.PHONE_CHANGED,
        phone_changed(made["number"], new_phone(), APPROVED + timedelta(hours=1)),
    )
    after = await _record(client, actors, made)
    assert (after["phone"], after["version"]) == (made["phone"], 2)


async def test_dl05_an_approved_photo_is_stored_on_the_record_with_its_expiry(
    client: httpx.AsyncClient, actors: Actors, runtime: Runtime
) -> None:
    made = await issue(client, actors)
    data = photo_approved(made["number"])
    await deliver(runtime, subs.LICENCE_PHOTO_APPROVED, data)
    after = await _record(client, actors, made)
    # approved on 1 March: current for six months, to the last day of August
    assert (after["photo_document_id"], after["photo_valid_until"]) == (data["photo_id"], "2027-08-31")
    kind, payload = (await events_about(runtime, made["id"]))[-1]
    assert (kind, payload["change"]) == ("license.record.changed.v1", "photo")
    await deliver(runtime, subs.LICENCE_PHOTO_APPROVED, data)  # told twice: nothing more
    assert (await _record(client, actors, made))["version"] == 2


async def test_dl05_an_older_approval_arriving_late_is_not_stored_over_a_newer_one(
    client: httpx.AsyncClient, actors: Actors, runtime: Runtime
) -> None:
    made = await issue(client, actors)
    newer = photo_approved(made["number"], APPROVED + timedelta(days=2))
    older = photo_approved(made["number"], APPROVED)
    await deliver(runtime, subs.LICENCE_PHOTO_APPROVED, newer)
    await deliver(runtime, subs.LICENCE_PHOTO_APPROVED, older)
    after = await _record(client, actors, made)
    assert (after["photo_document_id"], after["photo_valid_until"], after["version"]) == (
        newer["photo_id"],
        "2027-09-02",
        2,
    )


async def test_dl05_a_photo_approved_before_the_record_came_is_taken_up_when_it_is_issued(
    client: httpx.AsyncClient, actors: Actors, runtime: Runtime
) -> None:
    number = new_resident_id()
    data = photo_approved(number)
    await deliver(runtime, subs.LICENCE_PHOTO_APPROVED, data)
    r = await client.post("/api/v1/licences", json=licence_body(number=number), headers=actors.system)
    assert r.status_code == 201, r.text
    assert (r.json()["photo_document_id"], r.json()["photo_valid_until"]) == (data["photo_id"], "2027-08-31")
