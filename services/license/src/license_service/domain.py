"""The driving-licence rules (DL-01..DL-13): states and transitions as tables, pure checks, named
refusals. No I/O: the time comes in as an argument (the unit of work's `uow.now`, or its date in
Asia/Shanghai). A use case loads what a check needs, calls it, and writes what it decides.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Literal, get_args

from servicekit.refusal import refusal

# --- DL-01: the record ------------------------------------------------------------------------------

# 准驾车型 of 《机动车驾驶证申领和使用规定》 (C6, light trailer, since the 2021 revision).
LicenceClass = Literal[
    "A1", "A2", "A3", "B1", "B2", "C1", "C2", "C3", "C4", "C5", "C6", "D", "E", "F", "M", "N", "P"
]
LICENCE_CLASSES: tuple[LicenceClass, ...] = get_args(LicenceClass)

# The states the platform acts on. Other police systems move a record (issue, seizure, revocation,
# cancellation); the platform moves it on points (DL-12) and on renewal (DL-07).
LicenceState = Literal["valid", "full_points", "suspended", "revoked", "cancelled"]
LICENCE_STATES: tuple[LicenceState, ...] = get_args(LicenceState)
RecordAction = Literal["reach_full_points", "clear_full_points", "suspend", "restore", "revoke", "cancel"]

RECORD_MOVES: dict[tuple[LicenceState, RecordAction], LicenceState] = {
    ("valid", "reach_full_points"): "full_points",
    ("full_points", "clear_full_points"): "valid",
    ("valid", "suspend"): "suspended",  # 暂扣
    ("full_points", "suspend"): "suspended",
    ("suspended", "restore"): "valid",
    ("valid", "revoke"): "revoked",  # 吊销
    ("full_points", "revoke"): "revoked",
    ("suspended", "revoke"): "revoked",
    ("valid", "cancel"): "cancelled",  # 注销: DL-13, identity unbinds on the event
    ("full_points", "cancel"): "cancelled",
    ("suspended", "cancel"): "cancelled",
    ("revoked", "cancel"): "cancelled",
}

WrongRecordState = refusal("LICENCE_STATE_DOES_NOT_ALLOW", "DL-01")
InvalidRecord = refusal("INVALID_LICENCE_RECORD", "DL-01", 422)
LicenceExists = refusal("LICENCE_EXISTS", "DL-01")

# What other police systems do to a record through the `system` API (DL-01): seizure and its end, revocation,
# cancellation (DL-13). Full points come and go with DL-12's points, never from outside.
PoliceAction = Literal["suspend", "restore", "revoke", "cancel"]
POLICE_ACTIONS: tuple[PoliceAction, ...] = get_args(PoliceAction)
# The states a record may come onto the platform in by bulk import: issued valid, then moved. A cancelled
# licence has no business on the platform; full points follow the points, which the platform counts.
IMPORT_MOVES: dict[LicenceState, RecordAction | None] = {
    "valid": None,
    "suspended": "suspend",
    "revoked": "revoke",
}


def record_faults(
    *,
    birth_date: date,
    classes: frozenset[str],
    first_issue: date,
    valid_from: date,
    valid_until: date,
) -> list[tuple[str, str]]:
    """DL-01: what is wrong with a record a police system states, field by field (empty when nothing is):
    at least one known permitted class; first issued after the holder's birth and no later than the
    current card's valid-from, which comes before its valid-until."""
    faults: list[tuple[str, str]] = []
    unknown = sorted(classes - set(LICENCE_CLASSES))
    if not classes:
        faults.append(("classes", "at least one permitted class (准驾车型)"))
    elif unknown:
        faults.append(("classes", f"unknown permitted class {', '.join(unknown)}"))
    if first_issue <= birth_date:
        faults.append(("first_issue", "before the holder was born"))
    if first_issue > valid_from:
        faults.append(("first_issue", "after valid_from: the first issue comes before the current card"))
    if valid_until <= valid_from:
        faults.append(("valid_until", "not after valid_from"))
    return faults


