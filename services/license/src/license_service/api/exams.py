"""`/api/v1/exams/learners` and `/api/v1/exams/bookings`: learners from the licence-application system,
bookings with their place and why, cancellations, results (DL-11). The use cases are `exams.py`; this
module parses, calls and shapes. Sites and slots: `api/exam_sites.py`."""

from __future__ import annotations

import uuid
from datetime import date, datetime
from typing import Annotated, Any, Literal, Self

from fastapi import APIRouter, Depends, Request, Response
from pydantic import AfterValidator, BaseModel, Field, model_validator
from sqlalchemy.engine import RowMapping

from license_service import domain, exams
from license_service.api.common import CLERKS, Input, OfficeCode, Personal, SystemOnly
from license_service.domain import ExamOutcome, LicenceClass, Subject
from servicekit.clock import SHANGHAI
from servicekit.masking import mask_id_number, mask_phone
from servicekit.uow import committed
from servicekit.validators import birth_date_of, mobile_phone, resident_id
from servicekit.web import IdempotencyKeyHeader, Principal, UowDep, actor_from, idempotent, require_roles

router = APIRouter(prefix="/api/v1/exams", tags=["exams"])

NO_NUL = r"^[^\x00]*$"  # PostgreSQL refuses NUL in text: a 422 here, not a 500 there

# Examiners: the clerks of the site's office (identity has no examiner role; ADR 0052), or the exam
# system (`system`).
Examiner = Annotated[Principal, Depends(require_roles(*CLERKS, "system"))]
LearnerOrStaff = Annotated[Principal, Depends(require_roles("citizen", *CLERKS, "system"))]


# --- learners ------------------------------------------------------------------------------------


class LearnerIn(Input):
    """An accepted initial licence application (受理), as the licence-application system states it."""

    application_number: Annotated[str, Field(pattern=r"^[0-9A-Z]{6,32}$")]
    id_number: Annotated[str, AfterValidator(lambda v: resident_id(v, field="id_number"))]
    name: Annotated[str, Field(min_length=1, max_length=100, pattern=NO_NUL)]
    birth_date: date | None = Field(default=None, description="default: from the identity number")
    phone: Annotated[str, AfterValidator(mobile_phone)] | None = None
    classes: Annotated[list[LicenceClass], Field(min_length=1, max_length=3)]
    office_code: OfficeCode
    accepted_at: datetime

    @model_validator(mode="after")
    def _aware(self) -> Self:
        if self.accepted_at.tzinfo is None:
            raise ValueError("accepted_at needs an offset, e.g. 2027-01-05T10:00:00+08:00")
        return self


class LearnerOut(BaseModel):
    id: uuid.UUID
    application_number: str
    id_number: str = Field(description="masked")
    name: str
    classes: list[LicenceClass]
    office_code: str
    accepted_at: datetime
    state: str
    ended_reason: str | None
    passed: list[Subject]
    next_subject: Subject | None
    book_from: date | None = Field(description="the next subject may be booked from this day (waiting rules)")
    book_from_reason: Literal["permit", "retry"] | None
    permit_issued_on: date | None
    permit_valid_until: date | None
    road_bookings_left: dict[str, int] = Field(description="subject 2 and 3: of five bookings")
    licence_record_id: uuid.UUID | None


def learner_out(row: RowMapping) -> LearnerOut:
    learner = exams.learner_of(row)
    nxt = domain.next_subject(learner.passed) if learner.state == "learning" else None
    wait = domain.earliest_booking(learner, nxt) if nxt is not None else None
    return LearnerOut(
        id=row["id"],
        application_number=row["application_number"],
        id_number=mask_id_number(row["id_number"]),
        name=row["name"],
        classes=list(row["classes"]),
        office_code=row["office_code"],
        accepted_at=row["accepted_at"],
        state=row["state"],
        ended_reason=row["ended_reason"],
        passed=sorted(learner.passed),
        next_subject=nxt,
        book_from=wait[0] if wait else None,
        book_from_reason=wait[1] if wait else None,
        permit_issued_on=row["permit_issued_on"],
        permit_valid_until=row["permit_valid_until"],
        road_bookings_left={str(s): domain.road_bookings_left(learner, s) or 0 for s in (2, 3)},
        licence_record_id=row["licence_record_id"],
    )


@router.post("/learners", status_code=201, response_model=LearnerOut, summary="An accepted application")
async def accept_learner(
    body: LearnerIn, request: Request, response: Response, uow: UowDep, principal: SystemOnly
) -> LearnerOut:
    """DL-11, ID-04: the licence-application system feeds an accepted initial application; its applicant
    becomes a learner who may book exams (published as `license.learner.accepted.v1`). The same
    application again answers 200 with the learner it made."""
    app = exams.Application(
        application_number=body.application_number,
        id_number=body.id_number,
        name=body.name,
        birth_date=body.birth_date or birth_date_of(body.id_number),
        phone=body.phone,
        classes=frozenset(body.classes),
        office_code=body.office_code,
        accepted_at=body.accepted_at,
    )
    row, made = await committed(uow, exams.accept_learner, actor_from(request, principal), app)
    if not made:
        response.status_code = 200
    return learner_out(row)


@router.get("/learners/me", response_model=LearnerOut, summary="My exams: progress and waiting rules")
async def my_learner(uow: UowDep, principal: Personal) -> LearnerOut:
    """DL-11: the caller's application in its exams: subjects passed, the next one and from when it may be
    booked (and why), the learner permit, road-test bookings left; 404 without one."""
    return learner_out(await committed(uow, exams.own_learner, principal))


