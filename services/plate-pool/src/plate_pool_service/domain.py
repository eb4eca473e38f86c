"""The plate-pool rules: pure functions, no I/O; the time comes in as an argument. Each rule's ID in its
docstring. Refusals are servicekit `Refusal`s (code + rule + status), which the web layer answers as problems;
a kind that recurs is named once here with `refusal()`.

The selection's lifecycle is one table (`MOVES`): its states (`State`), and per action the states it may
start from and those it may lead to. Every module names states through `State`; the Lua scripts get the
same names (hot.py hands them the table), so a state is spelled in one place.
"""

from __future__ import annotations

import base64
import binascii
import uuid
from collections.abc import Mapping
from dataclasses import asdict, dataclass, fields, replace
from datetime import date, datetime, time, timedelta
from enum import StrEnum
from typing import Any

from servicekit.clock import SHANGHAI
from servicekit.refusal import Refusal as Refusal  # re-exported: the one refusal type
from servicekit.refusal import refusal
from servicekit.vocabulary import IdKind
from servicekit.workdays import WorkdayCalendar

# --- the selection's lifecycle -----------------------------------------------------------------------


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


# --- named refusals --------------------------------------------------------------------------------

InvalidSettings = refusal("INVALID_SETTINGS", "PP-06a", 422)
OutsideSelectionHours = refusal("OUTSIDE_SELECTION_HOURS", "PP-04")
SessionExpired = refusal("SESSION_EXPIRED", "PP-04")
VehicleNotEligible = refusal("VEHICLE_NOT_ELIGIBLE", "PP-01", 422)
OwnerNotCaller = refusal("OWNER_NOT_CALLER", "PP-01", 422)
VehicleAlreadyRegistered = refusal("VEHICLE_ALREADY_REGISTERED", "PP-01")
VehicleAlreadySelected = refusal("VEHICLE_ALREADY_SELECTED", "PP-02")
PreviousSelectionNotRegistered = refusal("PREVIOUS_SELECTION_NOT_REGISTERED", "PP-02")
ResidencePermitRequired = refusal("RESIDENCE_PERMIT_REQUIRED", "PP-03", 422)
ResidencePermitExpired = refusal("RESIDENCE_PERMIT_EXPIRED", "PP-03", 422)
InvoicePhotoInvalid = refusal("INVOICE_PHOTO_INVALID", "PP-03", 422)
InvoicePhotoTooLarge = refusal("INVOICE_PHOTO_TOO_LARGE", "PP-03", 422)
InvoiceDateInvalid = refusal("INVOICE_DATE_INVALID", "PP-03", 422)
CustomAttemptsExhausted = refusal("CUSTOM_ATTEMPTS_EXHAUSTED", "PP-05")
CustomNumberUnavailable = refusal("CUSTOM_NUMBER_UNAVAILABLE", "PP-05")
RandomDrawsExhausted = refusal("RANDOM_DRAWS_EXHAUSTED", "PP-06")
NumberNotHeld = refusal("NUMBER_NOT_HELD", "PP-06")
SmsWindowOver = refusal("SMS_WINDOW_OVER", "PP-07")
NoChancesLeft = refusal("NO_CHANCES_LEFT", "PP-07")
NoRegisteredPhone = refusal("NO_REGISTERED_PHONE", "PP-07", 422)
CertificateInvalid = refusal("CERTIFICATE_INVALID", "PP-08", 422)
PreselectionBanned = refusal("PRESELECTION_BANNED", "PP-09")
PoolExhausted = refusal("POOL_EXHAUSTED", "PP-10")
NoOpenSegment = refusal("NO_OPEN_SEGMENT", "PP-10")
NumberAlreadyAllocated = refusal("NUMBER_ALREADY_ALLOCATED", "PP-12")
PhoneQuota = refusal("PHONE_QUOTA", "PP-13")


@dataclass(frozen=True)
class OfficeSettings:
    """PP-06a: the counts and windows of PP-04 to PP-09, per office; the seed's values by default."""

    custom_attempts: int = 20  # PP-05
    random_draws: int = 10  # PP-06
    draw_size: int = 5  # PP-06
    hold_seconds: int = 180  # PP-05/PP-06
    session_minutes: int = 60  # PP-04
    opens_at: str = "08:00"  # PP-04, Asia/Shanghai
    closes_at: str = "23:00"
    sms_minutes: int = 30  # PP-07
    register_working_days: int = 3  # PP-08
    ban_years: int = 2  # PP-09
    low_pool_threshold: int = 50_000  # PP-10: the pool's floor (check_pool_floor); an office may raise it

    @classmethod
    def from_json(cls, data: dict[str, Any] | None) -> OfficeSettings:
        known = {f.name for f in fields(cls)}
        return replace(cls(), **{k: v for k, v in (data or {}).items() if k in known})

    def to_json(self) -> dict[str, Any]:
        return asdict(self)

    def check(self) -> None:
        if not (
            1 <= self.draw_size <= 20 and 0 <= self.custom_attempts <= 100 and 0 <= self.random_draws <= 100
        ):
            raise InvalidSettings("counts out of range")
        if not (
            30 <= self.hold_seconds <= 3600
            and 5 <= self.session_minutes <= 240
            and 5 <= self.sms_minutes <= 120
        ):
            raise InvalidSettings("windows out of range")
        if _hhmm(self.opens_at) >= _hhmm(self.closes_at):
            raise InvalidSettings("opens_at must be before closes_at")