def check_record(
    *,
    birth_date: date,
    classes: frozenset[str],
    first_issue: date,
    valid_from: date,
    valid_until: date,
) -> None:
    """DL-01: refuse (422) a record with any of `record_faults`, naming every bad field."""
    faults = record_faults(
        birth_date=birth_date,
        classes=classes,
        first_issue=first_issue,
        valid_from=valid_from,
        valid_until=valid_until,
    )
    if faults:
        raise InvalidRecord(
            "; ".join(f"{field}: {reason}" for field, reason in faults),
            extra={"errors": [{"field": field, "message": reason} for field, reason in faults]},
        )


def move_record(state: LicenceState, action: RecordAction) -> LicenceState:
    """DL-01: the record's next state, or a refusal naming the state it is in."""
    nxt = RECORD_MOVES.get((state, action))
    if nxt is None:
        raise WrongRecordState(f"a {state} licence cannot {action.replace('_', ' ')}", extra={"state": state})
    return nxt


# --- Applications (DL-02, DL-03, DL-06, DL-07, DL-08) -----------------------------------------------

ApplicationKind = Literal[
    "reissue",  # DL-02 遗失补领
    "replace",  # DL-03 损毁换领
    "defer_renewal",  # DL-06 延期换证
    "defer_medical",  # DL-06 延期提交身体条件证明
    "defer_review",  # DL-06 延期审验
    "renew",  # DL-07 期满换证
    "over_age",  # DL-08 超龄换证
]
APPLICATION_KINDS: tuple[ApplicationKind, ...] = get_args(ApplicationKind)
PRODUCES_A_LICENCE: frozenset[ApplicationKind] = frozenset({"reissue", "replace", "renew", "over_age"})
# DL-09: of these, renewal on expiry and the over-age exchange need a medical certificate (身体条件证明).
NEEDS_MEDICAL: frozenset[ApplicationKind] = frozenset({"renew", "over_age"})
# DL-05: a new licence card carries the photo, so it must be current.
NEEDS_PHOTO: frozenset[ApplicationKind] = PRODUCES_A_LICENCE

ApplicationState = Literal[
    "awaiting_medical",  # DL-09: waits for the hospital's certificate, then goes to intake
    "submitted",  # at the intake post
    "rejected",  # refused at intake, with a reason
    "approved",  # a deferral granted: nothing to produce
    "accepted",  # a licence to produce
    "produced",
    "mailed",
    "ready",  # for pick-up at the office
    "delivered",
    "picked_up",
    "archived",
]
ApplicationAction = Literal[
    "medical_received",
    "approve",
    "accept",
    "reject",
    "produce",
    "mail",
    "hold",
    "deliver",
    "pick_up",
    "archive",
]

APPLICATION_MOVES: dict[tuple[ApplicationState, ApplicationAction], ApplicationState] = {
    ("awaiting_medical", "medical_received"): "submitted",
    ("awaiting_medical", "reject"): "rejected",
    ("submitted", "approve"): "approved",
    ("submitted", "accept"): "accepted",
    ("submitted", "reject"): "rejected",
    ("accepted", "produce"): "produced",
    ("produced", "mail"): "mailed",
    ("produced", "hold"): "ready",
    ("mailed", "deliver"): "delivered",
    ("ready", "pick_up"): "picked_up",
    ("approved", "archive"): "archived",
    ("rejected", "archive"): "archived",
    ("delivered", "archive"): "archived",
    ("picked_up", "archive"): "archived",
}
OPEN_APPLICATION_STATES: frozenset[ApplicationState] = frozenset(
    {"awaiting_medical", "submitted", "accepted", "produced", "mailed", "ready"}
)

WrongApplicationState = refusal("APPLICATION_STATE_DOES_NOT_ALLOW", "DL-02")
NotForThisKind = refusal("NOT_FOR_THIS_APPLICATION_KIND", "DL-06", 422)


def move_application(
    kind: ApplicationKind, state: ApplicationState, action: ApplicationAction
) -> ApplicationState:
    """The application's next state. A deferral is approved, never produced; a licence is accepted and
    produced, never merely approved."""
    if action == "approve" and kind in PRODUCES_A_LICENCE:
        raise NotForThisKind("a licence application is accepted for production, not approved")
    if action == "accept" and kind not in PRODUCES_A_LICENCE:
        raise NotForThisKind("a deferral is approved; there is nothing to produce")
    nxt = APPLICATION_MOVES.get((state, action))
    if nxt is None:
        raise WrongApplicationState(f"an application that is {state} cannot {action.replace('_', ' ')}")
    return nxt


