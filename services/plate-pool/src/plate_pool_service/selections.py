"""The use cases of a pre-selection (PP-01..PP-09), one function per action. The HTTP modules, the worker's
sweeps and its subscriptions call these and nothing below them: each reads what it needs, asks domain.py
(the rules and the lifecycle table), and writes. PP-12 hot path: draws and verifies touch Redis only;
choices, confirmations and everything durable go through Postgres (ledger.py, reconcile.py).

Most take the context and open their own units of work, because a plate-pool step is a Redis script
first and its Postgres record after, in a transaction of its own (ADR 0020, ADR 0021): a route cannot
hold one unit of work around both. Those that run inside someone else's transaction take it: `cancel`
(the one cancellation path) and the settlement of a registration (the consumer's unit of work, which
also holds the inbox row).
"""

from __future__ import annotations

import hashlib
import logging
import uuid
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any, TypeVar

from sqlalchemy import insert, select, update
from sqlalchemy.exc import IntegrityError

from plate_pool_service import domain
from plate_pool_service.access import visible_selection
from plate_pool_service.catalog import Segment
from plate_pool_service.commands import SendSms
from plate_pool_service.context import PlateContext
from plate_pool_service.domain import Action, Refusal, State
from plate_pool_service.hot import Choice, Draw, HotError, HotStatus, Queued, Verify, from_us
from plate_pool_service.ledger import record_choice, record_confirmation
from plate_pool_service.published import SelectionCancelled, SelectionRegistered
from plate_pool_service.reconcile import reconcile, restore_hot
from plate_pool_service.tables import allocations, bans, selections
from servicekit import validators
from servicekit.clock import SHANGHAI
from servicekit.ids import new_id
from servicekit.uow import SYSTEM_ACTOR, Actor, UnitOfWork
from servicekit.verification import IssuedCode
from servicekit.vocabulary import IdKind
from servicekit.web import NotFound, Principal

SMS_PURPOSE = "pp07.{}"
log = logging.getLogger(__name__)
T = TypeVar("T")


# --- reading ----------------------------------------------------------------------------------------


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
    counters = await ctx.hot.counters(str(row.id)) if row.state == State.SELECTING else None
    held: list[str] | None = None
    until: datetime | None = None
    if row.state in (State.SELECTING, State.AWAITING_SMS):
        held_raw, hexp = await ctx.hot.redis.hmget(ctx.hot.sel_key(str(row.id)), ["held", "hexp"])
        segment = await ctx.catalog.segment(row.segment_id)
        if held_raw and hexp and segment is not None:
            moment = from_us(hexp)
            if moment > await ctx.runtime.clock.now():
                held = [segment.space.number(int(i)) for i in _text(held_raw).split(",") if i]
                until = moment
    return Current(row, counters, held, until)


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


# --- start (PP-01..PP-04) ---------------------------------------------------------------------------


@dataclass(frozen=True)
class Application:
    """What the user enters to start (PP-03); the phone is the account's registered one (PP-07)."""

    vin: str
    vehicle_kind: str
    invoice_number: str
    invoice_code: str
    invoice_date: date
    invoice_amount_fen: int
    invoice_photo_b64: str
    certificate_number: str  # the vehicle's 合格证
    owner_id_kind: IdKind
    owner_id_number: str
    owner_name: str
    office_code: str
    residence_permit: Mapping[str, Any] | None = None  # {"number": str, "valid_until": date}
    phone: str | None = None  # as typed, if at all: it must be the registered phone


def _input(fn: Callable[..., str], value: str, code: str, field: str) -> str:
    try:
        return fn(value, field=field)
    except validators.InvalidValue as exc:
        raise Refusal(str(exc), code=code, rule="PP-03", status=422) from None


def registered_phone(principal: Principal, typed: str | None) -> str:
    """PP-07: the SMS code goes to the phone the user registered with (用户注册时填写的手机号码), which the
    access token carries (ADR 0045); a phone typed into the form (already checked as a mobile number) must
    be that one."""
    if principal.phone is None:
        raise domain.NoRegisteredPhone("the account has no registered phone; sign in again")
    if typed is not None and typed != principal.phone:
        raise Refusal(
            "the confirmation code goes to the phone you registered with; enter that one or none",
            code="PHONE_NOT_REGISTERED",
            rule="PP-07",
            status=422,
        )
    return principal.phone


