"""WD-01: the state calendar with 调休, the fallback for unknown years, and the shared deadline."""

from __future__ import annotations

from datetime import UTC, date, datetime, time

import pytest

from servicekit.clock import SHANGHAI
from servicekit.workdays import CalendarYearNotSet, WorkdayCalendar


@pytest.fixture
def cal() -> WorkdayCalendar:
    return WorkdayCalendar()


def end_of(d: date) -> datetime:
    return datetime.combine(d, time(23, 59, 59, 999999), tzinfo=SHANGHAI)


def test_wd01_national_day_holiday_is_not_a_working_day(cal: WorkdayCalendar) -> None:
    assert date(2024, 10, 1).weekday() == 1  # a Tuesday, off only because of the state calendar
    assert not cal.is_working_day(date(2024, 10, 1))
    assert not cal.is_working_day(date(2024, 10, 7))
    assert cal.is_working_day(date(2024, 10, 8))


def test_wd01_adjusted_working_day_counts(cal: WorkdayCalendar) -> None:
    assert date(2024, 10, 12).weekday() == 5  # a Saturday made a working day (调休)
    assert cal.is_working_day(date(2024, 10, 12))
    assert not cal.is_working_day(date(2024, 10, 13))
    # Friday 11th + 1 working day is that Saturday, not Monday.
    assert cal.add_working_days(date(2024, 10, 11), 1) == date(2024, 10, 12)


def test_wd01_add_working_days_skips_national_day_and_counts_the_sunday_before(cal: WorkdayCalendar) -> None:
    # Fri 27 Sep 2024: Sun 29 Sep (调休) and Mon 30 Sep work, 1-7 Oct off, Tue 8 Oct is the 3rd.
    assert cal.add_working_days(date(2024, 9, 27), 1) == date(2024, 9, 29)
    assert cal.add_working_days(date(2024, 9, 27), 2) == date(2024, 9, 30)
    assert cal.add_working_days(date(2024, 9, 27), 3) == date(2024, 10, 8)


def test_wd01_spring_festival_2025(cal: WorkdayCalendar) -> None:
    assert not cal.is_working_day(date(2025, 1, 28))  # 除夕 eve, a Tuesday
    assert not cal.is_working_day(date(2025, 2, 4))
    assert cal.is_working_day(date(2025, 1, 26))  # Sunday 调休
    assert cal.is_working_day(date(2025, 2, 8))  # Saturday 调休
    # Friday 24 Jan: Sun 26, Mon 27, then the festival until Wed 5 Feb.
    assert cal.add_working_days(date(2025, 1, 24), 3) == date(2025, 2, 5)


def test_wd01_deadline_is_end_of_third_working_day_after_friday_selection(cal: WorkdayCalendar) -> None:
    # PP-08: a plate selected on a Friday afternoon; Sat 28 Sep 2024 is off, Sun 29 is 调休.
    selected = datetime(2024, 9, 27, 16, 30, tzinfo=SHANGHAI)
    deadline = cal.deadline_end_of_working_day(selected, 3)
    assert deadline == end_of(date(2024, 10, 8))
    assert deadline.tzinfo is SHANGHAI  # local end of day, as printed on the certificate


def test_wd01_deadline_counts_from_the_shanghai_date_not_utc(cal: WorkdayCalendar) -> None:
    # 17:00 UTC on Thursday 26 Sep is 01:00 Friday 27 in Shanghai: day 1 is Sun 29 (调休), not Fri 27.
    moment = datetime(2024, 9, 26, 17, 0, tzinfo=UTC)
    assert cal.deadline_end_of_working_day(moment, 1) == end_of(date(2024, 9, 29))
    # One minute before Shanghai midnight still counts from Thursday.
    assert cal.deadline_end_of_working_day(datetime(2024, 9, 26, 23, 59, tzinfo=SHANGHAI), 1) == end_of(
        date(2024, 9, 27)
    )


def test_wd01_deadline_refuses_naive_moments(cal: WorkdayCalendar) -> None:
    with pytest.raises(ValueError, match="timezone-aware"):
        cal.deadline_end_of_working_day(datetime(2024, 9, 27, 9, 0), 3)


def test_wd01_add_working_days_needs_positive_n(cal: WorkdayCalendar) -> None:
    with pytest.raises(ValueError, match="at least 1"):
        cal.add_working_days(date(2024, 9, 27), 0)


