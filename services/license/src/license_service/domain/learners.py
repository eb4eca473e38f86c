"""DL-11: the learner: the learner permit, the waits before a subject may be booked, the road-test
bookings, and what a result does.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import date, datetime, timedelta
from typing import Literal

from license_service.domain.dates import add_years
from license_service.domain.exams import ExamOutcome, SlotNotForClasses, Subject, check_subject, next_subject
from license_service.domain.records import LicenceClass
from servicekit.refusal import refusal

# --- DL-11: the learner and the waiting rules ------------------------------------------------------

# learning: an accepted application in its exams; licensed: the last subject passed, the first licence
# issued; ended: the exams end without a licence (a fifth failed road test, the learner permit lapsed).
LearnerState = Literal["learning", "licensed", "ended"]
EndReason = Literal["fifth_failure", "permit_expired"]
# Why a learner may not book the next subject yet.
WaitReason = Literal["permit", "retry"]

PERMIT_YEARS = 3  # 学习驾驶证明 valid three years from the subject-1 pass
FIRST_LICENCE_YEARS = 6  # a first licence is valid six years
RETRY_WAIT_DAYS = 10  # a failed or missed road test (subject 2 or 3) is booked again ten days later
ROAD_TEST_BOOKINGS = 5  # subject 2 and subject 3 each: at most five bookings while the permit is valid
ROAD_TESTS: frozenset[Subject] = frozenset({2, 3})

# Days from the learner permit until subject 2 / subject 3 may be booked, by the class applied for
# (《机动车驾驶证申领和使用规定》 on booking subjects 2 and 3). Motorcycles are not named there: they take the
# shortest waits (ADR 0052).
_HEAVY: frozenset[LicenceClass] = frozenset({"A1", "A2", "A3", "B1", "B2"})
SUBJECT2_WAIT: tuple[tuple[frozenset[LicenceClass], int], ...] = ((_HEAVY | {"C6"}, 20),)
SUBJECT2_DEFAULT = 10
SUBJECT3_WAIT: tuple[tuple[frozenset[LicenceClass], int], ...] = (
    (_HEAVY, 40),
    (frozenset({"C1", "C6", "M", "N", "P"}), 30),
)
SUBJECT3_DEFAULT = 20


def permit_wait_days(subject: Subject, classes: frozenset[LicenceClass]) -> int:
    """DL-11: how long after the learner permit a subject may be booked: the longest of the classes applied
    for; subject 1 needs no permit and subject 4 follows subject 3 without a wait of its own."""
    if subject == 2:
        table, default = SUBJECT2_WAIT, SUBJECT2_DEFAULT
    elif subject == 3:
        table, default = SUBJECT3_WAIT, SUBJECT3_DEFAULT
    else:
        return 0
    waits = [next((days for named, days in table if cls in named), default) for cls in classes]
    return max(waits, default=default)


@dataclass(frozen=True)
class Learner:
    """What DL-11's checks read of a learner: the application and the exams so far."""

    state: LearnerState
    classes: frozenset[LicenceClass]
    accepted_at: datetime
    passed: frozenset[Subject]
    permit_issued_on: date | None  # 学习驾驶证明, at the subject-1 pass
    permit_valid_until: date | None
    last_exam_at: datetime | None
    last_cancelled_at: datetime | None
    last_absent_at: datetime | None
    retry_from: date | None  # a failed or missed road test: the next booking from this day
    road_bookings: dict[int, int]  # subject 2 / 3 → bookings examined (passed, failed or absent)


LearnerNotLearning = refusal("LEARNER_NOT_LEARNING", "DL-11")
TooEarlyToBook = refusal("TOO_EARLY_TO_BOOK", "DL-11")
PermitExpires = refusal("LEARNER_PERMIT_EXPIRES", "DL-11")


def earliest_booking(learner: Learner, subject: Subject) -> tuple[date, WaitReason] | None:
    """DL-11's waiting rules for booking `subject` (the next one): the days after the learner permit
    (`permit_wait_days`) and ten days after a failed or missed road test; the later of the two."""
    waits: list[tuple[date, WaitReason]] = []
    days = permit_wait_days(subject, learner.classes)
    if days and learner.permit_issued_on is not None:
        waits.append((learner.permit_issued_on + timedelta(days=days), "permit"))
    if learner.retry_from is not None and subject in ROAD_TESTS:
        waits.append((learner.retry_from, "retry"))
    return max(waits, key=lambda w: w[0]) if waits else None


