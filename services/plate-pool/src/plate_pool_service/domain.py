"""The plate-pool rules: pure functions, no I/O; the time comes in as an argument. Each rule's ID in its
docstring. Refusals are `RuleError`s (code + rule), which the web layer turns into problems.
"""

from __future__ import annotations

import base64
import binascii
from dataclasses import asdict, dataclass, fields, replace
from datetime import date, datetime, time, timedelta
from typing import Any, ClassVar

from servicekit.clock import SHANGHAI
from servicekit.refusal import Refusal, refusal
from servicekit.vocabulary import IdKind
from servicekit.workdays import WorkdayCalendar


class RuleError(Exception):
    """A refusal by a business rule; `http_status` 409 (state) or 422 (input)."""

    code: ClassVar[str] = "RULE_REFUSED"
    rule: ClassVar[str | None] = None

    def __init__(
        self,
        code: str,
        detail: str,
        rule: str,
        *,
        status: int = 409,
        extra: dict[str, Any] | None = None,
    ) -> None:
        super().__init__(detail)
        self.code = code  # type: ignore[misc]
        self.rule = rule  # type: ignore[misc]
        self.http_status = status
        self.extra = extra or {}


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
            raise RuleError("INVALID_SETTINGS", "counts out of range", "PP-06a", status=422)
        if not (
            30 <= self.hold_seconds <= 3600
            and 5 <= self.session_minutes <= 240
            and 5 <= self.sms_minutes <= 120
        ):
            raise RuleError("INVALID_SETTINGS", "windows out of range", "PP-06a", status=422)
        if _hhmm(self.opens_at) >= _hhmm(self.closes_at):
            raise RuleError("INVALID_SETTINGS", "opens_at must be before closes_at", "PP-06a", status=422)


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


SEED_SETTINGS = OfficeSettings()


def _hhmm(value: str) -> time:
    try:
        return time.fromisoformat(value)
    except ValueError:
        raise RuleError("INVALID_SETTINGS", f"not a time of day: {value!r}", "PP-06a", status=422) from None


def check_open(now: datetime, settings: OfficeSettings) -> None:
    """PP-04: selection is open 08:00-23:00 every day, Asia/Shanghai (per office, PP-06a)."""
    local = now.astimezone(SHANGHAI).time()
    if not _hhmm(settings.opens_at) <= local < _hhmm(settings.closes_at):
        raise RuleError(
            "OUTSIDE_SELECTION_HOURS",
            f"pre-selection is open {settings.opens_at}-{settings.closes_at} (Beijing time)",
            "PP-04",
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
        raise RuleError(
            "VEHICLE_NOT_ELIGIBLE",
            "only new small passenger cars (小型汽车) are pre-selected online",
            "PP-01",
            status=422,
        )


def check_owner_is_caller(
    owner_id_kind: IdKind, owner_id_number: str, caller_id_number: str | None, is_unit: bool
) -> None:
    """PP-01: people pre-select for a car they own themselves, units for a car the unit owns (the unit's
    token names it by its credit code, ADR 0012). A caller whose token carries no identity number (not
    verified) cannot pre-select at all."""
    kind: IdKind = "uscc" if is_unit else "resident_id"
    if caller_id_number is None or owner_id_kind != kind or owner_id_number != caller_id_number:
        raise RuleError(
            "OWNER_NOT_CALLER",
            "a unit pre-selects only for a car the unit itself owns"
            if is_unit
            else "personal users pre-select only for a car they own themselves",
            "PP-01",
            status=422,
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
        raise RuleError(
            "RESIDENCE_PERMIT_REQUIRED",
            "a non-local owner needs a valid residence permit",
            "PP-03",
            status=422,
        )
    valid_until = permit.get("valid_until")
    if not isinstance(valid_until, date) or valid_until < today:
        raise RuleError("RESIDENCE_PERMIT_EXPIRED", "the residence permit is not valid", "PP-03", status=422)


_JPEG = b"\xff\xd8\xff"
_PNG = b"\x89PNG\r\n\x1a\n"
MAX_PHOTO_BYTES = 5 * 1024 * 1024


def decode_invoice_photo(photo_b64: str) -> tuple[bytes, str]:
    """PP-03: the invoice photo, a JPEG or PNG of at most 5 MB."""
    try:
        raw = base64.b64decode(photo_b64, validate=True)
    except (binascii.Error, ValueError):
        raise RuleError(
            "INVOICE_PHOTO_INVALID", "the invoice photo is not base64", "PP-03", status=422
        ) from None
    if len(raw) > MAX_PHOTO_BYTES:
        raise RuleError("INVOICE_PHOTO_TOO_LARGE", "the invoice photo is over 5 MB", "PP-03", status=422)
    if raw.startswith(_JPEG):
        return raw, "image/jpeg"
    if raw.startswith(_PNG):
        return raw, "image/png"
    raise RuleError("INVOICE_PHOTO_INVALID", "the invoice photo must be a JPEG or PNG", "PP-03", status=422)


def check_invoice_date(invoice_date: date, today: date) -> None:
    """PP-01/PP-03: a new car's purchase invoice is dated, and not in the future."""
    if invoice_date > today:
        raise RuleError("INVOICE_DATE_INVALID", "the invoice date is in the future", "PP-03", status=422)


def after_sms_lapse(custom_left: int, draws_left: int) -> str:
    """PP-07: not confirmed in time → back to custom or random selection by the chances left; with none
    left, the user selects at the registration office."""
    return "selecting" if custom_left > 0 or draws_left > 0 else "exhausted"