POOL_FLOOR = 50_000  # PP-10, seed §24(3): 预选机动车号牌号码池可用号牌号码数量不得低于五万个
PoolBelowFloor = refusal("POOL_BELOW_FLOOR", "PP-10")


def check_floor_setting(floor: int) -> None:
    """PP-10: an office may raise its pool's floor (`low_pool_threshold`), never set it under 50,000."""
    if floor < POOL_FLOOR:
        raise Refusal(
            f"the available pool never falls below {POOL_FLOOR:,} numbers",
            code="INVALID_SETTINGS",
            rule="PP-10",
            status=422,
            extra={"floor": POOL_FLOOR},
        )


def check_pool_floor(available: int, settings: OfficeSettings, *, opening: bool = False) -> None:
    """PP-10: the pool available for selection never falls below 50,000 numbers (the office's
    `low_pool_threshold`, never lower than that): a segment does not open (`opening`: its publication,
    counting the office's published pools with it) and an office does not serve a new selection below it."""
    floor = settings.low_pool_threshold
    if available >= floor:
        return
    if opening:
        detail = f"with this segment the office's pool would hold {available:,} numbers, under {floor:,}"
    else:
        detail = f"the office's pool holds {available:,} numbers available, under {floor:,}: no new selection"
    raise PoolBelowFloor(detail, extra={"available": available, "floor": floor})


# --- PP-10: a segment's life: planned by its office, approved by the superior office, published --------

MIN_SEGMENT_SIZE = 1_000  # seed §24(1)
PUBLISH_WORKING_DAYS = 3  # seed §24(4): published at least 3 working days before it opens
SegmentInvalid = refusal("SEGMENT_INVALID", "PP-10", 422)
SegmentTooSmall = refusal("SEGMENT_TOO_SMALL", "PP-10", 422)
SegmentExists = refusal("SEGMENT_EXISTS", "PP-10")
NotSuperiorOffice = refusal("NOT_SUPERIOR_OFFICE", "PP-10", 403)
SegmentNotPlanned = refusal("SEGMENT_NOT_PLANNED", "PP-10")
SegmentNotApproved = refusal("SEGMENT_NOT_APPROVED", "PP-10")
PublicationTooLate = refusal("PUBLICATION_TOO_LATE", "PP-10")


def check_segment_size(size: int) -> None:
    """PP-10: a segment put in use has at least 1,000 numbers."""
    if size < MIN_SEGMENT_SIZE:
        raise SegmentTooSmall(f"a segment has at least {MIN_SEGMENT_SIZE} numbers")


def check_approval(state: str, superior: str | None, approver_office: str | None) -> None:
    """PP-10: only the superior office approves, and only a planned segment."""
    if superior is None or approver_office != superior:
        raise NotSuperiorOffice("only the superior office approves a segment plan")
    if state != "planned":
        raise SegmentNotPlanned(f"the segment is {state}")


def check_publication(state: str, opens_on: date, earliest: date) -> None:
    """PP-10: an approved segment is published at least 3 working days (`earliest`) before it opens."""
    if state != "approved":
        raise SegmentNotApproved("the superior office has not approved this segment")
    if opens_on < earliest:
        raise PublicationTooLate(
            f"a segment is published at least {PUBLISH_WORKING_DAYS} working days before it opens",
            extra={"earliest_opening": earliest.isoformat()},
        )


def settings_changed(current: OfficeSettings, changes: Mapping[str, Any]) -> OfficeSettings:
    """PP-06a: an office's settings with `changes` applied, each count and window in range; PP-10: the
    pool's floor is never set under 50,000."""
    unknown = set(changes) - set(current.to_json())
    if unknown:
        raise InvalidSettings(f"unknown settings: {sorted(unknown)}")
    try:
        new = OfficeSettings.from_json({**current.to_json(), **changes})
        new.check()
    except TypeError:  # a count given as text, a window as a list: compared, they raise
        raise InvalidSettings("settings of the wrong type") from None
    if "low_pool_threshold" in changes:
        check_floor_setting(new.low_pool_threshold)
    return new


