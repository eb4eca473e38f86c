"""What Postgres records of the hot state's decisions: a choice, and an allocation in the ledger with its
`selected` row and `confirmed` event (PP-07, PP-08, PP-12). The routes call these after their script; a
reconciliation (reconcile.py) calls them for a script whose replica died first; an upheld appeal writes an
allocation the same way (PP-11)."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import insert, select, update
from sqlalchemy.exc import IntegrityError

from plate_pool_service import domain
from plate_pool_service.catalog import Segment
from plate_pool_service.context import PlateContext, current_calendar
from plate_pool_service.domain import State
from plate_pool_service.hot import Choice
from plate_pool_service.published import SelectionConfirmed
from plate_pool_service.tables import allocations, fairness_log, selections
from servicekit.ids import new_id
from servicekit.runtime import Runtime
from servicekit.uow import Actor, UnitOfWork


async def write_allocation(
    uow: UnitOfWork,
    row: Any,
    segment_id: str,
    index: int,
    plate: str,
    confirmed_at: datetime,
    register_by: datetime,
) -> None:
    """In the caller's unit of work: the ledger row, the selection `selected`, the `confirmed` event. The
    ledger's unique indexes raise IntegrityError when the number or the selection is allocated already."""
    await uow.session.execute(
        insert(allocations).values(
            id=new_id(),
            selection_id=row.id,
            office_code=row.office_code,
            segment_id=segment_id,
            number_index=index,
            plate_number=plate,
            allocated_at=confirmed_at,
        )
    )
    await uow.session.execute(
        update(selections)
        .where(selections.c.id == row.id)
        .values(
            state=State.SELECTED,
            plate_number=plate,
            confirmed_at=confirmed_at,
            register_by=register_by,
            cancelled_at=None,
            cancel_reason=None,
            updated_at=uow.now,
        )
    )
    uow.emit(
        SelectionConfirmed.of_selection(
            row, plate_number=plate, confirmed_at=confirmed_at, register_by=register_by
        )
    )


async def record_choice(
    runtime: Runtime, selection_id: uuid.UUID, plate_number: str, choice: Choice, actor: Actor
) -> None:
    """The choose script's result in Postgres: `awaiting_sms` with the number and its SMS deadline."""
    async with runtime.uow() as uow:
        result = await uow.session.execute(
            update(selections)
            .where(selections.c.id == selection_id)
            .where(selections.c.state.in_((State.SELECTING, State.AWAITING_SMS)))
            .values(
                state=State.AWAITING_SMS,
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
    # WD-01: a year nobody set raises here (503) before anything is written; Redis keeps the allocation
    # and the next read or the sms-windows sweep records it once the year is set (reconcile.py).
    deadline = domain.register_by(confirmed_at, settings, await current_calendar(ctx))
    try:
        async with runtime.uow() as uow:
            await write_allocation(uow, row, segment.id, index, plate, confirmed_at, deadline)
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
                .values(state=State.SELECTING, plate_number=None, sms_deadline=None, updated_at=uow.now)
            )
            await uow.commit()
        raise domain.NumberAlreadyAllocated("that number was allocated to someone else") from None


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
