"""The people the tests make: valid as the services check them, and spread wide enough that the test
databases, which keep every run's people, practically never see one twice."""

from __future__ import annotations

from datetime import date

from servicekit import validators
from servicekit.testing import new_phone, new_resident_id


def test_a_new_resident_id_passes_the_services_own_check_and_keeps_what_the_caller_fixed() -> None:
    number = new_resident_id("130105", date(1990, 3, 7))
    assert validators.resident_id(number) == number
    assert number.startswith("13010519900307")
    assert validators.birth_date_of(new_resident_id(born=date(1985, 5, 5))) == date(1985, 5, 5)


def test_new_resident_ids_are_local_to_the_demo_city_and_spread_over_districts_and_birth_dates() -> None:
    numbers = [new_resident_id() for _ in range(1_000)]
    assert all(validators.resident_id(n) == n for n in numbers)
    assert {n[:4] for n in numbers} == {"1301"}  # plate-pool's local residency holds
    # One district and birth date gave 1,000 numbers in all, and a CI run met an earlier run's account.
    assert len({n[:6] for n in numbers}) > 50
    assert len({n[6:14] for n in numbers}) > 900


def test_a_new_phone_is_a_valid_mobile_with_the_callers_prefix() -> None:
    phones = [new_phone("139") for _ in range(200)]
    assert all(validators.mobile_phone(p) == p and p.startswith("139") for p in phones)
    assert len(new_phone()) == 11