def first_state(kind: ApplicationKind, medical_on_file: bool) -> ApplicationState:
    """DL-09: an application that needs a medical certificate waits for it unless one is on file."""
    return "awaiting_medical" if kind in NEEDS_MEDICAL and not medical_on_file else "submitted"


@dataclass(frozen=True)
class Holder:
    """What the online checks need of the applicant and the record."""

    channel: Literal["online", "counter"]  # where the account was registered (ID-02)
    birth_date: date
    state: LicenceState
    classes: frozenset[LicenceClass]
    valid_until: date
    photo_valid_until: date | None
    delivery_banned_until: datetime | None  # VH-07, from vehicle's delivery_ban event


CounterUsersOnly = refusal("COUNTER_REGISTERED_USERS_ONLY", "DL-02")
LicenceNotUsable = refusal("LICENCE_STATE_BLOCKS", "DL-02")
PhotoNeeded = refusal("LICENCE_PHOTO_NEEDED", "DL-05")
DeliveryBanned = refusal("DELIVERY_BAN", "VH-07")


def check_online_application(
    kind: ApplicationKind, holder: Holder, today: date, *, by_mail: bool, now: datetime
) -> None:
    """DL-02, DL-03, DL-06..DL-08: only a counter-registered person (窗口注册个人用户) applies online; a
    revoked or cancelled licence has nothing to reissue or renew; a new card needs a current photo
    (DL-05); a mailed delivery is refused while a VH-07 ban runs."""
    if holder.channel != "counter":
        raise CounterUsersOnly(
            "this licence service is for users registered at a counter; bring your ID there"
        )
    if holder.state in ("revoked", "cancelled"):
        raise LicenceNotUsable(f"the licence is {holder.state}", extra={"state": holder.state})
    if kind in NEEDS_PHOTO and (holder.photo_valid_until is None or holder.photo_valid_until < today):
        raise PhotoNeeded("submit a current licence photo first (提交驾驶证专用照片)")
    if by_mail and holder.delivery_banned_until is not None and now < holder.delivery_banned_until:
        raise DeliveryBanned(
            "mailed delivery is barred for a year after an item was refused; choose pick-up",
            extra={"banned_until": holder.delivery_banned_until.isoformat()},
        )


# --- DL-05: the licence photo --------------------------------------------------------------------


def photo_valid_until(approved_on: date, months: int) -> date:
    """DL-05: the last day an approved licence photo is current: `months` after the review post stored it
    (ID-15). The seed names the expiry (超过有效期) without its length; the service's setting gives it."""
    return months_before(approved_on, -months) - timedelta(days=1)


# --- DL-06: deferrals at least one month ahead ------------------------------------------------------


def months_before(day: date, months: int) -> date:
    """The same day `months` earlier, clamped to the month's end (31 March - 1 month = 28/29 February)."""
    total = day.year * 12 + day.month - 1 - months
    year, month = divmod(total, 12)
    month += 1
    for last in (31, 30, 29, 28):
        try:
            return date(year, month, min(day.day, last))
        except ValueError:
            continue
    raise AssertionError("unreachable")


TooLateToDefer = refusal("DEFERRAL_TOO_LATE", "DL-06")


def check_deferral(due: date, today: date) -> None:
    """DL-06: a deferral is asked for at least one month before the date it defers
    (有效期止之日前至少一个月): on that day one month earlier at the latest."""
    last_day = months_before(due, 1)
    if today > last_day:
        raise TooLateToDefer(
            f"a deferral must be asked for by {last_day.isoformat()}, one month before {due.isoformat()}",
            extra={"last_day": last_day.isoformat()},
        )


# --- DL-07: renewal on expiry -----------------------------------------------------------------------

OutsideRenewalWindow = refusal("OUTSIDE_RENEWAL_WINDOW", "DL-07")


