"""Exam appointments (DL-11): learners from the licence-application system, bookings, cancellations and
results, one use case per action. Sites, slots and the cut-off are `exam_slots.py`; the HTTP module is
`api/exams.py`. Decisions: ADR 0052.

Locks, always in this order so that no two of them wait on each other: the learner (FOR UPDATE: one
learner's actions one at a time), the slot (FOR SHARE: the cut-off, which takes it FOR UPDATE, waits for
a request or withdrawal in flight, or is seen by it), then the booking (FOR UPDATE). One open booking per
learner and subject is also a partial unique index, so it holds whatever arrives at once.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

from sqlalchemy import func, select, tuple_, update
from sqlalchemy.engine import RowMapping
from sqlalchemy.exc import IntegrityError

from license_service import domain, records
from license_service import published as ev
from license_service.domain import Candidate, ExamOutcome, Learner, LicenceClass
from license_service.tables import exam_bookings, exam_learners, exam_sites, exam_slots
from servicekit.clock import SHANGHAI
from servicekit.crypto import blind_match, with_blind
from servicekit.ids import new_id
from servicekit.refusal import refusal
from servicekit.runtime import Runtime
from servicekit.uow import SYSTEM_ACTOR, Actor, UnitOfWork
from servicekit.web import NotFound, Principal

LearnerExists = refusal("LEARNER_EXISTS", "DL-11")
AlreadyLicensed = refusal("ALREADY_LICENSED", "DL-11")


def _day(moment: datetime) -> date:
    return moment.astimezone(SHANGHAI).date()


# --- learners ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Application:
    """An initial licence application as the office's licence-application system states it, accepted."""

    application_number: str
    id_number: str
    name: str
    birth_date: date
    phone: str | None
    classes: frozenset[LicenceClass]
    office_code: str
    accepted_at: datetime


async def accept_learner(uow: UnitOfWork, actor: Actor, app: Application) -> tuple[RowMapping, bool]:
    """DL-11, ID-04: the applicant of an accepted initial application becomes a learner who may book exams
    (published for identity's learner registration). The same application again answers the learner it
    made (False: nothing new); a person has one application in its exams at a time and none once licensed."""
    same = (
        (
            await uow.session.execute(
                select(exam_learners).where(exam_learners.c.application_number == app.application_number)
            )
        )
        .mappings()
        .first()
    )
    if same is not None:
        if same["id_number"] != app.id_number:
            raise LearnerExists("the application number is another person's")
        return same, False
    if await records.load_by_number(uow, app.id_number) is not None:
        raise AlreadyLicensed("the person holds a driving licence: not an initial application")
    try:
        async with uow.session.begin_nested():
            row: RowMapping = (
                (
                    await uow.session.execute(
                        exam_learners.insert()
                        .values(
                            id=new_id(),
                            application_number=app.application_number,
                            id_number=app.id_number,
                            name=app.name,
                            birth_date=app.birth_date,
                            phone=app.phone,
                            classes=sorted(app.classes),
                            office_code=app.office_code,
                            accepted_at=app.accepted_at,
                            state="learning",
                            created_at=uow.now,
                            updated_at=uow.now,
                        )
                        .returning(exam_learners)
                    )
                )
                .mappings()
                .one()
            )
    except IntegrityError:
        raise LearnerExists("the person has an application in its exams already") from None
    uow.emit(
        ev.LearnerAccepted(
            learner_id=str(row["id"]),
            application_number=row["application_number"],
            id_number=row["id_number"],
            name=row["name"],
            phone=row["phone"],
            classes=list(row["classes"]),
            office_code=row["office_code"],
            accepted_at=row["accepted_at"],
        )
    )
    uow.audit(actor, "exam_learner.accepted", f"exam_learner:{row['id']}", None, {"classes": row["classes"]})
    return row, True


def learner_of(row: RowMapping) -> Learner:
    return Learner(
        state=row["state"],
        classes=frozenset(row["classes"]),
        accepted_at=row["accepted_at"],
        passed=frozenset(row["passed"]),
        permit_issued_on=row["permit_issued_on"],
        permit_valid_until=row["permit_valid_until"],
        last_exam_at=row["last_exam_at"],
        last_cancelled_at=row["last_cancelled_at"],
        last_absent_at=row["last_absent_at"],
        retry_from=row["retry_from"],
        road_bookings={2: row["road_bookings_2"], 3: row["road_bookings_3"]},
    )


