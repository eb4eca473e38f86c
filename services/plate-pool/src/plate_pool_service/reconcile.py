"""Getting Redis and Postgres back in step for one selection (PP-12, ADR 0021).

Postgres follows what a hot-state script did, also when the replica that ran it died before writing it
down. A choice and a confirmation are decided by a script in Redis (the rules are checked there,
atomically), then recorded in Postgres by the route that called it (ledger.py). If the replica dies
between the two, Redis is ahead: `awaiting_sms` against `selecting` (a choice), or `selected` with the
number allocated against `awaiting_sms` (a confirmation, its SMS code already spent). Both were decided
under the rules, so the record is completed, never undone: by the person's next request for the
selection (`reconcile`, called when a selection is loaded) or by the sweep that would otherwise end its
session or its SMS window. A repeated route call and a reconciliation may race; both write the same
thing, and the ledger's unique indexes let only one allocation row in.

The other way round, Redis follows Postgres when it lost a selection's hash (a restart): `restore_hot`.
"""

from __future__ import annotations

import contextlib
from typing import Any

from plate_pool_service.context import PlateContext
from plate_pool_service.domain import Refusal, State
from plate_pool_service.hot import Choice, SelectionState
from plate_pool_service.ledger import record_choice, record_confirmation
from plate_pool_service.pools import build_pool
from servicekit.runtime import Runtime
from servicekit.uow import SYSTEM_ACTOR


async def restore_hot(ctx: PlateContext, row: Any) -> None:
    """Redis lost the selection's hash (restart), or Postgres changed it: rebuild it from the row. A
    selection awaiting its SMS code gets its chosen number back when the pool holds it for it (the
    rebuilt pool does, pools.build_pool), so its confirmation goes through as if nothing happened."""
    if not await ctx.hot.is_built(row.segment_id):
        await build_pool(ctx, row.segment_id, only_if_missing=True)  # lost with the selection's hash
    settings = await ctx.catalog.settings(row.office_code)
    chosen: int | None = None
    if row.state == State.AWAITING_SMS and row.plate_number and row.sms_deadline is not None:
        segment = await ctx.catalog.segment(row.segment_id)
        index = segment.space.index(row.plate_number) if segment is not None else None
        if index is not None and await ctx.hot.holder(row.segment_id, index) == str(row.id):
            chosen = index
    await ctx.hot.put_selection(
        str(row.id),
        SelectionState(
            owner=row.account_id,
            segment_id=row.segment_id,
            state=row.state,
            session_expires_at=row.session_expires_at,
            custom_left=row.custom_left,
            draws_left=row.draws_left,
            draw_size=settings.draw_size,
            hold_seconds=settings.hold_seconds,
            sms_minutes=settings.sms_minutes,
            chosen=chosen,
            chosen_until=row.sms_deadline if chosen is not None else None,
        ),
    )


async def reconcile(ctx: PlateContext, runtime: Runtime, row: Any) -> bool:
    """Bring the selection's Postgres row up to what Redis says its scripts did; True when it moved."""
    if row.state not in (State.SELECTING, State.AWAITING_SMS):
        return False
    hot = await ctx.hot.selection(str(row.id), row.segment_id)
    segment = await ctx.catalog.segment(row.segment_id)
    if hot is None or hot.chosen is None or segment is None:
        return False
    now = await runtime.clock.now()
    if row.state == State.SELECTING and hot.state == State.AWAITING_SMS:
        # The hold ends with the SMS window; if it has lapsed already, the sms-windows sweep takes the
        # selection back to the step its chances allow, as for anyone who let the window pass.
        choice = Choice(hot.custom_left, hot.draws_left, hot.chosen_until or now, now)
        await record_choice(runtime, row.id, segment.space.number(hot.chosen), choice, SYSTEM_ACTOR)
        return True
    if row.state == State.AWAITING_SMS and hot.state == State.SELECTED and hot.chosen_allocated:
        # When the ledger refuses, the selection goes back to selecting, as a live confirmation would.
        # When the register-by reaches a year nobody set (WD-01), nothing is written and nothing undone:
        # Redis keeps the allocation, and this records it once the year is set.
        with contextlib.suppress(Refusal):
            await record_confirmation(
                ctx, runtime, row, segment, hot.chosen, hot.confirmed_at or now, SYSTEM_ACTOR
            )
        return True
    return False
