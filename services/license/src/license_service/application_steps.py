"""The office's steps on a licence application (DL-02..DL-09): intake (a deferral approved and written,
DL-06; a licence accepted), production (a renewal or over-age exchange written on the record, DL-07,
DL-08), hand-off to the post or the counter, pick-up, the post's reports, the archive; and the worker's
sweeps: missed pick-ups (VH-07) and applications whose certificate never came (DL-09). Each writes the
case, its event and its audit entry in the caller's unit of work; the record changes only through
`records.change`."""

from __future__ import annotations

import uuid

from sqlalchemy import select
from sqlalchemy.engine import RowMapping

from license_service import application_records as cases
from license_service import domain, points, records
from license_service.applications import case_for, today_of
from license_service.tables import licence_applications
from servicekit.post import Parcel, post_service
from servicekit.runtime import Runtime
from servicekit.uow import SYSTEM_ACTOR, Actor, UnitOfWork
from servicekit.web import NotFound, Principal

# DL-01's states as a refusal reason reads them (the person is told it by SMS).
STATE_NAMES = {"revoked": "已吊销", "cancelled": "已注销", "suspended": "被暂扣", "full_points": "已满分"}


async def intake(
    uow: UnitOfWork,
    principal: Principal,
    actor: Actor,
    application_id: uuid.UUID,
    *,
    decision: str,
    reason: str | None,
) -> RowMapping:
    """The intake post: reject with a reason (told to the person), or take it on: a deferral is approved
    and written on the record at once (DL-06), a licence accepted for production with the photo on file
    (DL-05). A licence revoked or cancelled since the application is rejected with that reason."""
    row = await case_for(uow, principal, application_id)
    if decision == "reject":
        if not reason:
            raise domain.ReasonRequired("a rejection states its reason", rule=domain.RULE_OF[row["kind"]])
        return await cases.move(
            uow, actor, row, "reject", reason=reason, refusal_reason=reason, decided_by=principal.subject
        )
    record = await records.load(uow, row["record_id"], lock=True)
    assert record is not None
    if record["state"] in ("revoked", "cancelled"):
        why = f"驾驶证{STATE_NAMES[record['state']]}"
        return await cases.move(
            uow, actor, row, "reject", reason=why, refusal_reason=why, decided_by=principal.subject
        )
    if row["kind"] in domain.DEFERRALS:
        domain.move_application(row["kind"], row["state"], "approve")  # before the record is written
        await _write_deferral(uow, actor, row, record)
        return await cases.move(uow, actor, row, "approve", decided_by=principal.subject)
    return await cases.move(
        uow, actor, row, "accept", decided_by=principal.subject, photo_document_id=record["photo_document_id"]
    )


async def _write_deferral(uow: UnitOfWork, actor: Actor, row: RowMapping, record: RowMapping) -> None:
    """DL-06: the review or medical-certificate date moves to the deferred date on the record; a renewal
    deferral leaves the expiry as it is (the licence is not valid meanwhile: 延期期间不得驾驶机动车) and
    counts DL-07's window from the deferred date instead (`renewal_deferred_to`)."""
    note = f"{domain.KIND_NAMES[row['kind']]}至{row['deferred_to'].isoformat()}"
    if row["kind"] == "defer_review":
        await records.change(
            uow, actor, record, "validity", "licence.review_deferred", note, review_due=row["deferred_to"]
        )
    elif row["kind"] == "defer_medical":
        await records.change(
            uow, actor, record, "validity", "licence.medical_deferred", note, medical_due=row["deferred_to"]
        )


async def full_points_in_term(uow: UnitOfWork, record: RowMapping) -> bool:
    """DL-07's ladder: did a scoring cycle of this term reach 12 points (DL-12)? Read from the point
    entries (points.py), so a decision revoked later does not count against the holder."""
    if record["state"] == "full_points":
        return True
    return await points.reached_full_points_since(uow, record, record["valid_from"])


async def produce(
    uow: UnitOfWork, principal: Principal, actor: Actor, application_id: uuid.UUID
) -> RowMapping:
    """The office made the card. A renewal writes the new validity (DL-07's 6/10/long-term ladder), an
    over-age exchange the new classes (DL-08), both through `records.change`; a reissue or replacement
    changes nothing on the record."""
    row = await case_for(uow, principal, application_id)
    domain.move_application(row["kind"], row["state"], "produce")  # before the record is written
    if row["kind"] in ("renew", "over_age"):
        record = await records.load(uow, row["record_id"], lock=True)
        assert record is not None
        if row["kind"] == "renew":
            valid_from, valid_until = domain.renewed_validity(
                record["valid_from"], record["valid_until"], await full_points_in_term(uow, record)
            )
            await records.change(
                uow,
                actor,
                record,
                "validity",
                "licence.renewed",
                None,
                valid_from=valid_from,
                valid_until=valid_until,
            )
        else:
            classes = domain.over_age_exchange(
                records.classes_of(record), record["birth_date"], today_of(uow), row["target_class"]
            )
            await records.change(
                uow, actor, record, "classes", "licence.over_age_exchanged", None, classes=sorted(classes)
            )
    return await cases.move(uow, actor, row, "produce")


