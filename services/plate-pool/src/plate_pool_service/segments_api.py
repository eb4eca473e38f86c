"""`/api/v1/plate-segments`: segments planned, approved, published and their pools built (PP-10), public
pool statistics (PP-13), and each office's settings (PP-06a)."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import JSONResponse
from pydantic import BaseModel, Field
from sqlalchemy import insert, literal, select, tuple_, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.exc import IntegrityError

from plate_pool_service.context import ContextDep, PlateContext
from plate_pool_service.domain import OfficeSettings, Refusal, check_floor_setting, check_pool_floor
from plate_pool_service.numbers import InvalidPattern, NumberSpace, alphabets
from plate_pool_service.pools import build_pool, office_available, published_available
from plate_pool_service.tables import office_settings, segments
from servicekit import validators
from servicekit.clock import SHANGHAI
from servicekit.ids import new_id
from servicekit.pagination import InvalidCursor, clamp_limit, decode_cursor, encode_cursor
from servicekit.web import NotFound, Principal, RuntimeDep, Unprocessable, actor_from, require_roles

router = APIRouter(prefix="/api/v1/plate-segments", tags=["plate-segments"])
__all__ = [
    "PlanSegment",
    "build_pool",
    "office_available",
    "plan_segment",
    "published_available",
    "router",
    "save_office_settings",
]

Admin = Annotated[Principal, Depends(require_roles("clerk.admin"))]
MIN_SEGMENT_SIZE = 1_000
PUBLISH_WORKING_DAYS = 3


class PlanSegment(BaseModel):
    office_code: Annotated[str, Field(pattern=r"^\d{6}$")]
    prefix: Annotated[str, Field(min_length=2, max_length=2, examples=["冀A"])]
    pattern: Annotated[str, Field(min_length=5, max_length=5, examples=["3####"])]
    custom_patterns: Annotated[list[str], Field(min_length=1, max_length=20)]
    opens_at: datetime
    size: Annotated[int | None, Field(ge=1, description="only the pattern's first `size` numbers")] = None


def _iso(moment: datetime | None) -> str | None:
    return moment.astimezone(SHANGHAI).isoformat() if moment is not None else None


async def segment_view(ctx: PlateContext, row: Any) -> dict[str, Any]:
    counts = await ctx.hot.counts(row.id) if row.pool_built_at is not None else None
    return {
        "id": row.id,
        "office_code": row.office_code,
        "prefix": row.prefix,
        "pattern": row.pattern,
        "first_number": NumberSpace(row.prefix, row.pattern, row.size).number(0),
        "last_number": NumberSpace(row.prefix, row.pattern, row.size).number(row.size - 1),
        "size": row.size,
        "custom_patterns": list(row.custom_patterns),
        "opens_at": _iso(row.opens_at),
        "state": row.state,
        "published_at": _iso(row.published_at),
        "statistics": None
        if counts is None
        else {
            "available": counts.available,
            "held": counts.held,
            "allocated": counts.allocated,
            "queued": counts.queued,  # draws waiting in line (PP-10)
        },
    }


def _check_office_admin(principal: Principal, office_code: str) -> None:
    if principal.office != office_code:
        raise NotFound("office")


async def plan_segment(
    ctx: PlateContext,
    body: PlanSegment,
    planned_by: str,
    now: datetime,
    segment_id: str | None = None,
) -> str:
    """PP-10: a segment of at least 1,000 numbers whose custom patterns are its own shapes."""
    try:
        validators.plate_prefix(body.prefix + "12345")
        space = NumberSpace(body.prefix, body.pattern, body.size)
        size = space.size
        for custom in body.custom_patterns:
            alphabets(custom)
    except (InvalidPattern, validators.InvalidValue) as exc:
        raise Refusal(str(exc), code="SEGMENT_INVALID", rule="PP-10", status=422) from None
    if size < MIN_SEGMENT_SIZE:
        raise Refusal(
            f"a segment has at least {MIN_SEGMENT_SIZE} numbers",
            code="SEGMENT_TOO_SMALL",
            rule="PP-10",
            status=422,
        )
    new = segment_id or f"seg-{new_id()}"
    async with ctx.runtime.uow() as uow:
        try:
            await uow.session.execute(
                insert(segments).values(
                    id=new,
                    office_code=body.office_code,
                    prefix=body.prefix,
                    pattern=body.pattern,
                    size=size,
                    custom_patterns=body.custom_patterns,
                    opens_at=body.opens_at,
                    state="planned",
                    planned_by=planned_by,
                    created_at=now,
                )
            )
            await uow.commit()
        except IntegrityError:
            raise Refusal(
                "this office already has that segment", code="SEGMENT_EXISTS", rule="PP-10"
            ) from None
    return new


@router.get("", summary="Segments and their pool statistics (public, PP-10/PP-13)")
async def list_segments(
    ctx: ContextDep,
    office_code: str | None = None,
    limit: Annotated[int | None, Query(ge=1, le=100)] = None,
    cursor: Annotated[str | None, Query(max_length=1024)] = None,
) -> dict[str, Any]:
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
    return {"items": [await segment_view(ctx, row) for row in page], "next_cursor": next_cursor}


@router.post("", status_code=201, summary="Plan a segment (office admin, PP-10)")
async def create_segment(
    body: PlanSegment, request: Request, principal: Admin, ctx: ContextDep
) -> JSONResponse:
    _check_office_admin(principal, body.office_code)
    now = await ctx.runtime.clock.now()
    segment_id = await plan_segment(ctx, body, principal.subject, now)
    async with ctx.runtime.engine.connect() as conn:
        row = (await conn.execute(select(segments).where(segments.c.id == segment_id))).one()
    return JSONResponse(await segment_view(ctx, row), status_code=201)


async def _segment_row(ctx: PlateContext, segment_id: str) -> Any:
    async with ctx.runtime.engine.connect() as conn:
        row = (await conn.execute(select(segments).where(segments.c.id == segment_id))).first()
    if row is None:
        raise NotFound("segment")
    return row


async def _superior_of(ctx: PlateContext, office_code: str) -> str | None:
    async with ctx.runtime.engine.connect() as conn:
        value = (
            await conn.execute(
                select(office_settings.c.superior_office_code).where(
                    office_settings.c.office_code == office_code
                )
            )
        ).scalar()
    return value if isinstance(value, str) else None


@router.post("/{segment_id}/approval", summary="Approve a planned segment (superior office's admin, PP-10)")
async def approve_segment(
    segment_id: str, request: Request, principal: Admin, ctx: ContextDep, runtime: RuntimeDep
) -> dict[str, Any]:
    row = await _segment_row(ctx, segment_id)
    superior = await _superior_of(ctx, row.office_code)
    if superior is None or principal.office != superior:
        raise Refusal(
            "only the superior office approves a segment plan",
            code="NOT_SUPERIOR_OFFICE",
            rule="PP-10",
            status=403,
        )
    if row.state != "planned":
        raise Refusal(f"the segment is {row.state}", code="SEGMENT_NOT_PLANNED", rule="PP-10")
    async with runtime.uow() as uow:
        await uow.session.execute(
            update(segments)
            .where(segments.c.id == segment_id)
            .values(state="approved", approved_by=principal.subject, approved_at=uow.now)
        )
        uow.audit(actor_from(request, principal), "plate_segment.approved", f"plate-segment:{segment_id}")
        await uow.commit()
    return await segment_view(ctx, await _segment_row(ctx, segment_id))


@router.post("/{segment_id}/publication", summary="Publish an approved segment and build its pool (PP-10)")
async def publish_segment(
    segment_id: str, request: Request, principal: Admin, ctx: ContextDep, runtime: RuntimeDep
) -> dict[str, Any]:
    row = await _segment_row(ctx, segment_id)
    _check_office_admin(principal, row.office_code)
    if row.state != "approved":
        raise Refusal(
            "the superior office has not approved this segment", code="SEGMENT_NOT_APPROVED", rule="PP-10"
        )
    # PP-10: the segment opens only if, with the office's published pools, 50,000 numbers are available.
    pool = await published_available(ctx, row.office_code) + row.size
    check_pool_floor(pool, await ctx.catalog.settings(row.office_code), opening=True)
    async with runtime.uow() as uow:
        now = uow.now
        earliest = ctx.calendar.add_working_days(now.astimezone(SHANGHAI).date(), PUBLISH_WORKING_DAYS)
        if row.opens_at.astimezone(SHANGHAI).date() < earliest:
            raise Refusal(
                f"a segment is published at least {PUBLISH_WORKING_DAYS} working days before it opens",
                code="PUBLICATION_TOO_LATE",
                rule="PP-10",
                extra={"earliest_opening": earliest.isoformat()},
            )
        await uow.session.execute(
            update(segments).where(segments.c.id == segment_id).values(state="published", published_at=now)
        )
        uow.audit(actor_from(request, principal), "plate_segment.published", f"plate-segment:{segment_id}")
        await uow.commit()
    await build_pool(ctx, segment_id)
    return await segment_view(ctx, await _segment_row(ctx, segment_id))


@router.get("/offices/{office_code}/settings", summary="An office's counts and windows (PP-06a)")
async def get_office_settings(office_code: str, ctx: ContextDep) -> dict[str, Any]:
    return (await ctx.catalog.settings(office_code)).to_json()


@router.put("/offices/{office_code}/settings", summary="Change an office's counts and windows (PP-06a)")
async def put_office_settings(
    office_code: str,
    body: dict[str, Any],
    request: Request,
    principal: Admin,
    ctx: ContextDep,
    runtime: RuntimeDep,
) -> dict[str, Any]:
    _check_office_admin(principal, office_code)
    unknown = set(body) - set(OfficeSettings().to_json())
    if unknown:
        raise Refusal(
            f"unknown settings: {sorted(unknown)}", code="INVALID_SETTINGS", rule="PP-06a", status=422
        )
    try:
        new = OfficeSettings.from_json({**(await ctx.catalog.settings(office_code)).to_json(), **body})
    except TypeError:
        raise Refusal(
            "settings of the wrong type", code="INVALID_SETTINGS", rule="PP-06a", status=422
        ) from None
    new.check()
    if "low_pool_threshold" in body:
        check_floor_setting(new.low_pool_threshold)
    await save_office_settings(runtime, office_code, new, actor=actor_from(request, principal))
    ctx.catalog.forget_settings(office_code)
    return new.to_json()


async def save_office_settings(
    runtime: Any,
    office_code: str,
    settings: OfficeSettings,
    *,
    actor: Any = None,
    superior: str | None = None,
    name: str | None = None,
) -> None:
    async with runtime.uow() as uow:
        values: dict[str, Any] = {
            "office_code": office_code,
            "settings": settings.to_json(),
            "updated_at": uow.now,
        }
        if superior is not None:
            values["superior_office_code"] = superior
        if name is not None:
            values["name"] = name
        stmt = pg_insert(office_settings).values(**values)
        await uow.session.execute(
            stmt.on_conflict_do_update(
                index_elements=[office_settings.c.office_code],
                set_={k: stmt.excluded[k] for k in values if k != "office_code"},
            )
        )
        if actor is not None:
            uow.audit(
                actor,
                "plate_office.settings_changed",
                f"office:{office_code}",
                after=settings.to_json(),
            )
        await uow.commit()
