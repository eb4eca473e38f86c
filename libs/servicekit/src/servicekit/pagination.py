"""Opaque cursor pagination: the cursor carries the sort key of the last item returned.

Clients must treat a cursor as opaque; it is plain urlsafe base64 JSON, not signed, so the server
decodes it as untrusted input and uses its values only as bound query parameters.
"""

from __future__ import annotations

import base64
import binascii
import json
import re
from collections.abc import Mapping
from typing import Generic, TypeVar

from pydantic import BaseModel

T = TypeVar("T")

CursorValues = dict[str, str | int]

# A cursor carries a handful of sort-key values; anything longer is not one of ours.
MAX_CURSOR_LENGTH = 1024
_BASE64URL = re.compile(r"[A-Za-z0-9_-]*")


class InvalidCursor(ValueError):
    pass


class Page(BaseModel, Generic[T]):
    items: list[T]
    next_cursor: str | None = None  # None on the last page


def _check_values(values: Mapping[str, object]) -> CursorValues:
    checked: CursorValues = {}
    for key, value in values.items():
        # bool is an int subclass, but True in a cursor is always a mistake.
        if not isinstance(key, str) or isinstance(value, bool) or not isinstance(value, str | int):
            raise InvalidCursor("cursor values must map strings to strings or integers")
        checked[key] = value
    return checked


def encode_cursor(values: Mapping[str, str | int]) -> str:
    raw = json.dumps(_check_values(values), separators=(",", ":"), ensure_ascii=False, sort_keys=True)
    return base64.urlsafe_b64encode(raw.encode()).rstrip(b"=").decode("ascii")


def decode_cursor(cursor: str) -> CursorValues:
    if len(cursor) > MAX_CURSOR_LENGTH or not _BASE64URL.fullmatch(cursor) or len(cursor) % 4 == 1:
        raise InvalidCursor("malformed cursor")
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))
        decoded = json.loads(raw.decode())
    except (binascii.Error, UnicodeDecodeError, ValueError):
        raise InvalidCursor("malformed cursor") from None
    if not isinstance(decoded, dict):
        raise InvalidCursor("malformed cursor")
    return _check_values(decoded)


def clamp_limit(limit: int | None, default: int = 20, maximum: int = 100) -> int:
    """The page size to use: `default` when not given, otherwise within 1..`maximum`."""
    if limit is None:
        return default
    return max(1, min(limit, maximum))
