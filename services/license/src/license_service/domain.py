"""The driving-licence rules (DL-01..DL-13): states and transitions as tables, pure checks, named
refusals. No I/O: the time comes in as an argument (the unit of work's `uow.now`, or its date in
Asia/Shanghai). A use case loads what a check needs, calls it, and writes what it decides.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, replace
from datetime import date, datetime, timedelta
from typing import Literal, get_args

from servicekit.clock import SHANGHAI
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


# --- Applications (DL-02..DL-09): what each kind checks, how it moves ---------------------------------

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
DEFERRALS: frozenset[ApplicationKind] = frozenset({"defer_renewal", "defer_medical", "defer_review"})
# DL-09: of these, renewal on expiry and the over-age exchange need a medical certificate (身体条件证明).
NEEDS_MEDICAL: frozenset[ApplicationKind] = frozenset({"renew", "over_age"})
# DL-05: a new licence card carries the photo, so it must be current.
NEEDS_PHOTO: frozenset[ApplicationKind] = PRODUCES_A_LICENCE
# VH-07 (seed 002 §27(6): 补、换领……驾驶证业务): a ban bars online reissue and replacement outright; a
# renewal or over-age exchange (a duty of the holder, not a lost card) stays open, collected at the office.
BARRED_BY_BAN: frozenset[ApplicationKind] = frozenset({"reissue", "replace"})
# The rule each kind is applied under, named in its refusals and events.
RULE_OF: dict[ApplicationKind, str] = {
    "reissue": "DL-02",
    "replace": "DL-03",
    "defer_renewal": "DL-06",
    "defer_medical": "DL-06",
    "defer_review": "DL-06",
    "renew": "DL-07",
    "over_age": "DL-08",
}
# The business as the person reads it (SMS, receipt).
KIND_NAMES: dict[ApplicationKind, str] = {
    "reissue": "遗失补领驾驶证",
    "replace": "损毁换领驾驶证",
    "defer_renewal": "延期换证",
    "defer_medical": "延期提交身体条件证明",
    "defer_review": "延期审验",
    "renew": "期满换领驾驶证",
    "over_age": "超龄换领驾驶证",
}
Delivery = Literal["mail", "pickup"]

ApplicationState = Literal[
    "awaiting_medical",  # DL-09: waits for the hospital's certificate, then goes to intake
    "submitted",  # at the intake post
    "rejected",  # refused at intake (or lapsed waiting for its certificate), with a reason
    "approved",  # a deferral granted: nothing to produce
    "accepted",  # a licence to produce
    "produced",
    "mailed",
    "ready",  # for pick-up at the office
    "delivered",
    "picked_up",
    "refused",  # VH-07: the mailed licence was refused at the door
    "not_collected",  # VH-07: not picked up within one month
    "archived",
]
APPLICATION_STATES: tuple[ApplicationState, ...] = get_args(ApplicationState)
ApplicationAction = Literal[
    "medical_received",
    "approve",
    "accept",
    "reject",
    "produce",
    "mail",
    "hold",
    "deliver",
    "refuse_delivery",
    "pick_up",
    "miss_pickup",
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
    ("mailed", "refuse_delivery"): "refused",
    ("ready", "pick_up"): "picked_up",
    ("ready", "miss_pickup"): "not_collected",
    ("approved", "archive"): "archived",
    ("rejected", "archive"): "archived",
    ("delivered", "archive"): "archived",
    ("picked_up", "archive"): "archived",
    ("refused", "archive"): "archived",
    ("not_collected", "archive"): "archived",
}
OPEN_APPLICATION_STATES: frozenset[ApplicationState] = frozenset(
    {"awaiting_medical", "submitted", "accepted", "produced", "mailed", "ready"}
)

WrongApplicationState = refusal("APPLICATION_STATE_DOES_NOT_ALLOW", "DL-02")
NotForThisKind = refusal("NOT_FOR_THIS_APPLICATION_KIND", "DL-06", 422)
ApplicationOpen = refusal("APPLICATION_OPEN", "DL-02")
ReasonRequired = refusal("REASON_REQUIRED", "DL-02", 422)
PickupNotYetMissed = refusal("PICKUP_NOT_YET_MISSED", "VH-07")


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
        raise WrongApplicationState(
            f"an application that is {state} cannot {action.replace('_', ' ')}",
            rule=RULE_OF[kind],
            extra={"state": state},
        )
    return nxt


def slot(kind: ApplicationKind) -> str:
    """What "one open application of a kind per person" counts: every kind that produces a card shares one
    slot (two new cards at once would void each other), each deferral kind has its own."""
    return "card" if kind in PRODUCES_A_LICENCE else kind


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
    valid_from: date
    valid_until: date
    review_due: date | None
    medical_due: date | None
    photo_valid_until: date | None
    ban_until: date | None  # VH-07: the last barred day of the person's longest ban (vehicle's or ours)


CounterUsersOnly = refusal("COUNTER_REGISTERED_USERS_ONLY", "DL-02")
LicenceNotUsable = refusal("LICENCE_STATE_BLOCKS", "DL-02")
PhotoNeeded = refusal("LICENCE_PHOTO_NEEDED", "DL-05")
DeliveryBanned = refusal("DELIVERY_BAN", "VH-07")


def banned(holder: Holder, today: date) -> bool:
    return holder.ban_until is not None and today <= holder.ban_until


def check_online_application(
    kind: ApplicationKind, holder: Holder, today: date, *, delivery: Delivery | None
) -> None:
    """DL-02, DL-03, DL-06..DL-08, in the office's order, each refusal naming the kind's rule: only a
    counter-registered person (窗口注册个人用户) applies online; a revoked or cancelled licence has
    nothing to reissue, renew or defer; VH-07: during a ban no online reissue or replacement at all, and a
    renewal or over-age card is collected, not mailed; DL-05: a new card needs a current photo."""
    rule = RULE_OF[kind]
    if holder.channel != "counter":
        raise CounterUsersOnly(
            "this licence service is for users registered at a counter; bring your ID there", rule=rule
        )
    if holder.state in ("revoked", "cancelled"):
        raise LicenceNotUsable(f"the licence is {holder.state}", rule=rule, extra={"state": holder.state})
    if banned(holder, today):
        assert holder.ban_until is not None
        until = holder.ban_until.isoformat()
        if kind in BARRED_BY_BAN:
            raise DeliveryBanned(
                f"online reissue and replacement are barred until {until} after a failed delivery",
                extra={"until": until},
            )
        if kind in PRODUCES_A_LICENCE and delivery == "mail":
            raise DeliveryBanned(
                f"until {until} a new licence is collected at the office, not mailed", extra={"until": until}
            )
    if kind in NEEDS_PHOTO and (holder.photo_valid_until is None or holder.photo_valid_until < today):
        raise PhotoNeeded(
            "submit a current licence photo first (提交驾驶证专用照片)",
            extra={"photo_valid_until": holder.photo_valid_until and holder.photo_valid_until.isoformat()},
        )


# --- DL-05: the licence photo --------------------------------------------------------------------


def photo_valid_until(approved_on: date, months: int) -> date:
    """DL-05: the last day an approved licence photo is current: `months` after the review post stored it
    (ID-15). The seed names the expiry (超过有效期) without its length; the service's setting gives it."""
    return months_before(approved_on, -months) - timedelta(days=1)


