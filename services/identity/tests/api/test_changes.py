"""Personal counter changes (ID-13, seed §16 and §19): intake with the owner's documents scanned, the review
post within 1 working day (WD-01), the outcome by SMS (events notify consumes), ID-13's limit of 3."""

import secrets
from datetime import timedelta
from typing import TYPE_CHECKING, Any

import pytest

from servicekit.testing import outbox_payloads

from .conftest import CHANGE_SCANS, PDF

if TYPE_CHECKING:
    from tests.api.conftest import Api

pytestmark = pytest.mark.integration

APPROVED = "identity.counter_change.approved.v1"
REJECTED = "identity.counter_change.rejected.v1"


async def _vehicle(api: "Api", id_number: str | None = None, plate: str = "冀A12345") -> str:
    ref = "veh-" + secrets.token_hex(6)
    r = await api.record(
        "vehicle",
        ref,
        id_number=id_number or api.new_resident_id(),
        phone=api.new_phone(),
        state="registered",
        plate_number=plate,
    )
    assert r.status_code == 200, r.text
    return ref


async def _person(api: "Api") -> tuple[str, str, dict[str, str], str]:
    """(account id, identity number, the person's bearer headers, phone)"""
    id_number, phone = await api.owner_driver()
    me = await api.bearer(phone)
    return (await api.client.get("/api/v1/users/me", headers=me)).json()["id"], id_number, me, phone


async def _events(api: "Api", routing_key: str, change_id: str) -> list[dict[str, Any]]:
    async with api.runtime.engine.connect() as conn:
        return await outbox_payloads(conn, routing_key, subject=change_id)


async def _refs(api: "Api", me: dict[str, str]) -> set[str]:
    items = (await api.client.get("/api/v1/users/me/bindings", headers=me)).json()["items"]
    return {b["ref"] for b in items}


async def test_id13_a_counter_binding_waits_for_review_within_one_working_day_then_sms(api: "Api") -> None:
    account_id, _, me, phone = await _person(api)
    intake, review = await api.staff("clerk.intake"), await api.staff("clerk.review")
    ref = await _vehicle(api)
    r = await api.change_intake(account_id, ref, intake)
    assert r.status_code == 200, r.text
    change = r.json()
    assert (change["stage"], change["kind"], change["data"]["owned"]) == ("review", "bind_vehicle", False)
    # WD-01: submitted Monday 2027-03-01 → end of Tuesday
    assert change["deadline"].startswith("2027-03-02T23:59:59")
    # the owner's documents are stored with the change as scans (AR-01)
    owner_documents = [
        s for s in change["scans"] if s["kind"] in ("owner_identity_document", "vehicle_licence")
    ]
    assert len(owner_documents) == 2
    assert all(s["content"] and s["document_id"] for s in owner_documents)
    assert ref not in await _refs(api, me)  # nothing bound before review
    # The queue is oldest first and other tests' changes may wait ahead of this one: read it to its end.
    queued: set[str] = set()
    cursor: str | None = None
    while True:
        params = {"queue": "review", "limit": 100, **({"cursor": cursor} if cursor else {})}
        page = (await api.client.get("/api/v1/users/counter-changes", params=params, headers=review)).json()
        queued |= {c["id"] for c in page["items"]}
        cursor = page["next_cursor"]
        if cursor is None:
            break
    assert change["id"] in queued

    r = await api.client.post(f"/api/v1/users/counter-changes/{change['id']}/approve", headers=review)
    assert r.status_code == 200, r.text
    assert (r.json()["stage"], r.json()["deadline"]) == ("approved", None)
    assert ref in await _refs(api, me)
    (sms,) = await _events(api, APPROVED, change["id"])
    assert (sms["phone"], sms["change_kind"], sms["items"]) == (
        phone,
        "bind_vehicle",
        "绑定非本人机动车冀A12345",
    )
    again = await api.client.post(f"/api/v1/users/counter-changes/{change['id']}/approve", headers=review)
    assert again.status_code == 404  # no longer in the review queue


