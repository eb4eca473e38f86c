"""`/api/v1/vehicle-applications`: reissue (lost) and replacement (damaged) of plates, vehicle licence and
inspection mark (VH-02..VH-10): the citizen's application, the office's queue and steps, the post's
delivery updates, the archive."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Annotated, Literal

from fastapi import APIRouter, Query, Request
from pydantic import BaseModel, Field, model_validator
from sqlalchemy import select, update
from sqlalchemy.engine import RowMapping

from servicekit.clock import SHANGHAI
from servicekit.ids import new_id
from servicekit.masking import mask_phone
from servicekit.uow import Actor, UnitOfWork
from servicekit.web import (
    Conflict,
    IdempotencyKeyHeader,
    NotFound,
    Unprocessable,
    UowDep,
    actor_from,
    idempotent,
)
from servicekit.web.auth import Principal
from servicekit.workdays import WorkdayCalendar
from vehicle_service import applications as cases
from vehicle_service import domain
from vehicle_service.api.common import (
    AnyCaller,
    Archivist,
    Input,
    Intake,
    Personal,
    Phone,
    SystemOnly,
    own_vehicle,
    owner_id,
)
from vehicle_service.post import Parcel, post_service
from vehicle_service.tables import applications, vehicles

router = APIRouter(prefix="/api/v1/vehicle-applications", tags=["vehicle-applications"])
CALENDAR = WorkdayCalendar()
ITEM_NAMES = {"plate": "号牌", "licence": "行驶证", "mark": "检验合格标志"}


class ApplicationIn(Input):
    vehicle_id: uuid.UUID
    item: Literal["plate", "licence", "mark"]
    kind: Literal["reissue", "replace"]
    delivery: Literal["mail", "pickup"]
    address: Annotated[str, Field(min_length=5, max_length=300)] | None = None
    phone: Phone | None = Field(
        default=None, description="Contact for this case; default: the record's phone"
    )
    temp_plate: bool = False
    insurance_photo_ref: Annotated[str, Field(min_length=1, max_length=200)] | None = None

    @model_validator(mode="after")
    def _consistent(self) -> ApplicationIn:
        if self.delivery == "mail" and not self.address:
            raise ValueError("a mailed delivery needs an address")
        if self.temp_plate and self.item != "plate":
            raise ValueError("a temporary plate is offered only with a plate reissue or replacement (VH-08)")
        if self.item == "mark" and self.kind == "replace":
            raise ValueError("an inspection mark is reissued (补领), not replaced")
        return self


class ApplicationOut(BaseModel):
    id: uuid.UUID
    vehicle_id: uuid.UUID
    plate_number: str
    office_code: str
    item: str
    kind: str
    delivery: str
    phone: str
    temp_plate: bool
    state: str
    intake_due: datetime
    ready_at: datetime | None
    pickup_due: datetime | None
    tracking_number: str | None
    archived: bool
    returned_item_received: bool
    returned_item_destroyed: bool
    core_number_restored: bool
    refusal_reason: str | None
    created_at: datetime
    updated_at: datetime
    intake_overdue: bool = Field(
        default=False, description="VH-09: still submitted after its 1-working-day intake deadline"
    )


def _out(row: RowMapping, *, masked: bool = False, now: datetime | None = None) -> ApplicationOut:
    data = {k: row[k] for k in ApplicationOut.model_fields if k != "intake_overdue"}
    data["intake_overdue"] = now is not None and row["state"] == "submitted" and now > row["intake_due"]
    if masked:
        data["phone"] = mask_phone(data["phone"])
    return ApplicationOut.model_validate(data)


@router.post("", status_code=201, response_model=ApplicationOut, summary="Apply for a reissue or replacement")
async def apply(
    body: ApplicationIn,
    request: Request,
    uow: UowDep,
    principal: Personal,
    _key: IdempotencyKeyHeader = None,
) -> object:
    """VH-02..VH-09 as the citizen applies: counter-registered users, for vehicles they own (VH-02); no
    active one-year ban (VH-07); not in the VH-03 states; plate kinds the office offers online (VH-08);
    a licence only with its photo stored (VH-04); a second or later plate reissue is not mailed (VH-05);
    a mark only with inspection passed, insurance valid and the insurance certificate's photo (VH-09).
    The office must take it in within 1 working day (`intake_due`)."""

    async def run() -> ApplicationOut:
        async with uow:
            vehicle = await own_vehicle(uow, principal, body.vehicle_id, lock=True)
            today = uow.now.astimezone(SHANGHAI).date()
            domain.check_application(
                _facts(vehicle),
                channel=principal.channel,
                item=body.item,
                delivery=body.delivery,
                insurance_photo_ref=body.insurance_photo_ref,
                ban_until=await cases.active_ban(uow, vehicle["owner_id_number"]),
                today=today,
            )
            open_case = (
                await uow.session.execute(
                    select(applications.c.id).where(
                        applications.c.vehicle_id == vehicle["id"],
                        applications.c.item == body.item,
                        applications.c.state.in_(domain.OPEN_APPLICATION_STATES),
                    )
                )
            ).first()
            if open_case is not None:
                raise Conflict(
                    "APPLICATION_OPEN",
                    "this item already has an open application",
                    rule="VH-02",
                    extra={"application_id": str(open_case.id)},
                )
            application_id = new_id()
            await uow.session.execute(
                applications.insert().values(
                    id=application_id,
                    vehicle_id=vehicle["id"],
                    office_code=vehicle["office_code"],
                    applicant_id_number=vehicle["owner_id_number"],
                    applicant_subject=principal.subject,
                    item=body.item,
                    kind=body.kind,
                    delivery=body.delivery,
                    address=body.address,
                    phone=body.phone or vehicle["phone"],
                    temp_plate=body.temp_plate,
                    insurance_photo_ref=body.insurance_photo_ref,
                    state="submitted",
                    intake_due=CALENDAR.deadline_end_of_working_day(uow.now, 1),
                    created_at=uow.now,
                    updated_at=uow.now,
                )
            )
            row = await cases.load(uow, application_id)
            assert row is not None
            uow.emit(cases.state_event(row, "submitted", uow.now))
            uow.audit(
                actor_from(request, principal),
                "application.submitted",
                f"application:{application_id}",
                None,
                {"item": body.item, "kind": body.kind, "delivery": body.delivery},
            )
            await uow.commit()
        return _out(row)

    return await idempotent(request, principal.subject, run, status_code=201)


def _facts(vehicle: RowMapping) -> domain.VehicleFacts:
    return domain.VehicleFacts(
        plate_kind=vehicle["plate_kind"],
        state=vehicle["state"],
        flags=tuple(vehicle["flags"]),
        licence_photo_stored=vehicle["licence_photo_stored"],
        plate_reissue_count=vehicle["plate_reissue_count"],
        inspection_valid_until=vehicle["inspection_valid_until"],
        insurance_valid_until=vehicle["insurance_valid_until"],
    )


def _may_see(principal: Principal, row: RowMapping) -> bool:
    if principal.is_staff:
        return principal.office is None or principal.office == row["office_code"]
    key = owner_id(principal)
    return key is not None and key == row["applicant_id_number"]


async def _case(uow: UnitOfWork, principal: Principal, application_id: uuid.UUID) -> RowMapping:
    row = await cases.load(uow, application_id, lock=True)
    if row is None or not _may_see(principal, row):
        raise NotFound("application")
    return row


@router.get("", response_model=list[ApplicationOut], summary="My applications, or the office queue")
async def list_applications(
    uow: UowDep,
    principal: AnyCaller,
    state: Annotated[str | None, Query(max_length=24)] = None,
    limit: Annotated[int, Query(ge=1, le=200)] = 50,
) -> list[ApplicationOut]:
    """VH-09: a clerk sees the office's queue (oldest intake deadline first, by state); a citizen their own
    applications. Phones are masked in the list."""
    query = select(applications, vehicles.c.plate_number).join(
        vehicles, vehicles.c.id == applications.c.vehicle_id
    )
    if principal.is_staff:
        if principal.office:
            query = query.where(applications.c.office_code == principal.office)
        query = query.order_by(applications.c.intake_due, applications.c.id)
    else:
        query = query.where(applications.c.applicant_id_number == (owner_id(principal) or "")).order_by(
            applications.c.created_at.desc()
        )
    if state:
        query = query.where(applications.c.state == state)
    async with uow:
        rows = (await uow.session.execute(query.limit(limit))).mappings().all()
    return [_out(r, masked=True, now=uow.now) for r in rows]


@router.get("/{application_id}", response_model=ApplicationOut, summary="One application")
async def get_application(application_id: uuid.UUID, uow: UowDep, principal: AnyCaller) -> ApplicationOut:
    async with uow:
        row = await _case(uow, principal, application_id)
    return _out(row, now=uow.now)


class IntakeIn(Input):
    decision: Literal["accept", "reject"]
    reason: Annotated[str, Field(min_length=1, max_length=300)] | None = None
    insurance_photo_valid: bool | None = Field(
        default=None, description="VH-09, marks only: the photo is clear, complete, unaltered, valid, matches"
    )


@router.post("/{application_id}/intake", response_model=ApplicationOut, summary="Intake (受理)")
async def intake(
    application_id: uuid.UUID, body: IntakeIn, request: Request, uow: UowDep, principal: Intake
) -> ApplicationOut:
    """VH-09: the intake post re-checks the VH-03 states (they may have changed since the application)
    and, for a mark, the insurance certificate's photo; then accepts or rejects with a reason."""
    async with uow:
        row = await _case(uow, principal, application_id)
        vehicle = await own_vehicle_of(uow, row)
        actor = actor_from(request, principal)
        reason = body.reason
        target = "accepted" if body.decision == "accept" else "rejected"
        if target == "accepted":
            try:
                domain.check_reissue_allowed(vehicle["state"], vehicle["flags"])
            except domain.RuleError as exc:
                target, reason = "rejected", str(exc)
            if target == "accepted" and row["item"] == "mark" and body.insurance_photo_valid is not True:
                raise Unprocessable(
                    "INSURANCE_PHOTO_NOT_CHECKED", "state whether the insurance photo is valid", rule="VH-09"
                )
        elif not reason:
            raise Unprocessable("REASON_REQUIRED", "a rejection states its reason", rule="VH-09")
        after = await cases.move(
            uow, actor, row, target, reason=reason, refusal_reason=reason, decided_by=principal.subject
        )
        await uow.commit()
    return _out(after)


