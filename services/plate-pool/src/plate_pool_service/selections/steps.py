"""The steps of a selection: the hot ones (draw, verify, choose; PP-05, PP-06, PP-10), then the SMS
confirmation (PP-07, PP-08)."""

from __future__ import annotations

import contextlib
import uuid
from collections.abc import Awaitable, Callable
from datetime import datetime
from typing import Any, TypeVar

from plate_pool_service import domain
from plate_pool_service.catalog import Segment
from plate_pool_service.commands import SendSms
from plate_pool_service.context import PlateContext, current_calendar
from plate_pool_service.domain import Action, Refusal, State
from plate_pool_service.hot import Choice, Draw, HotError, HotStatus, Queued, Verify
from plate_pool_service.ledger import record_choice, record_confirmation
from plate_pool_service.pools import build_pool
from plate_pool_service.reconcile import restore_hot
from plate_pool_service.selections.reading import load, load_current, row_of
from servicekit.uow import Actor
from servicekit.verification import IssuedCode
from servicekit.web import NotFound, Principal

SMS_PURPOSE = "pp07.{}"
T = TypeVar("T")


async def segment_of(ctx: PlateContext, selection_id: uuid.UUID, principal: Principal) -> Segment:
    """The selection's segment: cached per replica (it never changes), else from Redis (its home key,
    one GET: the hot keys are under the segment's tag, ADR 0097), else Postgres."""
    key = str(selection_id)
    segment_id = ctx.segment_of.get(key)
    if segment_id is None:
        segment_id = await ctx.hot.segment_of(key)
        if segment_id is None:
            row = await load(ctx, selection_id, principal)
            await restore_hot(ctx, row)
            segment_id = row.segment_id
        if len(ctx.segment_of) > 200_000:
            ctx.segment_of.clear()
        ctx.segment_of[key] = segment_id
    segment = await ctx.catalog.segment(segment_id)
    if segment is None:
        raise NotFound("selection")
    return segment


def _refusal(error: HotError) -> Refusal:
    """What a script's refusal means to the user."""
    status = error.status
    if status == HotStatus.SESSION_OVER:
        return domain.SessionExpired("the 60-minute selection session is over; start again")
    if status == HotStatus.NO_DRAWS:
        return domain.RandomDrawsExhausted("no random draws left", extra={"random_draws_left": 0})
    if status == HotStatus.NO_CUSTOM:
        return domain.CustomAttemptsExhausted(
            "no custom attempts left; only random selection remains", extra={"custom_attempts_left": 0}
        )
    if status == HotStatus.POOL_EMPTY:
        # Not "all held" (that draw waits in line, 202): nothing free and nothing that comes back within a
        # hold; a number chosen at the SMS step comes back only if its 30 minutes pass unconfirmed.
        return domain.PoolExhausted(
            "every number of this segment is allocated or chosen; the office opens its next segment"
        )
    if status == HotStatus.NOT_HELD:
        return domain.NumberNotHeld("that number is not held for this selection")
    if status == HotStatus.SMS_OVER:
        return domain.SmsWindowOver("the 30-minute SMS confirmation window is over")
    return domain.NotInStepPP06(
        f"the selection is {error.state or 'not at this step'}", extra={"state": error.state}
    )


async def _hot_call(
    ctx: PlateContext, selection_id: uuid.UUID, principal: Principal, call: Callable[[], Awaitable[T]]
) -> T:
    """Run a hot-state call; when Redis no longer knows the selection, rebuild it once from Postgres."""
    try:
        return await call()
    except HotError as error:
        if error.status != HotStatus.NOT_FOUND:
            raise _refusal(error) from None
    row = await load(ctx, selection_id, principal)
    await restore_hot(ctx, row)
    try:
        return await call()
    except HotError as error:
        if error.status == HotStatus.NOT_FOUND:
            raise NotFound("selection") from None
        raise _refusal(error) from None


async def draw(
    ctx: PlateContext, selection_id: uuid.UUID, principal: Principal
) -> tuple[Segment, Draw | Queued]:
    """PP-06: hold five numbers (a draw spent); PP-10: or a place in line when too few are free."""
    segment = await segment_of(ctx, selection_id, principal)
    sid, owner, hot = str(selection_id), principal.subject, ctx.hot

    async def call() -> Draw | Queued:
        return await hot.draw(sid, owner, segment.id, segment.space.size, 5)

    try:
        return segment, await _hot_call(ctx, selection_id, principal, call)
    except domain.PoolExhausted:
        if await hot.is_built(segment.id):
            raise
    # Not exhausted: Redis lost the pool (a restart) and the worker has not rebuilt it yet. Rebuilt here
    # from the ledger (once, whoever is first), and the draw made on it.
    await build_pool(ctx, segment.id, only_if_missing=True)
    return segment, await _hot_call(ctx, selection_id, principal, call)


