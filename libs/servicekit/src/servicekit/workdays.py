"""Working days of the Chinese state calendar (WD-01), and the one "within N working days" deadline.

The State Council publishes each year's holidays and adjusted working days (调休) in the November before;
the `chinese_calendar` package carries them for the years it knew when it was released. The office
calendar (tables `office_calendar_years` / `office_calendar_days`, set by an admin over HTTP) is consulted
first: a year an admin has set is known, its listed days override the package (a local closure, a late
notice), and its other days follow the package if it knows the year, else the weekends. A year neither
the package knows nor an admin has set is refused loudly (`CalendarYearNotSet`, a 503 on the API) by a
calendar built with `unknown_years="refuse"`, as `OfficeCalendar` builds it: counting only weekends would
make 1 January a working day and cancel a citizen's plate a day early (PP-09). See
docs/adr/0002-working-day-deadlines.md and docs/adr/0004-office-calendar.md.
"""

from __future__ import annotations

import logging
import time as _time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from typing import Literal

import chinese_calendar
from sqlalchemy import MetaData, Table, delete, insert, select
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine, AsyncSession

from servicekit.clock import SHANGHAI
from servicekit.refusal import Refusal, refusal

log = logging.getLogger("servicekit.workdays")

# One working day must follow within this many calendar days; the longest state holiday is 9 days,
# so hitting the cap means a broken office table (e.g. a whole year entered as holidays).
_MAX_GAP_DAYS = 60

UnknownYears = Literal["weekends", "refuse"]
CalendarDayRefused = refusal("CALENDAR_DAY_INVALID", "WD-01", 422)


class CalendarYearNotSet(Refusal):
    """WD-01: a working day was asked of a year neither the package knows nor an admin has set.

    Not the caller's fault: the API answers 503 `WORKDAY_CALENDAR_NOT_SET` naming the year, until an
    admin sets it."""

    code = "WORKDAY_CALENDAR_NOT_SET"
    rule = "WD-01"
    status = 503

    def __init__(self, year: int) -> None:
        super().__init__(
            f"the working-day calendar of {year} is not set: an admin enters the State Council's "
            f"holidays and adjusted working days of {year} (PUT /api/v1/workdays/{year})",
            extra={"year": year},
        )
        self.year = year


class WorkdayCalendar:
    """`extra_holidays` / `extra_workdays`: the office's days, overriding everything else.
    `office_years`: the years an admin has set completely (known even where the package is not).
    `unknown_years`: what a year that is neither known nor set does: `"refuse"` raises
    `CalendarYearNotSet`; `"weekends"` (the package-only calendar of unit tests and tools) counts
    Monday to Friday and logs a warning once per year, so that it is never silent."""

    def __init__(
        self,
        extra_holidays: Iterable[date] = (),
        extra_workdays: Iterable[date] = (),
        *,
        office_years: Iterable[int] = (),
        unknown_years: UnknownYears = "weekends",
    ) -> None:
        self._unknown_years = unknown_years
        self._package_years: dict[int, bool] = {}
        self._warned: set[int] = set()
        self.replace_office_table(extra_holidays, extra_workdays, office_years)

    def replace_office_table(
        self, extra_holidays: Iterable[date], extra_workdays: Iterable[date], office_years: Iterable[int]
    ) -> None:
        """Swap in the office's days and set years at once (no await between: atomic for the event
        loop), so that holders of this calendar (a service's context) see the table as reloaded."""
        holidays, workdays = frozenset(extra_holidays), frozenset(extra_workdays)
        both = holidays & workdays
        if both:
            raise ValueError(f"dates both holiday and working day: {sorted(both)}")
        self._holidays, self._workdays, self._office_years = holidays, workdays, frozenset(office_years)

    @property
    def office_years(self) -> frozenset[int]:
        return self._office_years

    def package_knows_year(self, year: int) -> bool:
        """Whether `chinese_calendar` carries the state calendar (holidays, 调休) of `year`."""
        known = self._package_years.get(year)
        if known is None:
            try:
                chinese_calendar.is_workday(date(year, 1, 1))
                known = True
            except NotImplementedError:
                known = False
            self._package_years[year] = known
        return known

    def knows_year(self, year: int) -> bool:
        """Whether the state calendar of `year` is known: set by an admin, or carried by the package."""
        return year in self._office_years or self.package_knows_year(year)

    def is_working_day(self, d: date) -> bool:
        if d in self._workdays:
            return True
        if d in self._holidays:
            return False
        if self.package_knows_year(d.year):
            return bool(chinese_calendar.is_workday(d))
        if d.year not in self._office_years:
            if self._unknown_years == "refuse":
                raise CalendarYearNotSet(d.year)
            if d.year not in self._warned:
                self._warned.add(d.year)
                log.warning(
                    "working days of an unknown year counted as weekends only (WD-01)",
                    extra={"year": d.year},
                )
        return d.weekday() < 5

    def add_working_days(self, d: date, n: int) -> date:
        """The n-th working day after `d` (n >= 1); `d` itself never counts, working day or not."""
        if n < 1:
            raise ValueError("n must be at least 1")
        current = d
        gap = 0
        while n:
            current += timedelta(days=1)
            gap += 1
            if self.is_working_day(current):
                n -= 1
                gap = 0
            elif gap > _MAX_GAP_DAYS:
                raise ValueError(
                    f"no working day within {_MAX_GAP_DAYS} days after {current - timedelta(days=gap)}"
                )
        return current

    def deadline_end_of_working_day(self, moment: datetime, n: int) -> datetime:
        """End (23:59:59.999999, Asia/Shanghai) of the n-th working day after `moment`'s local date.

        This is what "within N working days" means on the platform: a plate selected on Friday must be
        registered by the end of the 3rd following working day, whatever the hour it was selected.
        """
        if moment.tzinfo is None:
            raise ValueError("moment must be timezone-aware")
        day = self.add_working_days(moment.astimezone(SHANGHAI).date(), n)
        return datetime.combine(day, time.max, tzinfo=SHANGHAI)


