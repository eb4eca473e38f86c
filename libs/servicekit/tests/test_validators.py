"""Identifier validators: resident ID, social credit code, VIN, plates (PP-10 letters), mobile phones."""

from __future__ import annotations

from datetime import date

import pytest
from stdnum.cn import ric

from servicekit import validators as v
from servicekit.validators import InvalidValue

# The two examples printed in GB 11643-1999.
ID_FEMALE = "11010519491231002X"
ID_MALE = "440524188001010014"


def test_resident_id_accepts_valid_numbers_and_uppercases_x() -> None:
    assert v.resident_id("11010519491231002x") == ID_FEMALE
    assert v.resident_id(f" {ID_MALE} ") == ID_MALE


def test_resident_id_refuses_wrong_check_digit() -> None:
    with pytest.raises(InvalidValue) as exc:
        v.resident_id("110105194912310021")
    assert exc.value.field == "resident_id"
    assert exc.value.reason == "check digit does not match"


@pytest.mark.parametrize("value", ["11010519491231002", "1101051949123100211", "1101051949X231002X", ""])
def test_resident_id_refuses_wrong_shape(value: str) -> None:
    with pytest.raises(InvalidValue):
        v.resident_id(value)


def test_resident_id_refuses_impossible_birth_date() -> None:
    # 1949-02-30 with its check digit recomputed, so only the date is wrong.
    body = "11010519490230002"
    number = body + ric.calc_check_digit(body + "0")
    with pytest.raises(InvalidValue) as exc:
        v.resident_id(number)
    assert exc.value.reason == "birth date is not a valid date"


def test_resident_id_error_names_callers_field() -> None:
    with pytest.raises(InvalidValue) as exc:
        v.resident_id("123", field="owner_id_number")
    assert exc.value.field == "owner_id_number"
    assert str(exc.value).startswith("owner_id_number: ")


def test_birth_date_and_sex_come_from_the_number() -> None:
    assert v.birth_date_of(ID_FEMALE) == date(1949, 12, 31)
    assert v.sex_of(ID_FEMALE) == "F"
    assert v.birth_date_of(ID_MALE) == date(1880, 1, 1)
    assert v.sex_of(ID_MALE) == "M"
    with pytest.raises(InvalidValue):
        v.sex_of("110105194912310021")


def test_social_credit_code_valid_and_corrupted() -> None:
    assert v.social_credit_code("91110000600037341l") == "91110000600037341L"
    with pytest.raises(InvalidValue) as exc:
        v.social_credit_code("91110000600037341M")
    assert exc.value.field == "social_credit_code"


@pytest.mark.parametrize(
    "value",
    [
        "1M8GDM9AXKP042788",  # ISO 3779 example, check character X
        "1HGCM82633A004352",
        "JH4KA7561PC008269",
        "1G1JC5444R7252367",
        "LSVAU218XN2183294",  # a Chinese-built VIN, check character X
    ],
)
def test_vin_accepts_known_valid(value: str) -> None:
    assert v.vin(value.lower()) == value


def test_vin_check_digit_computation() -> None:
    assert v.vin_check_digit("1M8GDM9A0KP042788") == "X"
    assert v.vin_check_digit("1HGCM82603A004352") == "3"


@pytest.mark.parametrize(
    "value",
    [
        "1M8GDM9AXKP042789",  # last character changed
        "1M8GDM9A1KP042788",  # check character changed
        "LSVAU2180N2183294",  # check position holds 0, the weighted sum gives X
    ],
)
def test_vin_refuses_one_character_corruption(value: str) -> None:
    with pytest.raises(InvalidValue) as exc:
        v.vin(value)
    assert exc.value.reason == "check digit does not match"


@pytest.mark.parametrize(
    "value", ["1M8GDM9AXKP04278", "1M8GDM9AXKPO42788", "IM8GDM9AXKP042788", "QM8GDM9AXKP042788"]
)
def test_vin_refuses_wrong_length_and_i_o_q(value: str) -> None:
    with pytest.raises(InvalidValue):
        v.vin(value)


@pytest.mark.parametrize(
    ("value", "canonical"),
    [
        ("冀A12345", "冀A12345"),
        ("冀a·1234５", "冀A12345"),  # lower case, separator dot, full-width digit
        ("京ABC123", "京ABC123"),
        ("京AD12345", "京AD12345"),  # small new-energy, electric
        ("沪AFA1234", "沪AFA1234"),  # small new-energy, other; second position may be a letter
        ("粤B12345D", "粤B12345D"),  # large new-energy
    ],
)
def test_plate_number_accepts_ordinary_and_new_energy(value: str, canonical: str) -> None:
    assert v.plate_number(value) == canonical


@pytest.mark.parametrize("value", ["冀I12345", "冀O12345", "冀A1234O", "冀AI2345", "京ADO1234"])
def test_pp10_plate_letters_i_and_o_are_refused(value: str) -> None:
    with pytest.raises(InvalidValue) as exc:
        v.plate_number(value)
    assert "I and O" in exc.value.reason


@pytest.mark.parametrize(
    "value",
    [
        "冀A1234",  # too short
        "冀A1234567",  # too long
        "港A12345",  # not a mainland province
        "冀112345",  # authority must be a letter
        "京AD1234A",  # new-energy letters in the wrong place
        "京AA12345",  # six characters but not D/F
        "冀A1234警",  # special series are not ordinary plates
    ],
)
def test_plate_number_refuses_other_shapes(value: str) -> None:
    with pytest.raises(InvalidValue):
        v.plate_number(value)


def test_plate_prefix() -> None:
    assert v.plate_prefix("冀a12345") == "冀A"
    assert v.plate_prefix("粤B12345D") == "粤B"
    with pytest.raises(InvalidValue):
        v.plate_prefix("冀I12345")


@pytest.mark.parametrize(
    ("value", "canonical"),
    [
        ("13800138000", "13800138000"),
        ("+86 138 0013 8000", "13800138000"),
        ("0086-138-0013-8000", "13800138000"),
        ("+8619912345678", "19912345678"),
    ],
)
def test_mobile_phone_normalises_to_eleven_digits(value: str, canonical: str) -> None:
    assert v.mobile_phone(value) == canonical


@pytest.mark.parametrize(
    "value",
    [
        "12345678901",  # no such mobile prefix
        "010 1234 5678",  # Beijing fixed line
        "+1 650 253 0000",  # not mainland
        "+852 9123 4567",  # Hong Kong mobile
        "1380013800",  # too short
        "not a phone",
    ],
)
def test_mobile_phone_refuses_non_mainland_mobiles(value: str) -> None:
    with pytest.raises(InvalidValue) as exc:
        v.mobile_phone(value)
    assert exc.value.field == "phone"