# --- DL-06: deferrals at least one month ahead, at most three years ---------------------------------


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


def add_months(day: date, months: int) -> date:
    return months_before(day, -months)


TooLateToDefer = refusal("DEFERRAL_TOO_LATE", "DL-06")
NothingToDefer = refusal("NOTHING_TO_DEFER", "DL-06")
DeferralTooLong = refusal("DEFERRAL_TOO_LONG", "DL-06", 422)

# 《机动车驾驶证申领和使用规定》: 延期期限最长不超过三年, counted from the date first deferred.
MAX_DEFERRAL_MONTHS = 36


def check_deferral(due: date, today: date) -> None:
    """DL-06: a deferral is asked for at least one month before the date it defers
    (有效期止之日前至少一个月): on that day one month earlier at the latest."""
    last_day = months_before(due, 1)
    if today > last_day:
        raise TooLateToDefer(
            f"a deferral must be asked for by {last_day.isoformat()}, one month before {due.isoformat()}",
            extra={"last_day": last_day.isoformat()},
        )


@dataclass(frozen=True)
class Deferral:
    """DL-06: the date deferred, where its chain of deferrals began, and the new date."""

    due: date
    original_due: date
    deferred_to: date


def plan_deferral(due: date | None, original_due: date | None, months: int, today: date) -> Deferral:
    """DL-06: defer `due` by `months`, asked at least a month ahead; all deferrals of one date together
    reach at most three years past the date first deferred (`original_due`, the same as `due` unless
    `due` is itself a deferred date)."""
    if due is None or due == LONG_TERM:
        raise NothingToDefer("the licence record has no such date to defer")
    check_deferral(due, today)
    start = original_due or due
    deferred_to = add_months(due, months)
    latest = add_months(start, MAX_DEFERRAL_MONTHS)
    if deferred_to > latest:
        raise DeferralTooLong(
            f"deferrals reach at most {latest.isoformat()}, three years after {start.isoformat()}",
            extra={"latest": latest.isoformat()},
        )
    return Deferral(due=due, original_due=start, deferred_to=deferred_to)


