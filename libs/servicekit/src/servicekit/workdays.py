"""Working days of the Chinese state calendar (WD-01), and the one "within N working days" deadline.

The state council publishes each year's holidays and adjusted working days (调休) late in the previous
year; the `chinese_calendar` package carries them for the years it knows. For any other year the
calendar falls back to weekends off plus the office's own holiday table, so a deadline can always be
computed; the office table also overrides the package (e.g. a local closure, or a late notice).
See docs/adr/0002-working-day-deadlines.md for what "within N working days" means.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import date, datetime, time, timedelta

import chinese_calendar

from servicekit.clock import SHANGHAI

# One working day must follow within this many calendar days; the longest state holiday is 9 days,
# so hitting the cap means a broken office table (e.g. a whole year entered as holidays).
_MAX_GAP_DAYS = 60


class WorkdayCalendar:
    def __init__(self, extra_holidays: Iterable[date] = (), extra_workdays: Iterable[date] = ()) -> None:
        self._holidays = frozenset(extra_holidays)
        self._workdays = frozenset(extra_workdays)
        both = self._holidays & self._workdays
        if both:
            raise ValueError(f"dates both holiday and working day: {sorted(both)}")
        self._known_years: dict[int, bool] = {}

    def knows_year(self, year: int) -> bool:
        """Whether the state calendar (holidays, 调休) of `year` is known, not just the weekend fallback."""
        known = self._known_years.get(year)
        if known is None:
            try:
                chinese_calendar.is_workday(date(year, 1, 1))
                known = True
            except NotImplementedError:
                known = False
            self._known_years[year] = known
        return known

    def is_working_day(self, d: date) -> bool:
        if d in self._workdays:
            return True
        if d in self._holidays:
            return False
        if self.knows_year(d.year):
            return bool(chinese_calendar.is_workday(d))
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