def learner_columns(learner: Learner) -> dict[str, Any]:
    return {
        "state": learner.state,
        "passed": sorted(learner.passed),
        "permit_issued_on": learner.permit_issued_on,
        "permit_valid_until": learner.permit_valid_until,
        "last_exam_at": learner.last_exam_at,
        "last_cancelled_at": learner.last_cancelled_at,
        "last_absent_at": learner.last_absent_at,
        "retry_from": learner.retry_from,
        "road_bookings_2": learner.road_bookings.get(2, 0),
        "road_bookings_3": learner.road_bookings.get(3, 0),
    }


async def own_learner(uow: UnitOfWork, principal: Principal, *, lock: bool = False) -> RowMapping:
    """The caller's learner record: the application in its exams, else the latest (404 without one)."""
    query = (
        select(exam_learners)
        .where(blind_match(exam_learners.c.id_number, principal.id_number or ""))
        .order_by((exam_learners.c.state == "learning").desc(), exam_learners.c.accepted_at.desc())
        .limit(1)
    )
    if lock:
        query = query.with_for_update()
    row = (await uow.session.execute(query)).mappings().first()
    if row is None or principal.id_number is None:
        raise NotFound("learner")
    return row


async def _write_learner(uow: UnitOfWork, learner_id: uuid.UUID, **values: Any) -> RowMapping:
    row: RowMapping = (
        (
            await uow.session.execute(
                update(exam_learners)
                .where(exam_learners.c.id == learner_id)
                .values(**with_blind(exam_learners, values), updated_at=uow.now)
                .returning(exam_learners)
            )
        )
        .mappings()
        .one()
    )
    return row


# --- bookings ------------------------------------------------------------------------------------


async def _slot_for_update_of_bookings(uow: UnitOfWork, slot_id: uuid.UUID) -> RowMapping:
    """The slot with its site, held FOR SHARE until commit: the cut-off cannot decide it meanwhile."""
    query = (
        select(exam_slots, exam_sites.c.name.label("site_name"), exam_sites.c.office_code)
        .join(exam_sites, exam_sites.c.id == exam_slots.c.site_id)
        .where(exam_slots.c.id == slot_id)
        .with_for_update(of=exam_slots, read=True)
    )
    row = (await uow.session.execute(query)).mappings().first()
    if row is None:
        raise NotFound("exam slot")
    return row


async def book(uow: UnitOfWork, principal: Principal, actor: Actor, slot_id: uuid.UUID) -> RowMapping:
    """DL-11: a learner asks for a seat in a slot: within its booking window, the next subject, a class they
    applied for, once the waiting rules allow, inside the learner permit; one open booking per subject.
    The request ranks by `domain.ranking`, fixed now and shown at once; seats are decided at the cut-off."""
    learner_row = await own_learner(uow, principal, lock=True)
    slot = await _slot_for_update_of_bookings(uow, slot_id)
    domain.check_booking_window(slot["state"], slot["booking_opens_at"], slot["cutoff_at"], uow.now)
    learner = learner_of(learner_row)
    domain.check_can_book(
        learner, slot["subject"], frozenset(slot["classes"]), _day(slot["starts_at"]), _day(uow.now)
    )
    booking_id = new_id()
    candidate = Candidate(
        booking_id=str(booking_id),
        subject=slot["subject"],
        accepted_at=learner.accepted_at,
        last_exam_at=learner.last_exam_at,
        last_cancelled_at=learner.last_cancelled_at,
        last_absent_at=learner.last_absent_at,
        requested_at=uow.now,
    )
    priority_at, basis = domain.ranking(candidate)
    # Under the learner's lock their own requests come one at a time, so this finds the one held; the
    # partial unique index is the backstop.
    held = (
        await uow.session.execute(
            select(exam_bookings.c.id).where(
                exam_bookings.c.learner_id == learner_row["id"],
                exam_bookings.c.subject == slot["subject"],
                exam_bookings.c.state.in_(domain.OPEN_BOOKING_STATES),
            )
        )
    ).scalar()
    if held is not None:
        raise domain.AlreadyBooked(
            f"you hold a booking for subject {slot['subject']}; withdraw it first",
            extra={"booking_id": str(held)},
        )
    try:
        await uow.session.execute(
            exam_bookings.insert().values(
                id=booking_id,
                slot_id=slot_id,
                learner_id=learner_row["id"],
                subject=slot["subject"],
                id_number=learner_row["id_number"],
                phone=learner_row["phone"],
                state="requested",
                requested_at=uow.now,
                accepted_at=learner.accepted_at,
                last_exam_at=learner.last_exam_at,
                last_cancelled_at=learner.last_cancelled_at,
                last_absent_at=learner.last_absent_at,
                priority_at=priority_at,
                priority_basis=basis,
                updated_at=uow.now,
            )
        )
    except IntegrityError:
        raise domain.AlreadyBooked(f"you hold a booking for subject {slot['subject']}") from None
    uow.audit(actor, "exam_booking.requested", f"exam_booking:{booking_id}", None, {"slot_id": str(slot_id)})
    return await booking(uow, booking_id)