async def test_id13_review_rejects_with_the_reason_by_sms_and_binds_nothing(api: "Api") -> None:
    account_id, _, me, phone = await _person(api)
    intake, review = await api.staff("clerk.intake"), await api.staff("clerk.review")
    ref = await _vehicle(api)
    change = (await api.change_intake(account_id, ref, intake)).json()
    r = await api.client.post(
        f"/api/v1/users/counter-changes/{change['id']}/reject",
        json={"reason": "行驶证已过有效期"},
        headers=review,
    )
    assert r.status_code == 200, r.text
    assert (r.json()["stage"], r.json()["reject_reason"]) == ("rejected", "行驶证已过有效期")
    (sms,) = await _events(api, REJECTED, change["id"])
    assert (sms["phone"], sms["reason"]) == (phone, "行驶证已过有效期")
    assert ref not in await _refs(api, me)
    assert await _events(api, APPROVED, change["id"]) == []


async def test_id13_another_persons_vehicle_needs_the_owners_documents_checked_and_scanned(
    api: "Api",
) -> None:
    account_id, id_number, _, _ = await _person(api)
    intake = await api.staff("clerk.intake")
    ref = await _vehicle(api)
    without_owner_scans = [k for k in CHANGE_SCANS if k != "vehicle_licence"]
    body = {"account_id": account_id, "kind": "bind_vehicle", "ref": ref}
    opened = await api.client.post("/api/v1/users/counter-changes", json=body, headers=intake)
    assert opened.status_code == 201, opened.text
    path = f"/api/v1/users/counter-changes/{opened.json()['id']}"
    await api.store_scans(path, CHANGE_SCANS[:2], intake)
    r = await api.client.post(f"{path}/submission", json={"owner_documents_checked": True}, headers=intake)
    assert (r.status_code, r.json()["code"]) == (422, "MISSING_SCANS")
    await api.store_scans(path, without_owner_scans[2:], intake)
    for checked in (True, False):
        r = await api.client.post(
            f"{path}/submission", json={"owner_documents_checked": checked}, headers=intake
        )
        assert r.status_code == 422, r.text
        assert (r.json()["code"], r.json()["rule"]) == ("OWNER_DOCUMENTS_REQUIRED", "ID-13")
    await api.store_scans(path, ["vehicle_licence"], intake)
    r = await api.client.post(f"{path}/submission", json={"owner_documents_checked": False}, headers=intake)
    assert (r.status_code, r.json()["code"]) == (422, "OWNER_DOCUMENTS_REQUIRED")
    r = await api.client.post(f"{path}/submission", json={"owner_documents_checked": True}, headers=intake)
    assert (r.status_code, r.json()["stage"]) == (200, "review")
    # the person's own vehicle needs no owner's documents, but still goes to review
    own = await _vehicle(api, id_number)
    r = await api.change_intake(
        account_id, own, intake, kinds=CHANGE_SCANS[:3], owner_documents_checked=False
    )
    assert r.status_code == 200, r.text
    assert (r.json()["stage"], r.json()["data"]["owned"]) == ("review", True)


async def test_id13_open_changes_count_towards_the_three_at_intake(api: "Api") -> None:
    account_id, _, _, _ = await _person(api)
    intake = await api.staff("clerk.intake")
    for _ in range(3):
        assert (await api.change_intake(account_id, await _vehicle(api), intake)).status_code == 200
    r = await api.change_intake(account_id, await _vehicle(api), intake)
    assert r.status_code == 409
    assert (r.json()["code"], r.json()["rule"]) == ("NON_OWNED_VEHICLE_LIMIT", "ID-13")


async def test_id13_review_returns_to_intake_which_corrects_and_resubmits(api: "Api") -> None:
    account_id, _, _, _ = await _person(api)
    intake, review = await api.staff("clerk.intake"), await api.staff("clerk.review")
    change = (await api.change_intake(account_id, await _vehicle(api), intake)).json()
    r = await api.client.post(
        f"/api/v1/users/counter-changes/{change['id']}/return",
        json={"reason": "行驶证影像不清晰"},
        headers=review,
    )
    assert r.status_code == 200, r.text
    assert (r.json()["stage"], r.json()["return_reason"], r.json()["deadline"]) == (
        "intake",
        "行驶证影像不清晰",
        None,
    )
    queue = (await api.client.get("/api/v1/users/counter-changes?queue=intake", headers=intake)).json()[
        "items"
    ]
    assert change["id"] in {c["id"] for c in queue}
    api.clock.advance(timedelta(days=1))  # corrected on Tuesday: a new working day to review it
    path = f"/api/v1/users/counter-changes/{change['id']}"
    clearer = PDF + b"% rescanned\n"
    stored = await api.client.put(f"{path}/scans/vehicle_licence", content=clearer, headers=intake)
    assert stored.status_code == 201, stored.text
    r = await api.client.put(path, json={"owner_documents_checked": True}, headers=intake)
    assert r.status_code == 200, r.text
    assert r.json()["stage"] == "review"
    assert r.json()["deadline"].startswith("2027-03-03T23:59:59")
    assert [h["stage"] for h in r.json()["history"]] == ["intake", "review", "intake", "review"]
    served = await api.client.get(f"{path}/scans/vehicle_licence", headers=review)
    assert served.content == clearer
    # review's post only: intake cannot approve, a citizen cannot reach the queue
    assert (
        await api.client.post(f"/api/v1/users/counter-changes/{change['id']}/approve", headers=intake)
    ).status_code == 403


