"""How a selection ends: abandoned, cancelled (PP-09; the one cancellation path), its session or SMS window
run out (the sweeps), or settled by the car's first registration (VH-15, PP-09; the subscriptions)."""

from __future__ import annotations

import logging
import uuid
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

from sqlalchemy import insert, select, update

from plate_pool_service import domain
from plate_pool_service.context import PlateContext
from plate_pool_service.domain import Action, State
from plate_pool_service.published import SelectionCancelled, SelectionRegistered
from plate_pool_service.reconcile import reconcile
from plate_pool_service.selections.reading import load_current
from plate_pool_service.tables import allocations, bans, selections
from servicekit.clock import SHANGHAI
from servicekit.ids import new_id
from servicekit.uow import SYSTEM_ACTOR, Actor, UnitOfWork
from servicekit.web import Principal

log = logging.getLogger(__name__)


async def abandon(ctx: PlateContext, selection_id: uuid.UUID, principal: Principal, actor: Actor) -> None:
    """放弃: the user gives the selection up; no ban."""
    row = await load_current(ctx, selection_id, principal)
    domain.check_step(Action.ABANDON, row.state)
    await end(ctx, row.id, Action.ABANDON, "abandoned", actor)


async def end(
    ctx: PlateContext, selection_id: uuid.UUID, action: Action, reason: str, actor: Actor
) -> date | None:
    """`abandon` or `cancel` in a unit of work of its own (the routes and the sweeps)."""
    async with ctx.runtime.uow() as uow:
        until = await cancel(ctx, uow, selection_id, action, reason, actor)
        await uow.commit()
    return until


async def cancel(
    ctx: PlateContext,
    uow: UnitOfWork,
    selection_id: uuid.UUID,
    action: Action,
    reason: str,
    actor: Actor,
) -> date | None:
    """The one cancellation path, in the caller's unit of work (which commits): ABANDON (no ban) or
    CANCEL (PP-09: the number cancelled, 2 years barred online). Returns the ban's end, if any; does nothing
    when the selection is no longer where `action` starts (a redelivery, a race with a settlement).

    Order, and why: (1) lock the row and check its state under the lock, (2) write the ledger (release the
    allocation, the state, the ban, the event) in the transaction, (3) release the hot state in Redis,
    (4) the caller commits. Redis changes only after the decision is taken under the lock, so a selection
    settled (registered) meanwhile never gets its number put back in the pool, and a failure before (3)
    changes nothing anywhere. A failure between (3) and (4) leaves the number available in Redis while the
    ledger still holds it: harmless, because the ledger's unique index refuses a second allocation of it
    (NUMBER_ALREADY_ALLOCATED), and the cancel is retried (the sweep's next run, the message's
    redelivery, the user's repeated abandon) where releasing again is a no-op. The other order, commit
    then Redis, would on a crash between them leave the number allocated in Redis for good, with nothing
    left to retry it (Postgres already says cancelled): a number lost to the pool.
    """
    row = (
        await uow.session.execute(select(selections).where(selections.c.id == selection_id).with_for_update())
    ).first()
    if row is None or not domain.can(action, row.state):
        return None
    target = State.CANCELLED if action is Action.CANCEL else State.ABANDONED
    assert domain.may_become(action, row.state, target)
    now = uow.now
    index = (
        await uow.session.execute(
            select(allocations.c.number_index)
            .where(allocations.c.selection_id == row.id)
            .where(allocations.c.released_at.is_(None))
        )
    ).scalar()
    await uow.session.execute(
        update(allocations)
        .where(allocations.c.selection_id == row.id)
        .where(allocations.c.released_at.is_(None))
        .values(released_at=now, release_reason=reason)
    )
    await uow.session.execute(
        update(selections)
        .where(selections.c.id == row.id)
        .values(state=target, cancelled_at=now, cancel_reason=reason, updated_at=now)
    )
    until: date | None = None
    if action is Action.CANCEL:
        settings = await ctx.catalog.settings(row.office_code)
        until = domain.ban_until(now.astimezone(SHANGHAI).date(), settings)
        await uow.session.execute(
            insert(bans).values(
                id=new_id(),
                owner_id_number=row.owner_id_number,
                selection_id=row.id,
                until=until,
                reason=reason,
                created_at=now,
            )
        )
    uow.emit(
        SelectionCancelled(
            selection_id=str(row.id),
            plate_number=row.plate_number if index is not None else None,
            vin=row.vin,
            account_id=row.account_id,
            phone=row.phone,
            reason=reason,
            ban_until=until,
            cancelled_at=now,
        )
    )
    uow.audit(
        actor,
        f"plate_selection.{target}",
        f"plate-selection:{row.id}",
        before={"state": row.state},
        after={"state": target, "reason": reason, "ban_until": until.isoformat() if until else None},
    )
    await ctx.hot.release(str(row.id), row.segment_id, target, reason, index)
    return until