def _integrity_refusal(exc: IntegrityError) -> Refusal:
    text = str(exc.orig)
    if "uq_selections_vin" in text:
        return domain.VehicleAlreadySelected("this vehicle already has a pre-selection")
    if "uq_selections_open_phone" in text:
        return domain.PhoneQuota("this phone already has a pre-selection that is not registered yet")
    return domain.PreviousSelectionNotRegistered("another pre-selection must be registered before a new one")


async def start(ctx: PlateContext, app: Application, principal: Principal, actor: Actor) -> tuple[Any, bool]:
    """Start a pre-selection for one new car, or resume the vehicle's (PP-04). (row, created)."""
    runtime = ctx.runtime
    settings = await ctx.catalog.settings(app.office_code)
    vin = _input(validators.vin, app.vin, "VIN_INVALID", "vin")
    typed_phone = _input(validators.mobile_phone, app.phone, "PHONE_INVALID", "phone") if app.phone else None
    check_id = validators.resident_id if app.owner_id_kind == "resident_id" else validators.social_credit_code
    id_number = _input(check_id, app.owner_id_number, "ID_NUMBER_INVALID", "owner")
    domain.check_vehicle_kind(app.vehicle_kind)
    domain.check_owner_is_caller(app.owner_id_kind, id_number, principal.id_number, principal.has_any("unit"))
    phone = registered_phone(principal, typed_phone)
    photo, photo_type = domain.decode_invoice_photo(app.invoice_photo_b64)
    # Read before the unit of work opens: it holds one connection, and asking for a second inside it
    # would deadlock the pool under a rush of starts.
    open_segments = await ctx.catalog.open_segments(app.office_code, await runtime.clock.now())
    async with runtime.uow() as uow:
        now = uow.now
        today = now.astimezone(SHANGHAI).date()
        domain.check_open(now, settings)
        domain.check_invoice_date(app.invoice_date, today)
        permit = dict(app.residence_permit) if app.residence_permit else None
        domain.check_residence_permit(
            domain.is_local(app.owner_id_kind, id_number, app.office_code), permit, today
        )
        ban = (
            await uow.session.execute(
                select(bans.c.until)
                .where(bans.c.owner_id_number == id_number)
                .where(bans.c.until > today)
                .where(bans.c.lifted.is_(False))
                .order_by(bans.c.until.desc())
                .limit(1)
            )
        ).scalar()
        if ban is not None:
            raise domain.PreselectionBanned(
                f"online pre-selection is barred until {ban.isoformat()}",
                extra={"ban_until": ban.isoformat()},
            )
        existing = (await uow.session.execute(select(selections).where(selections.c.vin == vin))).first()
        if existing is not None:
            return await _resume(ctx, uow, existing, principal, settings), False
        if not open_segments:
            raise domain.NoOpenSegment("this office has no segment open for selection")
        best, best_available = open_segments[0], -1
        pool = 0
        for segment in open_segments:
            available = (await ctx.hot.counts(segment.id)).available
            pool += available
            if available > best_available:
                best, best_available = segment, available
        domain.check_pool_floor(pool, settings)  # PP-10: no office serves below the floor
        selection_id = new_id()
        values = {
            "id": selection_id,
            "account_id": principal.subject,
            "office_code": app.office_code,
            "segment_id": best.id,
            "vin": vin,
            "vehicle_kind": app.vehicle_kind,
            "invoice": {
                "number": app.invoice_number,
                "code": app.invoice_code,
                "date": app.invoice_date.isoformat(),
                "amount_fen": app.invoice_amount_fen,
                "photo_sha256": hashlib.sha256(photo).hexdigest(),
                "photo_type": photo_type,
            },
            "invoice_photo": photo,
            "certificate_number": app.certificate_number,
            "owner_id_kind": app.owner_id_kind,
            "owner_id_number": id_number,
            "owner_name": app.owner_name,
            "phone": phone,
            "residence_permit": {
                "number": permit["number"],
                "valid_until": permit["valid_until"].isoformat(),
            }
            if permit
            else None,
            "state": State.SELECTING,
            "custom_left": settings.custom_attempts,
            "draws_left": settings.random_draws,
            "session_expires_at": domain.session_end(now, settings),
            "created_at": now,
            "updated_at": now,
        }
        try:
            await uow.session.execute(insert(selections).values(**values))
        except IntegrityError as exc:
            raise _integrity_refusal(exc) from None
        uow.audit(
            actor,
            "plate_selection.started",
            f"plate-selection:{selection_id}",
            after={"vin": vin, "office_code": app.office_code, "segment_id": best.id},
        )
        try:
            await uow.commit()
        except IntegrityError as exc:
            raise _integrity_refusal(exc) from None
    row = await row_of(ctx, selection_id)
    await restore_hot(ctx, row)
    ctx.segment_of[str(selection_id)] = best.id
    return row, True