async def own_vehicle_of(uow: UnitOfWork, row: RowMapping) -> RowMapping:
    vehicle = (
        (
            await uow.session.execute(
                select(vehicles).where(vehicles.c.id == row["vehicle_id"]).with_for_update()
            )
        )
        .mappings()
        .one()
    )
    return vehicle


@router.post("/{application_id}/production", response_model=ApplicationOut, summary="Items produced")
async def produce(
    application_id: uuid.UUID, request: Request, uow: UowDep, principal: Intake
) -> ApplicationOut:
    """VH-09: the office made the items (and the temporary plate if asked). A plate counts toward the
    vehicle's reissues (VH-05)."""
    async with uow:
        row = await _case(uow, principal, application_id)
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
        after = await cases.move(uow, actor_from(request, principal), row, "produced")
        await uow.commit()
    return _out(after)


@router.post("/{application_id}/handoff", response_model=ApplicationOut, summary="Mail or make ready")
async def handoff(
    application_id: uuid.UUID, request: Request, uow: UowDep, principal: Intake
) -> ApplicationOut:
    """VH-09: mail goes to the post (tracking number kept); pickup becomes ready, due within one month
    (VH-07)."""
    async with uow:
        row = await _case(uow, principal, application_id)
        actor = actor_from(request, principal)
        if row["state"] != "produced":
            raise domain.WrongState(
                f"an application that is {row['state']} cannot be handed off", state=row["state"]
            )
        if row["delivery"] == "mail":
            contents = ITEM_NAMES[row["item"]] + (" 临时号牌" if row["temp_plate"] else "")
            tracking = await post_service().dispatch(
                Parcel(
                    case_id=row["id"],
                    recipient=row["applicant_id_number"][-4:],
                    phone=row["phone"],
                    address=row["address"] or "",
                    contents=contents,
                    collect_damaged_item=row["kind"] == "replace" and row["item"] != "mark",
                )
            )
            after = await cases.move(uow, actor, row, "mailed", tracking_number=tracking)
        else:
            after = await cases.move(
                uow, actor, row, "ready", ready_at=uow.now, pickup_due=domain.pickup_due(uow.now)
            )
        await uow.commit()
    return _out(after)


