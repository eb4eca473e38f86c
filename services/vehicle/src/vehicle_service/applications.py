"""Reissue and replacement (VH-02..VH-10): one use case per action of the citizen, the office, the post and
the archive, each writing the case, its event and its audit entry in the caller's unit of work; and the
missed-pickup sweep the worker runs. A mark's application keeps its insurance certificate's image
(VH-09) through `servicekit.documents` (AR-01, case `application:<id>`): stored while the application is
a draft, then submitted. The HTTP module (`api/applications.py`) parses, opens the unit of work, calls,
commits (`servicekit.uow.committed`) and shapes."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select, update
from sqlalchemy.engine import RowMapping
from sqlalchemy.exc import IntegrityError

from servicekit.clock import SHANGHAI
from servicekit.crypto import blind_match
from servicekit.documents import SCANS, DocumentContent, DocumentStore, StoredDocument
from servicekit.ids import new_id
from servicekit.runtime import Runtime
from servicekit.uow import SYSTEM_ACTOR, Actor, UnitOfWork
from servicekit.web import NotFound, Principal
from vehicle_service import application_records as cases
from vehicle_service import domain, records
from vehicle_service.access import own_vehicle, owner_id
from vehicle_service.post import Parcel, post_service
from vehicle_service.tables import applications, vehicles
from vehicle_service.workdays import calendar

ITEM_NAMES = {"plate": "号牌", "licence": "行驶证", "mark": "检验合格标志"}


@dataclass(frozen=True)
class Request:
    """What the citizen asks for (VH-02..VH-09)."""

    vehicle_id: uuid.UUID
    item: str
    kind: str
    delivery: str
    address: str | None
    phone: str | None
    temp_plate: bool


def facts(vehicle: RowMapping) -> domain.VehicleFacts:
    return domain.VehicleFacts(
        plate_kind=vehicle["plate_kind"],
        state=vehicle["state"],
        flags=tuple(vehicle["flags"]),
        licence_photo_stored=vehicle["licence_photo_stored"],
        plate_reissue_count=vehicle["plate_reissue_count"],
        inspection_valid_until=vehicle["inspection_valid_until"],
        insurance_valid_until=vehicle["insurance_valid_until"],
    )


async def _check_applicable(
    uow: UnitOfWork, principal: Principal, vehicle: RowMapping, item: str, delivery: str, but: object = None
) -> None:
    """VH-02..VH-09 in the office's order (`domain.check_application`) on the locked vehicle, and one open
    case per vehicle and item (`but`: the draft being submitted)."""
    domain.check_application(
        facts(vehicle),
        channel=principal.channel,
        bound=await records.is_bound(uow, principal.subject, vehicle["id"]),
        item=item,
        delivery=delivery,
        ban_until=await cases.active_ban(uow, vehicle["owner_id_number"]),
        today=uow.now.astimezone(SHANGHAI).date(),
    )
    query = select(applications.c.id).where(
        applications.c.vehicle_id == vehicle["id"],
        applications.c.item == item,
        applications.c.state.in_(domain.OPEN_APPLICATION_STATES),
    )
    if but is not None:
        query = query.where(applications.c.id != but)
    open_case = (await uow.session.execute(query)).first()
    if open_case is not None:
        raise domain.ApplicationOpen(
            "this item already has an open application", extra={"application_id": str(open_case.id)}
        )


async def apply(uow: UnitOfWork, principal: Principal, actor: Actor, ask: Request) -> RowMapping:
    """VH-02..VH-09 as the citizen applies: their own vehicle (else 404), bound to their account, then the
    rules in the office's order; one open case per vehicle and item. The vehicle's row lock serialises
    concurrent applications for it, so the open-case check holds. A mark's application opens as a draft
    that waits for its insurance image (`store_insurance_photo`, then `submit`)."""
    vehicle = await own_vehicle(uow, principal, ask.vehicle_id, lock=True)
    await _check_applicable(uow, principal, vehicle, ask.item, ask.delivery)
    state = domain.first_state(ask.item)
    # WD-01: a due date that reaches a year nobody set is refused (503) before anything is written.
    intake_due = await _intake_due(uow) if state == "submitted" else None
    application_id = new_id()
    try:
        await uow.session.execute(
            applications.insert().values(
                id=application_id,
                vehicle_id=vehicle["id"],
                office_code=vehicle["office_code"],
                applicant_id_number=vehicle["owner_id_number"],
                applicant_subject=principal.subject,
                item=ask.item,
                kind=ask.kind,
                delivery=ask.delivery,
                address=ask.address,
                phone=ask.phone or vehicle["phone"],
                temp_plate=ask.temp_plate,
                state=state,
                intake_due=intake_due,
                created_at=uow.now,
                updated_at=uow.now,
            )
        )
    except IntegrityError:  # the open-case index, should a path ever skip the vehicle's lock
        raise domain.ApplicationOpen("this item already has an open application") from None
    row = await cases.load(uow, application_id)
    assert row is not None
    if state == "submitted":
        uow.emit(cases.state_event(row, "submitted", uow.now))
    uow.audit(
        actor,
        f"application.{state}",
        case_ref(application_id),
        None,
        {"item": ask.item, "kind": ask.kind, "delivery": ask.delivery},
    )
    return row


async def _intake_due(uow: UnitOfWork) -> datetime:
    """VH-09: the office takes a submitted application in within 1 working day (WD-01)."""
    return (await calendar(uow)).deadline_end_of_working_day(uow.now, 1)


def case_ref(application_id: object) -> str:
    """The case an application's stored documents are kept with (AR-01); its audit entries name it too."""
    return f"application:{application_id}"


