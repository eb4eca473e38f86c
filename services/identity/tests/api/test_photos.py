"""Licence photo submission (ID-12, DL-05) and review within 1 working day (ID-15)."""

from datetime import timedelta
from typing import TYPE_CHECKING

import pytest
from sqlalchemy import text

from servicekit.testing import outbox_payloads

if TYPE_CHECKING:
    from tests.api.conftest import Api

pytestmark = pytest.mark.integration

JPEG = b"\xff\xd8\xff\xe0\x00\x10JFIF\x00" + bytes(range(256)) * 8 + b"\xff\xd9"
PNG = b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR" + b"\x00" * 128


async def _counter_citizen(api: "Api") -> tuple[str, dict[str, str]]:
    intake, review = await api.staff("clerk.intake"), await api.staff("clerk.review")
    id_number, phone = await api.person("观音"), api.new_phone()
    body = {"id_number": id_number, "name": "观音", "phone": phone, "password": "Passw0rd2027"}
    r = await api.counter_case(body, intake)
    assert r.status_code == 200, r.text
    assert (
        await api.client.post(f"/api/v1/counter/registrations/{r.json()['id']}/approve", headers=review)
    ).status_code == 200
    return id_number, await api.bearer(phone)


async def test_id15_review_approves_a_clear_matching_photo_and_publishes_it(api: "Api") -> None:
    id_number, citizen = await _counter_citizen(api)
    review = await api.staff("clerk.review")
    r = await api.client.post(
        "/api/v1/users/me/licence-photos", content=JPEG, headers={**citizen, "Content-Type": "image/jpeg"}
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
        (payload,) = await outbox_payloads(conn, "identity.licence_photo.approved.v1", subject=photo["id"])
    assert payload["id_number"] == id_number
    assert payload["photo_ref"] == f"/api/v1/users/licence-photos/{photo['id']}/content"
    assert payload["format"] == "jpeg"


async def test_id15_queue_flags_photos_past_the_working_day(api: "Api") -> None:
    _, citizen = await _counter_citizen(api)
    review = await api.staff("clerk.review")
    photo = (
        await api.client.post(
            "/api/v1/users/me/licence-photos", content=PNG, headers={**citizen, "Content-Type": "image/png"}
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
        content=JPEG,
        headers={**(await api.bearer(phone)), "Content-Type": "image/jpeg"},
    )
    assert r.status_code == 409
    assert r.json()["code"] == "COUNTER_REGISTRATION_REQUIRED"


async def test_id15_only_the_review_post_reaches_the_photo_queue(api: "Api") -> None:
    for role in ("clerk.intake", "clerk.archive"):
        r = await api.client.get("/api/v1/users/licence-photos", headers=await api.staff(role))
        assert r.status_code == 403


async def test_ar01_licence_photo_bytes_are_stored_and_served_to_the_owner_and_clerks_only(
    api: "Api",
) -> None:
    _, citizen = await _counter_citizen(api)
    _, someone_else = await _counter_citizen(api)
    # The client calls it a PNG; the bytes are a JPEG, and the bytes decide.
    r = await api.client.post(
        "/api/v1/users/me/licence-photos", content=JPEG, headers={**citizen, "Content-Type": "image/png"}
    )
    assert r.status_code == 201, r.text
    photo = r.json()
    assert photo["format"] == "jpeg"
    url = photo["content"]
    assert url == f"/api/v1/users/licence-photos/{photo['id']}/content"
    for reader in (citizen, await api.staff("clerk.review"), await api.staff("clerk.archive")):
        served = await api.client.get(url, headers=reader)
        assert served.status_code == 200, served.text
        assert served.content == JPEG
        assert served.headers["content-type"] == "image/jpeg"
        assert served.headers["x-content-type-options"] == "nosniff"
        assert "no-store" in served.headers["cache-control"]
    # Another person, a clerk of another office, and an unknown id: all "not found", never 403.
    for stranger in (someone_else, await api.staff("clerk.review", office="440100")):
        refused = await api.client.get(url, headers=stranger)
        assert refused.status_code == 404
        assert refused.json()["code"] == "NOT_FOUND"
    missing = "/api/v1/users/licence-photos/0190c9a2-6b7e-7d1a-9f3e-5c2b8a4d1e62/content"
    assert (await api.client.get(missing, headers=citizen)).status_code == 404
    assert (await api.client.get(url)).status_code == 401
    # Kept with its case (AR-01): the document row names the photo's case and refuses deletion.
    async with api.runtime.engine.connect() as conn:
        case_ref, owner, size = (
            await conn.execute(
                text(
                    "SELECT d.case_ref, d.owner, d.size FROM documents d "
                    "JOIN licence_photos p ON p.document_id = d.id WHERE p.id = :id"
                ),
                {"id": photo["id"]},
            )
        ).one()
    assert (case_ref, owner, size) == (f"licence_photo:{photo['id']}", photo["account_id"], len(JPEG))


async def test_ar01_licence_photo_type_and_size_are_checked(api: "Api") -> None:
    _, citizen = await _counter_citizen(api)
    html = await api.client.post(
        "/api/v1/users/me/licence-photos",
        content=b"<html><script>alert(1)</script></html>",
        headers={**citizen, "Content-Type": "image/jpeg"},
    )
    assert html.status_code == 415
    assert (html.json()["code"], html.json()["rule"]) == ("DOCUMENT_TYPE_NOT_ALLOWED", "AR-01")
    pdf = await api.client.post(
        "/api/v1/users/me/licence-photos", content=b"%PDF-1.7\n%%EOF", headers=citizen
    )
    assert pdf.status_code == 415  # a PDF is a scan, not a photo
    huge = JPEG + b"\x00" * (5 * 1024 * 1024)
    too_large = await api.client.post(
        "/api/v1/users/me/licence-photos", content=huge, headers={**citizen, "Content-Type": "image/jpeg"}
    )
    assert too_large.status_code == 413
    assert too_large.json()["code"] == "DOCUMENT_TOO_LARGE"
    mine = (await api.client.get("/api/v1/users/me/licence-photos", headers=citizen)).json()["items"]
    assert mine == []  # nothing refused was kept
