"""Licence photo submission (ID-12, DL-05) and review within 1 working day (ID-15)."""

from datetime import timedelta
from typing import TYPE_CHECKING

import pytest
from sqlalchemy import text

if TYPE_CHECKING:
    from tests.api.conftest import Api

pytestmark = pytest.mark.integration

SCANS = [{"kind": k, "ref": "scan://x"} for k in ("onsite_photo", "registration_form", "identity_document")]


async def _counter_citizen(api: "Api") -> tuple[str, dict[str, str]]:
    intake, review = await api.staff("clerk.intake"), await api.staff("clerk.review")
    id_number, phone = await api.person("观音"), api.new_phone()
    r = await api.client.post(
        "/api/v1/counter/registrations",
        json={
            "id_number": id_number,
            "name": "观音",
            "phone": phone,
            "password": "Passw0rd2027",
            "scans": SCANS,
        },
        headers=intake,
    )
    assert r.status_code == 201, r.text
    assert (
        await api.client.post(f"/api/v1/counter/registrations/{r.json()['id']}/approve", headers=review)
    ).status_code == 200
    return id_number, await api.bearer(phone)


async def test_id15_review_approves_a_clear_matching_photo_and_publishes_it(api: "Api") -> None:
    id_number, citizen = await _counter_citizen(api)
    review = await api.staff("clerk.review")
    r = await api.client.post(
        "/api/v1/users/me/licence-photos", json={"photo_ref": "p/1.jpg", "format": "jpeg"}, headers=citizen
    )
    assert r.status_code == 201, r.text
    photo = r.json()
    assert photo["deadline"].startswith("2027-03-02T23:59:59")  # 1 working day (WD-01)
    failing = await api.client.post(
        f"/api/v1/users/licence-photos/{photo['id']}/approve",
        json={"clear": True, "valid_format": True, "matches_registration_photo": False},
        headers=review,
    )
    assert failing.status_code == 422
    assert (failing.json()["code"], failing.json()["rule"]) == ("PHOTO_CHECKS_FAILED", "ID-15")
    r = await api.client.post(
        f"/api/v1/users/licence-photos/{photo['id']}/approve",
        json={"clear": True, "valid_format": True, "matches_registration_photo": True},
        headers=review,
    )
    assert r.status_code == 200, r.text
    assert r.json()["state"] == "approved"
    async with api.runtime.engine.connect() as conn:
        (payload,) = (
            await conn.execute(
                text(
                    "SELECT payload FROM outbox "
                    "WHERE routing_key = 'identity.licence_photo.approved.v1' AND subject = :s"
                ),
                {"s": photo["id"]},
            )
        ).scalars()
    assert payload["id_number"] == id_number
    assert payload["photo_ref"] == "p/1.jpg"


async def test_id15_queue_flags_photos_past_the_working_day(api: "Api") -> None:
    _, citizen = await _counter_citizen(api)
    review = await api.staff("clerk.review")
    photo = (
        await api.client.post(
            "/api/v1/users/me/licence-photos", json={"photo_ref": "p/2.png", "format": "png"}, headers=citizen
        )
    ).json()
    api.clock.advance(timedelta(days=2))
    queue = (await api.client.get("/api/v1/users/licence-photos?limit=100", headers=review)).json()["items"]
    assert next(p for p in queue if p["id"] == photo["id"])["overdue"] is True
    r = await api.client.post(
        f"/api/v1/users/licence-photos/{photo['id']}/reject", json={"reason": "照片模糊"}, headers=review
    )
    assert r.status_code == 200
    assert r.json()["state"] == "rejected"
    mine = (await api.client.get("/api/v1/users/me/licence-photos", headers=citizen)).json()["items"]
    assert mine[0]["reject_reason"] == "照片模糊"


async def test_id12_online_registered_users_submit_photos_at_the_counter_instead(api: "Api") -> None:
    _, phone = await api.owner_driver()
    r = await api.client.post(
        "/api/v1/users/me/licence-photos",
        json={"photo_ref": "p.jpg", "format": "jpeg"},
        headers=await api.bearer(phone),
    )
    assert r.status_code == 409
    assert r.json()["code"] == "COUNTER_REGISTRATION_REQUIRED"


async def test_id15_only_the_review_post_reaches_the_photo_queue(api: "Api") -> None:
    for role in ("clerk.intake", "clerk.archive"):
        r = await api.client.get("/api/v1/users/licence-photos", headers=await api.staff(role))
        assert r.status_code == 403