class PickupIn(Input):
    damaged_item_returned: bool = False


@router.post("/{application_id}/pickup", response_model=ApplicationOut, summary="Collected at the counter")
async def picked_up(
    application_id: uuid.UUID, body: PickupIn, request: Request, uow: UowDep, principal: Intake
) -> ApplicationOut:
    """VH-06: for a replaced plate or licence the damaged one is handed to the counter at pickup."""
    async with uow:
        row = await _case(uow, principal, application_id)
        if row["kind"] == "replace" and row["item"] != "mark" and not body.damaged_item_returned:
            raise Conflict(
                "DAMAGED_ITEM_NOT_RETURNED", "the damaged item is handed over at pickup", rule="VH-06"
            )
        after = await cases.move(
            uow,
            actor_from(request, principal),
            row,
            "picked_up",
            returned_item_received=body.damaged_item_returned,
        )
        await uow.commit()
    return _out(after)


@router.post("/{application_id}/missed-pickup", response_model=ApplicationOut, summary="Not collected")
async def missed_pickup(
    application_id: uuid.UUID, request: Request, uow: UowDep, principal: Intake
) -> ApplicationOut:
    """VH-07/VH-09: the office records a pickup missed for a month (the worker's sweep does it too)."""
    async with uow:
        row = await _case(uow, principal, application_id)
        if row["state"] == "ready" and row["pickup_due"] is not None and uow.now <= row["pickup_due"]:
            raise Conflict(
                "PICKUP_NOT_YET_MISSED",
                "the month for pickup has not passed",
                rule="VH-07",
                extra={"pickup_due": row["pickup_due"].isoformat()},
            )
        after = await cases.move(
            uow, actor_from(request, principal), row, "not_collected", reason="not collected within one month"
        )
        await uow.commit()
    return _out(after)