async def own_draft(uow: UnitOfWork, principal: Principal, application_id: uuid.UUID) -> RowMapping:
    """The applicant's own application, locked, still a draft (else 409); anyone else's answers 404."""
    row = await cases.load(uow, application_id, lock=True)
    if row is None or not _is_applicant(principal, row):
        raise NotFound("application")
    domain.check_draft(row["state"])
    return row


async def store_insurance_photo(
    uow: UnitOfWork,
    principal: Principal,
    actor: Actor,
    store: DocumentStore,
    application_id: uuid.UUID,
    content: bytes,
) -> RowMapping:
    """VH-09 / AR-01: the applicant stores the insurance certificate's image (JPEG, PNG or the insurer's
    PDF, typed by its bytes and size-checked) with their draft; stored again, it replaces the first in the
    application, which stays stored with the case."""
    row = await own_draft(uow, principal, application_id)
    document = await store.store(
        uow.session,
        content,
        case_ref=case_ref(row["id"]),
        owner=row["applicant_subject"],
        kind=domain.INSURANCE_CERTIFICATE,
        allowed=SCANS,
        created_by=principal.subject,
        now=uow.now,
    )
    return await cases.set_insurance_photo(uow, actor, row, document)


async def submit(
    uow: UnitOfWork, principal: Principal, actor: Actor, application_id: uuid.UUID
) -> RowMapping:
    """VH-09: the applicant submits their draft once its insurance image is stored; the rules of `apply`
    are checked again on the locked vehicle (its state, the ban, the binding may have changed), and the
    office's 1 working day starts now."""
    row = await own_draft(uow, principal, application_id)  # then the vehicle, as intake locks them
    vehicle = await own_vehicle(uow, principal, row["vehicle_id"], lock=True)
    domain.check_insurance_photo(row["item"], row["insurance_photo_id"] is not None)
    await _check_applicable(uow, principal, vehicle, row["item"], row["delivery"], but=row["id"])
    try:
        return await cases.move(uow, actor, row, "submitted", intake_due=await _intake_due(uow))
    except IntegrityError:  # the open-case index, should a path ever skip the vehicle's lock
        raise domain.ApplicationOpen("this item already has an open application") from None


async def insurance_photo(
    uow: UnitOfWork, principal: Principal, store: DocumentStore, application_id: uuid.UUID
) -> DocumentContent:
    """AR-01: the stored insurance image, to the applicant and to the clerks of the office once submitted;
    anyone else, a missing image or another case's document: 404."""
    row = await cases.load(uow, application_id)
    if row is None or row["insurance_photo_id"] is None:
        raise NotFound("insurance photo")

    def entitled(document: StoredDocument) -> bool:
        return _may_see(principal, row)

    return await store.open(
        uow.session, row["insurance_photo_id"], case_ref=case_ref(row["id"]), entitled=entitled
    )


