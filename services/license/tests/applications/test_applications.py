"""DL-02, DL-03, DL-05 and VH-07 for driving licences: the citizen's application through the office's
queue, the post and the archive, against the real license_test database."""

from __future__ import annotations

from datetime import date, datetime

import httpx
import pytest
from sqlalchemy import select

from license_service import records
from license_service.application_records import load
from license_service.application_steps import sweep_missed_pickups
from license_service.receipt import lines
from license_service.subscriptions import VehicleDeliveryBan, keep_delivery_ban
from license_service.tables import licence_delivery_bans
from servicekit.clock import SHANGHAI, FixedClock
from servicekit.crypto import blind_match
from servicekit.post import LOCAL_POST
from servicekit.runtime import Runtime
from servicekit.testing import new_resident_id
from servicekit.uow import SYSTEM_ACTOR

from .conftest import ADDRESS, TODAY, Desk, applied, apply, days, envelope, events_about, issue, step

pytestmark = pytest.mark.integration


async def test_dl02_a_lost_licence_is_reissued_by_mail_with_a_clerk_working_the_queue(
    client: httpx.AsyncClient, desk: Desk, runtime: Runtime
) -> None:
    record = await issue(runtime, desk)
    case = await applied(client, desk, record)
    assert (case["kind"], case["rule"], case["state"], case["delivery"]) == (
        "reissue",
        "DL-02",
        "submitted",
        "mail",
    )
    queue = (
        await client.get("/api/v1/licence-applications", params={"state": "submitted"}, headers=desk.intake)
    ).json()
    assert [c["id"] for c in queue] == [case["id"]]
    assert queue[0]["phone"] == f"{record['phone'][:3]}****{record['phone'][-4:]}"
    accepted = await step(client, desk.intake, case["id"], "intake", decision="accept")
    assert accepted["state"] == "accepted"
    await step(client, desk.intake, case["id"], "production")
    mailed = await step(client, desk.intake, case["id"], "handoff")
    assert mailed["state"] == "mailed"
    parcel = LOCAL_POST.parcels[mailed["tracking_number"]]
    assert (parcel.address, parcel.contents, parcel.collect_damaged_item) == (ADDRESS, "机动车驾驶证", False)
    r = await client.post(
        "/api/v1/licence-applications/post-events",
        json={"tracking_number": mailed["tracking_number"], "event": "delivered"},
        headers=desk.system,
    )
    assert r.status_code == 200, r.text
    assert r.json()["state"] == "delivered"
    filed = await step(client, desk.archive, case["id"], "archive")
    assert filed["state"] == "archived"
    mine = await client.get(
        f"/api/v1/licence-applications/{case['id']}", headers=desk.citizen(record["number"])
    )
    assert mine.json()["state"] == "archived"
    states = [p["state"] for t, p in await events_about(runtime, case["id"])]
    assert states == ["submitted", "accepted", "produced", "mailed", "delivered", "archived"]
    # A reissue changes nothing on the record: its version is the issue's.
    assert [t for t, _ in await events_about(runtime, str(record["id"]))] == ["license.record.issued.v1"]


async def test_dl02_every_refusal_at_intake_states_its_reason_and_is_published(
    client: httpx.AsyncClient, desk: Desk, runtime: Runtime
) -> None:
    record = await issue(runtime, desk)
    case = await applied(client, desk, record, delivery="pickup", address=None)
    r = await client.post(
        f"/api/v1/licence-applications/{case['id']}/intake", json={"decision": "reject"}, headers=desk.intake
    )
    assert (r.status_code, r.json()["code"]) == (422, "REASON_REQUIRED")
    rejected = await step(
        client, desk.intake, case["id"], "intake", decision="reject", reason="申请人身份信息不一致"
    )
    assert (rejected["state"], rejected["refusal_reason"]) == ("rejected", "申请人身份信息不一致")
    (_, event) = (await events_about(runtime, case["id"]))[-1]
    assert (event["state"], event["reason"], event["phone"]) == (
        "rejected",
        "申请人身份信息不一致",
        record["phone"],
    )
    # Closed: a new application may be made.
    await applied(client, desk, record, delivery="pickup", address=None)