# --- DL-07: renewal on expiry, and the validity ladder -----------------------------------------------

OutsideRenewalWindow = refusal("OUTSIDE_RENEWAL_WINDOW", "DL-07")

# 长期: a long-term licence has no expiry; the record keeps this date so that `valid_until` stays a date.
LONG_TERM = date(9999, 12, 31)


def renewal_window(valid_until: date, deferred_to: date | None = None) -> tuple[date, date]:
    """DL-07: from 90 days before the expiry (前九十日内) to the last day before 11 months after it; a
    granted renewal deferral (DL-06) counts the 11 months from the deferred date instead."""
    opens = valid_until - timedelta(days=90)
    closes = add_months(max(valid_until, deferred_to or valid_until), 11) - timedelta(days=1)
    return opens, closes


def check_renewal(valid_until: date, today: date, deferred_to: date | None = None) -> None:
    if valid_until == LONG_TERM:
        raise OutsideRenewalWindow("a long-term licence is not renewed")
    opens, closes = renewal_window(valid_until, deferred_to)
    if not opens <= today <= closes:
        raise OutsideRenewalWindow(
            f"online renewal is open from {opens.isoformat()} to {closes.isoformat()}",
            extra={"opens": opens.isoformat(), "closes": closes.isoformat()},
        )


def renewed_validity(valid_from: date, valid_until: date, full_points_in_term: bool) -> tuple[date, date]:
    """DL-07, 《机动车驾驶证申领和使用规定》's ladder: a 6-year licence with no scoring cycle of 12 points in
    its term is renewed for 10 years, a 10-year one for the long term; with a full-points cycle the same
    term again. The new term runs on from the old expiry (a late renewal gains no time)."""
    years = valid_until.year - valid_from.year
    if full_points_in_term:
        term: int | None = 10 if years >= 10 else 6
    else:
        term = None if years >= 10 else 10
    return valid_until, LONG_TERM if term is None else add_months(valid_until, 12 * term)


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


# --- Delivery and the VH-07 ban -----------------------------------------------------------------------


def pickup_due(ready_at: datetime) -> datetime:
    """VH-07: a licence not picked up within one calendar month of being ready (Shanghai time)."""
    local = ready_at.astimezone(SHANGHAI)
    return datetime.combine(add_months(local.date(), 1), local.timetz())


def check_pickup_missed(state: ApplicationState, due: datetime | None, now: datetime) -> None:
    """VH-07: a pick-up is missed once its month has passed."""
    if state == "ready" and due is not None and now <= due:
        raise PickupNotYetMissed(
            "the month for pick-up has not passed", extra={"pickup_due": due.isoformat()}
        )


def ban_until(imposed_at: datetime) -> date:
    """VH-07, as vehicle counts it (ADR 0042): one year, the last barred day the day before the
    anniversary."""
    return add_months(imposed_at.astimezone(SHANGHAI).date(), 12) - timedelta(days=1)


# --- DL-09: medical certificates from hospitals -----------------------------------------------------