def _build_booking_query() -> Any:
    ahead = exam_bookings.alias("ahead")
    provisional = (
        select(func.count())
        .where(
            ahead.c.slot_id == exam_bookings.c.slot_id,
            ahead.c.state == "requested",
            tuple_(ahead.c.priority_at, ahead.c.requested_at, ahead.c.id)
            < tuple_(exam_bookings.c.priority_at, exam_bookings.c.requested_at, exam_bookings.c.id),
        )
        .scalar_subquery()
    )
    return (
        select(
            exam_bookings,
            exam_slots.c.site_id,
            exam_slots.c.starts_at,
            exam_slots.c.capacity,
            exam_slots.c.cutoff_at,
            exam_slots.c.state.label("slot_state"),
            exam_slots.c.requests.label("slot_requests"),
            exam_sites.c.name.label("site_name"),
            exam_sites.c.office_code,
            # While the slot is open: where the request stands now (1 + the requests ranked ahead).
            (provisional + 1).label("provisional_place"),
        )
        .join(exam_slots, exam_slots.c.id == exam_bookings.c.slot_id)
        .join(exam_sites, exam_sites.c.id == exam_slots.c.site_id)
    )


_BOOKING_QUERY = _build_booking_query()


def _booking_query() -> Any:
    return _BOOKING_QUERY


async def booking(uow: UnitOfWork, booking_id: uuid.UUID) -> RowMapping:
    row = (
        (await uow.session.execute(_booking_query().where(exam_bookings.c.id == booking_id)))
        .mappings()
        .first()
    )
    if row is None:
        raise NotFound("exam booking")
    return row


def may_see(principal: Principal, row: RowMapping) -> bool:
    """Object-level access: the learner their own; a clerk the bookings at their office's sites; `system`
    every one."""
    if principal.has_any("system"):
        return True
    if principal.is_staff:
        return bool(principal.office == row["office_code"])
    return principal.id_number is not None and bool(principal.id_number == row["id_number"])


async def visible_booking(uow: UnitOfWork, principal: Principal, booking_id: uuid.UUID) -> RowMapping:
    row = await booking(uow, booking_id)
    if not may_see(principal, row):
        raise NotFound("exam booking")
    return row


async def bookings_of(uow: UnitOfWork, principal: Principal) -> list[RowMapping]:
    """DL-11: the caller's bookings, latest first, each with its place and why."""
    query = (
        _booking_query()
        .where(blind_match(exam_bookings.c.id_number, principal.id_number or ""))
        .order_by(exam_bookings.c.requested_at.desc())
        .limit(100)
    )
    return list((await uow.session.execute(query)).mappings().all())