async def test_dl02_online_registered_users_are_refused(
    client: httpx.AsyncClient, desk: Desk, runtime: Runtime
) -> None:
    record = await issue(runtime, desk)
    for kind, rule, extra in (
        ("reissue", "DL-02", {}),
        ("replace", "DL-03", {}),
        (
            "defer_review",
            "DL-06",
            {"delivery": None, "address": None, "months": 6, "deferral_reason": "abroad"},
        ),
    ):
        r = await apply(client, desk, record, channel="online", kind=kind, **extra)
        assert r.status_code == 409, r.text
        assert (r.json()["code"], r.json()["rule"]) == ("COUNTER_REGISTERED_USERS_ONLY", rule)


async def test_dl02_someone_elses_application_and_a_missing_licence_answer_404(
    client: httpx.AsyncClient, desk: Desk, runtime: Runtime
) -> None:
    mine, theirs = await issue(runtime, desk), await issue(runtime, desk)
    case = await applied(client, desk, theirs)
    for path in (
        f"/api/v1/licence-applications/{case['id']}",
        f"/api/v1/licence-applications/{case['id']}/receipt",
    ):
        r = await client.get(path, headers=desk.citizen(mine["number"]))
        assert r.status_code == 404, path
    other_office = desk.tokens.headers(desk.tokens.clerk(roles=("clerk.intake",), office="139999"))
    r = await client.post(
        f"/api/v1/licence-applications/{case['id']}/intake", json={"decision": "accept"}, headers=other_office
    )
    assert r.status_code == 404
    listed = (await client.get("/api/v1/licence-applications", headers=desk.citizen(mine["number"]))).json()
    assert listed == []
    r = await client.post(
        "/api/v1/licence-applications",
        json={"kind": "reissue", "delivery": "pickup"},
        headers=desk.citizen(new_resident_id()),  # no licence on the platform
    )
    assert r.status_code == 404


async def test_dl02_the_receipt_is_a_pdf_with_the_identity_number_masked(
    client: httpx.AsyncClient, desk: Desk, runtime: Runtime
) -> None:
    record = await issue(runtime, desk)
    case = await applied(client, desk, record)
    r = await client.get(
        f"/api/v1/licence-applications/{case['id']}/receipt", headers=desk.citizen(record["number"])
    )
    assert r.status_code == 200
    assert r.headers["content-type"] == "application/pdf"
    assert r.content.startswith(b"%PDF-")
    async with runtime.uow() as uow:
        row = await load(uow, case["id"])
    assert row is not None
    text = "\n".join(lines(row, record["name"]))
    assert record["number"] not in text
    assert record["phone"] not in text
    assert ADDRESS not in text
    assert "遗失补领驾驶证" in text
    assert f"{record['number'][:4]}**********{record['number'][-4:]}" in text
    r = await client.get(f"/api/v1/licence-applications/{case['id']}/receipt", headers=desk.intake)
    assert r.status_code == 200


async def test_dl03_a_damaged_licence_is_replaced_and_picked_up_with_the_old_card(
    client: httpx.AsyncClient, desk: Desk, runtime: Runtime
) -> None:
    record = await issue(runtime, desk)
    case = await applied(client, desk, record, kind="replace", delivery="pickup", address=None)
    assert case["rule"] == "DL-03"
    await step(client, desk.intake, case["id"], "intake", decision="accept")
    await step(client, desk.intake, case["id"], "production")
    ready = await step(client, desk.intake, case["id"], "handoff")
    assert ready["state"] == "ready"
    assert datetime.fromisoformat(ready["pickup_due"]).astimezone(SHANGHAI).date() == date(2027, 4, 1)
    done = await step(client, desk.intake, case["id"], "pickup", old_card_returned=True)
    assert (done["state"], done["old_card_returned"]) == ("picked_up", True)


