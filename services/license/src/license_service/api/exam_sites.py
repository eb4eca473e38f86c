"""`/api/v1/exams/sites` and `/api/v1/exams/slots`: examination venues, their published slots, the cut-off
decision and a slot's roster (DL-11). The use cases are `exam_slots.py`; this module parses, calls and
shapes."""

from __future__ import annotations

import uuid
from datetime import date, datetime
from typing import Annotated, Self, cast

from fastapi import APIRouter, Depends, Query, Request
from pydantic import BaseModel, Field, model_validator
from sqlalchemy.engine import RowMapping

from license_service import exam_slots
from license_service.api.common import CLERKS, Input, OfficeCode
from license_service.api.exams import NO_NUL
from license_service.domain import LicenceClass, Subject
from servicekit.masking import mask_id_number
from servicekit.uow import UnitOfWork, committed
from servicekit.web import Forbidden, NotFound, Principal, UowDep, actor_from, require_roles

router = APIRouter(prefix="/api/v1/exams", tags=["exams"])

# The office that runs the exams: its own systems, or its administrator at the console.
Office = Annotated[Principal, Depends(require_roles("system", "clerk.admin"))]
Staff = Annotated[Principal, Depends(require_roles(*CLERKS, "system"))]
AnyCaller = Annotated[Principal, Depends(require_roles("citizen", "unit", *CLERKS, "system"))]


def check_office(principal: Principal, office_code: str) -> None:
    """A clerk acts for their own office's sites only (a `system` client for any): else 404."""
    if not principal.has_any("system") and principal.office != office_code:
        raise NotFound("exam site")


# --- sites ---------------------------------------------------------------------------------------


class SiteIn(Input):
    name: Annotated[str, Field(min_length=1, max_length=100, pattern=NO_NUL)]
    address: Annotated[str, Field(min_length=1, max_length=300, pattern=NO_NUL)]
    office_code: OfficeCode
    subjects: Annotated[list[Subject], Field(min_length=1, max_length=4)]


class SiteOut(BaseModel):
    id: uuid.UUID
    name: str
    address: str
    office_code: str
    subjects: list[Subject]


def _site_out(row: RowMapping) -> SiteOut:
    return SiteOut(
        id=row["id"],
        name=row["name"],
        address=row["address"],
        office_code=row["office_code"],
        subjects=list(row["subjects"]),
    )


@router.post("/sites", status_code=201, response_model=SiteOut, summary="Publish an examination venue")
async def add_site(body: SiteIn, request: Request, uow: UowDep, principal: Office) -> SiteOut:
    """DL-11: an office publishes an examination venue (考场) and the subjects it examines."""
    if not principal.has_any("system") and principal.office != body.office_code:
        raise Forbidden("an administrator publishes sites of their own office")
    actor = actor_from(request, principal)
    row = await committed(
        uow, exam_slots.add_site, actor, body.name, body.address, body.office_code, body.subjects
    )
    return _site_out(row)


@router.get("/sites", response_model=list[SiteOut], summary="Examination venues of an office")
async def list_sites(
    uow: UowDep, principal: AnyCaller, office_code: Annotated[str, Query(pattern=r"^\d{6}$")]
) -> list[SiteOut]:
    return [_site_out(r) for r in await committed(uow, exam_slots.sites_of, office_code)]


# --- slots ---------------------------------------------------------------------------------------


class SlotIn(Input):
    subject: Subject
    classes: Annotated[list[LicenceClass], Field(min_length=1, max_length=17)]
    starts_at: datetime
    capacity: Annotated[int, Field(ge=1, le=100_000)]
    booking_opens_at: datetime
    cutoff_at: datetime

    @model_validator(mode="after")
    def _times(self) -> Self:
        for name in ("starts_at", "booking_opens_at", "cutoff_at"):
            if getattr(self, name).tzinfo is None:
                raise ValueError(f"{name} needs an offset, e.g. 2027-03-15T08:30:00+08:00")
        if not self.booking_opens_at < self.cutoff_at <= self.starts_at:
            raise ValueError("booking_opens_at < cutoff_at <= starts_at: seats are decided before the exam")
        return self


class SlotOut(BaseModel):
    id: uuid.UUID
    site_id: uuid.UUID
    site_name: str
    office_code: str
    subject: Subject
    classes: list[LicenceClass]
    starts_at: datetime
    capacity: int
    booking_opens_at: datetime
    cutoff_at: datetime
    state: str
    requests: int = Field(description="requests so far while open; those decided once decided")
    seated: int | None
    decided_at: datetime | None


