"""DL-01 and DL-05 checks of the records, without I/O."""

from __future__ import annotations

from datetime import date

import pytest

from license_service import domain
from license_service.importer import parse_classes, parse_line
from servicekit.validators import InvalidValue


def _faults(**over: object) -> list[tuple[str, str]]:
    values: dict[str, object] = {
        "birth_date": date(1990, 3, 7),
        "classes": frozenset({"C1"}),
        "first_issue": date(2010, 5, 1),
        "valid_from": date(2016, 5, 1),
        "valid_until": date(2026, 5, 1),
    }
    values.update(over)
    return domain.record_faults(**values)  # type: ignore[arg-type]


def test_dl01_a_sound_record_has_no_fault() -> None:
    assert _faults() == []


def test_dl01_record_faults_name_each_field() -> None:
    assert [f for f, _ in _faults(classes=frozenset())] == ["classes"]
    assert [f for f, _ in _faults(classes=frozenset({"C1", "Z9"}))] == ["classes"]
    assert [f for f, _ in _faults(first_issue=date(1990, 3, 7))] == ["first_issue"]
    assert [f for f, _ in _faults(first_issue=date(2017, 1, 1))] == ["first_issue"]
    assert [f for f, _ in _faults(valid_until=date(2016, 5, 1))] == ["valid_until"]
    with pytest.raises(domain.InvalidRecord) as refused:
        domain.check_record(
            birth_date=date(1990, 3, 7),
            classes=frozenset(),
            first_issue=date(2017, 1, 1),
            valid_from=date(2016, 5, 1),
            valid_until=date(2016, 5, 1),
        )
    assert (refused.value.status, refused.value.rule) == (422, "DL-01")
    assert [e["field"] for e in refused.value.extra["errors"]] == ["classes", "first_issue", "valid_until"]


@pytest.mark.parametrize(
    ("approved", "last_day"),
    [
        (date(2027, 3, 1), date(2027, 8, 31)),
        (date(2027, 8, 31), date(2028, 2, 28)),  # six months on is 29 February: current to the day before
        (date(2027, 12, 15), date(2028, 6, 14)),
    ],
)
def test_dl05_an_approved_photo_is_current_for_six_months(approved: date, last_day: date) -> None:
    assert domain.photo_valid_until(approved, 6) == last_day


@pytest.mark.parametrize(
    ("written", "classes"),
    [
        ("C1", {"C1"}),
        ("C1E", {"C1", "E"}),
        ("A2D", {"A2", "D"}),
        ("a1; b2", {"A1", "B2"}),
        ("A1、B2，C6", {"A1", "B2", "C6"}),
    ],
)
def test_dl01_permitted_classes_read_as_printed_or_listed(written: str, classes: set[str]) -> None:
    assert parse_classes(written) == frozenset(classes)


@pytest.mark.parametrize("written", ["", "C7", "C1X", "A4", "驾照"])
def test_dl01_unknown_permitted_classes_are_refused(written: str) -> None:
    with pytest.raises(InvalidValue) as bad:
        parse_classes(written)
    assert bad.value.field == "classes"


def test_dl01_a_line_reads_its_birth_date_from_the_number_and_its_office_from_the_import() -> None:
    facts, state = parse_line(
        {
            "number": "130102199003071233",
            "name": "张三",
            "classes": "C1",
            "first_issue": "2010-05-01",
            "valid_from": "2016-05-01",
            "valid_until": "2026-05-01",
        },
        "130100",
    )
    assert (facts.birth_date, facts.office_code, facts.phone, state) == (
        date(1990, 3, 7),
        "130100",
        None,
        "valid",
    )