async def test_dl03_one_open_card_application_at_a_time(
    client: httpx.AsyncClient, desk: Desk, runtime: Runtime
) -> None:
    """Every kind that produces a card shares one slot: a replacement while a reissue is open is refused,
    a deferral is not."""
    record = await issue(runtime, desk, review_due=date(2027, 9, 1))
    first = await applied(client, desk, record)
    r = await apply(client, desk, record, kind="replace")
    assert (r.status_code, r.json()["code"], r.json()["rule"]) == (409, "APPLICATION_OPEN", "DL-03")
    assert r.json()["application_id"] == first["id"]
    await applied(
        client,
        desk,
        record,
        kind="defer_review",
        delivery=None,
        address=None,
        months=3,
        deferral_reason="abroad",
    )


async def test_dl03_a_revoked_licence_is_not_replaced_and_one_revoked_meanwhile_is_rejected_with_the_reason(
    client: httpx.AsyncClient, desk: Desk, runtime: Runtime
) -> None:
    record = await issue(runtime, desk)
    case = await applied(client, desk, record, kind="replace")
    async with runtime.uow() as uow:
        row = await records.load(uow, record["id"], lock=True)
        assert row is not None
        await records.move(uow, SYSTEM_ACTOR, row, "revoke", "吊销")
        await uow.commit()
    rejected = await step(client, desk.intake, case["id"], "intake", decision="accept")
    assert (rejected["state"], rejected["refusal_reason"]) == ("rejected", "驾驶证已吊销")
    r = await apply(client, desk, record, kind="replace")
    assert (r.status_code, r.json()["code"], r.json()["rule"]) == (409, "LICENCE_STATE_BLOCKS", "DL-03")


async def test_dl05_a_new_card_needs_a_current_photo_a_deferral_does_not(
    client: httpx.AsyncClient, desk: Desk, runtime: Runtime
) -> None:
    expired = await issue(runtime, desk, photo_valid_until=TODAY - days(1), medical_due=date(2027, 6, 1))
    r = await apply(client, desk, expired)
    assert (r.status_code, r.json()["code"], r.json()["rule"]) == (409, "LICENCE_PHOTO_NEEDED", "DL-05")
    none = await issue(runtime, desk, photo_valid_until=None)
    r = await apply(client, desk, none, kind="replace")
    assert (r.status_code, r.json()["code"]) == (409, "LICENCE_PHOTO_NEEDED")
    await applied(
        client,
        desk,
        expired,
        kind="defer_medical",
        delivery=None,
        address=None,
        months=2,
        deferral_reason="abroad",
    )
    # The photo accepted at intake is the one the card is made with.
    record = await issue(runtime, desk)
    case = await applied(client, desk, record)
    await step(client, desk.intake, case["id"], "intake", decision="accept")
    async with runtime.uow() as uow:
        row = await load(uow, case["id"])
    assert row is not None
    assert row["photo_document_id"] == record["photo_document_id"]


async def _mailed(
    client: httpx.AsyncClient, desk: Desk, runtime: Runtime
) -> tuple[dict[str, object], dict[str, object]]:
    record = await issue(runtime, desk)
    case = await applied(client, desk, record)
    await step(client, desk.intake, case["id"], "intake", decision="accept")
    await step(client, desk.intake, case["id"], "production")
    return dict(record), await step(client, desk.intake, case["id"], "handoff")


