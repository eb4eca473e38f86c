"""Counter registration (ID-09 to ID-11): intake, review and archive queues, deadlines, outcomes as events."""

from datetime import timedelta
from typing import TYPE_CHECKING, Any

import pytest
from stdnum.cn import uscc

from servicekit.testing import outbox_payloads

if TYPE_CHECKING:
    from tests.api.conftest import Api

pytestmark = pytest.mark.integration

PERSONAL_SCANS = ("onsite_photo", "registration_form", "identity_document")
UNIT_SCANS = (
    "onsite_photo",
    "registration_form",
    "organisation_certificate",
    "power_of_attorney",
    "agent_identity_document",
)


async def _case(
    api: "Api", intake: dict[str, str], scans: tuple[str, ...] = PERSONAL_SCANS, **over: Any
) -> dict[str, Any]:
    """Opened, its scans stored (AR-01) and submitted by intake."""
    id_number = over.pop("id_number", None) or await api.person("孙悟空")
    body = {
        "category": "personal",
        "id_number": id_number,
        "name": "孙悟空",
        "phone": api.new_phone(),
        "password": "Passw0rd2027",
        **over,
    }
    r = await api.counter_case(body, intake, scans)
    assert r.status_code == 200, r.text
    result: dict[str, Any] = {**r.json(), "_phone": body["phone"], "_id_number": id_number}
    return result


async def _outbox(api: "Api", routing_key: str, registration_id: str) -> list[dict[str, Any]]:
    async with api.runtime.engine.connect() as conn:
        return await outbox_payloads(conn, routing_key, subject=registration_id)


async def test_id09_intake_review_archive_then_the_citizen_signs_in_with_counter_capabilities(
    api: "Api",
) -> None:
    intake = await api.staff("clerk.intake")
    review = await api.staff("clerk.review")
    archive = await api.staff("clerk.archive")
    case = await _case(api, intake)
    assert case["stage"] == "review"
    assert case["registry_check"] == "passed"
    # WD-01: 1 working day; opened Monday 2027-03-01 → end of Tuesday
    assert case["deadline"].startswith("2027-03-02T23:59:59")
    queue = (
        await api.client.get("/api/v1/counter/registrations?queue=review&limit=100", headers=review)
    ).json()
    assert case["id"] in {c["id"] for c in queue["items"]}

    r = await api.client.post(f"/api/v1/counter/registrations/{case['id']}/approve", headers=review)
    assert r.status_code == 200, r.text
    assert r.json()["stage"] == "archive"
    approved = await _outbox(api, "identity.registration.approved.v1", case["id"])
    assert len(approved) == 1
    assert approved[0]["account_kind"] == "personal"
    # ID-06: the counter registration's phone replaces the phone on vehicle and licence records
    (changed,) = await _outbox(api, "identity.person.phone_changed.v1", case["id"])
    assert changed["phone"] == case["_phone"]
    assert changed["id_number"] == case["_id_number"]

    incomplete = await api.client.post(
        f"/api/v1/counter/registrations/{case['id']}/archive",
        json={"filed": ["registration_form_original"]},
        headers=archive,
    )
    assert incomplete.status_code == 422
    assert incomplete.json()["code"] == "MISSING_ORIGINALS"
    r = await api.client.post(
        f"/api/v1/counter/registrations/{case['id']}/archive",
        json={"filed": ["registration_form_original", "identity_document_copy"]},
        headers=archive,
    )
    assert r.status_code == 200, r.text
    assert r.json()["stage"] == "filed"

    me = (await api.client.get("/api/v1/users/me", headers=await api.bearer(case["_phone"]))).json()
    assert me["channel"] == "counter"
    assert "reissue_replace_plates" in me["capabilities"]  # ID-07: every personal service
    assert "licence_photo_submission" in me["capabilities"]


async def test_id09_review_returns_a_mismatch_to_intake_which_corrects_and_resubmits(api: "Api") -> None:
    intake = await api.staff("clerk.intake")
    review = await api.staff("clerk.review")
    case = await _case(api, intake)
    r = await api.client.post(
        f"/api/v1/counter/registrations/{case['id']}/return", json={"reason": "照片不清晰"}, headers=review
    )
    assert r.status_code == 200
    assert r.json()["stage"] == "intake"
    intake_queue = (
        await api.client.get("/api/v1/counter/registrations?queue=intake&limit=100", headers=intake)
    ).json()
    mine = [c for c in intake_queue["items"] if c["id"] == case["id"]]
    assert mine[0]["return_reason"] == "照片不清晰"
    # the review post no longer reaches it
    assert (
        await api.client.post(f"/api/v1/counter/registrations/{case['id']}/approve", headers=review)
    ).status_code == 404
    # the unclear photo stored again, then the case corrected and sent back
    path = f"/api/v1/counter/registrations/{case['id']}"
    (photo,) = await api.store_scans(path, ["onsite_photo"], intake)
    r = await api.client.put(path, json={}, headers=intake)
    assert r.status_code == 200, r.text
    assert r.json()["stage"] == "review"
    assert next(s for s in r.json()["scans"] if s["kind"] == "onsite_photo") == photo


