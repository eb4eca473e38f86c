"""The selection's lifecycle as one table (`MOVES`): its states (`State`), and per action the states it may
start from and those it may lead to. Every module names states through `State`; the Lua scripts get the
same names (hot.py hands them the table), so a state is spelled in one place. Beside it, the refusals of
the steps (PP-04 to PP-08, PP-12, PP-13) and the certificate's number (PP-08).
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum

from servicekit.refusal import Refusal as Refusal  # re-exported: the one refusal type
from servicekit.refusal import refusal


class State(StrEnum):
    """Where a selection is (the `selections.state` column, the hot hash's `state` field)."""

    SELECTING = "selecting"  # PP-05/PP-06: drawing and verifying in a 60-minute session
    SESSION_EXPIRED = "session_expired"  # PP-04: the session ran out; the chances stay with the vehicle
    AWAITING_SMS = "awaiting_sms"  # PP-07: one number chosen, held for the SMS window
    SELECTED = "selected"  # PP-08: confirmed, allocated in the ledger; register within 3 working days
    REGISTERED = "registered"  # VH-15/PP-09: used at the car's first registration
    EXHAUSTED = "exhausted"  # PP-07: no chances left: select at the registration office
    ABANDONED = "abandoned"  # the user gave up (放弃); no ban
    CANCELLED = "cancelled"  # PP-09: not registered in time or registered otherwise; 2-year ban


class Action(StrEnum):
    """What moves a selection (a use case in selections.py, a sweep, a subscription or an appeal)."""

    RESUME = "resume"  # PP-04: a new session for a vehicle whose previous one ran out
    DRAW = "draw"  # PP-06 (Redis only)
    VERIFY = "verify"  # PP-05 (Redis only)
    CHOOSE = "choose"  # PP-06: 确认选号
    SEND_CODE = "send_code"  # PP-07: no move; only in the SMS step
    CONFIRM = "confirm"  # PP-07/PP-08
    LEDGER_REFUSED = "ledger_refused"  # PP-12: the ledger says the number is someone else's
    END_SESSION = "end_session"  # PP-04 (sweep)
    SMS_LAPSE = "sms_lapse"  # PP-07 (sweep)
    ABANDON = "abandon"  # 放弃
    CANCEL = "cancel"  # PP-09: not registered in time, or registered otherwise (2-year ban)
    REGISTER = "register"  # VH-15/PP-09
    APPEAL = "appeal"  # PP-11: an outcome that may be appealed
    RESTORE_CHANCES = "restore_chances"  # PP-11 remedy
    RESTORE_NUMBER = "restore_number"  # PP-11 remedy
    PRINT = "print"  # PP-08: no move; the certificate exists from selected on


@dataclass(frozen=True)
class Move:
    sources: frozenset[State]
    targets: frozenset[State]


def _move(sources: set[State], targets: set[State] | None = None) -> Move:
    return Move(frozenset(sources), frozenset(sources if targets is None else targets))


S = State
OPEN_STATES: tuple[State, ...] = (S.SELECTING, S.SESSION_EXPIRED, S.AWAITING_SMS, S.SELECTED)
APPEALABLE: tuple[State, ...] = (S.CANCELLED, S.EXHAUSTED, S.ABANDONED, S.SESSION_EXPIRED)

MOVES: Mapping[Action, Move] = {
    Action.RESUME: _move({S.SELECTING, S.SESSION_EXPIRED}, {S.SELECTING}),
    Action.DRAW: _move({S.SELECTING}),
    Action.VERIFY: _move({S.SELECTING}),
    Action.CHOOSE: _move({S.SELECTING}, {S.AWAITING_SMS}),
    Action.SEND_CODE: _move({S.AWAITING_SMS}),
    Action.CONFIRM: _move({S.AWAITING_SMS}, {S.SELECTED}),
    Action.LEDGER_REFUSED: _move({S.AWAITING_SMS, S.SELECTED}, {S.SELECTING}),
    Action.END_SESSION: _move({S.SELECTING}, {S.SESSION_EXPIRED}),
    Action.SMS_LAPSE: _move({S.AWAITING_SMS}, {S.SELECTING, S.SESSION_EXPIRED, S.EXHAUSTED}),
    Action.ABANDON: _move(set(OPEN_STATES), {S.ABANDONED}),
    Action.CANCEL: _move({S.SELECTED}, {S.CANCELLED}),
    Action.REGISTER: _move({S.SELECTED}, {S.REGISTERED}),
    Action.APPEAL: _move(set(APPEALABLE)),
    Action.RESTORE_CHANCES: _move(set(APPEALABLE), {S.SESSION_EXPIRED}),
    Action.RESTORE_NUMBER: _move(set(APPEALABLE), {S.SELECTED}),
    Action.PRINT: _move({S.SELECTED, S.REGISTERED}),
}


def can(action: Action, state: str) -> bool:
    """Whether `action` may start from `state` (the table above)."""
    return state in MOVES[action].sources


def may_become(action: Action, state: str, target: State) -> bool:
    """Whether `action` may take a selection from `state` to `target`."""
    move = MOVES[action]
    return state in move.sources and target in move.targets


# The refusal a step gives when the selection is elsewhere (the rule of the step it is not at).
NotInStepPP06 = refusal("SELECTION_NOT_IN_STEP", "PP-06")
NotInStepPP07 = refusal("SELECTION_NOT_IN_STEP", "PP-07")
NothingToAppeal = refusal("NOTHING_TO_APPEAL", "PP-11")
NoCertificate = refusal("NO_CERTIFICATE", "PP-08")

_NOT_IN_STEP: Mapping[Action, type[Refusal]] = {
    Action.SEND_CODE: NotInStepPP07,
    Action.CONFIRM: NotInStepPP07,
    Action.PRINT: NoCertificate,
}


def check_step(action: Action, state: str) -> None:
    """The selection must be where `action` starts (MOVES), else SELECTION_NOT_IN_STEP with its `state`
    (PP-06; PP-07 for the SMS steps; NO_CERTIFICATE, PP-08, for the certificate; PP-11 for an appeal)."""
    if can(action, state):
        return
    if action is Action.APPEAL:
        raise NothingToAppeal(f"the selection is {state}")
    raise _NOT_IN_STEP.get(action, NotInStepPP06)(f"the selection is {state}", extra={"state": state})


# --- the steps' refusals ---------------------------------------------------------------------------

SessionExpired = refusal("SESSION_EXPIRED", "PP-04")
CustomAttemptsExhausted = refusal("CUSTOM_ATTEMPTS_EXHAUSTED", "PP-05")
CustomNumberUnavailable = refusal("CUSTOM_NUMBER_UNAVAILABLE", "PP-05")
RandomDrawsExhausted = refusal("RANDOM_DRAWS_EXHAUSTED", "PP-06")
NumberNotHeld = refusal("NUMBER_NOT_HELD", "PP-06")
SmsWindowOver = refusal("SMS_WINDOW_OVER", "PP-07")
NoChancesLeft = refusal("NO_CHANCES_LEFT", "PP-07")
NoRegisteredPhone = refusal("NO_REGISTERED_PHONE", "PP-07", 422)
CertificateInvalid = refusal("CERTIFICATE_INVALID", "PP-08", 422)
NumberAlreadyAllocated = refusal("NUMBER_ALREADY_ALLOCATED", "PP-12")
PhoneQuota = refusal("PHONE_QUOTA", "PP-13")


def after_sms_lapse(
    custom_left: int, draws_left: int, now: datetime | None = None, session_expires_at: datetime | None = None
) -> State:
    """PP-07: not confirmed in time → back to custom or random selection by the chances left; with none
    left, the user selects at the registration office. Back to selecting after the session's end is the
    session's end (PP-04)."""
    if custom_left <= 0 and draws_left <= 0:
        return State.EXHAUSTED
    if now is not None and session_expires_at is not None and session_expires_at <= now:
        return State.SESSION_EXPIRED
    return State.SELECTING


def voucher_number(selection_id: uuid.UUID | str) -> str:
    """PP-08: the number of the pre-selection certificate (预选号凭证编号). The certificate prints it, the
    success SMS names it (the seed lets that SMS stand in for the printed certificate), and the counter
    finds the selection by it: it is the selection's id, so the three always agree."""
    return str(selection_id)


def selection_id_of_voucher(voucher: str) -> uuid.UUID:
    """The selection a voucher number names; ValueError when it names none."""
    return uuid.UUID(voucher.strip())