SEED_SETTINGS = OfficeSettings()


def _hhmm(value: str) -> time:
    try:
        return time.fromisoformat(value)
    except ValueError:
        raise InvalidSettings(f"not a time of day: {value!r}") from None


def check_open(now: datetime, settings: OfficeSettings) -> None:
    """PP-04: selection is open 08:00-23:00 every day, Asia/Shanghai (per office, PP-06a)."""
    local = now.astimezone(SHANGHAI).time()
    if not _hhmm(settings.opens_at) <= local < _hhmm(settings.closes_at):
        raise OutsideSelectionHours(
            f"pre-selection is open {settings.opens_at}-{settings.closes_at} (Beijing time)",
            extra={"opens_at": settings.opens_at, "closes_at": settings.closes_at},
        )


def session_end(now: datetime, settings: OfficeSettings) -> datetime:
    """PP-04: a session lasts at most 60 minutes, and never past the daily closing time."""
    local = now.astimezone(SHANGHAI)
    closing = datetime.combine(local.date(), _hhmm(settings.closes_at), tzinfo=SHANGHAI)
    return min(local + timedelta(minutes=settings.session_minutes), closing)


def register_by(confirmed_at: datetime, settings: OfficeSettings, calendar: WorkdayCalendar) -> datetime:
    """PP-08: register the car within 3 working days (end of the 3rd working day after the selection)."""
    return calendar.deadline_end_of_working_day(confirmed_at, settings.register_working_days)


def ban_until(today: date, settings: OfficeSettings) -> date:
    """PP-09: no online pre-selection for 2 years from the cancellation."""
    try:
        return today.replace(year=today.year + settings.ban_years)
    except ValueError:  # 29 February
        return today.replace(year=today.year + settings.ban_years, day=28)


def check_vehicle_kind(vehicle_kind: str) -> None:
    """PP-01: only new small passenger cars (小型汽车); no second-hand cars, no official plates."""
    if vehicle_kind != "small_car":
        raise VehicleNotEligible("only new small passenger cars (小型汽车) are pre-selected online")


def check_owner_is_caller(
    owner_id_kind: IdKind, owner_id_number: str, caller_id_number: str | None, is_unit: bool
) -> None:
    """PP-01: people pre-select for a car they own themselves, units for a car the unit owns (the unit's
    token names it by its credit code, ADR 0012). A caller whose token carries no identity number (not
    verified) cannot pre-select at all."""
    kind: IdKind = "uscc" if is_unit else "resident_id"
    if caller_id_number is None or owner_id_kind != kind or owner_id_number != caller_id_number:
        raise OwnerNotCaller(
            "a unit pre-selects only for a car the unit itself owns"
            if is_unit
            else "personal users pre-select only for a car they own themselves"
        )


def is_local(id_kind: IdKind, id_number: str, office_code: str) -> bool:
    """PP-03: a resident ID issued in the office's city (same first 4 digits) is local; units are local."""
    if id_kind != "resident_id":
        return True
    return id_number[:4] == office_code[:4]


def check_residence_permit(local: bool, permit: dict[str, Any] | None, today: date) -> None:
    """PP-03: a non-local resident needs a residence permit valid today."""
    if local:
        return
    if not permit:
        raise ResidencePermitRequired("a non-local owner needs a valid residence permit")
    valid_until = permit.get("valid_until")
    if not isinstance(valid_until, date) or valid_until < today:
        raise ResidencePermitExpired("the residence permit is not valid")


_JPEG = b"\xff\xd8\xff"
_PNG = b"\x89PNG\r\n\x1a\n"
MAX_PHOTO_BYTES = 5 * 1024 * 1024


def decode_invoice_photo(photo_b64: str) -> tuple[bytes, str]:
    """PP-03: the invoice photo, a JPEG or PNG of at most 5 MB."""
    try:
        raw = base64.b64decode(photo_b64, validate=True)
    except (binascii.Error, ValueError):
        raise InvoicePhotoInvalid("the invoice photo is not base64") from None
    if len(raw) > MAX_PHOTO_BYTES:
        raise InvoicePhotoTooLarge("the invoice photo is over 5 MB")
    if raw.startswith(_JPEG):
        return raw, "image/jpeg"
    if raw.startswith(_PNG):
        return raw, "image/png"
    raise InvoicePhotoInvalid("the invoice photo must be a JPEG or PNG")


def check_invoice_date(invoice_date: date, today: date) -> None:
    """PP-01/PP-03: a new car's purchase invoice is dated, and not in the future."""
    if invoice_date > today:
        raise InvoiceDateInvalid("the invoice date is in the future")


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