@dataclass(frozen=True)
class OfficeDay:
    """One official day of the office calendar: a holiday off (`working=False`) or a 调休 on."""

    day: date
    working: bool
    name: str = ""


@dataclass(frozen=True)
class OfficeYear:
    year: int
    source: str
    set_by: str
    set_at: datetime
    days: tuple[OfficeDay, ...]


class OfficeCalendar:
    """A service's `WorkdayCalendar`, built from its office calendar tables (`add_workday_tables`) and
    refusing years nobody has set. Rebuilt at most every `max_age_s` (another replica may have set a
    year), and at once in the process that sets one. `monotonic` is injectable for tests."""

    def __init__(
        self,
        metadata: MetaData,
        *,
        max_age_s: float = 60.0,
        monotonic: Callable[[], float] = _time.monotonic,
        unknown_years: UnknownYears = "refuse",
    ) -> None:
        self._years: Table = metadata.tables["office_calendar_years"]
        self._days: Table = metadata.tables["office_calendar_days"]
        self._max_age_s = max_age_s
        self._monotonic = monotonic
        self._unknown_years: UnknownYears = unknown_years
        # The one instance this service's code holds (e.g. `ctx.calendar`): reloads update it in place.
        self.live = WorkdayCalendar(unknown_years=unknown_years)
        self._loaded_at: float | None = None

    def invalidate(self) -> None:
        self._loaded_at = None

    def _stale(self) -> bool:
        return self._loaded_at is None or self._monotonic() - self._loaded_at >= self._max_age_s

    async def calendar(self, conn: AsyncSession | AsyncConnection) -> WorkdayCalendar:
        """The current calendar (two small SELECTs when the loaded one is older than `max_age_s`)."""
        if self._stale():
            years = (await conn.execute(select(self._years.c.year))).scalars().all()
            days = (await conn.execute(select(self._days.c.day, self._days.c.working))).all()
            self.live.replace_office_table(
                [row.day for row in days if not row.working],
                [row.day for row in days if row.working],
                years,
            )
            self._loaded_at = self._monotonic()
        return self.live

    async def refresh_if_stale(self, engine: AsyncEngine) -> WorkdayCalendar:
        """For a request dependency: a connection of its own, only when the calendar is stale."""
        if self._stale():
            async with engine.connect() as conn:
                await self.calendar(conn)
        return self.live

    async def year(self, conn: AsyncSession | AsyncConnection, year: int) -> OfficeYear | None:
        head = (await conn.execute(select(self._years).where(self._years.c.year == year))).first()
        if head is None:
            return None
        rows = (
            await conn.execute(select(self._days).where(self._days.c.year == year).order_by(self._days.c.day))
        ).all()
        return OfficeYear(
            year=year,
            source=head.source,
            set_by=head.set_by,
            set_at=head.set_at,
            days=tuple(OfficeDay(r.day, r.working, r.name) for r in rows),
        )

    async def set_year(
        self,
        session: AsyncSession,
        year: int,
        days: Sequence[OfficeDay],
        *,
        source: str,
        set_by: str,
        now: datetime,
    ) -> None:
        """Replace the official days of `year` (the whole year at once: a row per holiday and per 调休)
        and mark the year set. Runs in the caller's transaction. Deadlines stored earlier stay as they
        were computed (ADR 0002)."""
        check_office_days(year, days)
        await session.execute(delete(self._days).where(self._days.c.year == year))
        await session.execute(delete(self._years).where(self._years.c.year == year))
        await session.execute(insert(self._years).values(year=year, source=source, set_by=set_by, set_at=now))
        if days:
            await session.execute(
                insert(self._days),
                [{"day": d.day, "year": year, "working": d.working, "name": d.name} for d in days],
            )
        self.invalidate()

    async def keep_year(
        self,
        session: AsyncSession,
        year: int,
        days: Sequence[OfficeDay],
        *,
        source: str,
        set_by: str,
        set_at: datetime,
    ) -> bool:
        """A consumer's copy of a year the owner set (WD-01, ADR 0004): replaced whole, like `set_year`,
        unless the copy held is of a later setting (a relay may publish two settings out of order). A
        repeat of the same setting replaces it with itself. True when the copy changed or was rewritten."""
        held = (
            await session.execute(select(self._years.c.set_at).where(self._years.c.year == year))
        ).scalar()
        if held is not None and held > set_at:
            return False
        await self.set_year(session, year, days, source=source, set_by=set_by, now=set_at)
        return True


def check_office_days(year: int, days: Sequence[OfficeDay]) -> None:
    """WD-01: every day in `year`, each once; a year is never all holidays."""
    seen: set[date] = set()
    for d in days:
        if d.day.year != year:
            raise CalendarDayRefused(f"{d.day} is not in {year}")
        if d.day in seen:
            raise CalendarDayRefused(f"{d.day} is listed twice")
        seen.add(d.day)
    if not 1900 < year < 2200:
        raise CalendarDayRefused(f"{year} is not a plausible year")


__all__ = [
    "CalendarDayRefused",
    "CalendarYearNotSet",
    "OfficeCalendar",
    "OfficeDay",
    "OfficeYear",
    "WorkdayCalendar",
    "check_office_days",
]