def test_wd01_unknown_year_falls_back_to_weekends(cal: WorkdayCalendar) -> None:
    assert cal.knows_year(2024)
    assert not cal.knows_year(2031)
    # 1 Jan 2031 is a Wednesday: without the state calendar or an office entry it is a working day.
    assert cal.is_working_day(date(2031, 1, 1))
    assert not cal.is_working_day(date(2031, 1, 4))  # Saturday
    assert not cal.is_working_day(date(2031, 1, 5))  # Sunday
    assert cal.add_working_days(date(2031, 1, 3), 1) == date(2031, 1, 6)


def test_wd01_office_holiday_table_is_honoured_in_unknown_year() -> None:
    cal = WorkdayCalendar(extra_holidays=[date(2031, 1, 1)], extra_workdays=[date(2031, 1, 4)])
    assert not cal.is_working_day(date(2031, 1, 1))
    assert cal.is_working_day(date(2031, 1, 4))
    # Tue 31 Dec 2030 + 1 skips the office's New Year holiday; + 3 lands on the working Saturday.
    assert cal.add_working_days(date(2030, 12, 31), 1) == date(2031, 1, 2)
    assert cal.add_working_days(date(2030, 12, 31), 3) == date(2031, 1, 4)
    deadline = cal.deadline_end_of_working_day(datetime(2030, 12, 31, 10, tzinfo=SHANGHAI), 3)
    assert deadline == end_of(date(2031, 1, 4))


def test_wd01_office_table_overrides_the_state_calendar() -> None:
    cal = WorkdayCalendar(extra_holidays=[date(2024, 10, 12)], extra_workdays=[date(2024, 10, 3)])
    assert not cal.is_working_day(date(2024, 10, 12))
    assert cal.is_working_day(date(2024, 10, 3))


def test_wd01_a_date_cannot_be_both_holiday_and_working_day() -> None:
    with pytest.raises(ValueError, match="both"):
        WorkdayCalendar(extra_holidays=[date(2031, 1, 1)], extra_workdays=[date(2031, 1, 1)])


def test_wd01_a_year_nobody_set_is_refused_loudly_not_counted_as_weekends() -> None:
    # 2027: the package (released before the State Council's November notice) does not carry it.
    cal = WorkdayCalendar(unknown_years="refuse")
    assert not cal.knows_year(2027)
    with pytest.raises(CalendarYearNotSet) as refused:
        cal.is_working_day(date(2027, 1, 1))
    assert refused.value.year == 2027
    assert (refused.value.code, refused.value.rule, refused.value.status) == (
        "WORKDAY_CALENDAR_NOT_SET",
        "WD-01",
        503,
    )
    # A deadline of late December reaching into the unset year is refused too, not computed short.
    with pytest.raises(CalendarYearNotSet):
        cal.deadline_end_of_working_day(datetime(2026, 12, 30, 10, tzinfo=SHANGHAI), 3)
    # Years the package knows still work without any office entry.
    assert cal.add_working_days(date(2024, 9, 27), 3) == date(2024, 10, 8)


def test_wd01_a_year_the_admin_set_is_known_and_its_days_come_first() -> None:
    cal = WorkdayCalendar(
        extra_holidays=[date(2027, 1, 1)],
        extra_workdays=[date(2027, 2, 20)],  # a Saturday 调休
        office_years=[2027],
        unknown_years="refuse",
    )
    assert cal.knows_year(2027)
    assert not cal.package_knows_year(2027)
    assert not cal.is_working_day(date(2027, 1, 1))  # a Friday, off by the office table
    assert cal.is_working_day(date(2027, 2, 20))
    assert cal.is_working_day(date(2027, 1, 4))  # an unlisted Monday of a set year: weekends rule
    # Wed 30 Dec 2026 + 3: Thu 31, (Fri 1 Jan off, weekend), Mon 4, Tue 5.
    assert cal.deadline_end_of_working_day(datetime(2026, 12, 30, 10, tzinfo=SHANGHAI), 3) == end_of(
        date(2027, 1, 5)
    )


def test_wd01_weekend_fallback_is_flagged_in_the_log(caplog: pytest.LogCaptureFixture) -> None:
    cal = WorkdayCalendar()  # the package-only calendar of tools and unit tests
    with caplog.at_level("WARNING", logger="servicekit.workdays"):
        assert cal.is_working_day(date(2031, 1, 1))
        assert cal.is_working_day(date(2031, 1, 2))
    warned = [r for r in caplog.records if "unknown year" in r.getMessage()]
    assert len(warned) == 1  # once per year, not once per day
    assert warned[0].year == 2031  # type: ignore[attr-defined]
