"""DL-11: exam appointments: the published seat order, slots and bookings as a table, the learner's waiting
rules and results.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Literal, get_args

from servicekit.refusal import refusal

# --- DL-11: exam appointments -----------------------------------------------------------------------

Subject = Literal[1, 2, 3, 4]  # 科目一, 科目二, 科目三 (driving), 科目三 安全文明驾驶常识
SUBJECTS: tuple[Subject, ...] = get_args(Subject)

SubjectOutOfOrder = refusal("SUBJECT_OUT_OF_ORDER", "DL-11")


def next_subject(passed: frozenset[Subject]) -> Subject | None:
    """DL-11: the subjects are taken in order; None when all are passed."""
    for subject in SUBJECTS:
        if subject not in passed:
            return subject
    return None


def check_subject(subject: Subject, passed: frozenset[Subject]) -> None:
    expected = next_subject(passed)
    if subject != expected:
        raise SubjectOutOfOrder(
            "every subject is passed in order" if expected is None else f"the next subject is {expected}",
            extra={"next_subject": expected},
        )


@dataclass(frozen=True)
class Candidate:
    """What DL-11's published order reads of one booking request."""

    booking_id: str
    subject: Subject
    accepted_at: datetime  # the learner's application accepted
    last_exam_at: datetime | None
    last_cancelled_at: datetime | None  # a confirmed booking cancelled
    last_absent_at: datetime | None  # a no-show
    requested_at: datetime


# Why a request ranks where it does: the time that counted and which of the order's items it came from.
PriorityBasis = Literal["accepted", "last_exam", "cancelled", "absent"]
PRIORITY_BASES: tuple[PriorityBasis, ...] = get_args(PriorityBasis)


def ranking(candidate: Candidate) -> tuple[datetime, PriorityBasis]:
    """DL-11, the order of 《机动车驾驶人考试工作规范》 for internet booking: a first subject-1 booking ranks
    by when the application was accepted (受理), any other by the last exam; one who cancelled a confirmed
    booking or did not show ranks by that time; where several apply, the most recent counts. A penalty
    older than the last exam is spent: the exam after it is more recent (ADR 0052)."""
    if candidate.subject == 1 and candidate.last_exam_at is None:
        base: tuple[datetime, PriorityBasis] = (candidate.accepted_at, "accepted")
    elif candidate.last_exam_at is not None:
        base = (candidate.last_exam_at, "last_exam")
    else:  # not reachable through the subjects' order (a later subject follows a passed exam)
        base = (candidate.accepted_at, "accepted")
    penalties: list[tuple[datetime | None, PriorityBasis]] = [
        (candidate.last_cancelled_at, "cancelled"),
        (candidate.last_absent_at, "absent"),
    ]
    best = base
    for at, basis in penalties:
        if at is not None and at >= best[0]:  # the same instant: the penalty is the reason given
            best = (at, basis)
    return best


def priority_time(candidate: Candidate) -> datetime:
    """DL-11: the time a request ranks by (`ranking` says which rule gave it)."""
    return ranking(candidate)[0]


def seat_order(candidates: list[Candidate]) -> list[Candidate]:
    """DL-11: earliest priority time first; ties by when the booking was asked for, then its id."""
    return sorted(candidates, key=lambda c: (priority_time(c), c.requested_at, c.booking_id))


@dataclass(frozen=True)
class Placement:
    booking_id: str
    place: int  # 1-based, in the published order
    seated: bool


def decide_seats(candidates: list[Candidate], capacity: int) -> list[Placement]:
    """DL-11: at the slot's cut-off the first `capacity` requests in the published order are seated; every
    request learns its place, the rest are not seated (and may book another slot)."""
    return [
        Placement(booking_id=c.booking_id, place=i, seated=i <= capacity)
        for i, c in enumerate(seat_order(candidates), start=1)
    ]


# --- DL-11: slots and bookings ---------------------------------------------------------------------

SlotState = Literal["open", "decided"]

