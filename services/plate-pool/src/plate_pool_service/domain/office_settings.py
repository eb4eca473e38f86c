"""PP-06a: an office's counts and windows (`OfficeSettings`, the seed's values by default), and the times
they give: the selection hours and the session (PP-04), the registration deadline (PP-08), the ban (PP-09).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import asdict, dataclass, fields, replace
from datetime import date, datetime, time, timedelta
from typing import Any

from plate_pool_service.domain.pool import check_floor_setting
from servicekit.clock import SHANGHAI
from servicekit.refusal import refusal
from servicekit.workdays import WorkdayCalendar

InvalidSettings = refusal("INVALID_SETTINGS", "PP-06a", 422)
OutsideSelectionHours = refusal("OUTSIDE_SELECTION_HOURS", "PP-04")


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