async def test_id09_reject_publishes_the_reason(api: "Api") -> None:
    intake = await api.staff("clerk.intake")
    review = await api.staff("clerk.review")
    case = await _case(api, intake)
    r = await api.client.post(
        f"/api/v1/counter/registrations/{case['id']}/reject",
        json={"reason": "证件与本人不符"},
        headers=review,
    )
    assert r.status_code == 200
    assert r.json()["stage"] == "rejected"
    (event,) = await _outbox(api, "identity.registration.rejected.v1", case["id"])
    assert event["reason"] == "证件与本人不符"


async def test_id09_registry_unreachable_at_intake_is_rechecked_at_review(api: "Api") -> None:
    intake = await api.staff("clerk.intake")
    review = await api.staff("clerk.review")
    registry = api.app.state.identity.registry
    registry.unreachable = True
    try:
        case = await _case(api, intake)
        assert case["registry_check"] == "pending"
        refused = await api.client.post(f"/api/v1/counter/registrations/{case['id']}/approve", headers=review)
        assert refused.status_code == 409
        assert refused.json()["code"] == "REGISTRY_CHECK_PENDING"
    finally:
        registry.unreachable = False
    r = await api.client.post(f"/api/v1/counter/registrations/{case['id']}/approve", headers=review)
    assert r.status_code == 200, r.text
    assert r.json()["registry_check"] == "passed"


async def test_id10_intake_refuses_a_disqualifying_condition(api: "Api") -> None:
    intake = await api.staff("clerk.intake")
    id_number = await api.person("猪八戒", disqualifications=["drug_rehab_in_progress"])
    r = await api.client.post(
        "/api/v1/counter/registrations",
        json={
            "id_number": id_number,
            "name": "猪八戒",
            "phone": api.new_phone(),
            "password": "Passw0rd2027",
        },
        headers=intake,
    )
    assert r.status_code == 409
    assert (r.json()["code"], r.json()["rule"]) == ("DISQUALIFYING_CONDITION", "ID-10")


async def test_id09_intake_needs_the_photo_and_scans(api: "Api") -> None:
    intake = await api.staff("clerk.intake")
    body = {
        "id_number": await api.person(),
        "name": "张三",
        "phone": api.new_phone(),
        "password": "Passw0rd2027",
    }
    r = await api.counter_case(body, intake, PERSONAL_SCANS[:1])
    assert r.status_code == 422
    assert (r.json()["code"], r.json()["rule"]) == ("MISSING_SCANS", "ID-09")
    assert "identity_document" in r.json()["detail"]


async def test_id09_overdue_flag_after_the_working_day_deadline(api: "Api") -> None:
    intake = await api.staff("clerk.intake")
    review = await api.staff("clerk.review")
    case = await _case(api, intake)

    async def flag() -> bool:
        items = (
            await api.client.get("/api/v1/counter/registrations?queue=review&limit=100", headers=review)
        ).json()
        return next(c["overdue"] for c in items["items"] if c["id"] == case["id"])

    assert await flag() is False
    api.clock.advance(timedelta(days=1, hours=14))  # Tue 23:00: still within
    assert await flag() is False
    api.clock.advance(timedelta(hours=2))  # Wed 01:00
    assert await flag() is True


async def test_id09_each_clerk_post_reaches_only_its_own_queue(api: "Api") -> None:
    intake = await api.staff("clerk.intake")
    review = await api.staff("clerk.review")
    archive = await api.staff("clerk.archive")
    case = await _case(api, intake)
    for headers, queue in ((intake, "review"), (archive, "review"), (review, "intake"), (review, "archive")):
        r = await api.client.get(f"/api/v1/counter/registrations?queue={queue}", headers=headers)
        assert r.status_code == 403
    # a case at review is invisible to the other posts, and they cannot act on it
    assert (
        await api.client.get(f"/api/v1/counter/registrations/{case['id']}", headers=archive)
    ).status_code == 404
    assert (
        await api.client.post(f"/api/v1/counter/registrations/{case['id']}/approve", headers=intake)
    ).status_code == 403
    r = await api.client.post(
        f"/api/v1/counter/registrations/{case['id']}/archive",
        json={"filed": ["registration_form_original", "identity_document_copy"]},
        headers=archive,
    )
    assert r.status_code == 404


