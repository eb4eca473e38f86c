"""Opaque cursors, the Page model and page-size clamping."""

from __future__ import annotations

import base64

import pytest
from pydantic import ValidationError

from servicekit.pagination import (
    MAX_CURSOR_LENGTH,
    InvalidCursor,
    Page,
    clamp_limit,
    decode_cursor,
    encode_cursor,
)


def raw_cursor(text: str) -> str:
    return base64.urlsafe_b64encode(text.encode()).rstrip(b"=").decode()


def test_cursor_round_trips() -> None:
    values: dict[str, str | int] = {"created_at": "2025-03-03T22:00:00+08:00", "id": 42, "plate": "冀A12345"}
    assert decode_cursor(encode_cursor(values)) == values


def test_cursor_is_unpadded_urlsafe_compact_json() -> None:
    # ">>>" and "???" encode to "+" and "/" in standard base64.
    cursor = encode_cursor({"k": ">>>???", "n": 1})
    assert "=" not in cursor
    assert "+" not in cursor
    assert "/" not in cursor
    padded = cursor + "=" * (-len(cursor) % 4)
    assert base64.urlsafe_b64decode(padded) == b'{"k":">>>???","n":1}'


def test_cursor_is_stable_whatever_the_key_order() -> None:
    assert encode_cursor({"a": 1, "b": "x"}) == encode_cursor({"b": "x", "a": 1})


@pytest.mark.parametrize(
    "cursor",
    [
        "not base64!",
        "abcde",  # impossible length for base64
        raw_cursor("not json"),
        raw_cursor("[1, 2]"),
        raw_cursor('{"id": 1.5}'),
        raw_cursor('{"id": true}'),
        raw_cursor('{"id": null}'),
        raw_cursor('{"id": {"nested": 1}}'),
        base64.urlsafe_b64encode(b"\xff\xfe").decode().rstrip("="),
        "A" * (MAX_CURSOR_LENGTH + 4),
    ],
)
def test_tampered_cursor_is_invalid(cursor: str) -> None:
    with pytest.raises(InvalidCursor):
        decode_cursor(cursor)


def test_invalid_cursor_is_a_value_error() -> None:
    assert issubclass(InvalidCursor, ValueError)


def test_encode_refuses_values_that_are_not_str_or_int() -> None:
    with pytest.raises(InvalidCursor):
        encode_cursor({"flag": True})
    with pytest.raises(InvalidCursor):
        encode_cursor({"x": 1.5})  # type: ignore[dict-item]


def test_page_validates_its_items() -> None:
    page = Page[int].model_validate({"items": [1, "2"], "next_cursor": "abc"})
    assert page.items == [1, 2]
    assert page.model_dump() == {"items": [1, 2], "next_cursor": "abc"}
    assert Page[str](items=[]).next_cursor is None
    with pytest.raises(ValidationError):
        Page[int].model_validate({"items": ["x"]})


def test_page_schema_names_the_item_type() -> None:
    schema = Page[int].model_json_schema()
    assert schema["properties"]["items"]["items"] == {"type": "integer"}
    assert "next_cursor" in schema["properties"]


@pytest.mark.parametrize(
    ("limit", "expected"),
    [(None, 20), (1, 1), (50, 50), (100, 100), (101, 100), (10_000, 100), (0, 1), (-5, 1)],
)
def test_clamp_limit(limit: int | None, expected: int) -> None:
    assert clamp_limit(limit) == expected


def test_clamp_limit_custom_bounds() -> None:
    assert clamp_limit(None, default=50, maximum=200) == 50
    assert clamp_limit(500, default=50, maximum=200) == 200