def renewal_window(valid_until: date) -> tuple[date, date]:
    """DL-07: from 90 days before the expiry (前九十日内) to the last day before 11 months after it."""
    opens = valid_until - timedelta(days=90)
    closes = months_before(valid_until, -11) - timedelta(days=1)
    return opens, closes


def check_renewal(valid_until: date, today: date) -> None:
    opens, closes = renewal_window(valid_until)
    if not opens <= today <= closes:
        raise OutsideRenewalWindow(
            f"online renewal is open from {opens.isoformat()} to {closes.isoformat()}",
            extra={"opens": opens.isoformat(), "closes": closes.isoformat()},
        )


# --- DL-08: over-age exchange -----------------------------------------------------------------------

# 60+: large bus, tractor-trailer, city bus, medium bus, large truck → small car or small automatic.
# 70+: three- and two-wheel motorcycles → light motorcycle.
OVER_AGE_EXCHANGES: tuple[tuple[int, frozenset[LicenceClass], frozenset[LicenceClass]], ...] = (
    (60, frozenset({"A1", "A2", "A3", "B1", "B2"}), frozenset({"C1", "C2"})),
    (70, frozenset({"D", "E"}), frozenset({"F"})),
)

NoOverAgeExchange = refusal("NO_OVER_AGE_EXCHANGE", "DL-08")
NotAnOverAgeTarget = refusal("NOT_AN_OVER_AGE_TARGET", "DL-08", 422)


def age_on(birth: date, today: date) -> int:
    return today.year - birth.year - ((today.month, today.day) < (birth.month, birth.day))


def over_age_exchange(
    classes: frozenset[LicenceClass], birth: date, today: date, target: LicenceClass
) -> frozenset[LicenceClass]:
    """DL-08: the classes after exchanging the over-age ones for `target`; classes the rule does not name
    are kept."""
    age = age_on(birth, today)
    for min_age, given_up, targets in OVER_AGE_EXCHANGES:
        held = classes & given_up
        if age >= min_age and held:
            if target not in targets:
                raise NotAnOverAgeTarget(
                    f"{'/'.join(sorted(held))} is exchanged for {' or '.join(sorted(targets))}",
                    extra={"targets": sorted(targets)},
                )
            return (classes - given_up) | {target}
    raise NoOverAgeExchange(
        "the over-age exchange is for A1, A2, A3, B1 or B2 at 60 or over, or D or E at 70 or over",
        extra={"age": age},
    )


# --- DL-10: the periodic medical certificate --------------------------------------------------------


def needs_periodic_medical(
    classes: frozenset[LicenceClass], birth: date, review_date: date, today: date
) -> bool:
    """DL-10: aged 60 or over, or holding C5, once the review date (审验日期) is reached."""
    return (age_on(birth, today) >= 60 or "C5" in classes) and today >= review_date


# --- DL-12: points ----------------------------------------------------------------------------------

FULL_POINTS = 12


def points_cycle(first_issue: date, on: date) -> tuple[date, date]:
    """DL-12: the 12-month cycle that contains `on`, counted from the first issue date: [start, end)."""
    years = on.year - first_issue.year
    start = months_before(first_issue, -12 * years)
    if start > on:
        start = months_before(first_issue, -12 * (years - 1))
    return start, months_before(start, -12)


def reaches_full_points(points_before: int, points_added: int) -> bool:
    """DL-12: the decision that takes the cycle's total to 12 or more flags the licence (满分)."""
    return points_before < FULL_POINTS <= points_before + points_added


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


def priority_time(candidate: Candidate) -> datetime:
    """DL-11: a first subject-1 booking ranks by when the application was accepted, any other by the last
    exam; after a cancelled confirmed booking or an absence, by that time (the later of the two)."""
    if candidate.subject == 1 and candidate.last_exam_at is None:
        base = candidate.accepted_at
    else:
        base = candidate.last_exam_at or candidate.accepted_at
    penalties = [t for t in (candidate.last_cancelled_at, candidate.last_absent_at) if t is not None]
    return max(penalties) if penalties else base


def seat_order(candidates: list[Candidate]) -> list[Candidate]:
    """DL-11: earliest priority time first; ties by when the booking was asked for, then its id."""
    return sorted(candidates, key=lambda c: (priority_time(c), c.requested_at, c.booking_id))