def check_can_book(
    learner: Learner,
    subject: Subject,
    slot_classes: frozenset[LicenceClass],
    exam_day: date,
    today: date,
) -> None:
    """DL-11: a learner in their exams books the next subject, in a slot that examines a class they applied
    for, once its waiting rules allow, for an exam inside the learner permit's validity."""
    if learner.state != "learning":
        raise LearnerNotLearning(
            "the exams of this application have ended" if learner.state == "ended" else "already licensed",
            extra={"learner_state": learner.state},
        )
    check_subject(subject, learner.passed)
    if not learner.classes & slot_classes:
        raise SlotNotForClasses(
            "the slot does not examine the class applied for",
            extra={"classes": sorted(learner.classes), "slot_classes": sorted(slot_classes)},
        )
    wait = earliest_booking(learner, subject)
    if wait is not None and today < wait[0]:
        raise TooEarlyToBook(
            f"subject {subject} may be booked from {wait[0].isoformat()}",
            extra={"from": wait[0].isoformat(), "reason": wait[1]},
        )
    if subject != 1 and learner.permit_valid_until is not None and exam_day > learner.permit_valid_until:
        raise PermitExpires(
            "the exam is after the learner permit expires",
            extra={"permit_valid_until": learner.permit_valid_until.isoformat()},
        )


@dataclass(frozen=True)
class AfterResult:
    """The learner after one result (DL-11): what to write, and what follows."""

    learner: Learner
    licensed: bool  # the last subject passed: issue the first licence
    ended: EndReason | None  # the exams end here (a fifth failed road test: results voided)


def after_result(
    learner: Learner, subject: Subject, outcome: ExamOutcome, exam_at: datetime, exam_day: date
) -> AfterResult:
    """DL-11's rules on a result: a pass adds the subject (subject 1 issues the learner permit, valid three
    years; the last subject licenses); a failure or an absence (判定不合格) ranks the next booking by its
    time, and of a road test waits ten days and counts toward its five bookings, the fifth failure voiding
    every subject passed (成绩作废)."""
    if outcome == "passed":
        passed = learner.passed | {subject}
        issued = exam_day if subject == 1 else learner.permit_issued_on
        valid = add_years(exam_day, PERMIT_YEARS) if subject == 1 else learner.permit_valid_until
        done = next_subject(passed) is None
        after = replace(
            learner,
            state="licensed" if done else learner.state,
            passed=passed,
            permit_issued_on=issued,
            permit_valid_until=valid,
            last_exam_at=exam_at,
            retry_from=None,
            road_bookings=_count(learner.road_bookings, subject),
        )
        return AfterResult(learner=after, licensed=done, ended=None)
    road = subject in ROAD_TESTS
    counts = _count(learner.road_bookings, subject)
    fifth = road and counts.get(subject, 0) >= ROAD_TEST_BOOKINGS
    after = replace(
        learner,
        state="ended" if fifth else learner.state,
        passed=frozenset() if fifth else learner.passed,
        last_exam_at=exam_at if outcome == "failed" else learner.last_exam_at,
        last_absent_at=exam_at if outcome == "absent" else learner.last_absent_at,
        retry_from=exam_day + timedelta(days=RETRY_WAIT_DAYS) if road else learner.retry_from,
        road_bookings=counts,
    )
    return AfterResult(learner=after, licensed=False, ended="fifth_failure" if fifth else None)


def _count(counts: dict[int, int], subject: Subject) -> dict[int, int]:
    if subject not in ROAD_TESTS:
        return dict(counts)
    return {**counts, subject: counts.get(subject, 0) + 1}


def road_bookings_left(learner: Learner, subject: Subject) -> int | None:
    """DL-11: how many of a road test's five bookings remain (None for subjects 1 and 4)."""
    if subject not in ROAD_TESTS:
        return None
    return max(0, ROAD_TEST_BOOKINGS - learner.road_bookings.get(subject, 0))


def permit_lapsed(learner: Learner, today: date) -> bool:
    """DL-11: the learner permit expired before the exams were done: the subjects passed are void."""
    return (
        learner.state == "learning"
        and learner.permit_valid_until is not None
        and today > learner.permit_valid_until
    )


def first_licence_validity(day: date) -> tuple[date, date]:
    """DL-11: the first licence, issued on the day of the last pass, is valid six years."""
    return day, add_years(day, FIRST_LICENCE_YEARS)
