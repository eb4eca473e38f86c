"""Identifiers: UUIDv7 everywhere (time-ordered, so primary keys and outbox rows index well)."""

from __future__ import annotations

import uuid

from uuid6 import uuid7


def new_id() -> uuid.UUID:
    """A new UUIDv7 as a standard `uuid.UUID` (psycopg and pydantic take it as it is)."""
    return uuid.UUID(bytes=uuid7().bytes)


def demo_id(*parts: str | int) -> uuid.UUID:
    """A fixed id for a demo record, the same in every service's demo that names it (UUIDv5 of its
    parts): one service's demo can refer to another's records before they exist."""
    return uuid.uuid5(uuid.NAMESPACE_URL, "tms-demo/" + "/".join(str(part) for part in parts))