# --- bookings ------------------------------------------------------------------------------------

# DL-11: why a request ranks where it does, as the learner reads it.
BASIS_TEXT = {
    "accepted": "首次预约科目一，按受理时间排序",
    "last_exam": "按上次考试时间排序",
    "cancelled": "按取消已预约考试的时间排序",
    "absent": "按缺考时间排序",
}


class RankingOut(BaseModel):
    priority_at: datetime = Field(description="the time the request ranks by")
    basis: Literal["accepted", "last_exam", "cancelled", "absent"]
    why: str


class BookingOut(BaseModel):
    id: uuid.UUID
    slot_id: uuid.UUID
    site_id: uuid.UUID
    site_name: str
    subject: Subject
    starts_at: datetime
    cutoff_at: datetime
    state: str
    requested_at: datetime
    phone: str | None = Field(description="masked")
    ranking: RankingOut
    place: int | None = Field(description="in the published order: provisional until the cut-off")
    place_final: bool
    capacity: int
    requests: int | None = Field(description="requests the cut-off decided among (once decided)")
    decided_at: datetime | None
    ended_at: datetime | None


def booking_out(row: RowMapping) -> BookingOut:
    final = row["place"] is not None
    if final:
        place = row["place"]
    elif row["state"] == "requested":
        place = row["provisional_place"]
    else:
        place = None
    local = row["priority_at"].astimezone(SHANGHAI)
    return BookingOut(
        id=row["id"],
        slot_id=row["slot_id"],
        site_id=row["site_id"],
        site_name=row["site_name"],
        subject=row["subject"],
        starts_at=row["starts_at"],
        cutoff_at=row["cutoff_at"],
        state=row["state"],
        requested_at=row["requested_at"],
        phone=mask_phone(row["phone"]) if row["phone"] else None,
        ranking=RankingOut(
            priority_at=row["priority_at"],
            basis=row["priority_basis"],
            why=f"{BASIS_TEXT[row['priority_basis']]}（{local:%Y-%m-%d %H:%M:%S}）",
        ),
        place=place,
        place_final=final,
        capacity=row["capacity"],
        requests=row["slot_requests"],
        decided_at=row["decided_at"],
        ended_at=row["ended_at"],
    )


class BookingIn(Input):
    slot_id: uuid.UUID


@router.post("/bookings", status_code=201, response_model=BookingOut, summary="Ask for a seat in a slot")
async def book(
    body: BookingIn,
    request: Request,
    uow: UowDep,
    principal: Personal,
    _key: IdempotencyKeyHeader = None,
) -> Any:
    """DL-11: a learner asks for a seat: within the slot's booking window, the next subject, a class they
    applied for, once the waiting rules allow, inside the learner permit; one open booking per subject.
    The answer shows the time it ranks by, why, and its place so far; seats are decided at the cut-off."""

    async def run() -> BookingOut:
        actor = actor_from(request, principal)
        return booking_out(await committed(uow, exams.book, principal, actor, body.slot_id))

    return await idempotent(request, principal.subject, run, status_code=201)


@router.get("/bookings/mine", response_model=list[BookingOut], summary="My exam bookings")
async def my_bookings(uow: UowDep, principal: Personal) -> list[BookingOut]:
    """DL-11: the caller's bookings, latest first (at most 100), each with its place and why."""
    return [booking_out(r) for r in await committed(uow, exams.bookings_of, principal)]


@router.get("/bookings/{booking_id}", response_model=BookingOut, summary="One exam booking")
async def get_booking(booking_id: uuid.UUID, uow: UowDep, principal: LearnerOrStaff) -> BookingOut:
    """DL-11: a booking with its place and why: the learner's own (another's answers 404), a clerk's
    office's, or any for `system`."""
    return booking_out(await committed(uow, exams.visible_booking, principal, booking_id))


@router.post("/bookings/{booking_id}/cancellation", response_model=BookingOut, summary="Withdraw or cancel")
async def cancel_booking(
    booking_id: uuid.UUID, request: Request, uow: UowDep, principal: LearnerOrStaff
) -> BookingOut:
    """DL-11: the learner withdraws a request online until the cut-off (no consequence); a seated booking
    is cancelled at the counter by a clerk of the site's office, at the latest the day before the exam,
    and the learner's next booking ranks by the cancellation time (409 `CANCEL_AT_COUNTER` online)."""
    actor = actor_from(request, principal)
    return booking_out(await committed(uow, exams.cancel, principal, actor, booking_id))


class ResultIn(Input):
    outcome: ExamOutcome = Field(
        description="passed; failed (the exam and its same-day retake not passed); absent (判定不合格)"
    )


class ResultOut(BaseModel):
    booking: BookingOut
    learner: LearnerOut
    licence_record_id: uuid.UUID | None = Field(description="the first licence, when the last subject passed")


@router.post("/bookings/{booking_id}/result", response_model=ResultOut, summary="Record the exam's result")
async def record_result(
    booking_id: uuid.UUID, body: ResultIn, request: Request, uow: UowDep, principal: Examiner
) -> ResultOut:
    """DL-11: an examiner records a seated booking's outcome once, after the exam has begun. A pass of the
    last subject issues the first licence (valid six years) and publishes it; identity then turns the
    learner into a driver (ID-07)."""
    actor = actor_from(request, principal)
    done = await committed(uow, exams.record_result, principal, actor, booking_id, body.outcome)
    return ResultOut(
        booking=booking_out(done.booking),
        learner=learner_out(done.learner),
        licence_record_id=done.licence["id"] if done.licence else None,
    )
