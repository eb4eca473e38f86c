"""Starting a pre-selection, or resuming the vehicle's after its session ran out (PP-01..PP-04; the
phone is the registered one, PP-07)."""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import date
from typing import Any

from sqlalchemy import insert, select, update
from sqlalchemy.exc import IntegrityError

from plate_pool_service import domain
from plate_pool_service.context import PlateContext
from plate_pool_service.domain import Action, Refusal, State
from plate_pool_service.reconcile import restore_hot
from plate_pool_service.selections.reading import row_of
from plate_pool_service.tables import bans, selections
from servicekit import validators
from servicekit.clock import SHANGHAI
from servicekit.crypto import blind_match
from servicekit.ids import new_id
from servicekit.uow import Actor, UnitOfWork
from servicekit.vocabulary import IdKind
from servicekit.web import Principal


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
    access token carries (ADR 0047); a phone typed into the form (already checked as a mobile number) must
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
                .where(blind_match(bans.c.owner_id_number, id_number))
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
    counters = await ctx.hot.counters(str(row.id), row.segment_id)
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