async def handoff(
    uow: UnitOfWork, principal: Principal, actor: Actor, application_id: uuid.UUID
) -> RowMapping:
    """Mail goes to the post (its tracking number kept); pick-up becomes ready, due within a month
    (VH-07)."""
    row = await case_for(uow, principal, application_id)
    if row["delivery"] == "mail":
        domain.move_application(row["kind"], row["state"], "mail")  # before the post has the parcel
        tracking = await post_service().dispatch(
            Parcel(
                case_id=row["id"],
                recipient=row["id_number"][-4:],
                phone=row["phone"],
                address=row["address"] or "",
                contents="机动车驾驶证",
                collect_damaged_item=row["kind"] != "reissue",
            )
        )
        return await cases.move(uow, actor, row, "mail", tracking_number=tracking)
    return await cases.move(uow, actor, row, "hold", ready_at=uow.now, pickup_due=domain.pickup_due(uow.now))


async def pick_up(
    uow: UnitOfWork, principal: Principal, actor: Actor, application_id: uuid.UUID, old_card_returned: bool
) -> RowMapping:
    row = await case_for(uow, principal, application_id)
    return await cases.move(uow, actor, row, "pick_up", old_card_returned=old_card_returned)


NOT_COLLECTED = "超过一个月未领取"
REFUSED = "邮寄送达时被拒收"


async def miss_pickup(
    uow: UnitOfWork, principal: Principal, actor: Actor, application_id: uuid.UUID
) -> RowMapping:
    """VH-07: the office records a pick-up missed for a month (the sweep does it too): a one-year ban."""
    row = await case_for(uow, principal, application_id)
    domain.check_pickup_missed(row["state"], row["pickup_due"], uow.now)
    return await cases.move(uow, actor, row, "miss_pickup", reason=NOT_COLLECTED)


async def post_event(
    uow: UnitOfWork, actor: Actor, tracking_number: str, event: str, old_card_collected: bool
) -> RowMapping:
    """The post reports delivered (the old card collected, for a replacement or an exchange) or refused
    (VH-07: a one-year ban); a repeated report changes nothing."""
    found = (
        await uow.session.execute(
            select(licence_applications.c.id).where(licence_applications.c.tracking_number == tracking_number)
        )
    ).first()
    if found is None:
        raise NotFound("parcel")
    row = await cases.load(uow, found.id, lock=True)
    assert row is not None
    if event == "delivered":
        if row["state"] == "delivered":
            return row
        return await cases.move(uow, actor, row, "deliver", old_card_returned=old_card_collected)
    if row["state"] == "refused":
        return row
    return await cases.move(uow, actor, row, "refuse_delivery", reason=REFUSED)


async def archive(
    uow: UnitOfWork, principal: Principal, actor: Actor, application_id: uuid.UUID
) -> RowMapping:
    """The archive post files a finished case (and destroys a card refused or not collected)."""
    row = await case_for(uow, principal, application_id)
    return await cases.move(uow, actor, row, "archive")


async def sweep_missed_pickups(runtime: Runtime) -> int:
    """VH-07: licences ready and not collected within a month become `not_collected`, with the ban."""
    done = 0
    async with runtime.uow() as uow:
        rows = (
            (
                await uow.session.execute(
                    select(licence_applications)
                    .where(
                        licence_applications.c.state == "ready", licence_applications.c.pickup_due < uow.now
                    )
                    .order_by(licence_applications.c.pickup_due)
                    .limit(500)
                    .with_for_update(skip_locked=True)
                )
            )
            .mappings()
            .all()
        )
        for row in rows:
            await cases.move(uow, SYSTEM_ACTOR, row, "miss_pickup", reason=NOT_COLLECTED)
            done += 1
        await uow.commit()
    return done


async def sweep_medical_lapses(runtime: Runtime) -> int:
    """DL-09: an application whose hospital certificate has not come within its wait is rejected with that
    reason (told by SMS), which frees its slot for a new application."""
    done = 0
    async with runtime.uow() as uow:
        rows = (
            (
                await uow.session.execute(
                    select(licence_applications)
                    .where(
                        licence_applications.c.state == "awaiting_medical",
                        licence_applications.c.medical_wait_until < uow.now,
                    )
                    .order_by(licence_applications.c.medical_wait_until)
                    .limit(500)
                    .with_for_update(skip_locked=True)
                )
            )
            .mappings()
            .all()
        )
        for row in rows:
            reason = domain.LAPSED_REASON
            await cases.move(uow, SYSTEM_ACTOR, row, "reject", reason=reason, refusal_reason=reason)
            done += 1
        await uow.commit()
    return done