class PostEventIn(Input):
    tracking_number: Annotated[str, Field(min_length=1, max_length=64)]
    event: Literal["delivered", "refused"]
    damaged_item_collected: bool = False


post_router = APIRouter(prefix="/api/v1/vehicle-applications/post-events", tags=["vehicle-applications"])


@post_router.post("", response_model=ApplicationOut, summary="A delivery update from the post")
async def post_event(
    body: PostEventIn, request: Request, uow: UowDep, principal: SystemOnly
) -> ApplicationOut:
    """VH-05/VH-06/VH-07: the post reports delivered (with the damaged item collected, for a replacement)
    or refused; a refusal bans online reissue and replacement for a year."""
    async with uow:
        found = (
            await uow.session.execute(
                select(applications.c.id).where(applications.c.tracking_number == body.tracking_number)
            )
        ).first()
        if found is None:
            raise NotFound("parcel")
        row = await cases.load(uow, found.id, lock=True)
        assert row is not None
        actor = actor_from(request, principal)
        if row["state"] == body.event:
            return _out(row)  # the post repeats itself: nothing more happens
        if body.event == "delivered":
            after = await cases.move(
                uow, actor, row, "delivered", returned_item_received=body.damaged_item_collected
            )
        else:
            after = await cases.move(uow, actor, row, "refused", reason="delivery refused")
        await uow.commit()
    return _out(after)


class ArchiveIn(Input):
    action: Literal["file", "destroy_returned", "settle"]


@router.post("/{application_id}/archive", response_model=ApplicationOut, summary="Archive post (档案岗)")
async def archive(
    application_id: uuid.UUID, body: ArchiveIn, request: Request, uow: UowDep, principal: Archivist
) -> ApplicationOut:
    """VH-10: `file` an eligible case (intake passed); `destroy_returned` the damaged plate or licence
    handed back; `settle` a refused or missed case: restore the certificate core number when it was
    filed, otherwise withdraw the case (退办)."""
    async with uow:
        row = await _case(uow, principal, application_id)
        actor = actor_from(request, principal)
        if body.action == "file":
            if row["state"] in ("submitted", "rejected", "withdrawn") or row["archived"]:
                raise domain.WrongState(
                    f"an application that is {row['state']} is not filed", state=row["state"]
                )
            after = await _set(uow, actor, row, "application.filed", archived=True)
        elif body.action == "destroy_returned":
            if not row["returned_item_received"] or row["returned_item_destroyed"]:
                raise Conflict(
                    "NOTHING_TO_DESTROY", "no returned item is waiting for destruction", rule="VH-10"
                )
            after = await _set(
                uow, actor, row, "application.returned_item_destroyed", returned_item_destroyed=True
            )
        else:
            if row["state"] not in ("refused", "not_collected"):
                raise domain.WrongState("only refused or missed cases are settled", state=row["state"])
            if row["archived"]:
                if row["core_number_restored"]:
                    raise Conflict("ALREADY_SETTLED", "the core number is restored", rule="VH-10")
                after = await _set(
                    uow, actor, row, "application.core_number_restored", core_number_restored=True
                )
            else:
                after = await cases.move(
                    uow, actor, row, "withdrawn", reason="withdrawn after delivery failed"
                )
        await uow.commit()
    return _out(after)


async def _set(uow: UnitOfWork, actor: Actor, row: RowMapping, action: str, **values: bool) -> RowMapping:
    await uow.session.execute(
        update(applications).where(applications.c.id == row["id"]).values(updated_at=uow.now, **values)
    )
    uow.audit(actor, action, f"application:{row['id']}", None, dict(values))
    after = await cases.load(uow, row["id"])
    assert after is not None
    return after