async def cancel(uow: UnitOfWork, principal: Principal, actor: Actor, booking_id: uuid.UUID) -> RowMapping:
    """DL-11: the learner withdraws a request online until the cut-off, with no consequence; a seated
    booking is cancelled at the counter (a clerk of the site's office, on the learner's request) at the
    latest the day before the exam, and the learner's next booking ranks by the cancellation time."""
    seen = await visible_booking(uow, principal, booking_id)
    counter = principal.is_staff or principal.has_any("system")
    learner_row = (
        (
            await uow.session.execute(
                select(exam_learners).where(exam_learners.c.id == seen["learner_id"]).with_for_update()
            )
        )
        .mappings()
        .one()
    )
    slot = await _slot_for_update_of_bookings(uow, seen["slot_id"])
    state = (
        await uow.session.execute(
            select(exam_bookings.c.state).where(exam_bookings.c.id == booking_id).with_for_update()
        )
    ).scalar_one()
    if state == "requested":
        domain.check_withdrawable(slot["state"], slot["cutoff_at"], uow.now)
        new_state = domain.move_booking(state, "withdraw")
    elif state == "seated" and not counter:
        raise domain.CancelAtCounter(
            "a seated booking is cancelled at the vehicle administration office's counter, by the day "
            "before the exam",
            extra={"last_day": _last_day(slot["starts_at"])},
        )
    else:
        new_state = domain.move_booking(state, "cancel")
        domain.check_cancellable(_day(slot["starts_at"]), _day(uow.now))
        await _write_learner(uow, learner_row["id"], last_cancelled_at=uow.now)
    await uow.session.execute(
        update(exam_bookings)
        .where(exam_bookings.c.id == booking_id)
        .values(state=new_state, ended_at=uow.now, ended_by=actor.id, updated_at=uow.now)
    )
    uow.emit(
        ev.ExamBookingCancelled(
            booking_id=str(booking_id),
            learner_id=str(seen["learner_id"]),
            slot_id=str(seen["slot_id"]),
            exam_subject=seen["subject"],
            starts_at=slot["starts_at"],
            state="withdrawn" if new_state == "withdrawn" else "cancelled",
            by="counter" if counter else "learner",
            cancelled_at=uow.now,
        )
    )
    target = f"exam_booking:{booking_id}"
    uow.audit(actor, f"exam_booking.{new_state}", target, {"state": state}, {"state": new_state})
    return await booking(uow, booking_id)


def _last_day(starts_at: datetime) -> str:
    return date.fromordinal(_day(starts_at).toordinal() - 1).isoformat()


# --- results -------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Recorded:
    booking: RowMapping
    learner: RowMapping
    licence: RowMapping | None


async def record_result(
    uow: UnitOfWork, principal: Principal, actor: Actor, booking_id: uuid.UUID, outcome: ExamOutcome
) -> Recorded:
    """DL-11: an examiner records a seated booking's outcome, once, after the exam has begun; the learner
    moves on by `domain.after_result`, and a pass of the last subject issues the first licence (valid six
    years, the classes applied for) through `records.issue` in this unit of work, which publishes it for
    identity to turn the learner into a driver (ID-07)."""
    seen = await visible_booking(uow, principal, booking_id)
    learner_row = (
        (
            await uow.session.execute(
                select(exam_learners).where(exam_learners.c.id == seen["learner_id"]).with_for_update()
            )
        )
        .mappings()
        .one()
    )
    new_state = domain.move_booking(seen["state"], domain.OUTCOME_ACTIONS[outcome])
    domain.check_exam_begun(seen["starts_at"], uow.now)
    moved = (
        await uow.session.execute(
            update(exam_bookings)
            .where(exam_bookings.c.id == booking_id, exam_bookings.c.state == "seated")
            .values(state=new_state, ended_at=uow.now, ended_by=actor.id, updated_at=uow.now)
            .returning(exam_bookings.c.id)
        )
    ).first()
    if moved is None:  # recorded meanwhile by another examiner: once each
        raise domain.WrongBookingState("the result is recorded", extra={"state": "recorded"})
    subject = seen["subject"]
    exam_at = seen["starts_at"]
    after = domain.after_result(learner_of(learner_row), subject, outcome, exam_at, _day(exam_at))
    values = learner_columns(after.learner)
    if after.ended:
        values["ended_reason"] = after.ended
    licence: RowMapping | None = None
    if after.licensed:
        licence = await _issue_first_licence(uow, actor, learner_row, _day(exam_at))
        values["licence_record_id"] = licence["id"]
    learner_after = await _write_learner(uow, learner_row["id"], **values)
    nxt = domain.next_subject(after.learner.passed) if after.learner.state == "learning" else None
    wait = domain.earliest_booking(after.learner, nxt) if nxt is not None else None
    uow.emit(
        ev.ExamResultRecorded(
            booking_id=str(booking_id),
            learner_id=str(learner_row["id"]),
            exam_subject=subject,
            outcome=outcome,
            exam_at=exam_at,
            site_name=seen["site_name"],
            learner_state=after.learner.state,
            next_subject=nxt,
            book_from=wait[0] if wait else None,
            road_bookings_left=domain.road_bookings_left(after.learner, subject) if not after.ended else 0,
            voided=after.ended == "fifth_failure",
            licence_record_id=str(licence["id"]) if licence else None,
            phone=learner_row["phone"],
            recorded_at=uow.now,
        )
    )
    if after.ended:
        uow.emit(_ended_event(learner_after, after.ended, uow.now))
    uow.audit(
        actor,
        f"exam_booking.{new_state}",
        f"exam_booking:{booking_id}",
        {"state": "seated"},
        {"state": new_state, "learner_state": after.learner.state},
    )
    return Recorded(booking=await booking(uow, booking_id), learner=learner_after, licence=licence)


