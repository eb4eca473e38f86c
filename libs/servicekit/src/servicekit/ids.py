"""Identifiers: UUIDv7 everywhere (time-ordered, so primary keys and outbox rows index well)."""

from __future__ import annotations

import uuid

from uuid6 import uuid7


def new_id() -> uuid.UUID:
    """A new UUIDv7 as a standard `uuid.UUID` (psycopg and pydantic take it as it is)."""
    return uuid.UUID(bytes=uuid7().bytes)