async def test_id09_a_citizen_reaches_only_their_own_case(api: "Api") -> None:
    intake = await api.staff("clerk.intake")
    case = await _case(api, intake)
    _other_id, other_phone = await api.owner_driver()
    r = await api.client.get(
        f"/api/v1/counter/registrations/{case['id']}", headers=await api.bearer(other_phone)
    )
    assert r.status_code == 404
    r = await api.client.get(
        "/api/v1/counter/registrations?queue=review", headers=await api.bearer(other_phone)
    )
    assert r.status_code == 403


async def test_id09_a_clerk_of_another_office_does_not_see_the_case(api: "Api") -> None:
    intake = await api.staff("clerk.intake")
    review_elsewhere = await api.staff("clerk.review", office="130200")
    case = await _case(api, intake)
    assert (
        await api.client.get(f"/api/v1/counter/registrations/{case['id']}", headers=review_elsewhere)
    ).status_code == 404


async def test_id11_unit_account_is_created_at_intake_and_archived_with_its_originals(api: "Api") -> None:
    intake = await api.staff("clerk.intake")
    archive = await api.staff("clerk.archive")
    import secrets

    base = "91130100MA" + secrets.token_hex(3).upper()[:6] + "X"
    credit_code = base + uscc.calc_check_digit(base)
    agent = await api.person("唐僧")
    case = await _case(
        api,
        intake,
        category="unit",
        id_number=agent,
        name="唐僧",
        scans=UNIT_SCANS,
        unit={
            "unit_kind": "enterprise",
            "unit_name": "石家庄取经汽车销售有限公司",
            "credit_code": credit_code,
            "mailing_address": "河北省石家庄市长安区建设北大街1号",
            "postcode": "050000",
            "legal_representative_name": "如来",
            "legal_representative_phone": api.new_phone(),
            "requested_items": ["temporary_plates"],
            "delegated_roles": ["dealer"],
        },
    )
    assert case["stage"] == "archive"
    assert case["account_id"]
    (approved,) = await _outbox(api, "identity.registration.approved.v1", case["id"])
    assert approved["account_kind"] == "unit"
    me = (await api.client.get("/api/v1/users/me", headers=await api.bearer(credit_code))).json()
    assert me["category"] == "unit"
    assert "temporary_plates" in me["capabilities"]  # ID-08: the dealer's delegated service
    assert "dealer" in me["roles"]
    r = await api.client.post(
        f"/api/v1/counter/registrations/{case['id']}/archive",
        json={
            "filed": [
                "registration_form_original",
                "organisation_certificate_copy",
                "power_of_attorney_original",
                "agent_identity_document_copy",
            ]
        },
        headers=archive,
    )
    assert r.status_code == 200, r.text


async def test_id06_counter_registration_publishes_the_phone_for_vehicle_and_licence_records(
    api: "Api",
) -> None:
    intake = await api.staff("clerk.intake")
    review = await api.staff("clerk.review")
    case = await _case(api, intake)
    assert await _outbox(api, "identity.person.phone_changed.v1", case["id"]) == []  # not before approval
    assert (
        await api.client.post(f"/api/v1/counter/registrations/{case['id']}/approve", headers=review)
    ).status_code == 200
    (changed,) = await _outbox(api, "identity.person.phone_changed.v1", case["id"])
    assert changed["phone"] == case["_phone"]
    assert changed["id_number"] == case["_id_number"]
    assert changed["registration_id"] == case["id"]
    assert changed["name"] == "孙悟空"


async def test_id09_queue_lists_mask_identity_numbers_and_phones(api: "Api") -> None:
    intake = await api.staff("clerk.intake")
    review = await api.staff("clerk.review")
    case = await _case(api, intake)
    items = (
        await api.client.get("/api/v1/counter/registrations?queue=review&limit=100", headers=review)
    ).json()["items"]
    listed = next(c for c in items if c["id"] == case["id"])
    idn, phone = case["_id_number"], case["_phone"]
    assert listed["id_number"] == idn[:4] + "*" * 10 + idn[-4:]
    assert listed["phone"] == phone[:3] + "****" + phone[-4:]
    assert idn not in str(items)
    assert phone not in str(items)
    assert "scans" not in listed  # the list carries no documents; the case itself does
