"""PP-11 appeals (预选号牌申诉), the use cases: the user appeals a pre-selection outcome; a clerk decides and
can restore the chances (a new session with the office's counts, the ban lifted) or the number (allocated
again with a new 3-working-day deadline, the ban lifted). appeals_api.py parses and shapes; these decide."""

from __future__ import annotations

import uuid
from typing import Any

from sqlalchemy import insert, select, update
from sqlalchemy.exc import IntegrityError

from plate_pool_service import domain
from plate_pool_service.access import visible_selection
from plate_pool_service.context import PlateContext, current_calendar
from plate_pool_service.domain import Action, Refusal, State
from plate_pool_service.hot import HotError
from plate_pool_service.ledger import write_allocation
from plate_pool_service.reconcile import restore_hot
from plate_pool_service.tables import appeals, bans, selections
from servicekit.ids import new_id
from servicekit.uow import Actor
from servicekit.web import NotFound, Principal


async def file_appeal(
    ctx: PlateContext, selection_id: uuid.UUID, principal: Principal, reason: str, actor: Actor
) -> Any:
    """PP-11: an outcome (cancelled, exhausted, abandoned, session ended) appealed, one at a time."""
    runtime = ctx.runtime
    row = await visible_selection(runtime.engine, selection_id, principal)
    domain.check_step(Action.APPEAL, row.state)
    async with runtime.uow() as uow:
        pending = (
            await uow.session.execute(
                select(appeals.c.id)
                .where(appeals.c.selection_id == selection_id)
                .where(appeals.c.state == "filed")
            )
        ).first()
        if pending is not None:
            raise Refusal(
                "an appeal of this selection awaits its decision", code="APPEAL_PENDING", rule="PP-11"
            )
        appeal_id = new_id()
        await uow.session.execute(
            insert(appeals).values(
                id=appeal_id,
                selection_id=selection_id,
                account_id=principal.subject,
                reason=reason,
                state="filed",
                created_at=uow.now,
            )
        )
        uow.audit(actor, "plate_appeal.filed", f"plate-appeal:{appeal_id}")
        await uow.commit()
    async with runtime.engine.connect() as conn:
        created = (await conn.execute(select(appeals).where(appeals.c.id == appeal_id))).one()
    return created


async def list_appeals(ctx: PlateContext, selection_id: uuid.UUID, principal: Principal) -> list[Any]:
    runtime = ctx.runtime
    await visible_selection(runtime.engine, selection_id, principal)
    async with runtime.engine.connect() as conn:
        rows = (
            await conn.execute(
                select(appeals).where(appeals.c.selection_id == selection_id).order_by(appeals.c.id)
            )
        ).all()
    return list(rows)


async def office_appeals(
    ctx: PlateContext,
    principal: Principal,
    state: str | None,
    after: uuid.UUID | None,
    limit: int,
) -> list[Any]:
    """PP-11: the appeals of selections of the clerk's office (a clerk decides only those), oldest first,
    each with the selection's state, counts and owner as the decision needs them."""
    if principal.office is None:
        return []
    query = (
        select(
            appeals,
            selections.c.office_code,
            selections.c.vin,
            selections.c.owner_name,
            selections.c.phone,
            selections.c.plate_number,
            selections.c.state.label("selection_state"),
            selections.c.cancel_reason,
            selections.c.custom_left,
            selections.c.draws_left,
        )
        .join(selections, selections.c.id == appeals.c.selection_id)
        .where(selections.c.office_code == principal.office)
        .order_by(appeals.c.id)
        .limit(limit)
    )
    if state is not None:
        query = query.where(appeals.c.state == state)
    if after is not None:
        query = query.where(appeals.c.id > after)
    async with ctx.runtime.engine.connect() as conn:
        return list((await conn.execute(query)).all())


async def decide(
    ctx: PlateContext,
    selection_id: uuid.UUID,
    appeal_id: uuid.UUID,
    principal: Principal,
    decision: str,
    remedy: str | None,
    note: str,
    actor: Actor,
) -> Any:
    """PP-11: a clerk upholds (with a remedy) or rejects an appeal."""
    runtime = ctx.runtime
    row = await visible_selection(runtime.engine, selection_id, principal)
    if decision == "upheld" and remedy is None:
        raise Refusal("an upheld appeal names its remedy", code="REMEDY_REQUIRED", rule="PP-11", status=422)
    settings = await ctx.catalog.settings(row.office_code)
    index: int | None = None
    if decision == "upheld" and remedy == "restore_number":
        segment = await ctx.catalog.segment(row.segment_id)
        index = segment.space.index(row.plate_number) if segment and row.plate_number else None
        if index is None:
            raise Refusal("this selection never had a number", code="NO_NUMBER_TO_RESTORE", rule="PP-11")
        try:
            await ctx.hot.take(str(row.id), row.segment_id, index)
        except HotError:
            raise Refusal(
                "the number is held or allocated by someone else now", code="NUMBER_UNAVAILABLE", rule="PP-11"
            ) from None
    try:
        calendar = await current_calendar(ctx)  # WD-01: a restored number's register-by (PP-08)
        async with runtime.uow() as uow:
            now = uow.now
            appeal = (
                await uow.session.execute(
                    select(appeals)
                    .where(appeals.c.id == appeal_id)
                    .where(appeals.c.selection_id == selection_id)
                    .with_for_update()
                )
            ).first()
            if appeal is None:
                raise NotFound("appeal")
            if appeal.state != "filed":
                raise Refusal(f"the appeal is {appeal.state}", code="APPEAL_DECIDED", rule="PP-11")
            await uow.session.execute(
                update(appeals)
                .where(appeals.c.id == appeal_id)
                .values(
                    state=decision,
                    remedy=remedy if decision == "upheld" else None,
                    decision_note=note,
                    decided_by=principal.subject,
                    decided_at=now,
                )
            )
            if decision == "upheld":
                await uow.session.execute(
                    update(bans).where(bans.c.selection_id == row.id).values(lifted=True)
                )
                if remedy == "restore_chances":
                    await uow.session.execute(
                        update(selections)
                        .where(selections.c.id == row.id)
                        .values(
                            state=State.SESSION_EXPIRED,
                            custom_left=settings.custom_attempts,
                            draws_left=settings.random_draws,
                            plate_number=None,
                            sms_deadline=None,
                            cancelled_at=None,
                            cancel_reason=None,
                            updated_at=now,
                        )
                    )
                else:
                    assert index is not None
                    deadline = domain.register_by(now, settings, calendar)
                    await write_allocation(uow, row, row.segment_id, index, row.plate_number, now, deadline)
            uow.audit(
                actor,
                f"plate_appeal.{decision}",
                f"plate-appeal:{appeal_id}",
                before={"selection_state": row.state},
                after={"remedy": remedy, "note": note},
            )
            await uow.commit()
    except IntegrityError:
        if index is not None:
            await ctx.hot.release(str(row.id), row.segment_id, row.state, "appeal_undo", index)
        raise Refusal(
            "the owner or phone has another open selection, or the number is allocated",
            code="PREVIOUS_SELECTION_NOT_REGISTERED",
            rule="PP-02",
        ) from None
    except BaseException:
        if index is not None:
            await ctx.hot.release(str(row.id), row.segment_id, row.state, "appeal_undo", index)
        raise
    if decision == "upheld":
        async with runtime.engine.connect() as conn:
            fresh = (await conn.execute(select(selections).where(selections.c.id == row.id))).one()
        await restore_hot(ctx, fresh)
    async with runtime.engine.connect() as conn:
        decided = (await conn.execute(select(appeals).where(appeals.c.id == appeal_id))).one()
    return decided
