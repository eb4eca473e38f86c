"""Reading selections: one as it stands (brought up to the hot state first), and the counter's lookup."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import select

from plate_pool_service import domain
from plate_pool_service.access import visible_selection
from plate_pool_service.context import PlateContext
from plate_pool_service.domain import State
from plate_pool_service.hot import from_us
from plate_pool_service.reconcile import reconcile
from plate_pool_service.tables import selections
from servicekit.pagination import InvalidCursor, clamp_limit, decode_cursor, encode_cursor
from servicekit.web import Principal, Unprocessable


async def row_of(ctx: PlateContext, selection_id: uuid.UUID) -> Any:
    async with ctx.runtime.engine.connect() as conn:
        return (await conn.execute(select(selections).where(selections.c.id == selection_id))).one()


async def load(ctx: PlateContext, selection_id: uuid.UUID, principal: Principal) -> Any:
    """The caller's selection (or, for a clerk, one of their office's), else 404 (access.py)."""
    return await visible_selection(ctx.runtime.engine, selection_id, principal)


async def load_current(ctx: PlateContext, selection_id: uuid.UUID, principal: Principal) -> Any:
    """`load`, with Postgres first brought up to what the hot-state scripts did (reconcile.py)."""
    row = await load(ctx, selection_id, principal)
    if await reconcile(ctx, ctx.runtime, row):
        row = await row_of(ctx, selection_id)
    return row


@dataclass(frozen=True)
class Current:
    row: Any
    counters: tuple[int, int] | None  # the hot counters while selecting
    held_numbers: list[str] | None
    held_until: datetime | None


async def current(ctx: PlateContext, selection_id: uuid.UUID, principal: Principal) -> Current:
    """One selection as it stands, with what it holds right now."""
    row = await load_current(ctx, selection_id, principal)
    counters = await ctx.hot.counters(str(row.id), row.segment_id) if row.state == State.SELECTING else None
    held: list[str] | None = None
    until: datetime | None = None
    if row.state in (State.SELECTING, State.AWAITING_SMS):
        held_raw, hexp = await ctx.hot.held(str(row.id), row.segment_id)
        segment = await ctx.catalog.segment(row.segment_id)
        if held_raw and hexp and segment is not None:
            moment = from_us(hexp)
            if moment > await ctx.runtime.clock.now():
                held = [segment.space.number(int(i)) for i in _text(held_raw).split(",") if i]
                until = moment
    return Current(row, counters, held, until)


async def mine(
    ctx: PlateContext, principal: Principal, limit: int | None, cursor: str | None
) -> tuple[list[Current], str | None]:
    """The caller's own selections, newest first (ids are UUIDv7, in creation order), a page at a time;
    those selecting with their hot counters (the chances as they are now, PP-05/PP-06)."""
    page_size = clamp_limit(limit)
    query = (
        select(selections)
        .where(selections.c.account_id == principal.subject)
        .order_by(selections.c.id.desc())
        .limit(page_size + 1)
    )
    if cursor is not None:
        try:
            query = query.where(selections.c.id < uuid.UUID(str(decode_cursor(cursor)["id"])))
        except (InvalidCursor, KeyError, ValueError):
            raise Unprocessable("INVALID_CURSOR", "the cursor is not one this list returned") from None
    async with ctx.runtime.engine.connect() as conn:
        rows = list((await conn.execute(query)).all())
    page = rows[:page_size]
    found = []
    for row in page:
        selecting = row.state == State.SELECTING
        counters = await ctx.hot.counters(str(row.id), row.segment_id) if selecting else None
        found.append(Current(row, counters, None, None))
    next_cursor = encode_cursor({"id": str(page[-1].id)}) if len(rows) > page_size else None
    return found, next_cursor


async def find_for_counter(
    ctx: PlateContext,
    principal: Principal,
    *,
    voucher_number: str | None = None,
    vin: str | None = None,
    plate_number: str | None = None,
) -> list[Any]:
    """PP-08: the counter finds a selection by the voucher number the certificate and the success SMS
    name, by VIN or by plate; a clerk sees only their own office's (access.py)."""
    if principal.office is None:
        return []
    query = select(selections).where(selections.c.office_code == principal.office)
    if voucher_number is not None:
        try:
            query = query.where(selections.c.id == domain.selection_id_of_voucher(voucher_number))
        except ValueError:
            return []
    if vin is not None:
        query = query.where(selections.c.vin == vin.strip().upper())
    if plate_number is not None:
        query = query.where(selections.c.plate_number == plate_number.strip().upper())
    async with ctx.runtime.engine.connect() as conn:
        return list((await conn.execute(query.order_by(selections.c.id.desc()).limit(20))).all())


def _text(value: Any) -> str:
    return value.decode() if isinstance(value, bytes) else str(value)