def _is_applicant(principal: Principal, row: RowMapping) -> bool:
    key = owner_id(principal)
    return key is not None and key == row["applicant_id_number"]


def _may_see(principal: Principal, row: RowMapping) -> bool:
    """The applicant, or the clerks of the office once the application is submitted (a draft is not yet
    the office's)."""
    if principal.is_staff:
        office = principal.office is None or principal.office == row["office_code"]
        return office and bool(row["state"] != "draft")
    return _is_applicant(principal, row)


async def case_for(uow: UnitOfWork, principal: Principal, application_id: uuid.UUID) -> RowMapping:
    """The case, locked, or 404 when it is not there or not the caller's (their own, their office's)."""
    row = await cases.load(uow, application_id, lock=True)
    if row is None or not _may_see(principal, row):
        raise NotFound("application")
    return row


async def get(uow: UnitOfWork, principal: Principal, application_id: uuid.UUID) -> RowMapping:
    return await case_for(uow, principal, application_id)


async def listing(uow: UnitOfWork, principal: Principal, state: str | None, limit: int) -> list[RowMapping]:
    """VH-09: a clerk's office queue (oldest intake deadline first); a citizen's own applications."""
    query = select(applications, vehicles.c.plate_number).join(
        vehicles, vehicles.c.id == applications.c.vehicle_id
    )
    if principal.is_staff:
        if principal.office:
            query = query.where(applications.c.office_code == principal.office)
        query = query.where(applications.c.state != "draft")
        query = query.order_by(applications.c.intake_due, applications.c.id)
    else:
        query = query.where(
            blind_match(applications.c.applicant_id_number, owner_id(principal) or "")
        ).order_by(applications.c.created_at.desc())
    if state:
        query = query.where(applications.c.state == state)
    return list((await uow.session.execute(query.limit(limit))).mappings().all())


async def intake(
    uow: UnitOfWork,
    principal: Principal,
    actor: Actor,
    application_id: uuid.UUID,
    *,
    decision: str,
    reason: str | None,
    insurance_photo_valid: bool | None,
) -> RowMapping:
    """VH-09: accept (the VH-03 states re-checked on the locked vehicle) or reject with a reason."""
    row = await case_for(uow, principal, application_id)
    vehicle = await records.load(uow, row["vehicle_id"], lock=True)
    assert vehicle is not None
    target, why = domain.decide_intake(
        decision,
        item=row["item"],
        reason=reason,
        insurance_photo_valid=insurance_photo_valid,
        state=vehicle["state"],
        flags=vehicle["flags"],
    )
    after = await cases.move(
        uow, actor, row, target, reason=why, refusal_reason=why, decided_by=principal.subject
    )
    return after


async def produce(
    uow: UnitOfWork, principal: Principal, actor: Actor, application_id: uuid.UUID
) -> RowMapping:
    """VH-09: the office made the items (and the temporary plate if asked); a plate counts toward the
    vehicle's reissues (VH-05)."""
    row = await case_for(uow, principal, application_id)
    if row["item"] == "plate" and row["state"] == "accepted":
        await uow.session.execute(
            update(vehicles)
            .where(vehicles.c.id == row["vehicle_id"])
            .values(
                plate_reissue_count=vehicles.c.plate_reissue_count + 1,
                updated_at=uow.now,
                version=vehicles.c.version + 1,
            )
        )
    after = await cases.move(uow, actor, row, "produced")
    return after


async def handoff(
    uow: UnitOfWork, principal: Principal, actor: Actor, application_id: uuid.UUID
) -> RowMapping:
    """VH-09: mail goes to the post (its tracking number kept); pickup becomes ready, due within one month
    (VH-07)."""
    row = await case_for(uow, principal, application_id)
    domain.check_handoff(row["state"])
    if row["delivery"] == "mail":
        tracking = await post_service().dispatch(
            Parcel(
                case_id=row["id"],
                recipient=row["applicant_id_number"][-4:],
                phone=row["phone"],
                address=row["address"] or "",
                contents=ITEM_NAMES[row["item"]] + (" 临时号牌" if row["temp_plate"] else ""),
                collect_damaged_item=domain.collects_damaged_item(row["kind"], row["item"]),
            )
        )
        after = await cases.move(uow, actor, row, "mailed", tracking_number=tracking)
    else:
        after = await cases.move(
            uow, actor, row, "ready", ready_at=uow.now, pickup_due=domain.pickup_due(uow.now)
        )
    return after


