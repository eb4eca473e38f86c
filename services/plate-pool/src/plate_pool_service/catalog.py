"""Read-mostly data every replica caches: office settings (PP-06a) and segments (PP-10).

A segment's number space never changes once planned, so it is cached for good; an office's settings are
cached for `cache_ttl_s` (a change reaches every replica within that). The list of its open segments is
read at each start: a segment opens at its minute and must be drawable then on every replica (caching
it is a saving to make with care: on opening day that read is about a quarter of a start's CPU).
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncEngine

from plate_pool_service.domain import OfficeSettings
from plate_pool_service.numbers import NumberSpace, matches
from plate_pool_service.tables import office_settings, segments


@dataclass(frozen=True)
class Segment:
    id: str
    office_code: str
    space: NumberSpace
    custom_patterns: tuple[str, ...]
    opens_at: datetime
    state: str

    def custom_index(self, number: str) -> int | None:
        """PP-05/PP-10: the index of a number a user may verify, or None (not this segment's, or not of a
        custom pattern it publishes)."""
        index = self.space.index(number)
        if index is None:
            return None
        tail = number[len(self.space.prefix) :]
        if not any(matches(p, tail) for p in self.custom_patterns):
            return None
        return index


def segment_from_row(row: object) -> Segment:
    return Segment(
        id=row.id,  # type: ignore[attr-defined]
        office_code=row.office_code,  # type: ignore[attr-defined]
        space=NumberSpace(row.prefix, row.pattern, row.size),  # type: ignore[attr-defined]
        custom_patterns=tuple(row.custom_patterns),  # type: ignore[attr-defined]
        opens_at=row.opens_at,  # type: ignore[attr-defined]
        state=row.state,  # type: ignore[attr-defined]
    )


class Catalog:
    def __init__(self, engine: AsyncEngine, ttl_s: float = 10.0) -> None:
        self._engine = engine
        self._ttl = ttl_s
        self._segments: dict[str, Segment] = {}
        self._settings: dict[str, tuple[float, OfficeSettings]] = {}

    async def segment(self, segment_id: str) -> Segment | None:
        cached = self._segments.get(segment_id)
        if cached is not None:
            return cached
        async with self._engine.connect() as conn:
            row = (await conn.execute(select(segments).where(segments.c.id == segment_id))).first()
        if row is None:
            return None
        segment = segment_from_row(row)
        self._segments[segment_id] = segment
        return segment

    async def open_segments(self, office_code: str, now: datetime) -> list[Segment]:
        """Published segments of the office whose opening time has come (PP-10)."""
        async with self._engine.connect() as conn:
            rows = (
                await conn.execute(
                    select(segments)
                    .where(segments.c.office_code == office_code)
                    .where(segments.c.state == "published")
                    .where(segments.c.opens_at <= now)
                    .where(segments.c.pool_built_at.is_not(None))
                    .order_by(segments.c.opens_at)
                )
            ).all()
        found = [segment_from_row(row) for row in rows]
        for segment in found:
            self._segments[segment.id] = segment
        return found

    async def settings(self, office_code: str) -> OfficeSettings:
        cached = self._settings.get(office_code)
        if cached is not None and cached[0] > time.monotonic():
            return cached[1]
        async with self._engine.connect() as conn:
            data = (
                await conn.execute(
                    select(office_settings.c.settings).where(office_settings.c.office_code == office_code)
                )
            ).scalar()
        result = OfficeSettings.from_json(data)
        self._settings[office_code] = (time.monotonic() + self._ttl, result)
        return result

    def forget_settings(self, office_code: str) -> None:
        self._settings.pop(office_code, None)
