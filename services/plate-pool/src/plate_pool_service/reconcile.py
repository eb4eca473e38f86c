"""Postgres follows what a hot-state script did, also when the replica that ran it died before writing it
down (PP-12, ADR 0021).

A choice and a confirmation are decided by a script in Redis (the rules are checked there, atomically),
then recorded in Postgres by the route that called it. If the replica dies between the two, Redis is
ahead: `awaiting_sms` against `selecting` (a choice), or `selected` with the number allocated against
`awaiting_sms` (a confirmation, its SMS code already spent). Both were decided under the rules, so the
record is completed, never undone: by the person's next request for the selection (`reconcile`, called
when a selection is loaded) or by the sweep that would otherwise end its session or its SMS window.
A repeated route call and a reconciliation may race; both write the same thing, and the ledger's unique
indexes let only one allocation row in.
"""

from __future__ import annotations

import contextlib
import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import insert, select, update
from sqlalchemy.exc import IntegrityError

from plate_pool_service import domain
from plate_pool_service.catalog import Segment
from plate_pool_service.context import PlateContext
from plate_pool_service.domain import RuleError
from plate_pool_service.hot import Choice
from plate_pool_service.published import SelectionConfirmed
from plate_pool_service.tables import allocations, fairness_log, selections
from servicekit.ids import new_id
from servicekit.runtime import Runtime
from servicekit.uow import SYSTEM_ACTOR, Actor


async def record_choice(
    runtime: Runtime, selection_id: uuid.UUID, plate_number: str, choice: Choice, actor: Actor
) -> None:
    """The choose script's result in Postgres: `awaiting_sms` with the number and its SMS deadline."""
    async with runtime.uow() as uow:
        result = await uow.session.execute(
            update(selections)
            .where(selections.c.id == selection_id)
            .where(selections.c.state.in_(("selecting", "awaiting_sms")))
            .values(
                state="awaiting_sms",
                plate_number=plate_number,
                sms_deadline=choice.sms_deadline,
                custom_left=choice.custom_left,
                draws_left=choice.draws_left,
                updated_at=choice.now,
            )
        )
        if result.rowcount:  # type: ignore[attr-defined]
            uow.audit(
                actor,
                "plate_selection.chosen",
                f"plate-selection:{selection_id}",
                after={"plate_number": plate_number},
            )
        await uow.commit()


async def record_confirmation(
    ctx: PlateContext,
    runtime: Runtime,
    row: Any,
    segment: Segment,
    index: int,
    confirmed_at: datetime,
    actor: Actor,
) -> None:
    """The confirm script's result in the ledger: the allocation row, `selected` with `register_by`, the
    event. Raises NUMBER_ALREADY_ALLOCATED (and puts the selection back to selecting) when the ledger says
    the number is someone else's: Redis was wrong, the ledger is the authority (PP-12)."""
    settings = await ctx.catalog.settings(row.office_code)
    plate = segment.space.number(index)
    deadline = domain.register_by(confirmed_at, settings, ctx.calendar)
    try:
        async with runtime.uow() as uow:
            await uow.session.execute(
                insert(allocations).values(
                    id=new_id(),
                    selection_id=row.id,
                    office_code=row.office_code,
                    segment_id=segment.id,
                    number_index=index,
                    plate_number=plate,
                    allocated_at=confirmed_at,
                )
            )
            await uow.session.execute(
                update(selections)
                .where(selections.c.id == row.id)
                .values(
                    state="selected",
                    plate_number=plate,
                    confirmed_at=confirmed_at,
                    register_by=deadline,
                    updated_at=uow.now,
                )
            )
            uow.emit(
                SelectionConfirmed.of_selection(
                    row, plate_number=plate, confirmed_at=confirmed_at, register_by=deadline
                )
            )
            uow.audit(
                actor,
                "plate_selection.confirmed",
                f"plate-selection:{row.id}",
                after={"plate_number": plate, "register_by": deadline.isoformat()},
            )
            await uow.session.execute(
                insert(fairness_log).values(
                    at=confirmed_at,
                    op="allocate",
                    selection_id=str(row.id),
                    segment_id=segment.id,
                    held=[plate],
                )
            )
            await uow.commit()
    except IntegrityError:
        if await _allocated_to(runtime, row.id) == plate:
            return  # recorded by the other path (a retry and a reconciliation met): nothing to do
        await ctx.hot.unconfirm(str(row.id), segment.id, index, row.sms_deadline, ledger_refused=True)
        async with runtime.uow() as uow:
            await uow.session.execute(
                update(selections)
                .where(selections.c.id == row.id)
                .values(state="selecting", plate_number=None, sms_deadline=None, updated_at=uow.now)
            )
            await uow.commit()
        raise RuleError(
            "NUMBER_ALREADY_ALLOCATED", "that number was allocated to someone else", "PP-12"
        ) from None


async def _allocated_to(runtime: Runtime, selection_id: uuid.UUID) -> str | None:
    async with runtime.engine.connect() as conn:
        plate: str | None = (
            await conn.execute(
                select(allocations.c.plate_number)
                .where(allocations.c.selection_id == selection_id)
                .where(allocations.c.released_at.is_(None))
            )
        ).scalar()
    return plate


async def reconcile(ctx: PlateContext, runtime: Runtime, row: Any) -> bool:
    """Bring the selection's Postgres row up to what Redis says its scripts did; True when it moved."""
    if row.state not in ("selecting", "awaiting_sms"):
        return False
    hot = await ctx.hot.selection(str(row.id), row.segment_id)
    segment = await ctx.catalog.segment(row.segment_id)
    if hot is None or hot.chosen is None or segment is None:
        return False
    now = await runtime.clock.now()
    if row.state == "selecting" and hot.state == "awaiting_sms":
        # The hold ends with the SMS window; if it has lapsed already, the sms-windows sweep takes the
        # selection back to the step its chances allow, as for anyone who let the window pass.
        choice = Choice(hot.custom_left, hot.draws_left, hot.chosen_until or now, now)
        await record_choice(runtime, row.id, segment.space.number(hot.chosen), choice, SYSTEM_ACTOR)
        return True
    if row.state == "awaiting_sms" and hot.state == "selected" and hot.chosen_allocated:
        # When the ledger refuses, the selection goes back to selecting, as a live confirmation would.
        with contextlib.suppress(RuleError):
            await record_confirmation(
                ctx, runtime, row, segment, hot.chosen, hot.confirmed_at or now, SYSTEM_ACTOR
            )
        return True
    return False