async def pick_up(
    uow: UnitOfWork,
    principal: Principal,
    actor: Actor,
    application_id: uuid.UUID,
    damaged_item_returned: bool,
) -> RowMapping:
    """VH-06: collected at the counter, a replaced plate or licence handed back."""
    row = await case_for(uow, principal, application_id)
    domain.check_pickup(row["kind"], row["item"], damaged_item_returned)
    after = await cases.move(uow, actor, row, "picked_up", returned_item_received=damaged_item_returned)
    return after


async def miss_pickup(
    uow: UnitOfWork, principal: Principal, actor: Actor, application_id: uuid.UUID
) -> RowMapping:
    """VH-07/VH-09: the office records a pickup missed for a month (the sweep does it too)."""
    row = await case_for(uow, principal, application_id)
    domain.check_pickup_missed(row["state"], row["pickup_due"], uow.now)
    after = await cases.move(uow, actor, row, "not_collected", reason="not collected within one month")
    return after


async def post_event(
    uow: UnitOfWork, actor: Actor, tracking_number: str, event: str, damaged_item_collected: bool
) -> RowMapping:
    """VH-05/VH-06/VH-07: the post reports delivered (the damaged item collected, for a replacement) or
    refused (a one-year ban); a repeated report changes nothing."""
    found = (
        await uow.session.execute(
            select(applications.c.id).where(applications.c.tracking_number == tracking_number)
        )
    ).first()
    if found is None:
        raise NotFound("parcel")
    row = await cases.load(uow, found.id, lock=True)
    assert row is not None
    if row["state"] == event:
        return row
    if event == "delivered":
        after = await cases.move(uow, actor, row, "delivered", returned_item_received=damaged_item_collected)
    else:
        after = await cases.move(uow, actor, row, "refused", reason="delivery refused")
    return after


async def archive(
    uow: UnitOfWork, principal: Principal, actor: Actor, application_id: uuid.UUID, action: str
) -> RowMapping:
    """VH-10: the archive post files, destroys the returned item, or settles (`domain.archive_step`)."""
    row = await case_for(uow, principal, application_id)
    step = domain.archive_step(
        action,
        state=row["state"],
        archived=row["archived"],
        returned_item_received=row["returned_item_received"],
        returned_item_destroyed=row["returned_item_destroyed"],
        core_number_restored=row["core_number_restored"],
    )
    if step == "file":
        after = await cases.set_flags(uow, actor, row, "application.filed", archived=True)
    elif step == "destroy_returned":
        after = await cases.set_flags(
            uow, actor, row, "application.returned_item_destroyed", returned_item_destroyed=True
        )
    elif step == "restore_core_number":
        after = await cases.set_flags(
            uow, actor, row, "application.core_number_restored", core_number_restored=True
        )
    else:
        after = await cases.move(uow, actor, row, "withdrawn", reason="withdrawn after delivery failed")
    return after


async def sweep_missed_pickups(runtime: Runtime) -> int:
    """VH-07/VH-09: items ready for pickup and not collected within one month become `not_collected`
    (with the ban). Runs in the worker; the platform clock decides."""
    done = 0
    async with runtime.uow() as uow:
        rows = (
            await uow.session.execute(
                select(applications.c.id)
                .where(applications.c.state == "ready", applications.c.pickup_due < uow.now)
                .order_by(applications.c.pickup_due)
                .limit(500)
                .with_for_update(skip_locked=True)
            )
        ).all()
        for (application_id,) in rows:
            row = await cases.load(uow, application_id)
            assert row is not None
            await cases.move(uow, SYSTEM_ACTOR, row, "not_collected", reason="not collected within one month")
            done += 1
        await uow.commit()
    return done