async def _resume(
    ctx: PlateContext, uow: UnitOfWork, row: Any, principal: Principal, settings: domain.OfficeSettings
) -> Any:
    """PP-04: a new session for a vehicle whose previous one ran out, with the chances it had left."""
    now = uow.now
    if row.account_id != principal.subject:
        raise domain.VehicleAlreadySelected("this vehicle already has a pre-selection")
    if row.state == State.SELECTING and row.session_expires_at > now:
        return row
    if not domain.can(Action.RESUME, row.state):
        if row.state == State.REGISTERED:
            raise domain.VehicleAlreadyRegistered("this vehicle is already registered")
        raise domain.VehicleAlreadySelected(
            f"this vehicle's pre-selection is {row.state}", extra={"state": row.state}
        )
    counters = await ctx.hot.counters(str(row.id))
    custom_left, draws_left = counters or (row.custom_left, row.draws_left)
    if custom_left <= 0 and draws_left <= 0:
        raise domain.NoChancesLeft("no chances left; select at the registration office")
    await ctx.hot.release(str(row.id), row.segment_id, State.SESSION_EXPIRED, "session_end")
    await uow.session.execute(
        update(selections)
        .where(selections.c.id == row.id)
        .values(
            state=State.SELECTING,
            session_expires_at=domain.session_end(now, settings),
            custom_left=custom_left,
            draws_left=draws_left,
            updated_at=now,
        )
    )
    await uow.commit()
    fresh = await row_of(ctx, row.id)
    await restore_hot(ctx, fresh)
    return fresh


# --- the hot steps: draw, verify, choose (PP-05, PP-06, PP-10) --------------------------------------


def _text(value: Any) -> str:
    return value.decode() if isinstance(value, bytes) else str(value)


async def segment_of(ctx: PlateContext, selection_id: uuid.UUID, principal: Principal) -> Segment:
    """The selection's segment: cached per replica (it never changes), else from Redis, else Postgres."""
    key = str(selection_id)
    segment_id = ctx.segment_of.get(key)
    if segment_id is None:
        raw = await ctx.hot.redis.hget(ctx.hot.sel_key(key), "seg")
        if raw is None:
            row = await load(ctx, selection_id, principal)
            await restore_hot(ctx, row)
            segment_id = row.segment_id
        else:
            segment_id = _text(raw)
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
        # Not "all held" (that draw waits in line, 202): nothing free and nothing that can come back.
        return domain.PoolExhausted(
            "every number of this segment is allocated; the office opens its next segment"
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
        issued = await ctx.codes.issue(row.phone, SMS_PURPOSE.format(row.id))
        minutes = max(1, round((issued.expires_at - uow.now).total_seconds() / 60))
        uow.emit(
            SendSms(
                phone=row.phone,
                template="verification_code",
                params={"code": issued.code, "minutes": str(minutes)},
                account_id=row.account_id,
            )
        )
        await uow.commit()
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


# --- ending: abandon, cancel (PP-09), sessions and SMS windows that run out --------------------------


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
    counters = await ctx.hot.counters(sid)
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


# --- settlement at the counter (VH-15, PP-09; the worker's subscriptions) ----------------------------


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