# A booking is a request until the slot's cut-off; then seated (预约成功) or not. A request is withdrawn
# online before the cut-off without consequence; a seated booking is cancelled at the counter at the
# latest the day before the exam (the cancellation time then ranks the next booking); an examiner records
# the seated booking's outcome once: passed, failed, or absent (判定该次考试不合格).
BookingState = Literal[
    "requested", "seated", "not_seated", "withdrawn", "cancelled", "passed", "failed", "absent"
]
BOOKING_STATES: tuple[BookingState, ...] = get_args(BookingState)
BookingAction = Literal["seat", "not_seat", "withdraw", "cancel", "pass", "fail", "be_absent"]
ExamOutcome = Literal["passed", "failed", "absent"]
OUTCOME_ACTIONS: dict[ExamOutcome, BookingAction] = {
    "passed": "pass",
    "failed": "fail",
    "absent": "be_absent",
}

BOOKING_MOVES: dict[tuple[BookingState, BookingAction], BookingState] = {
    ("requested", "seat"): "seated",
    ("requested", "not_seat"): "not_seated",
    ("requested", "withdraw"): "withdrawn",
    ("seated", "cancel"): "cancelled",
    ("seated", "pass"): "passed",
    ("seated", "fail"): "failed",
    ("seated", "be_absent"): "absent",
}
# A learner holds at most one of these per subject (a partial unique index backs it).
OPEN_BOOKING_STATES: frozenset[BookingState] = frozenset({"requested", "seated"})

WrongBookingState = refusal("BOOKING_STATE_DOES_NOT_ALLOW", "DL-11")
AlreadyBooked = refusal("ALREADY_BOOKED", "DL-11")
BookingClosed = refusal("BOOKING_CLOSED", "DL-11")
CutoffNotReached = refusal("CUTOFF_NOT_REACHED", "DL-11")
ExamNotStarted = refusal("EXAM_NOT_STARTED", "DL-11")
CancelAtCounter = refusal("CANCEL_AT_COUNTER", "DL-11")
TooLateToCancel = refusal("CANCEL_TOO_LATE", "DL-11")
SlotNotForClasses = refusal("SLOT_NOT_FOR_CLASSES", "DL-11", 422)
SubjectNotExamined = refusal("SUBJECT_NOT_EXAMINED_AT_SITE", "DL-11", 422)


def move_booking(state: BookingState, action: BookingAction) -> BookingState:
    """DL-11: the booking's next state, or a refusal naming the state it is in."""
    nxt = BOOKING_MOVES.get((state, action))
    if nxt is None:
        raise WrongBookingState(
            f"a {state.replace('_', ' ')} booking cannot {action.replace('_', ' ')}", extra={"state": state}
        )
    return nxt


def check_booking_window(state: SlotState, opens_at: datetime, cutoff_at: datetime, now: datetime) -> None:
    """DL-11: requests are taken from the slot's opening to its published cut-off (截止预约), not after."""
    if state != "open" or not opens_at <= now < cutoff_at:
        raise BookingClosed(
            "the slot takes requests from its opening to its cut-off",
            extra={"opens_at": opens_at.isoformat(), "cutoff_at": cutoff_at.isoformat(), "slot_state": state},
        )


def check_cutoff_reached(cutoff_at: datetime, now: datetime) -> None:
    if now < cutoff_at:
        raise CutoffNotReached(
            "seats are decided at the published cut-off", extra={"cutoff_at": cutoff_at.isoformat()}
        )


def check_exam_begun(starts_at: datetime, now: datetime) -> None:
    """DL-11: a result is recorded once the exam has begun, not before."""
    if now < starts_at:
        raise ExamNotStarted("the exam has not begun", extra={"starts_at": starts_at.isoformat()})


def check_withdrawable(state: SlotState, cutoff_at: datetime, now: datetime) -> None:
    """DL-11: a request is withdrawn online until the cut-off (停止接受预约前可在互联网取消)."""
    if state != "open" or now >= cutoff_at:
        raise BookingClosed(
            "seats are decided; a seated booking is cancelled at the counter",
            extra={"cutoff_at": cutoff_at.isoformat()},
        )


def check_cancellable(exam_day: date, today: date) -> None:
    """DL-11: a seated booking is cancelled at the latest the day before the exam (提前一日申请取消预约)."""
    last_day = exam_day - timedelta(days=1)
    if today > last_day:
        raise TooLateToCancel(
            f"a seated booking is cancelled by {last_day.isoformat()}, the day before the exam",
            extra={"last_day": last_day.isoformat()},
        )
