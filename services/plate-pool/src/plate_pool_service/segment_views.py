"""How segments, their pool figures and an office's settings are shown (PP-10, PP-13, PP-06a): the
response models of `segments_api.py`, so that the merged OpenAPI document types them for every client."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, Field

from plate_pool_service.context import PlateContext
from plate_pool_service.domain import OfficeSettings
from plate_pool_service.numbers import NumberSpace
from servicekit.clock import SHANGHAI

SegmentState = Literal["planned", "approved", "published", "closed"]  # tables.SEGMENT_STATES


class PoolStatistics(BaseModel):
    """PP-13: a segment's published figures."""

    available: int
    held: int
    allocated: int
    queued: int = Field(description="draws waiting in line for a number to come free (PP-10)")


class SegmentOut(BaseModel):
    id: str
    office_code: str
    prefix: str
    pattern: str
    first_number: str
    last_number: str
    size: int
    custom_patterns: list[str]
    opens_at: datetime
    state: SegmentState
    published_at: datetime | None
    statistics: PoolStatistics | None = Field(description="null until the segment's pool is built")


class SegmentPage(BaseModel):
    items: list[SegmentOut]
    next_cursor: str | None


class PlannedSegmentOut(SegmentOut):
    """A segment as the admins who plan, approve and publish it see it (PP-10)."""

    superior_office_code: str | None = Field(description="the office whose admin approves the plan")
    planned_at: datetime
    approved_at: datetime | None


class PlannedSegmentPage(BaseModel):
    items: list[PlannedSegmentOut]
    next_cursor: str | None


class OfficeSettingsOut(BaseModel):
    """PP-06a: an office's counts and windows of PP-04 to PP-10 (the seed's values by default)."""

    custom_attempts: int
    random_draws: int
    draw_size: int
    hold_seconds: int
    session_minutes: int
    opens_at: str = Field(description="HH:MM, Beijing time")
    closes_at: str = Field(description="HH:MM, Beijing time")
    sms_minutes: int
    register_working_days: int
    ban_years: int
    low_pool_threshold: int

    @classmethod
    def of(cls, settings: OfficeSettings) -> OfficeSettingsOut:
        return cls.model_validate(settings.to_json())


def _local(moment: datetime | None) -> datetime | None:
    return moment.astimezone(SHANGHAI) if moment is not None else None


async def segment_fields(ctx: PlateContext, row: Any) -> dict[str, Any]:
    counts = await ctx.hot.counts(row.id) if row.pool_built_at is not None else None
    space = NumberSpace(row.prefix, row.pattern, row.size)
    return {
        "id": row.id,
        "office_code": row.office_code,
        "prefix": row.prefix,
        "pattern": row.pattern,
        "first_number": space.number(0),
        "last_number": space.number(row.size - 1),
        "size": row.size,
        "custom_patterns": list(row.custom_patterns),
        "opens_at": _local(row.opens_at),
        "state": row.state,
        "published_at": _local(row.published_at),
        "statistics": None
        if counts is None
        else PoolStatistics(
            available=counts.available, held=counts.held, allocated=counts.allocated, queued=counts.queued
        ),
    }


async def segment_view(ctx: PlateContext, row: Any) -> SegmentOut:
    return SegmentOut.model_validate(await segment_fields(ctx, row))


async def planned_segment_view(ctx: PlateContext, row: Any, superior: str | None) -> PlannedSegmentOut:
    return PlannedSegmentOut.model_validate(
        {
            **await segment_fields(ctx, row),
            "superior_office_code": superior,
            "planned_at": _local(row.created_at),
            "approved_at": _local(row.approved_at),
        }
    )
