"""A segment's pool in Redis, built from its definition minus the ledger (PP-10, PP-12); shared by the
segment routes, the worker's sweeps and the demo loader."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import select, update

from plate_pool_service.context import PlateContext
from plate_pool_service.domain import State
from plate_pool_service.tables import allocations, segments, selections


async def build_pool(ctx: PlateContext, segment_id: str, *, only_if_missing: bool = False) -> int:
    """PP-10/PP-12: the pool from the segment's definition minus the ledger's active allocations (also the
    rebuild after Redis lost it, `only_if_missing`: never over a pool someone built meanwhile). A number
    chosen by a selection still awaiting its SMS code (PP-07) is held for it again until its window ends,
    not put back in the pool for someone else. Returns the numbers available (0 when nothing was built)."""
    now = await ctx.runtime.clock.now()
    async with ctx.runtime.engine.connect() as conn:
        row = (await conn.execute(select(segments).where(segments.c.id == segment_id))).one()
        taken = (
            await conn.execute(
                select(allocations.c.number_index)
                .where(allocations.c.segment_id == segment_id)
                .where(allocations.c.released_at.is_(None))
            )
        ).scalars()
        allocated = list(taken)
        awaiting = (
            await conn.execute(
                select(selections.c.id, selections.c.plate_number, selections.c.sms_deadline)
                .where(selections.c.segment_id == segment_id)
                .where(selections.c.state == State.AWAITING_SMS)
                .where(selections.c.sms_deadline > now)
            )
        ).all()
    chosen: dict[int, tuple[str, datetime]] = {}
    segment = await ctx.catalog.segment(segment_id) if awaiting else None
    for selection_id, number, deadline in awaiting:
        index = segment.space.index(number) if segment is not None and number else None
        if index is not None and index not in allocated:
            chosen[index] = (str(selection_id), deadline)
    built = await ctx.hot.build(segment_id, row.size, allocated, chosen, only_if_missing=only_if_missing)
    if row.pool_built_at is None:
        async with ctx.runtime.uow() as uow:
            await uow.session.execute(
                update(segments).where(segments.c.id == segment_id).values(pool_built_at=uow.now)
            )
            await uow.commit()
    return int(row.size - len(set(allocated) | set(chosen))) if built else 0


async def office_available(ctx: PlateContext, office_code: str, now: datetime) -> int:
    total = 0
    for segment in await ctx.catalog.open_segments(office_code, now):
        total += (await ctx.hot.counts(segment.id)).available
    return total


async def published_available(ctx: PlateContext, office_code: str) -> int:
    """PP-10: the numbers available in the office's published segments, open already or not yet."""
    async with ctx.runtime.engine.connect() as conn:
        ids = (
            await conn.execute(
                select(segments.c.id)
                .where(segments.c.office_code == office_code)
                .where(segments.c.state == "published")
                .where(segments.c.pool_built_at.is_not(None))
            )
        ).scalars()
        published = list(ids)
    return sum([(await ctx.hot.counts(segment_id)).available for segment_id in published])
