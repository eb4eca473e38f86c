"""Masking of identity numbers, phones, addresses and secrets (no I/O)."""

from __future__ import annotations

import pytest

from servicekit.masking import (
    SECRET_MASK,
    mask_address,
    mask_fields,
    mask_id_number,
    mask_items,
    mask_phone,
    mask_text,
)

IDN = "130102199003071233"
PHONE = "13812345678"


def test_identity_number_keeps_first_and_last_four() -> None:
    assert mask_id_number(IDN) == "1301**********1233"
    assert mask_id_number("13010219900307123X") == "1301**********123X"
    assert mask_id_number("1234") == SECRET_MASK


def test_phone_keeps_first_three_and_last_four() -> None:
    assert mask_phone(PHONE) == "138****5678"
    assert mask_phone("+86 138-1234-5678") == "138****5678"
    assert mask_phone("123") == SECRET_MASK


def test_address_keeps_the_region_only() -> None:
    assert mask_address("河北省石家庄市长安区建设北大街1号") == "河北省石家庄****"


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (f"owner {IDN} called", "owner 1301**********1233 called"),
        (f"身份证号{IDN}，手机{PHONE}。", "身份证号1301**********1233，手机138****5678。"),
        ("id=13010219900307123x&x=1", "id=1301**********123x&x=1"),
        (f"call +86{PHONE} or 138-1234-5678", "call +86138****5678 or 138-****-5678"),
        (f'{{"phone": "{PHONE}"}}', '{"phone": "138****5678"}'),
        ("order 123456789012345678901 stays", "order 123456789012345678901 stays"),  # 21 digits: neither
        ("amount 12345678901 fen", "amount 12345678901 fen"),  # 11 digits but not 1[3-9]...
        ("no digits here", "no digits here"),
    ],
)
def test_text_masks_numbers_found_inside(text: str, expected: str) -> None:
    assert mask_text(text) == expected


def test_fields_are_masked_by_key_name_recursively() -> None:
    record = {
        "id_number": IDN,
        "owner_id_number": IDN,
        "phone": PHONE,
        "contact_phone": PHONE,
        "code": "123456",
        "sms_code": "654321",
        "password": "hunter2",
        "token": "eyJ...",
        "address": "河北省石家庄市长安区建设北大街1号",
        "plate": "冀A12345",
        "note": f"called {PHONE}",
        "missing_phone": None,
        "owner": {"idn": IDN, "name": "张三"},
        "items": [{"phone": PHONE}, {"sms_code": 1234}],
    }
    masked = mask_fields(record)
    assert masked == {
        "id_number": "1301**********1233",
        "owner_id_number": "1301**********1233",
        "phone": "138****5678",
        "contact_phone": "138****5678",
        "code": SECRET_MASK,
        "sms_code": SECRET_MASK,
        "password": SECRET_MASK,
        "token": SECRET_MASK,
        "address": "河北省石家庄****",
        "plate": "冀A12345",
        "note": "called 138****5678",
        "missing_phone": None,
        "owner": {"idn": "1301**********1233", "name": "张三"},
        "items": [{"phone": "138****5678"}, {"sms_code": SECRET_MASK}],
    }
    assert record["phone"] == PHONE  # the input is not changed


def test_scan_text_can_be_turned_off_for_exact_free_text() -> None:
    assert mask_fields({"note": PHONE}, scan_text=False) == {"note": PHONE}
    assert mask_fields({"phone": PHONE}, scan_text=False) == {"phone": "138****5678"}


def test_items_of_a_list_endpoint() -> None:
    assert mask_items([{"phone": PHONE}, {"id_number": IDN}]) == [
        {"phone": "138****5678"},
        {"id_number": "1301**********1233"},
    ]
