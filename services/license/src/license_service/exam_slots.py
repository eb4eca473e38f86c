"""Exam sites, their slots, and the cut-off that seats a slot (DL-11): one use case per action of the office
(sites, slots, the decision) and of anyone reading them. Bookings and results are `exams.py`; the HTTP
modules are `api/exam_sites.py` and `api/exams.py`.

The decision (ADR 0052): at the slot's cut-off the sweep (or the office's explicit call) locks the slot
FOR UPDATE, reads every request, orders them by `domain.seat_order`, seats the first `capacity`, writes
each request's place and tells each learner by event. A booking request holds the slot FOR SHARE until it
commits, so the decision either waits for it and counts it or is seen by it (and refuses it); a slot is
decided once (`state` moves from `open` to `decided` in the same transaction), so two sweeps running at
once, on two replicas, cannot both seat it.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import date, datetime, time
from typing import Any

from sqlalchemy import bindparam, func, select, update
from sqlalchemy.engine import RowMapping

from license_service import domain
from license_service import published as ev
from license_service.domain import Candidate, LicenceClass, Subject
from license_service.tables import exam_bookings, exam_sites, exam_slots
from servicekit.clock import SHANGHAI
from servicekit.ids import new_id
from servicekit.runtime import Runtime
from servicekit.uow import SYSTEM_ACTOR, Actor, UnitOfWork
from servicekit.web import NotFound

# --- sites ---------------------------------------------------------------------------------------


async def add_site(
    uow: UnitOfWork, actor: Actor, name: str, address: str, office_code: str, subjects: list[Subject]
) -> RowMapping:
    """DL-11: an office publishes an examination venue (考场) and the subjects it examines."""
    row: RowMapping = (
        (
            await uow.session.execute(
                exam_sites.insert()
                .values(
                    id=new_id(),
                    name=name,
                    address=address,
                    office_code=office_code,
                    subjects=sorted(set(subjects)),
                    created_at=uow.now,
                )
                .returning(exam_sites)
            )
        )
        .mappings()
        .one()
    )
    uow.audit(actor, "exam_site.added", f"exam_site:{row['id']}", None, {"name": name, "office": office_code})
    return row


async def site(uow: UnitOfWork, site_id: uuid.UUID) -> RowMapping:
    row = (await uow.session.execute(select(exam_sites).where(exam_sites.c.id == site_id))).mappings().first()
    if row is None:
        raise NotFound("exam site")
    return row


async def sites_of(uow: UnitOfWork, office_code: str) -> list[RowMapping]:
    query = select(exam_sites).where(exam_sites.c.office_code == office_code).order_by(exam_sites.c.name)
    return list((await uow.session.execute(query)).mappings().all())


# --- slots ---------------------------------------------------------------------------------------


@dataclass(frozen=True)
class SlotPlan:
    subject: Subject
    classes: frozenset[LicenceClass]
    starts_at: datetime
    capacity: int
    booking_opens_at: datetime
    cutoff_at: datetime


async def publish_slot(uow: UnitOfWork, actor: Actor, site_id: uuid.UUID, plan: SlotPlan) -> RowMapping:
    """DL-11: the site publishes a slot: subject, classes, time, capacity, the booking window and the
    cut-off at which seats are decided (the request's model checks opening < cut-off <= start)."""
    where = await site(uow, site_id)
    if plan.subject not in where["subjects"]:
        raise domain.SubjectNotExamined(
            f"{where['name']} does not examine subject {plan.subject}",
            extra={"subjects": list(where["subjects"])},
        )
    row: RowMapping = (
        (
            await uow.session.execute(
                exam_slots.insert()
                .values(
                    id=new_id(),
                    site_id=site_id,
                    subject=plan.subject,
                    classes=sorted(plan.classes),
                    starts_at=plan.starts_at,
                    capacity=plan.capacity,
                    booking_opens_at=plan.booking_opens_at,
                    cutoff_at=plan.cutoff_at,
                    state="open",
                    created_at=uow.now,
                )
                .returning(exam_slots)
            )
        )
        .mappings()
        .one()
    )
    uow.audit(
        actor,
        "exam_slot.published",
        f"exam_slot:{row['id']}",
        None,
        {"site_id": str(site_id), "subject": plan.subject, "capacity": plan.capacity},
    )
    return row


def _with_site() -> Any:
    return select(
        exam_slots,
        exam_sites.c.name.label("site_name"),
        exam_sites.c.office_code,
        func.coalesce(
            exam_slots.c.requests,
            select(func.count())
            .where(exam_bookings.c.slot_id == exam_slots.c.id, exam_bookings.c.state == "requested")
            .scalar_subquery(),
        ).label("request_count"),
    ).join(exam_sites, exam_sites.c.id == exam_slots.c.site_id)


async def slot(uow: UnitOfWork, slot_id: uuid.UUID) -> RowMapping:
    """A slot with its site's name and office, and its requests (counted while it is open)."""
    row = (await uow.session.execute(_with_site().where(exam_slots.c.id == slot_id))).mappings().first()
    if row is None:
        raise NotFound("exam slot")
    return row


async def slots(
    uow: UnitOfWork,
    site_id: uuid.UUID | None,
    office_code: str | None,
    subject: Subject | None,
    day_from: date | None,
    day_to: date | None,
) -> list[RowMapping]:
    """DL-11: published slots, soonest first, with their requests so far."""
    query = _with_site()
    if site_id is not None:
        query = query.where(exam_slots.c.site_id == site_id)
    if office_code is not None:
        query = query.where(exam_sites.c.office_code == office_code)
    if subject is not None:
        query = query.where(exam_slots.c.subject == subject)
    if day_from is not None:
        query = query.where(exam_slots.c.starts_at >= datetime.combine(day_from, time(), SHANGHAI))
    if day_to is not None:
        query = query.where(exam_slots.c.starts_at < datetime.combine(day_to, time.max, SHANGHAI))
    query = query.order_by(exam_slots.c.starts_at, exam_slots.c.id).limit(200)
    return list((await uow.session.execute(query)).mappings().all())


# --- the cut-off ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class Decision:
    slot_id: uuid.UUID
    requests: int
    seated: int
    decided_at: datetime


async def decide(uow: UnitOfWork, actor: Actor, slot_id: uuid.UUID, *, skip_locked: bool = False) -> Decision:
    """DL-11: at the cut-off, seat the first `capacity` requests in the published order; every request
    learns its place and the time and rule it ranked by (one event each, for its SMS). Deciding a decided
    slot answers the decision made (the office's call and the sweep may meet)."""
    query = select(exam_slots, exam_sites.c.name.label("site_name")).join(
        exam_sites, exam_sites.c.id == exam_slots.c.site_id
    )
    query = query.where(exam_slots.c.id == slot_id).with_for_update(of=exam_slots, skip_locked=skip_locked)
    row = (await uow.session.execute(query)).mappings().first()
    if row is None:
        raise NotFound("exam slot")
    if row["state"] == "decided":
        return Decision(slot_id, row["requests"], row["seated"], row["decided_at"])
    domain.check_cutoff_reached(row["cutoff_at"], uow.now)
    requests = (
        (
            await uow.session.execute(
                select(exam_bookings).where(
                    exam_bookings.c.slot_id == slot_id, exam_bookings.c.state == "requested"
                )
            )
        )
        .mappings()
        .all()
    )
    by_id = {str(r["id"]): r for r in requests}
    placements = domain.decide_seats([candidate_of(r) for r in requests], row["capacity"])
    if placements:
        await uow.session.execute(
            update(exam_bookings)
            .where(exam_bookings.c.id == bindparam("b_id"))
            .values(
                state=bindparam("b_state"),
                place=bindparam("b_place"),
                decided_at=uow.now,
                updated_at=uow.now,
            ),
            [
                {
                    "b_id": uuid.UUID(p.booking_id),
                    "b_state": domain.move_booking("requested", "seat" if p.seated else "not_seat"),
                    "b_place": p.place,
                }
                for p in placements
            ],
        )
    seated = sum(p.seated for p in placements)
    await uow.session.execute(
        update(exam_slots)
        .where(exam_slots.c.id == slot_id)
        .values(state="decided", requests=len(placements), seated=seated, decided_at=uow.now)
    )
    for p in placements:
        booking = by_id[p.booking_id]
        uow.emit(
            ev.ExamBookingDecided(
                booking_id=p.booking_id,
                learner_id=str(booking["learner_id"]),
                slot_id=str(slot_id),
                site_name=row["site_name"],
                exam_subject=row["subject"],
                starts_at=row["starts_at"],
                outcome="seated" if p.seated else "not_seated",
                place=p.place,
                capacity=row["capacity"],
                requests=len(placements),
                priority_at=booking["priority_at"],
                priority_basis=booking["priority_basis"],
                phone=booking["phone"],
                decided_at=uow.now,
            )
        )
    uow.audit(
        actor,
        "exam_slot.decided",
        f"exam_slot:{slot_id}",
        {"state": "open"},
        {"state": "decided", "requests": len(placements), "seated": seated},
    )
    return Decision(slot_id, len(placements), seated, uow.now)


def candidate_of(booking: RowMapping) -> Candidate:
    """A booking as the published order reads it: the ranking inputs kept when it was asked for."""
    return Candidate(
        booking_id=str(booking["id"]),
        subject=booking["subject"],
        accepted_at=booking["accepted_at"],
        last_exam_at=booking["last_exam_at"],
        last_cancelled_at=booking["last_cancelled_at"],
        last_absent_at=booking["last_absent_at"],
        requested_at=booking["requested_at"],
    )


SWEEP_SLOTS_PER_ROUND = 50


async def sweep_cutoffs(runtime: Runtime) -> int:
    """DL-11: decide every open slot whose cut-off has passed, one transaction per slot (a slot's failure
    leaves the others decided). Safe on several replicas at once: a slot another transaction holds is
    skipped, and one decided meanwhile is not decided again. Returns the slots decided."""
    done = 0
    for _ in range(SWEEP_SLOTS_PER_ROUND):
        async with runtime.uow() as uow:
            slot_id = (
                await uow.session.execute(
                    select(exam_slots.c.id)
                    .where(exam_slots.c.state == "open", exam_slots.c.cutoff_at <= uow.now)
                    .order_by(exam_slots.c.cutoff_at)
                    .limit(1)
                    .with_for_update(skip_locked=True)
                )
            ).scalar()
            if slot_id is None:
                break
            await decide(uow, SYSTEM_ACTOR, slot_id)
            await uow.commit()
            done += 1
    return done


async def roster(uow: UnitOfWork, slot_id: uuid.UUID) -> list[RowMapping]:
    """DL-11: a slot's bookings in the published order (decided: by place; open: as they rank now)."""
    query = (
        select(exam_bookings)
        .where(exam_bookings.c.slot_id == slot_id)
        .order_by(
            exam_bookings.c.place.nulls_last(),
            exam_bookings.c.priority_at,
            exam_bookings.c.requested_at,
            exam_bookings.c.id,
        )
        .limit(5000)
    )
    return list((await uow.session.execute(query)).mappings().all())