async def _issue_first_licence(uow: UnitOfWork, actor: Actor, learner: RowMapping, today: date) -> RowMapping:
    """DL-11, ID-07: the first licence, in the classes applied for, issued on the day of the last pass and
    valid six years from it."""
    if await records.load_by_number(uow, learner["id_number"]) is not None:
        raise AlreadyLicensed("a licence record with this number exists; the office must reconcile it")
    valid_from, valid_until = domain.first_licence_validity(today)
    facts = records.Facts(
        number=learner["id_number"],
        name=learner["name"],
        birth_date=learner["birth_date"],
        classes=frozenset(learner["classes"]),
        first_issue=today,
        valid_from=valid_from,
        valid_until=valid_until,
        office_code=learner["office_code"],
        phone=learner["phone"],
    )
    return await records.issue(uow, actor, facts, source="exam")


def _ended_event(learner: RowMapping, reason: domain.EndReason, now: datetime) -> ev.LearnerEnded:
    return ev.LearnerEnded(
        learner_id=str(learner["id"]),
        application_number=learner["application_number"],
        id_number=learner["id_number"],
        reason=reason,
        phone=learner["phone"],
        ended_at=now,
    )


# --- the learner permit's validity ---------------------------------------------------------------


async def sweep_lapsed_permits(runtime: Runtime) -> int:
    """DL-11: a learner whose permit expired before the exams were done ends (the subjects passed are
    void); an open request of theirs is withdrawn. Safe on several replicas (SKIP LOCKED, state checked)."""
    done = 0
    async with runtime.uow() as uow:
        today = _day(uow.now)
        rows = (
            (
                await uow.session.execute(
                    select(exam_learners)
                    .where(
                        exam_learners.c.state == "learning",
                        exam_learners.c.permit_valid_until < today,
                        # A seated exam inside the permit whose result is not in yet is waited for.
                        ~select(exam_bookings.c.id)
                        .where(
                            exam_bookings.c.learner_id == exam_learners.c.id,
                            exam_bookings.c.state.in_(domain.OPEN_BOOKING_STATES),
                        )
                        .exists(),
                    )
                    .order_by(exam_learners.c.permit_valid_until)
                    .limit(500)
                    .with_for_update(skip_locked=True)
                )
            )
            .mappings()
            .all()
        )
        for row in rows:
            if not domain.permit_lapsed(learner_of(row), today):
                continue
            after = await _write_learner(
                uow, row["id"], state="ended", ended_reason="permit_expired", passed=[]
            )
            uow.emit(_ended_event(after, "permit_expired", uow.now))
            target = f"exam_learner:{row['id']}"
            uow.audit(SYSTEM_ACTOR, "exam_learner.permit_expired", target, None, {"state": "ended"})
            done += 1
        await uow.commit()
    return done