async def end_session(ctx: PlateContext, row: Any) -> None:
    """PP-04 (sweep): a session ends at 60 minutes; its holds go back, its chances stay with the vehicle."""
    if await reconcile(ctx, ctx.runtime, row):
        return  # a choice its replica never recorded: the SMS window runs now, not the session
    sid = str(row.id)
    await ctx.hot.release(sid, row.segment_id, State.SESSION_EXPIRED, "session_end")
    counters = await ctx.hot.counters(sid, row.segment_id)
    async with ctx.runtime.uow() as uow:
        values: dict[str, Any] = {"state": State.SESSION_EXPIRED, "updated_at": uow.now}
        if counters is not None:
            values["custom_left"], values["draws_left"] = counters
        await uow.session.execute(
            update(selections)
            .where(selections.c.id == row.id)
            .where(selections.c.state == State.SELECTING)
            .values(**values)
        )
        await uow.commit()


async def lapse_sms(ctx: PlateContext, row: Any, now: datetime) -> None:
    """PP-07 (sweep): not confirmed in 30 minutes → back to custom or random by the chances left, or
    exhausted (select at the office)."""
    if await reconcile(ctx, ctx.runtime, row):
        return  # confirmed in time, but its replica died before the ledger row: recorded now
    state = domain.after_sms_lapse(row.custom_left, row.draws_left, now, row.session_expires_at)
    assert domain.may_become(Action.SMS_LAPSE, row.state, state)
    await ctx.hot.release(str(row.id), row.segment_id, state, "sms_lapse")
    async with ctx.runtime.uow() as uow:
        await uow.session.execute(
            update(selections)
            .where(selections.c.id == row.id)
            .where(selections.c.state == State.AWAITING_SMS)
            .values(state=state, plate_number=None, sms_deadline=None, updated_at=now)
        )
        uow.audit(
            SYSTEM_ACTOR,
            "plate_selection.sms_lapsed",
            f"plate-selection:{row.id}",
            before={"state": State.AWAITING_SMS},
            after={"state": state},
        )
        await uow.commit()


async def cancel_unregistered(ctx: PlateContext, row: Any) -> None:
    """PP-09 (sweep): a selected number not registered by its deadline is cancelled; 2-year ban."""
    await end(ctx, row.id, Action.CANCEL, "not_registered_in_time", SYSTEM_ACTOR)


@dataclass(frozen=True)
class Registration:
    """What vehicle's first registration says: which selection the counter registered, with which plate."""

    selection_id: str | None
    vehicle_id: str
    plate_number: str
    registered_at: datetime


def _selection_key(selection_id: str | None) -> uuid.UUID | None:
    try:
        return uuid.UUID(selection_id or "")
    except ValueError:
        return None


async def settle(ctx: PlateContext, uow: UnitOfWork, event: Registration) -> None:
    """VH-15/PP-09: the counter registered the car with its pre-selection: the selection is settled. PP-09
    was decided by vehicle, at the counter (ADR 0045); it is not decided again here. In the consumer's unit
    of work."""
    key = _selection_key(event.selection_id)
    if key is None:
        return  # not ours
    row = (
        await uow.session.execute(select(selections).where(selections.c.id == key).with_for_update())
    ).first()
    if row is None or not domain.can(Action.REGISTER, row.state):
        return  # not ours, or settled already (a redelivery)
    if event.plate_number != row.plate_number:  # the counter takes the plate from the selection
        log.warning(
            "selection %s registered by vehicle %s with %s, not its %s",
            row.id,
            event.vehicle_id,
            event.plate_number,
            row.plate_number,
        )
    now = uow.now
    await uow.session.execute(
        update(selections)
        .where(selections.c.id == row.id)
        .values(state=State.REGISTERED, registered_at=event.registered_at, updated_at=now)
    )
    uow.emit(
        SelectionRegistered(
            selection_id=str(row.id),
            plate_number=row.plate_number,
            vin=row.vin,
            account_id=row.account_id,
            registered_at=event.registered_at,
        )
    )
    uow.audit(
        SYSTEM_ACTOR,
        "plate_selection.registered",
        f"plate-selection:{row.id}",
        before={"state": State.SELECTED},
        after={"state": State.REGISTERED, "vehicle_id": event.vehicle_id},
    )


async def registration_refused(ctx: PlateContext, uow: UnitOfWork, selection_id: str) -> None:
    """PP-09: the counter refused the registration because it differs from the pre-selection."""
    key = _selection_key(selection_id)
    if key is not None:
        await cancel(ctx, uow, key, Action.CANCEL, "registration_mismatch", SYSTEM_ACTOR)
