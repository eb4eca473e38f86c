"""Masking of personal data (PIPL): identity numbers, phones, addresses and secrets never leave a
process in clear through logs, and lists show them masked (`1301**********1233`, `138****5678`).

Two mechanisms, used together:
- by key name (`mask_fields`): a field called `id_number`, `phone`, `address`, `password`, `code`, ... is
  masked whatever its value looks like;
- by shape (`mask_text`): any 18-character resident identity number or 11-digit mainland mobile number
  found inside free text is masked, so a number slipped into a message or an error is caught too.

Masking errs on the side of hiding: an 18-digit order number that looks like an identity number is
masked as well; the reverse mistake (a real one shown) is the one that matters.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Mapping, Sequence
from typing import Any

SECRET_MASK = "******"  # noqa: S105 - the mask, not a password

# 18-character resident identity number (GB 11643): 6-digit region, birth date YYYYMMDD (years 18xx-20xx),
# 3-digit sequence, check digit or X. Bounded by non-digits only: `\b` would not split "号码130102..."
# because CJK characters count as word characters.
_ID_NUMBER = re.compile(
    r"(?<!\d)[1-9]\d{5}(?:18|19|20)\d{2}(?:0[1-9]|1[0-2])(?:0[1-9]|[12]\d|3[01])\d{3}[\dXx](?!\d)"
)
# 11-digit mainland mobile number, optionally with +86/0086/86 and single spaces or dashes (138-1234-5678).
_PHONE = re.compile(r"(?<!\d)((?:(?:\+|00)?86[ -]?)?1[3-9]\d)([ -]?)(\d{4})([ -]?)(\d{4})(?!\d)")

_FOUR_DIGITS = re.compile(r"\d{4}")

# Key names, compared lower-case. Exact names first, then suffixes (`owner_id_number`, `contact_phone`).
_ID_KEYS = frozenset({"id_number", "idn", "id_no", "id_card", "id_card_number", "identity_number"})
_ID_SUFFIXES = ("_id_number", "_idn", "_id_card")
_PHONE_KEYS = frozenset({"phone", "mobile", "phone_number", "mobile_number", "tel"})
_PHONE_SUFFIXES = ("_phone", "_mobile", "_phone_number")
_ADDRESS_KEYS = frozenset({"address", "addr", "residence", "home_address"})
_ADDRESS_SUFFIXES = ("_address",)
_SECRET_KEYS = frozenset(
    {
        "code",
        "sms_code",
        "verification_code",
        "otp",
        "captcha",
        "password",
        "passwd",
        "pwd",
        "token",
        "access_token",
        "refresh_token",
        "id_token",
        "secret",
        "client_secret",
        "authorization",
        "cookie",
        "set-cookie",
        "api_key",
    }
)
_SECRET_SUFFIXES = ("_password", "_token", "_secret", "_sms_code", "_verification_code")


def mask_id_number(value: str) -> str:
    """`130102199003071233` → `1301**********1233`: the first 4 and last 4 characters stay."""
    value = value.strip()
    if len(value) <= 8:
        return SECRET_MASK
    return value[:4] + "*" * (len(value) - 8) + value[-4:]


def mask_phone(value: str) -> str:
    """`13812345678` → `138****5678`; a country prefix (`+86`) and separators are dropped."""
    digits = re.sub(r"\D", "", value)
    if len(digits) > 11 and digits.startswith("86"):
        digits = digits[2:]
    if len(digits) <= 7:
        return SECRET_MASK
    return digits[:3] + "*" * (len(digits) - 7) + digits[-4:]


def mask_address(value: str) -> str:
    """`河北省石家庄市长安区建设北大街1号` → `河北省石家庄****`: the region stays, the street goes."""
    value = value.strip()
    if len(value) <= 6:
        return SECRET_MASK
    return value[:6] + "****"


def _id_sub(match: re.Match[str]) -> str:
    return mask_id_number(match.group(0))


def _phone_sub(match: re.Match[str]) -> str:
    head, sep1, _middle, sep2, tail = match.groups()
    return f"{head}{sep1}****{sep2}{tail}"


def mask_text(text: str) -> str:
    """Mask every identity number and mobile number inside free text, leaving the rest as it is."""
    # Cheap pre-check: every match holds four digits in a row; most log text has none.
    if len(text) < 11 or _FOUR_DIGITS.search(text) is None:
        return text
    text = _ID_NUMBER.sub(_id_sub, text)
    return _PHONE.sub(_phone_sub, text)


@functools.lru_cache(maxsize=1024)  # the same few key names come by on every log line
def _kind_of(key: str) -> str | None:
    k = key.lower()
    if k in _SECRET_KEYS or k.endswith(_SECRET_SUFFIXES):
        return "secret"
    if k in _ID_KEYS or k.endswith(_ID_SUFFIXES):
        return "id"
    if k in _PHONE_KEYS or k.endswith(_PHONE_SUFFIXES):
        return "phone"
    if k in _ADDRESS_KEYS or k.endswith(_ADDRESS_SUFFIXES):
        return "address"
    return None


def _mask_as(kind: str, value: Any) -> Any:
    if value is None:
        return None  # "not set" is not personal data, and is worth seeing
    if isinstance(value, list | tuple):
        return [_mask_as(kind, item) for item in value]
    if kind == "secret":
        return SECRET_MASK
    text = str(value)
    if kind == "id":
        return mask_id_number(text)
    if kind == "phone":
        return mask_phone(text)
    return mask_address(text)


def mask_value(value: Any, *, scan_text: bool = True) -> Any:
    """Mask a value of unknown key: mappings by key, sequences item by item, strings by shape."""
    if isinstance(value, str):
        return mask_text(value) if scan_text else value
    if isinstance(value, Mapping):
        return mask_fields(value, scan_text=scan_text)
    if isinstance(value, list | tuple):
        return [mask_value(item, scan_text=scan_text) for item in value]
    return value


def mask_fields(mapping: Mapping[str, Any], *, scan_text: bool = True) -> dict[str, Any]:
    """A copy of `mapping` with personal and secret fields masked by key name, recursively.

    Strings under other keys are scanned for identity and phone numbers too (`scan_text=False` turns that
    off, e.g. for a list whose free-text fields are known to be harmless and must stay exact).
    """
    out: dict[str, Any] = {}
    for key, value in mapping.items():
        kind = _kind_of(key) if isinstance(key, str) else None
        out[key] = _mask_as(kind, value) if kind is not None else mask_value(value, scan_text=scan_text)
    return out


def mask_items(items: Sequence[Mapping[str, Any]], *, scan_text: bool = True) -> list[dict[str, Any]]:
    """`mask_fields` over the items of a list endpoint."""
    return [mask_fields(item, scan_text=scan_text) for item in items]