MedicalPurpose = Literal[
    "first_application",  # 初次申领
    "transfer_in",  # 转入
    "renewal",  # DL-07 期满换证
    "over_age",  # DL-08 超龄换证
    "reinstatement",  # 恢复驾驶资格
    "downgrade",  # 因身体条件变化降低准驾车型
    "periodic",  # DL-10 60周岁以上或持C5, 到达审验日期
]
MEDICAL_PURPOSES: tuple[MedicalPurpose, ...] = get_args(MedicalPurpose)
Conclusion = Literal["fit", "unfit"]

# 身体条件证明自出具之日起六个月内有效.
CERTIFICATE_VALID_MONTHS = 6
# How long an application waits for its certificate before it lapses (ADR 0051).
MEDICAL_WAIT = timedelta(days=30)
UNFIT_REASON = "医院出具的身体条件证明结论为不合格"
LAPSED_REASON = "30日内未收到医院提交的身体条件证明"

ExamDateInFuture = refusal("EXAM_DATE_IN_FUTURE", "DL-09", 422)
CertificateExpired = refusal("MEDICAL_CERTIFICATE_EXPIRED", "DL-09", 422)
NameMismatch = refusal("MEDICAL_NAME_MISMATCH", "DL-09", 422)


def certificate_valid_until(examined_on: date) -> date:
    """DL-09: the last day a certificate counts, six months from the examination."""
    return add_months(examined_on, CERTIFICATE_VALID_MONTHS) - timedelta(days=1)


def check_certificate(examined_on: date, today: date) -> None:
    """DL-09: a hospital submits what it examined: not a future date, not one past its six months."""
    if examined_on > today:
        raise ExamDateInFuture("the examination date is in the future")
    if certificate_valid_until(examined_on) < today:
        raise CertificateExpired(
            "a medical certificate counts for six months from the examination",
            extra={"valid_until": certificate_valid_until(examined_on).isoformat()},
        )


def medical_outcome(conclusion: Conclusion) -> tuple[ApplicationAction, str | None]:
    """DL-09: what a certificate does to an application waiting for it: a fit one sends it to intake, an
    unfit one ends it with the reason the person is told."""
    return ("medical_received", None) if conclusion == "fit" else ("reject", UNFIT_REASON)


# --- DL-10: the periodic medical certificate --------------------------------------------------------

PeriodicNotDue = refusal("PERIODIC_MEDICAL_NOT_DUE", "DL-10")
# 记分周期结束后三十日内: the certificate is submitted within 30 days of the review date.
PERIODIC_SUBMIT_WITHIN = timedelta(days=30)
PeriodicReason = Literal["age_60", "c5"]


def periodic_medical(
    classes: frozenset[LicenceClass], birth: date, today: date
) -> tuple[PeriodicReason, int] | None:
    """DL-10: why a holder submits a periodic certificate and every how many years: yearly at 60 or over,
    every three years for C5 (《机动车驾驶证申领和使用规定》); None when neither applies."""
    if age_on(birth, today) >= 60:
        return "age_60", 1
    if "C5" in classes:
        return "c5", 3
    return None


def needs_periodic_medical(
    classes: frozenset[LicenceClass], birth: date, review_date: date, today: date
) -> bool:
    """DL-10: aged 60 or over, or holding C5, once the review date (审验日期) is reached."""
    return periodic_medical(classes, birth, today) is not None and today >= review_date


def submit_by(review_due: date, medical_due: date | None) -> date:
    """DL-10: the last day for the certificate: the record's own due date, else 30 days after review."""
    return (
        medical_due
        if medical_due is not None and medical_due >= review_due
        else review_due + PERIODIC_SUBMIT_WITHIN
    )


def check_periodic(
    classes: frozenset[LicenceClass], birth: date, review_due: date | None, today: date
) -> int:
    """DL-10: a periodic certificate is taken for a holder who needs one once the review date is reached
    (当前日期到达驾驶证审验日期后); returns its period in years."""
    need = periodic_medical(classes, birth, today)
    if need is None:
        raise PeriodicNotDue("the periodic certificate is for holders aged 60 or over or holding C5")
    if review_due is None or today < review_due:
        raise PeriodicNotDue(
            "the periodic certificate is submitted once the review date is reached",
            extra={"review_due": review_due and review_due.isoformat()},
        )
    return need[1]


