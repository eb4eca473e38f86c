"""DL-02..DL-05 and VH-07: the application kinds, their states and moves as a table, who may apply
online for what, delivery and the one-year ban.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Literal, get_args

from license_service.domain.dates import add_months
from license_service.domain.records import LicenceClass, LicenceState
from servicekit.clock import SHANGHAI
from servicekit.refusal import refusal

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
