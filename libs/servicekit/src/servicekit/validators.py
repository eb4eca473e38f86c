"""Normalise and validate the identifiers users type in: ID numbers, codes, VINs, plates, phones.

Each function returns the canonical form (what is stored and compared) or raises `InvalidValue`,
whose `field` and `reason` the web layer turns into a problem detail. `field` defaults to the value's
usual name; callers pass their own API field name when it differs.
"""

from __future__ import annotations

import re
import unicodedata
from datetime import date
from typing import Literal

import phonenumbers
from stdnum.cn import ric, uscc
from stdnum.exceptions import ValidationError


class InvalidValue(ValueError):
    def __init__(self, field: str, reason: str) -> None:
        super().__init__(f"{field}: {reason}")
        self.field = field
        self.reason = reason


def _clean(value: str) -> str:
    # NFKC turns full-width Ａ１ (common from Chinese input methods) into A1; separators users type vanish.
    return re.sub(r"[\s·•\-]", "", unicodedata.normalize("NFKC", value)).upper()


# --- resident identity number (GB 11643) ---------------------------------------------------------


def resident_id(value: str, *, field: str = "resident_id") -> str:
    """18-character resident identity number: 17 digits and a check character (uppercase X for 10).

    The embedded birth date must be a real date. The 6-digit address code is deliberately not checked
    against a code table: codes change with redistricting and the population registry (ID-09) is the
    authority on whether the person exists.
    """
    number = _clean(value)
    if len(number) != 18:
        raise InvalidValue(field, "must be 18 characters")
    if not number[:17].isdigit() or not (number[17].isdigit() or number[17] == "X"):
        raise InvalidValue(field, "must be 17 digits and a digit or X")
    if number[17] != ric.calc_check_digit(number):
        raise InvalidValue(field, "check digit does not match")
    try:
        ric.get_birth_date(number)
    except ValidationError:
        raise InvalidValue(field, "birth date is not a valid date") from None
    return number


def birth_date_of(resident_id_number: str) -> date:
    return ric.get_birth_date(resident_id(resident_id_number))


def sex_of(resident_id_number: str) -> Literal["M", "F"]:
    # The 17th character is the order code's last digit: odd for men, even for women.
    return "M" if int(resident_id(resident_id_number)[16]) % 2 else "F"


# --- unified social credit code (GB 32100) -------------------------------------------------------


def social_credit_code(value: str, *, field: str = "social_credit_code") -> str:
    code = _clean(value)
    try:
        return str(uscc.validate(code))
    except ValidationError:
        raise InvalidValue(field, "not a valid unified social credit code") from None


# --- vehicle identification number (ISO 3779 / GB 16735) ----------------------------------------

# Letters I, O and Q never appear; the others map to 1-9 by the ISO 3779 transliteration table.
_VIN_VALUES: dict[str, int] = {str(d): d for d in range(10)} | dict(
    zip(
        "ABCDEFGHJKLMNPRSTUVWXYZ",
        [1, 2, 3, 4, 5, 6, 7, 8, 1, 2, 3, 4, 5, 7, 9, 2, 3, 4, 5, 6, 7, 8, 9],
        strict=True,
    )
)
_VIN_WEIGHTS = (8, 7, 6, 5, 4, 3, 2, 10, 0, 9, 8, 7, 6, 5, 4, 3, 2)


def vin_check_digit(vin_chars: str) -> str:
    """The check character (position 9) for a 17-character VIN; its own position has weight 0."""
    remainder = sum(_VIN_VALUES[c] * w for c, w in zip(vin_chars, _VIN_WEIGHTS, strict=True)) % 11
    return "X" if remainder == 10 else str(remainder)


def vin(value: str, *, field: str = "vin") -> str:
    """17 characters without I, O, Q, and a check digit: GB 16735 makes it mandatory in China."""
    number = _clean(value)
    if len(number) != 17:
        raise InvalidValue(field, "must be 17 characters")
    if any(c not in _VIN_VALUES for c in number):
        raise InvalidValue(field, "only digits and letters other than I, O, Q")
    if number[8] != vin_check_digit(number):
        raise InvalidValue(field, "check digit does not match")
    return number


# --- number plates (GA 36) -----------------------------------------------------------------------

PROVINCES = "京津冀晋蒙辽吉黑沪苏浙皖闽赣鲁豫鄂湘粤桂琼渝川贵云藏陕甘青宁新"
# PP-10: the letters I and O never appear on a plate (they read as 1 and 0).
_L = "A-HJ-NP-Z"
_PLATE = re.compile(
    rf"""
    [{PROVINCES}] [{_L}]               # province, issuing-authority letter
    (?: [{_L}0-9]{{5}}                 # ordinary plate: 5 digits or letters
      | [DF] [{_L}0-9] [0-9]{{4}}      # small new-energy: D (electric) / F (other), 1 any, 4 digits
      | [0-9]{{5}} [DF]                # large new-energy: 5 digits then D / F
    )
    """,
    re.VERBOSE,
)


def plate_number(value: str, *, field: str = "plate_number") -> str:
    """A mainland plate of the ordinary or new-energy (GA 36-2018) form, e.g. 冀A12345, 冀AD12345.

    Special series (警, 学, 挂, embassy, military) are not issued through pre-selection and are refused.
    Which letter patterns a given segment allows is the segment's business (PP-10), not checked here.
    """
    number = _clean(value)
    if "I" in number or "O" in number:
        raise InvalidValue(field, "letters I and O never appear on plates")
    if not _PLATE.fullmatch(number):
        raise InvalidValue(field, "not a mainland plate number")
    return number


def plate_prefix(value: str) -> str:
    """Province character and issuing-authority letter, e.g. 冀A: what an office's segments start with."""
    return plate_number(value)[:2]


# --- mobile phone --------------------------------------------------------------------------------


def mobile_phone(value: str, *, field: str = "phone") -> str:
    """A mainland mobile number as 11 digits; accepts +86 / 0086 and spaces or dashes."""
    try:
        parsed = phonenumbers.parse(value, "CN")
    except phonenumbers.NumberParseException:
        raise InvalidValue(field, "not a phone number") from None
    if (
        parsed.country_code != 86
        or parsed.extension
        or not phonenumbers.is_valid_number(parsed)
        or phonenumbers.number_type(parsed) != phonenumbers.PhoneNumberType.MOBILE
    ):
        raise InvalidValue(field, "not a mainland China mobile number")
    national = str(parsed.national_number)
    if len(national) != 11:
        raise InvalidValue(field, "not a mainland China mobile number")
    return national