async def test_vh07_licence_delivery_refused_bars_online_reissue_for_a_year(
    client: httpx.AsyncClient, desk: Desk, runtime: Runtime, clock: FixedClock
) -> None:
    record, mailed = await _mailed(client, desk, runtime)
    report = {"tracking_number": mailed["tracking_number"], "event": "refused"}
    for _ in range(2):  # a repeated report changes nothing
        r = await client.post("/api/v1/licence-applications/post-events", json=report, headers=desk.system)
        assert (r.status_code, r.json()["state"]) == (200, "refused")
    bans = [
        p for t, p in await events_about(runtime, str(mailed["id"])) if t == "license.delivery_ban.imposed.v1"
    ]
    assert len(bans) == 1
    assert (bans[0]["until"], bans[0]["reason"], bans[0]["phone"]) == (
        "2028-02-29",
        "refused",
        record["phone"],
    )
    for kind in ("reissue", "replace"):
        r = await apply(client, desk, record, kind=kind, delivery="pickup", address=None)
        assert (r.status_code, r.json()["code"], r.json()["rule"]) == (409, "DELIVERY_BAN", "VH-07")
        assert r.json()["until"] == "2028-02-29"
    await step(client, desk.archive, str(mailed["id"]), "archive")
    clock.set(datetime(2028, 3, 1, 9, 0, tzinfo=SHANGHAI))  # the anniversary: the ban is over
    await applied(client, desk, record, delivery="pickup", address=None)


async def test_vh07_licence_delivery_not_collected_in_a_month_is_swept_and_bans(
    client: httpx.AsyncClient, desk: Desk, runtime: Runtime, clock: FixedClock
) -> None:
    record = await issue(runtime, desk)
    case = await applied(client, desk, record, delivery="pickup", address=None)
    await step(client, desk.intake, case["id"], "intake", decision="accept")
    await step(client, desk.intake, case["id"], "production")
    ready = await step(client, desk.intake, case["id"], "handoff")
    r = await client.post(f"/api/v1/licence-applications/{case['id']}/missed-pickup", headers=desk.intake)
    assert (r.status_code, r.json()["code"]) == (409, "PICKUP_NOT_YET_MISSED")
    clock.set(datetime.fromisoformat(ready["pickup_due"]) + days(1))
    assert await sweep_missed_pickups(runtime) >= 1
    r = await client.get(f"/api/v1/licence-applications/{case['id']}", headers=desk.intake)
    assert r.json()["state"] == "not_collected"
    async with runtime.engine.connect() as conn:
        ban = (
            await conn.execute(
                select(licence_delivery_bans).where(licence_delivery_bans.c.case_id == case["id"])
            )
        ).one()
    assert (ban.reason, ban.source, ban.until) == ("not_collected", "license", date(2028, 4, 1))
    r = await apply(client, desk, record)
    assert (r.status_code, r.json()["code"]) == (409, "DELIVERY_BAN")


async def test_vh07_licence_delivery_a_vehicle_ban_bars_reissue_and_mails_no_renewal(
    client: httpx.AsyncClient, desk: Desk, runtime: Runtime
) -> None:
    """vehicle's `delivery_ban` event reaches license's handler: no online reissue or replacement of the
    licence until its last day; a renewal is still taken, for pick-up only. A redelivery keeps one ban."""
    record = await issue(runtime, desk, valid_until=date(2027, 5, 6))
    data = {
        "id_kind": "resident_id",
        "id_number": record["number"],
        "until": "2027-12-31",
        "reason": "not_collected",
        "case_id": "vehicle-case-" + str(record["id"]),
        "imposed_at": "2027-01-01T09:00:00+08:00",
        "phone": record["phone"],
        "item": "plate",
    }
    for _ in range(2):
        async with runtime.uow() as uow:
            await keep_delivery_ban(
                uow,
                VehicleDeliveryBan.model_validate(data),
                envelope("vehicle.delivery_ban.imposed.v1", data),
            )
            await uow.commit()
    async with runtime.engine.connect() as conn:
        kept = (
            await conn.execute(
                select(licence_delivery_bans).where(
                    blind_match(licence_delivery_bans.c.id_number, record["number"])
                )
            )
        ).all()
    assert [(b.source, b.until) for b in kept] == [("vehicle", date(2027, 12, 31))]
    r = await apply(client, desk, record)
    assert (r.status_code, r.json()["code"], r.json()["until"]) == (409, "DELIVERY_BAN", "2027-12-31")
    r = await apply(client, desk, record, kind="renew")
    assert (r.status_code, r.json()["code"]) == (409, "DELIVERY_BAN")
    await applied(client, desk, record, kind="renew", delivery="pickup", address=None)