async def test_id13_wd01_a_change_is_overdue_after_its_working_day(api: "Api") -> None:
    account_id, _, _, _ = await _person(api)
    intake, review = await api.staff("clerk.intake"), await api.staff("clerk.review")
    change = (await api.change_intake(account_id, await _vehicle(api), intake)).json()

    async def overdue() -> bool:
        r = await api.client.get(f"/api/v1/users/counter-changes/{change['id']}", headers=review)
        flag: bool = r.json()["overdue"]
        return flag

    assert await overdue() is False
    api.clock.advance(timedelta(days=1, hours=14))  # Tue 23:00: still within
    assert await overdue() is False
    api.clock.advance(timedelta(hours=2))  # Wed 01:00
    assert await overdue() is True


async def test_id13_a_details_change_takes_effect_on_approval(api: "Api") -> None:
    account_id, _, me, _ = await _person(api)
    intake, review = await api.staff("clerk.intake"), await api.staff("clerk.review")
    r = await api.client.post(
        "/api/v1/users/counter-changes",
        json={
            "account_id": account_id,
            "kind": "details",
            "details": {"email": "zhang@example.cn", "postcode": "050000"},
        },
        headers=intake,
    )
    assert r.status_code == 201, r.text
    path = f"/api/v1/users/counter-changes/{r.json()['id']}"
    await api.store_scans(path, CHANGE_SCANS[:3], intake)
    r = await api.client.post(f"{path}/submission", json={}, headers=intake)
    assert r.status_code == 200, r.text
    change = r.json()
    assert (await api.client.get("/api/v1/users/me", headers=me)).json().get("email") != "zhang@example.cn"
    r = await api.client.post(f"/api/v1/users/counter-changes/{change['id']}/approve", headers=review)
    assert r.status_code == 200, r.text
    assert (await api.client.get("/api/v1/users/me", headers=me)).json()["email"] == "zhang@example.cn"
    (sms,) = await _events(api, APPROVED, change["id"])
    assert sms["items"] == "变更电子信箱、邮政编码"


async def test_id13_a_citizen_cannot_enter_a_counter_change(api: "Api") -> None:
    account_id, _, me, _ = await _person(api)
    r = await api.change_intake(account_id, await _vehicle(api), me)
    assert r.status_code == 403
    assert (await api.client.get("/api/v1/users/counter-changes?queue=review", headers=me)).status_code == 403


async def test_id13_the_review_queue_pages_oldest_first_within_the_office(api: "Api") -> None:
    office = "13" + "".join(secrets.choice("0123456789") for _ in range(4))
    intake = await api.staff("clerk.intake", office=office)
    review = await api.staff("clerk.review", office=office)
    opened = []
    for _ in range(3):
        account_id, _, _, _ = await _person(api)
        r = await api.change_intake(account_id, await _vehicle(api), intake)
        assert r.status_code == 200, r.text
        opened.append(r.json()["id"])
        api.clock.advance(timedelta(minutes=1))
    first = (
        await api.client.get("/api/v1/users/counter-changes?queue=review&limit=2", headers=review)
    ).json()
    assert [c["id"] for c in first["items"]] == opened[:2]
    url = f"/api/v1/users/counter-changes?queue=review&limit=2&cursor={first['next_cursor']}"
    second = (await api.client.get(url, headers=review)).json()
    assert ([c["id"] for c in second["items"]], second["next_cursor"]) == (opened[2:], None)
    r = await api.client.get("/api/v1/users/counter-changes?queue=review&cursor=nonsense", headers=review)
    assert (r.status_code, r.json()["code"]) == (422, "INVALID_CURSOR")
    other = await api.staff("clerk.review", office="139999")
    r = await api.client.get(f"/api/v1/users/counter-changes/{opened[0]}", headers=other)
    assert r.status_code == 404
