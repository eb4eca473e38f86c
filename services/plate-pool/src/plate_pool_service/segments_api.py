"""`/api/v1/plate-segments`: segments planned, approved, published and their pools built (PP-10), public
pool statistics (PP-13), and each office's settings (PP-06a). Parses, calls `segments.py`, shapes."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query, Request
from sqlalchemy import literal, or_, select, tuple_

from plate_pool_service import segments as cases
from plate_pool_service.context import ContextDep, PlateContext
from plate_pool_service.schemas import PlateOfficePage
from plate_pool_service.segment_views import (
    OfficeSettingsOut,
    PlannedSegmentPage,
    SegmentOut,
    SegmentPage,
    SegmentState,
    planned_segment_view,
    segment_view,
)
from plate_pool_service.segments import PlanSegment, plan_segment
from plate_pool_service.tables import office_settings, segments
from servicekit.pagination import InvalidCursor, clamp_limit, decode_cursor, encode_cursor
from servicekit.web import NotFound, Principal, Unprocessable, actor_from, require_roles

router = APIRouter(prefix="/api/v1/plate-segments", tags=["plate-segments"])

Admin = Annotated[Principal, Depends(require_roles("clerk.admin"))]


def _check_office_admin(principal: Principal, office_code: str) -> None:
    if principal.office != office_code:
        raise NotFound("office")


@router.get(
    "", response_model=SegmentPage, summary="Segments and their pool statistics (public, PP-10/PP-13)"
)
async def list_segments(
    ctx: ContextDep,
    office_code: str | None = None,
    limit: Annotated[int | None, Query(ge=1, le=100)] = None,
    cursor: Annotated[str | None, Query(max_length=1024)] = None,
) -> SegmentPage:
    """Published and closed segments in opening order, a page at a time (api.md)."""
    page_size = clamp_limit(limit)
    query = (
        select(segments)
        .where(segments.c.state.in_(("published", "closed")))
        .order_by(segments.c.opens_at, segments.c.id)
        .limit(page_size + 1)
    )
    if office_code is not None:
        query = query.where(segments.c.office_code == office_code)
    if cursor is not None:
        try:
            after = decode_cursor(cursor)
            opens_at = datetime.fromisoformat(str(after["opens_at"]))
            segment_id = str(after["id"])
        except (InvalidCursor, KeyError, ValueError):
            raise Unprocessable("INVALID_CURSOR", "the cursor is not one this list returned") from None
        query = query.where(
            tuple_(segments.c.opens_at, segments.c.id) > tuple_(literal(opens_at), literal(segment_id))
        )
    async with ctx.runtime.engine.connect() as conn:
        rows = (await conn.execute(query)).all()
    page = rows[:page_size]
    next_cursor = (
        encode_cursor({"opens_at": page[-1].opens_at.isoformat(), "id": page[-1].id})
        if len(rows) > page_size
        else None
    )
    return SegmentPage(items=[await segment_view(ctx, row) for row in page], next_cursor=next_cursor)


@router.get(
    "/plans", response_model=PlannedSegmentPage, summary="Segments an admin plans or approves (PP-10)"
)
async def list_planned_segments(
    principal: Admin,
    ctx: ContextDep,
    state: SegmentState | None = None,
    limit: Annotated[int | None, Query(ge=1, le=100)] = None,
    cursor: Annotated[str | None, Query(max_length=1024)] = None,
) -> PlannedSegmentPage:
    """Every segment, in any state, of the admin's office and of the offices it is the superior of (whose
    plans it approves), newest plan first."""
    page_size = clamp_limit(limit)
    superior = office_settings.c.superior_office_code
    query = (
        select(segments, superior)
        .select_from(
            segments.outerjoin(office_settings, office_settings.c.office_code == segments.c.office_code)
        )
        .where(or_(segments.c.office_code == principal.office, superior == principal.office))
        .order_by(segments.c.created_at.desc(), segments.c.id.desc())
        .limit(page_size + 1)
    )
    if state is not None:
        query = query.where(segments.c.state == state)
    if cursor is not None:
        try:
            after = decode_cursor(cursor)
            created_at = datetime.fromisoformat(str(after["created_at"]))
            segment_id = str(after["id"])
        except (InvalidCursor, KeyError, ValueError):
            raise Unprocessable("INVALID_CURSOR", "the cursor is not one this list returned") from None
        query = query.where(
            tuple_(segments.c.created_at, segments.c.id) < tuple_(literal(created_at), literal(segment_id))
        )
    async with ctx.runtime.engine.connect() as conn:
        rows = (await conn.execute(query)).all()
    page = rows[:page_size]
    next_cursor = (
        encode_cursor({"created_at": page[-1].created_at.isoformat(), "id": page[-1].id})
        if len(rows) > page_size
        else None
    )
    items = [await planned_segment_view(ctx, row, row.superior_office_code) for row in page]
    return PlannedSegmentPage(items=items, next_cursor=next_cursor)


@router.post("", status_code=201, response_model=SegmentOut, summary="Plan a segment (office admin, PP-10)")
async def create_segment(
    body: PlanSegment, request: Request, principal: Admin, ctx: ContextDep
) -> SegmentOut:
    _check_office_admin(principal, body.office_code)
    now = await ctx.runtime.clock.now()
    segment_id = await plan_segment(ctx, body, principal.subject, now)
    async with ctx.runtime.engine.connect() as conn:
        row = (await conn.execute(select(segments).where(segments.c.id == segment_id))).one()
    return await segment_view(ctx, row)


async def _segment_row(ctx: PlateContext, segment_id: str) -> Any:
    row = await cases.segment_row(ctx, segment_id)
    if row is None:
        raise NotFound("segment")
    return row


@router.post(
    "/{segment_id}/approval",
    response_model=SegmentOut,
    summary="Approve a planned segment (superior office's admin, PP-10)",
)
async def approve_segment(segment_id: str, request: Request, principal: Admin, ctx: ContextDep) -> SegmentOut:
    row = await _segment_row(ctx, segment_id)
    await cases.approve(ctx, row, actor_from(request, principal), principal.office)
    return await segment_view(ctx, await _segment_row(ctx, segment_id))


@router.post(
    "/{segment_id}/publication",
    response_model=SegmentOut,
    summary="Publish an approved segment and build its pool (PP-10)",
)
async def publish_segment(segment_id: str, request: Request, principal: Admin, ctx: ContextDep) -> SegmentOut:
    row = await _segment_row(ctx, segment_id)
    _check_office_admin(principal, row.office_code)
    await cases.publish(ctx, row, actor_from(request, principal))
    return await segment_view(ctx, await _segment_row(ctx, segment_id))


@router.get(
    "/offices",
    response_model=PlateOfficePage,
    summary="The offices that pre-select numbers: those with a published segment (public)",
)
async def list_offices(ctx: ContextDep) -> PlateOfficePage:
    """Where a citizen may pre-select (the office chosen at the start), by code. Offices are a few dozen
    per province, so one page holds them all."""
    query = (
        select(office_settings.c.office_code, office_settings.c.name)
        .where(
            office_settings.c.office_code.in_(
                select(segments.c.office_code).where(segments.c.state == "published")
            )
        )
        .order_by(office_settings.c.office_code)
    )
    async with ctx.runtime.engine.connect() as conn:
        rows = (await conn.execute(query)).all()
    return PlateOfficePage.model_validate(
        {"items": [{"office_code": row.office_code, "name": row.name} for row in rows], "next_cursor": None}
    )


@router.get(
    "/offices/{office_code}/settings",
    response_model=OfficeSettingsOut,
    summary="An office's counts and windows (PP-06a)",
)
async def get_office_settings(office_code: str, ctx: ContextDep) -> OfficeSettingsOut:
    return OfficeSettingsOut.of(await ctx.catalog.settings(office_code))


@router.put(
    "/offices/{office_code}/settings",
    response_model=OfficeSettingsOut,
    summary="Change an office's counts and windows (PP-06a)",
)
async def put_office_settings(
    office_code: str, body: dict[str, Any], request: Request, principal: Admin, ctx: ContextDep
) -> OfficeSettingsOut:
    """Only the settings named in the body change; an unknown name or a value out of range is refused."""
    _check_office_admin(principal, office_code)
    actor = actor_from(request, principal)
    return OfficeSettingsOut.of(await cases.change_settings(ctx, office_code, body, actor))