def next_review(review_due: date, years: int, today: date) -> date:
    """DL-10: the next review date after a periodic certificate: the period added until it is ahead."""
    nxt = review_due
    while nxt <= today:
        nxt = add_months(nxt, 12 * years)
    return nxt


# --- DL-12: points ----------------------------------------------------------------------------------

FULL_POINTS = 12

Cycle = tuple[date, date]  # [start, end): the end is the next cycle's first day (清分日)


def _anniversary(first_issue: date, years: int) -> date:
    return months_before(first_issue, -12 * years)


def points_cycle(first_issue: date, on: date) -> Cycle:
    """DL-12: the 12-month cycle (记分周期) that contains `on`, counted from the first issue date: [start,
    end), each cycle starting on an anniversary of the first issue (28 February in a common year for a
    licence first issued on 29 February) and ending where the next starts, so every day is in exactly
    one cycle. A day before the first issue falls in the first cycle."""
    on = max(on, first_issue)
    years = on.year - first_issue.year
    if _anniversary(first_issue, years) > on:
        years -= 1
    return _anniversary(first_issue, years), _anniversary(first_issue, years + 1)


@dataclass(frozen=True)
class PointEntry:
    """What DL-12 reads of one counted decision: the day it was decided (in Asia/Shanghai) and its points.
    Revoked entries (撤销) and entries cleared by the full-points study are not given to these checks."""

    decided_on: date
    points: int


@dataclass(frozen=True)
class Standing:
    """A licence's points on a day: the cycle running, its total (the record's `points`), whether some
    cycle stands at 12 or more (满分, until the study and exam clear it), and the day the total must be
    looked at again (the cycle's end; None when no counted entry is in this cycle or a later one)."""

    cycle: Cycle
    total: int
    full: bool
    review_on: date | None


def cycle_totals(first_issue: date, entries: Iterable[PointEntry]) -> dict[Cycle, int]:
    """DL-12: the points of each cycle. A decision counts in the cycle running on the day it was issued:
    points are given with the penalty decision (处罚与记分同时执行), so a cycle that has ended takes no
    more (ADR 0053)."""
    totals: dict[Cycle, int] = {}
    for entry in entries:
        cycle = points_cycle(first_issue, entry.decided_on)
        totals[cycle] = totals.get(cycle, 0) + entry.points
    return totals


def points_standing(first_issue: date, entries: Iterable[PointEntry], today: date) -> Standing:
    """DL-12: the current cycle's total, and whether any cycle has reached 12. A cycle that ended under 12
    is cleared by ending (its total is simply no longer current); one that reached 12 keeps the licence
    flagged past its end, until the study and exam clear its entries."""
    totals = cycle_totals(first_issue, entries)
    cycle = points_cycle(first_issue, today)
    pending = any(start >= cycle[0] for start, _ in totals)
    return Standing(
        cycle=cycle,
        total=totals.get(cycle, 0),
        full=any(total >= FULL_POINTS for total in totals.values()),
        review_on=cycle[1] if pending else None,
    )


def full_cycles(first_issue: date, entries: Iterable[PointEntry]) -> set[Cycle]:
    """DL-12: the cycles at 12 or more: the ones the full-points study and exam (满分学习考试) clear."""
    return {cycle for cycle, total in cycle_totals(first_issue, entries).items() if total >= FULL_POINTS}


NotFullPoints = refusal("LICENCE_NOT_FULL_POINTS", "DL-12")


def check_clear_full_points(state: LicenceState) -> None:
    """DL-12: only a flagged licence (满分) has full points for the study and exam to clear."""
    if state != "full_points":
        raise NotFullPoints(f"the licence is {state}, not at full points", extra={"state": state})


def points_move(state: LicenceState, full: bool) -> RecordAction | None:
    """DL-12: the move that makes the state agree with the points: a valid licence with a cycle at 12 is
    flagged (满分); a flagged one whose cycles are all under 12 again (a decision revoked, or the study and
    exam passed) is cleared. A suspended, revoked or cancelled licence is not moved on points."""
    if state == "valid" and full:
        return "reach_full_points"
    if state == "full_points" and not full:
        return "clear_full_points"
    return None


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


def add_years(day: date, years: int) -> date:
    """The same day `years` later (29 February → 28 February)."""
    return months_before(day, -12 * years)


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
