"""Calendar arithmetic the licence rules share: months and years on a date (clamped to the month's
end), a person's age."""

from __future__ import annotations

from datetime import date


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


def age_on(birth: date, today: date) -> int:
    return today.year - birth.year - ((today.month, today.day) < (birth.month, birth.day))


def add_years(day: date, years: int) -> date:
    """The same day `years` later (29 February → 28 February)."""
    return months_before(day, -12 * years)