async def verify(
    ctx: PlateContext, selection_id: uuid.UUID, principal: Principal, typed: str
) -> tuple[str, Verify]:
    """PP-05: hold a number of the user's own, or spend one custom attempt."""
    segment = await segment_of(ctx, selection_id, principal)
    number = typed.strip().upper()
    index = segment.custom_index(number)
    sid = str(selection_id)

    async def call() -> Verify:
        return await ctx.hot.verify(sid, principal.subject, segment.id, index, number)

    result = await _hot_call(ctx, selection_id, principal, call)
    if not result.held:
        raise domain.CustomNumberUnavailable(
            "that number is taken or not allowed by the segment's patterns"
            if result.refused == "taken"
            else "that number is not one this segment allows",
            extra={"custom_attempts_left": result.custom_left, "reason": result.refused},
        )
    return number, result


async def choose(
    ctx: PlateContext, selection_id: uuid.UUID, principal: Principal, typed: str, actor: Actor
) -> Any:
    """PP-06: one held number chosen (确认选号); the SMS window runs (PP-07)."""
    segment = await segment_of(ctx, selection_id, principal)
    number = typed.strip().upper()
    index = segment.space.index(number)
    if index is None:
        raise domain.NumberNotHeld("that number is not held for this selection")
    sid = str(selection_id)

    async def call() -> Choice:
        return await ctx.hot.choose(sid, principal.subject, segment.id, index)

    chosen = await _hot_call(ctx, selection_id, principal, call)
    await record_choice(ctx.runtime, selection_id, number, chosen, actor)
    return await row_of(ctx, selection_id)


# --- SMS confirmation (PP-07, PP-08) ----------------------------------------------------------------


async def send_code(
    ctx: PlateContext, selection_id: uuid.UUID, principal: Principal
) -> tuple[Any, IssuedCode]:
    """PP-07: a code to the registered phone (the selection's, taken from the account at the start)."""
    row = await load_current(ctx, selection_id, principal)
    domain.check_step(Action.SEND_CODE, row.state)
    async with ctx.runtime.uow() as uow:
        if row.sms_deadline is None or uow.now >= row.sms_deadline:
            raise domain.SmsWindowOver("the 30-minute SMS confirmation window is over")
        purpose = SMS_PURPOSE.format(row.id)
        issued = await ctx.codes.issue(row.phone, purpose)
        minutes = max(1, round((issued.expires_at - uow.now).total_seconds() / 60))
        uow.emit(
            SendSms(
                phone=row.phone,
                template="verification_code",
                params={"code": issued.code, "minutes": str(minutes)},
                account_id=row.account_id,
            )
        )
        try:
            await uow.commit()
        except Exception:
            # The SMS will never be sent: the send must not count against the person's retry (NT-02).
            with contextlib.suppress(Exception):  # Redis away too: the code expires unused
                await ctx.codes.withdraw(row.phone, purpose, issued)
            raise
    return row, issued


async def confirm(
    ctx: PlateContext, selection_id: uuid.UUID, principal: Principal, code: str, actor: Actor
) -> Any:
    """PP-07/PP-08: the right code in time: the number is allocated (the ledger, `selected`, the event)."""
    row = await load_current(ctx, selection_id, principal)
    if row.state == State.SELECTED:
        # A repeat whose first answer was lost (or whose replica died after the confirm script, and
        # reconcile just recorded it): the confirmation stands, the answer is the selection as it is.
        return row
    domain.check_step(Action.CONFIRM, row.state)
    # WD-01 (ADR 0004): the register-by must be computable before anything irreversible. A deadline that
    # reaches a year nobody set answers 503 here, with the code unspent and the number still held for the
    # rest of its SMS window: the user confirms again (a new code after 5 minutes) once the year is set.
    settings = await ctx.catalog.settings(row.office_code)
    domain.register_by(await ctx.runtime.clock.now(), settings, await current_calendar(ctx))
    await ctx.codes.verify(row.phone, SMS_PURPOSE.format(row.id), code)
    segment = await ctx.catalog.segment(row.segment_id)
    assert segment is not None
    sid = str(selection_id)

    async def call() -> tuple[int, datetime]:
        return await ctx.hot.confirm(sid, principal.subject, segment.id)

    # From here the number is allocated in Redis; should this replica die or the database fail before the
    # ledger row commits, the next request for the selection (or the sms-windows sweep) records it.
    index, confirmed_at = await _hot_call(ctx, selection_id, principal, call)
    await record_confirmation(ctx, ctx.runtime, row, segment, index, confirmed_at, actor)
    return await row_of(ctx, selection_id)
