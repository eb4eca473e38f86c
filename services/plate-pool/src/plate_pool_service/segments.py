"""PP-10, PP-06a: a segment's life as use cases (plan, approve, publish: then its pool is built) and an
office's settings. `segments_api.py` parses, calls and shapes; `domain` decides."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

from pydantic import BaseModel, Field
from sqlalchemy import insert, select, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.exc import IntegrityError

from plate_pool_service import domain
from plate_pool_service.context import PlateContext, current_calendar
from plate_pool_service.numbers import InvalidPattern, NumberSpace, alphabets
from plate_pool_service.pools import build_pool as build_pool  # re-exported: demo and tests build pools
from plate_pool_service.pools import published_available
from plate_pool_service.tables import office_settings, segments
from servicekit import validators
from servicekit.clock import SHANGHAI
from servicekit.ids import new_id
from servicekit.runtime import Runtime
from servicekit.uow import Actor


class PlanSegment(BaseModel):
    office_code: Annotated[str, Field(pattern=r"^\d{6}$")]
    prefix: Annotated[str, Field(min_length=2, max_length=2, examples=["冀A"])]
    pattern: Annotated[str, Field(min_length=5, max_length=5, examples=["3####"])]
    custom_patterns: Annotated[list[str], Field(min_length=1, max_length=20)]
    opens_at: datetime
    size: Annotated[int | None, Field(ge=1, description="only the pattern's first `size` numbers")] = None


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
        size = NumberSpace(body.prefix, body.pattern, body.size).size
        for custom in body.custom_patterns:
            alphabets(custom)
    except (InvalidPattern, validators.InvalidValue) as exc:
        raise domain.SegmentInvalid(str(exc)) from None
    domain.check_segment_size(size)
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
            raise domain.SegmentExists("this office already has that segment") from None
    return new


async def segment_row(ctx: PlateContext, segment_id: str) -> Any | None:
    async with ctx.runtime.engine.connect() as conn:
        return (await conn.execute(select(segments).where(segments.c.id == segment_id))).first()


async def approve(ctx: PlateContext, row: Any, approver: Actor, approver_office: str | None) -> None:
    """PP-10: the superior office's admin approves a planned segment."""
    async with ctx.runtime.engine.connect() as conn:
        superior = (
            await conn.execute(
                select(office_settings.c.superior_office_code).where(
                    office_settings.c.office_code == row.office_code
                )
            )
        ).scalar()
    domain.check_approval(row.state, superior if isinstance(superior, str) else None, approver_office)
    async with ctx.runtime.uow() as uow:
        moved = await uow.session.execute(
            update(segments)
            .where(segments.c.id == row.id, segments.c.state == "planned")
            .values(state="approved", approved_by=approver.id, approved_at=uow.now)
            .returning(segments.c.id)
        )
        if moved.first() is None:  # another approval got there first
            raise domain.SegmentNotPlanned("the segment is approved already")
        uow.audit(approver, "plate_segment.approved", f"plate-segment:{row.id}")
        await uow.commit()


async def publish(ctx: PlateContext, row: Any, publisher: Actor) -> None:
    """PP-10: an approved segment is published at least 3 working days before it opens, only if the
    office's pool with it reaches the 50,000 floor; then its pool is built in Redis."""
    pool = await published_available(ctx, row.office_code) + row.size
    domain.check_pool_floor(pool, await ctx.catalog.settings(row.office_code), opening=True)
    calendar = await current_calendar(ctx)  # WD-01: the office calendar, reloaded when a minute old
    async with ctx.runtime.uow() as uow:
        today = uow.now.astimezone(SHANGHAI).date()
        earliest = calendar.add_working_days(today, domain.PUBLISH_WORKING_DAYS)
        domain.check_publication(row.state, row.opens_at.astimezone(SHANGHAI).date(), earliest)
        moved = await uow.session.execute(
            update(segments)
            .where(segments.c.id == row.id, segments.c.state == "approved")
            .values(state="published", published_at=uow.now)
            .returning(segments.c.id)
        )
        if moved.first() is None:  # another publication got there first: its pool is being built
            raise domain.SegmentNotApproved("the segment is published already")
        uow.audit(publisher, "plate_segment.published", f"plate-segment:{row.id}")
        await uow.commit()
    await build_pool(ctx, row.id)


async def change_settings(
    ctx: PlateContext, office_code: str, changes: dict[str, Any], actor: Actor
) -> domain.OfficeSettings:
    """PP-06a: an office admin changes its counts and windows (PP-10: never its floor under 50,000)."""
    new = domain.settings_changed(await ctx.catalog.settings(office_code), changes)
    await save_office_settings(ctx.runtime, office_code, new, actor=actor)
    ctx.catalog.forget_settings(office_code)
    return new


async def save_office_settings(
    runtime: Runtime,
    office_code: str,
    settings: domain.OfficeSettings,
    *,
    actor: Actor | None = None,
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
                actor, "plate_office.settings_changed", f"office:{office_code}", after=settings.to_json()
            )
        await uow.commit()