def slot_out(row: RowMapping) -> SlotOut:
    return SlotOut(
        id=row["id"],
        site_id=row["site_id"],
        site_name=row["site_name"],
        office_code=row["office_code"],
        subject=row["subject"],
        classes=list(row["classes"]),
        starts_at=row["starts_at"],
        capacity=row["capacity"],
        booking_opens_at=row["booking_opens_at"],
        cutoff_at=row["cutoff_at"],
        state=row["state"],
        requests=row["request_count"],
        seated=row["seated"],
        decided_at=row["decided_at"],
    )


@router.post(
    "/sites/{site_id}/slots", status_code=201, response_model=SlotOut, summary="Publish an exam slot"
)
async def publish_slot(
    site_id: uuid.UUID, body: SlotIn, request: Request, uow: UowDep, principal: Office
) -> SlotOut:
    """DL-11: the site publishes a slot: subject, classes, time, capacity, the booking window and the
    cut-off at which seats are decided in the published order."""
    plan = exam_slots.SlotPlan(
        subject=body.subject,
        classes=frozenset(body.classes),
        starts_at=body.starts_at,
        capacity=body.capacity,
        booking_opens_at=body.booking_opens_at,
        cutoff_at=body.cutoff_at,
    )

    async def run(uow: UnitOfWork) -> RowMapping:
        check_office(principal, (await exam_slots.site(uow, site_id))["office_code"])
        row = await exam_slots.publish_slot(uow, actor_from(request, principal), site_id, plan)
        return await exam_slots.slot(uow, row["id"])

    return slot_out(await committed(uow, run))


@router.get("/slots", response_model=list[SlotOut], summary="Published exam slots")
async def list_slots(
    uow: UowDep,
    principal: AnyCaller,
    site_id: uuid.UUID | None = None,
    office_code: Annotated[str | None, Query(pattern=r"^\d{6}$")] = None,
    subject: Annotated[int | None, Query(ge=1, le=4)] = None,  # a query string: no Literal of ints
    day_from: date | None = None,
    day_to: date | None = None,
) -> list[SlotOut]:
    """DL-11: slots soonest first (at most 200), with their capacity, requests so far, and cut-off."""
    rows = await committed(
        uow, exam_slots.slots, site_id, office_code, cast(Subject | None, subject), day_from, day_to
    )
    return [slot_out(r) for r in rows]


@router.get("/slots/{slot_id}", response_model=SlotOut, summary="One exam slot")
async def get_slot(slot_id: uuid.UUID, uow: UowDep, principal: AnyCaller) -> SlotOut:
    return slot_out(await committed(uow, exam_slots.slot, slot_id))


class DecisionOut(BaseModel):
    slot_id: uuid.UUID
    requests: int
    seated: int
    decided_at: datetime


@router.post("/slots/{slot_id}/decision", response_model=DecisionOut, summary="Seat a slot at its cut-off")
async def decide(slot_id: uuid.UUID, request: Request, uow: UowDep, principal: Office) -> DecisionOut:
    """DL-11: what the cut-off sweep does, on the office's call: from the published cut-off, seat the first
    `capacity` requests in the published order and tell everyone their place (409 `CUTOFF_NOT_REACHED`
    before it). Calling it again answers the decision made."""

    async def run(uow: UnitOfWork) -> exam_slots.Decision:
        check_office(principal, (await exam_slots.slot(uow, slot_id))["office_code"])
        return await exam_slots.decide(uow, actor_from(request, principal), slot_id)

    made = await committed(uow, run)
    return DecisionOut(
        slot_id=made.slot_id, requests=made.requests, seated=made.seated, decided_at=made.decided_at
    )


class RosterEntry(BaseModel):
    booking_id: uuid.UUID
    place: int | None
    state: str
    id_number: str = Field(description="masked")
    priority_at: datetime
    priority_basis: str
    requested_at: datetime


@router.get("/slots/{slot_id}/roster", response_model=list[RosterEntry], summary="A slot's bookings")
async def roster(slot_id: uuid.UUID, uow: UowDep, principal: Staff) -> list[RosterEntry]:
    """DL-11: the slot's bookings in the published order, identity numbers masked (clerks of the site's
    office, `system`)."""

    async def run(uow: UnitOfWork) -> list[RowMapping]:
        check_office(principal, (await exam_slots.slot(uow, slot_id))["office_code"])
        return await exam_slots.roster(uow, slot_id)

    return [
        RosterEntry(
            booking_id=r["id"],
            place=r["place"],
            state=r["state"],
            id_number=mask_id_number(r["id_number"]),
            priority_at=r["priority_at"],
            priority_basis=r["priority_basis"],
            requested_at=r["requested_at"],
        )
        for r in await committed(uow, run)
    ]
