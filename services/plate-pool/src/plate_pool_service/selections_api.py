"""`/api/v1/plate-selections`: the pre-selection flow PP-01..PP-09 (PP-12 hot path: draws and verifies touch
Redis only; choices, confirmations and everything durable go through Postgres)."""

from __future__ import annotations

import hashlib
import uuid
from datetime import date, datetime
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Request, Response
from fastapi.responses import JSONResponse
from fastapi.security import HTTPAuthorizationCredentials
from pydantic import BaseModel, Field
from sqlalchemy import insert, select, update
from sqlalchemy.exc import IntegrityError

from plate_pool_service import certificate, domain
from plate_pool_service.access import visible_selection
from plate_pool_service.catalog import Segment
from plate_pool_service.commands import SendSms
from plate_pool_service.context import ContextDep, PlateContext
from plate_pool_service.domain import RuleError
from plate_pool_service.hot import (
    NO_CUSTOM,
    NO_DRAWS,
    NOT_FOUND,
    NOT_HELD,
    POOL_EMPTY,
    SESSION_OVER,
    SMS_OVER,
    HotError,
    Queued,
    from_us,
)
from plate_pool_service.ledger import record_choice, record_confirmation
from plate_pool_service.published import SelectionCancelled
from plate_pool_service.reconcile import reconcile, restore_hot
from plate_pool_service.tables import OPEN_STATES, allocations, bans, selections
from servicekit import validators
from servicekit.clock import SHANGHAI
from servicekit.ids import new_id
from servicekit.masking import mask_phone
from servicekit.vocabulary import IdKindIn
from servicekit.web import (
    Forbidden,
    IdempotencyKeyHeader,
    NotFound,
    Principal,
    RuntimeDep,
    actor_from,
    current_principal,
    idempotent,
    require_roles,
)

router = APIRouter(prefix="/api/v1/plate-selections", tags=["plate-selections"])

Applicant = Annotated[Principal, Depends(require_roles("citizen", "unit"))]
SMS_PURPOSE = "pp07.{}"


# --- bodies -----------------------------------------------------------------------------------------


class Invoice(BaseModel):
    number: Annotated[str, Field(min_length=1, max_length=40)]
    code: Annotated[str, Field(min_length=1, max_length=40)]
    date: date
    amount_fen: Annotated[int, Field(gt=0, le=10**12)]
    photo: Annotated[str, Field(min_length=4, max_length=8 * 1024 * 1024, description="base64 JPEG or PNG")]


class OwnerIn(BaseModel):
    # PP-01 admits `resident_id` (a person) and `uscc` (a unit); the old `social_credit_code` is read as
    # `uscc` (ADR 0045).
    id_kind: IdKindIn
    id_number: Annotated[str, Field(min_length=1, max_length=32)]
    name: Annotated[str, Field(min_length=1, max_length=100)]


class ResidencePermit(BaseModel):
    number: Annotated[str, Field(min_length=1, max_length=40)]
    valid_until: date


class StartSelection(BaseModel):
    vin: Annotated[str, Field(min_length=1, max_length=40)]
    vehicle_kind: str
    invoice: Invoice
    certificate_number: Annotated[str, Field(min_length=1, max_length=40)]
    owner: OwnerIn
    phone: Annotated[str, Field(min_length=1, max_length=32)]
    residence_permit: ResidencePermit | None = None
    office_code: Annotated[str, Field(pattern=r"^\d{6}$")]


class NumberIn(BaseModel):
    number: Annotated[str, Field(min_length=1, max_length=16)]


class CodeIn(BaseModel):
    code: Annotated[str, Field(pattern=r"^\d{4,10}$")]


# --- helpers ----------------------------------------------------------------------------------------


def _text(value: Any) -> str:
    return value.decode() if isinstance(value, bytes) else str(value)


def _iso(moment: datetime | None) -> str | None:
    return moment.astimezone(SHANGHAI).isoformat() if moment is not None else None


def selection_view(row: Any, counters: tuple[int, int] | None = None) -> dict[str, Any]:
    custom_left, draws_left = counters or (row.custom_left, row.draws_left)
    return {
        "id": str(row.id),
        "state": row.state,
        "office_code": row.office_code,
        "vin": row.vin,
        "plate_number": row.plate_number,
        "custom_attempts_left": custom_left,
        "random_draws_left": draws_left,
        "session_expires_at": _iso(row.session_expires_at),
        "sms_deadline": _iso(row.sms_deadline),
        "confirmed_at": _iso(row.confirmed_at),
        "register_by": _iso(row.register_by),
        "registered_at": _iso(row.registered_at),
        "cancelled_at": _iso(row.cancelled_at),
        "cancel_reason": row.cancel_reason,
        "phone": mask_phone(row.phone),
    }


def _input(fn: Any, value: str, code: str, rule: str, field: str) -> str:
    try:
        result: str = fn(value, field=field)
    except validators.InvalidValue as exc:
        raise RuleError(code, str(exc), rule, status=422) from None
    return result


async def _load(ctx: PlateContext, selection_id: uuid.UUID, principal: Principal) -> Any:
    """The caller's selection (or, for a clerk, one of their office's), else 404 (access.py)."""
    return await visible_selection(ctx.runtime.engine, selection_id, principal)


async def _load_current(ctx: PlateContext, selection_id: uuid.UUID, principal: Principal) -> Any:
    """`_load`, with Postgres first brought up to what the hot-state scripts did (reconcile.py)."""
    row = await _load(ctx, selection_id, principal)
    if await reconcile(ctx, ctx.runtime, row):
        row = await uow_row(ctx, selection_id)
    return row


async def _segment_of(ctx: PlateContext, selection_id: uuid.UUID, principal: Principal) -> Segment:
    key = str(selection_id)
    segment_id = ctx.segment_of.get(key)
    if segment_id is None:
        raw = await ctx.hot.redis.hget(ctx.hot.sel_key(key), "seg")
        if raw is None:
            row = await _load(ctx, selection_id, principal)
            await restore_hot(ctx, row)
            segment_id = row.segment_id
        else:
            segment_id = raw.decode() if isinstance(raw, bytes) else str(raw)
        if len(ctx.segment_of) > 200_000:
            ctx.segment_of.clear()
        ctx.segment_of[key] = segment_id
    segment = await ctx.catalog.segment(segment_id)
    if segment is None:
        raise NotFound("selection")
    return segment


def _refusal(error: HotError) -> RuleError:
    if error.status == SESSION_OVER:
        return RuleError("SESSION_EXPIRED", "the 60-minute selection session is over; start again", "PP-04")
    if error.status == NO_DRAWS:
        return RuleError(
            "RANDOM_DRAWS_EXHAUSTED",
            "no random draws left",
            "PP-06",
            extra={"random_draws_left": 0},
        )
    if error.status == NO_CUSTOM:
        return RuleError(
            "CUSTOM_ATTEMPTS_EXHAUSTED",
            "no custom attempts left; only random selection remains",
            "PP-05",
            extra={"custom_attempts_left": 0},
        )
    if error.status == POOL_EMPTY:
        # Not "all held" (that draw waits in line, 202): nothing free and nothing that can come back.
        return RuleError(
            "POOL_EXHAUSTED",
            "every number of this segment is allocated; the office opens its next segment",
            "PP-10",
        )
    if error.status == NOT_HELD:
        return RuleError("NUMBER_NOT_HELD", "that number is not held for this selection", "PP-06")
    if error.status == SMS_OVER:
        return RuleError("SMS_WINDOW_OVER", "the 30-minute SMS confirmation window is over", "PP-07")
    return RuleError(
        "SELECTION_NOT_IN_STEP",
        f"the selection is {error.state or 'not at this step'}",
        "PP-06",
        extra={"state": error.state},
    )


async def _hot_call(ctx: PlateContext, selection_id: uuid.UUID, principal: Principal, call: Any) -> Any:
    """Run a hot-state call; when Redis no longer knows the selection, rebuild it once from Postgres."""
    try:
        return await call()
    except HotError as error:
        if error.status != NOT_FOUND:
            raise _refusal(error) from None
    row = await _load(ctx, selection_id, principal)
    await restore_hot(ctx, row)
    try:
        return await call()
    except HotError as error:
        if error.status == NOT_FOUND:
            raise NotFound("selection") from None
        raise _refusal(error) from None


def _integrity_refusal(exc: IntegrityError) -> RuleError:
    text = str(exc.orig)
    if "uq_selections_vin" in text:
        return RuleError("VEHICLE_ALREADY_SELECTED", "this vehicle already has a pre-selection", "PP-02")
    if "uq_selections_open_phone" in text:
        return RuleError(
            "PHONE_QUOTA",
            "this phone already has a pre-selection that is not registered yet",
            "PP-13",
        )
    return RuleError(
        "PREVIOUS_SELECTION_NOT_REGISTERED",
        "another pre-selection must be registered before a new one",
        "PP-02",
    )


# --- routes -----------------------------------------------------------------------------------------


@router.post("", status_code=201, summary="Start a pre-selection for one new car (PP-01..PP-04)")
async def start_selection(
    body: StartSelection,
    request: Request,
    principal: Applicant,
    ctx: ContextDep,
    runtime: RuntimeDep,
) -> JSONResponse:
    settings = await ctx.catalog.settings(body.office_code)
    vin = _input(validators.vin, body.vin, "VIN_INVALID", "PP-03", "vin")
    phone = _input(validators.mobile_phone, body.phone, "PHONE_INVALID", "PP-03", "phone")
    if body.owner.id_kind == "resident_id":
        id_number = _input(
            validators.resident_id, body.owner.id_number, "ID_NUMBER_INVALID", "PP-03", "owner"
        )
    else:
        id_number = _input(
            validators.social_credit_code,
            body.owner.id_number,
            "ID_NUMBER_INVALID",
            "PP-03",
            "owner",
        )
    domain.check_vehicle_kind(body.vehicle_kind)
    domain.check_owner_is_caller(
        body.owner.id_kind, id_number, principal.id_number, principal.has_any("unit")
    )
    photo, photo_type = domain.decode_invoice_photo(body.invoice.photo)
    # Read before the unit of work opens: it holds one connection, and asking for a second inside it
    # would deadlock the pool under a rush of starts.
    open_segments = await ctx.catalog.open_segments(body.office_code, await runtime.clock.now())
    async with runtime.uow() as uow:
        now = uow.now
        today = now.astimezone(SHANGHAI).date()
        domain.check_open(now, settings)
        domain.check_invoice_date(body.invoice.date, today)
        domain.check_residence_permit(
            domain.is_local(body.owner.id_kind, id_number, body.office_code),
            body.residence_permit.model_dump() if body.residence_permit else None,
            today,
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
            raise RuleError(
                "PRESELECTION_BANNED",
                f"online pre-selection is barred until {ban.isoformat()}",
                "PP-09",
                extra={"ban_until": ban.isoformat()},
            )
        existing = (await uow.session.execute(select(selections).where(selections.c.vin == vin))).first()
        if existing is not None:
            return await _resume(ctx, uow, existing, principal, settings, now)
        session_expires_at = domain.session_end(now, settings)
        if not open_segments:
            raise RuleError("NO_OPEN_SEGMENT", "this office has no segment open for selection", "PP-10")
        best = open_segments[0]
        best_available = -1
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
            "office_code": body.office_code,
            "segment_id": best.id,
            "vin": vin,
            "vehicle_kind": body.vehicle_kind,
            "invoice": {
                "number": body.invoice.number,
                "code": body.invoice.code,
                "date": body.invoice.date.isoformat(),
                "amount_fen": body.invoice.amount_fen,
                "photo_sha256": hashlib.sha256(photo).hexdigest(),
                "photo_type": photo_type,
            },
            "invoice_photo": photo,
            "certificate_number": body.certificate_number,
            "owner_id_kind": body.owner.id_kind,
            "owner_id_number": id_number,
            "owner_name": body.owner.name,
            "phone": phone,
            "residence_permit": body.residence_permit.model_dump(mode="json")
            if body.residence_permit
            else None,
            "state": "selecting",
            "custom_left": settings.custom_attempts,
            "draws_left": settings.random_draws,
            "session_expires_at": session_expires_at,
            "created_at": now,
            "updated_at": now,
        }
        try:
            await uow.session.execute(insert(selections).values(**values))
        except IntegrityError as exc:
            raise _integrity_refusal(exc) from None
        uow.audit(
            actor_from(request, principal),
            "plate_selection.started",
            f"plate-selection:{selection_id}",
            after={"vin": vin, "office_code": body.office_code, "segment_id": best.id},
        )
        try:
            await uow.commit()
        except IntegrityError as exc:
            raise _integrity_refusal(exc) from None
    row = await uow_row(ctx, selection_id)
    await restore_hot(ctx, row)
    ctx.segment_of[str(selection_id)] = best.id
    return JSONResponse(selection_view(row), status_code=201)


async def uow_row(ctx: PlateContext, selection_id: uuid.UUID) -> Any:
    async with ctx.runtime.engine.connect() as conn:
        return (await conn.execute(select(selections).where(selections.c.id == selection_id))).one()


async def _resume(
    ctx: PlateContext,
    uow: Any,
    row: Any,
    principal: Principal,
    settings: domain.OfficeSettings,
    now: datetime,
) -> JSONResponse:
    """PP-04: a new session for a vehicle whose previous one ran out, with the chances it had left."""
    if row.account_id != principal.subject:
        raise RuleError("VEHICLE_ALREADY_SELECTED", "this vehicle already has a pre-selection", "PP-02")
    if row.state == "selecting" and row.session_expires_at > now:
        return JSONResponse(selection_view(row), status_code=200)
    if row.state not in ("selecting", "session_expired"):
        if row.state == "registered":
            raise RuleError("VEHICLE_ALREADY_REGISTERED", "this vehicle is already registered", "PP-01")
        raise RuleError(
            "VEHICLE_ALREADY_SELECTED",
            f"this vehicle's pre-selection is {row.state}",
            "PP-02",
            extra={"state": row.state},
        )
    counters = await ctx.hot.counters(str(row.id))
    custom_left, draws_left = counters or (row.custom_left, row.draws_left)
    if custom_left <= 0 and draws_left <= 0:
        raise RuleError("NO_CHANCES_LEFT", "no chances left; select at the registration office", "PP-07")
    session_expires_at = domain.session_end(now, settings)
    await ctx.hot.release(str(row.id), row.segment_id, "session_expired", "session_end")
    await uow.session.execute(
        update(selections)
        .where(selections.c.id == row.id)
        .values(
            state="selecting",
            session_expires_at=session_expires_at,
            custom_left=custom_left,
            draws_left=draws_left,
            updated_at=now,
        )
    )
    await uow.commit()
    fresh = await uow_row(ctx, row.id)
    await restore_hot(ctx, fresh)
    return JSONResponse(selection_view(fresh), status_code=200)


@router.get("/whoami", summary="The caller as plate-pool sees them (a trivial authenticated endpoint)")
async def whoami(principal: Applicant) -> JSONResponse:
    return JSONResponse({"subject": principal.subject, "roles": sorted(principal.roles)})


@router.get("/certificate-checks", summary="Check a scanned certificate's QR code (counter, PP-08)")
async def check_certificate(
    code: str,
    principal: Annotated[Principal, Depends(require_roles("clerk.intake", "clerk.review", "clerk.admin"))],
    ctx: ContextDep,
) -> dict[str, Any]:
    secret = ctx.runtime.settings.secret_key.get_secret_value().encode()
    fields = certificate.check_payload(secret, code)
    if fields is None:
        raise RuleError("CERTIFICATE_INVALID", "not a genuine pre-selection certificate", "PP-08", status=422)
    try:
        selection_id = uuid.UUID(fields["selection_id"])
    except ValueError:
        raise RuleError(
            "CERTIFICATE_INVALID", "not a genuine pre-selection certificate", "PP-08", status=422
        ) from None
    row = await _load(ctx, selection_id, principal)
    return {
        "genuine": True,
        "usable": row.state == "selected" and row.plate_number == fields["plate_number"],
        "selection": selection_view(row),
    }


@router.get("/{selection_id}/certificate", summary="The printable pre-selection certificate, PDF (PP-08)")
async def get_certificate(
    selection_id: uuid.UUID,
    principal: Annotated[
        Principal, Depends(require_roles("citizen", "unit", "clerk.intake", "clerk.review"))
    ],
    ctx: ContextDep,
) -> Response:
    row = await _load_current(ctx, selection_id, principal)
    if row.state not in ("selected", "registered") or row.register_by is None:
        raise RuleError(
            "NO_CERTIFICATE", f"the selection is {row.state}", "PP-08", extra={"state": row.state}
        )
    secret = ctx.runtime.settings.secret_key.get_secret_value().encode()
    pdf = certificate.render(secret, row, "公安机关交通管理部门")
    return Response(
        pdf,
        media_type="application/pdf",
        headers={"Content-Disposition": f'inline; filename="preselection-{row.id}.pdf"'},
    )


@router.get("/{selection_id}", summary="One selection (yours; clerks see their office's)")
async def get_selection(
    selection_id: uuid.UUID,
    principal: Annotated[
        Principal,
        Depends(require_roles("citizen", "unit", "clerk.intake", "clerk.review", "clerk.admin")),
    ],
    ctx: ContextDep,
) -> dict[str, Any]:
    row = await _load_current(ctx, selection_id, principal)
    view = selection_view(row, await ctx.hot.counters(str(row.id)) if row.state == "selecting" else None)
    if row.state in ("selecting", "awaiting_sms"):
        held_raw, hexp = await ctx.hot.redis.hmget(ctx.hot.sel_key(str(row.id)), ["held", "hexp"])
        segment = await ctx.catalog.segment(row.segment_id)
        if held_raw and hexp and segment is not None:
            until = from_us(hexp)
            now = await ctx.runtime.clock.now()
            if until > now:
                view["held_numbers"] = [segment.space.number(int(i)) for i in _text(held_raw).split(",") if i]
                view["held_until"] = _iso(until)
    return view


@router.post(
    "/{selection_id}/random-draws",
    status_code=201,
    summary="Draw and hold five numbers (PP-06); or wait in line when the pool is all held (PP-10)",
    responses={
        202: {
            "description": "Too few numbers free right now: the draw is queued. Ask again after "
            "`retry_after_s` (Retry-After) to keep the place (`queue_position` of `queue_length`); a place "
            "not asked for within `place_kept_s` is given up. Waiting spends no draw."
        }
    },
)
async def random_draw(
    selection_id: uuid.UUID,
    request: Request,
    principal: Applicant,
    ctx: ContextDep,
    _key: IdempotencyKeyHeader = None,
) -> Response:
    """Declared for the OpenAPI document; requests are served by `random_draw_fast` (same rules)."""
    return await _draw_once(request, selection_id, principal, ctx)


_APPLICANT_ROLES = frozenset({"citizen", "unit"})


async def random_draw_fast(request: Request) -> Response:
    """The hot path as a plain Starlette endpoint: the same token check (`current_principal`, with its
    verified-token cache), role check and rules as the FastAPI route, without the dependency solver,
    which cost more CPU than the draw itself (bench/plates.py)."""
    header = request.headers.get("authorization", "")
    scheme, _, token = header.partition(" ")
    credentials = (
        HTTPAuthorizationCredentials(scheme=scheme, credentials=token.strip())
        if scheme.lower() == "bearer" and token.strip()
        else None
    )
    principal = await current_principal(request, credentials)
    if principal.roles.isdisjoint(_APPLICANT_ROLES):
        raise Forbidden("requires one of the roles: citizen, unit")
    try:
        selection_id = uuid.UUID(request.path_params["selection_id"])
    except ValueError:
        raise NotFound("selection") from None
    return await _draw_once(request, selection_id, principal, request.app.state.plate)


async def _draw_once(
    request: Request, selection_id: uuid.UUID, principal: Principal, ctx: PlateContext
) -> Response:
    """With an Idempotency-Key, a repeat (its answer lost on a phone's network) gets the first draw's
    answer instead of spending another draw and giving back the five it holds."""
    return await idempotent(
        request, principal.subject, lambda: _draw(selection_id, principal, ctx), status_code=201
    )


async def _draw(selection_id: uuid.UUID, principal: Principal, ctx: PlateContext) -> JSONResponse:
    segment = await _segment_of(ctx, selection_id, principal)
    sid = str(selection_id)

    async def call() -> Any:
        return await ctx.hot.draw(sid, principal.subject, segment.id, segment.space.size, 5)

    drawn = await _hot_call(ctx, selection_id, principal, call)
    if isinstance(drawn, Queued):
        # PP-10: more people drawing than numbers free. Not a refusal: the draw waits its turn, and asking
        # again keeps the place (no draw is spent while waiting).
        return JSONResponse(
            {
                "selection_id": sid,
                "queued": True,
                "queue_position": drawn.position,
                "queue_length": drawn.length,
                "retry_after_s": ctx.retry_after_s,
                "place_kept_s": round(ctx.hot.keep_place_s),
                "random_draws_left": drawn.draws_left,
            },
            status_code=202,
            # An interim answer: asking again (with the same Idempotency-Key too) must ask again.
            headers={"Retry-After": str(ctx.retry_after_s), "Cache-Control": "no-store"},
        )
    number = segment.space.number
    return JSONResponse(
        {
            "selection_id": sid,
            "numbers": [number(i) for i in drawn.indexes],
            "held_until": drawn.held_until.isoformat(),
            "random_draws_left": drawn.draws_left,
        },
        status_code=201,
    )


@router.post(
    "/{selection_id}/custom-verifications",
    status_code=201,
    summary="Verify and hold a number of your own (PP-05)",
)
async def custom_verification(
    selection_id: uuid.UUID, body: NumberIn, principal: Applicant, ctx: ContextDep
) -> JSONResponse:
    segment = await _segment_of(ctx, selection_id, principal)
    number = body.number.strip().upper()
    index = segment.custom_index(number)
    sid = str(selection_id)

    async def call() -> Any:
        return await ctx.hot.verify(sid, principal.subject, segment.id, index, number)

    result = await _hot_call(ctx, selection_id, principal, call)
    if not result.held:
        raise RuleError(
            "CUSTOM_NUMBER_UNAVAILABLE",
            "that number is taken or not allowed by the segment's patterns"
            if result.refused == "taken"
            else "that number is not one this segment allows",
            "PP-05",
            extra={"custom_attempts_left": result.custom_left, "reason": result.refused},
        )
    return JSONResponse(
        {
            "selection_id": sid,
            "number": number,
            "held_until": result.held_until.isoformat() if result.held_until else None,
            "custom_attempts_left": 0,
        },
        status_code=201,
    )


@router.post(
    "/{selection_id}/choice",
    summary="Confirm one held number (确认选号); SMS step next (PP-06, PP-07)",
)
async def choose(
    selection_id: uuid.UUID,
    body: NumberIn,
    request: Request,
    principal: Applicant,
    ctx: ContextDep,
    runtime: RuntimeDep,
) -> dict[str, Any]:
    segment = await _segment_of(ctx, selection_id, principal)
    number = body.number.strip().upper()
    index = segment.space.index(number)
    if index is None:
        raise RuleError("NUMBER_NOT_HELD", "that number is not held for this selection", "PP-06")
    sid = str(selection_id)

    async def call() -> Any:
        return await ctx.hot.choose(sid, principal.subject, segment.id, index)

    chosen = await _hot_call(ctx, selection_id, principal, call)
    await record_choice(runtime, selection_id, number, chosen, actor_from(request, principal))
    return selection_view(await uow_row(ctx, selection_id))


@router.post(
    "/{selection_id}/sms-code",
    status_code=202,
    summary="Send the SMS code to the registered phone (PP-07)",
)
async def send_sms_code(
    selection_id: uuid.UUID, principal: Applicant, ctx: ContextDep, runtime: RuntimeDep
) -> dict[str, Any]:
    row = await _load_current(ctx, selection_id, principal)
    if row.state != "awaiting_sms":
        raise RuleError(
            "SELECTION_NOT_IN_STEP",
            f"the selection is {row.state}",
            "PP-07",
            extra={"state": row.state},
        )
    async with runtime.uow() as uow:
        if row.sms_deadline is None or uow.now >= row.sms_deadline:
            raise RuleError("SMS_WINDOW_OVER", "the 30-minute SMS confirmation window is over", "PP-07")
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
    return {"sent_to": mask_phone(row.phone), "code_expires_at": _iso(issued.expires_at)}


@router.post("/{selection_id}/confirmation", summary="Enter the SMS code: the number is yours (PP-07, PP-08)")
async def confirm(
    selection_id: uuid.UUID,
    body: CodeIn,
    request: Request,
    principal: Applicant,
    ctx: ContextDep,
) -> dict[str, Any]:
    row = await _load_current(ctx, selection_id, principal)
    if row.state == "selected":
        # A repeat whose first answer was lost (or whose replica died after the confirm script, and
        # reconcile just recorded it): the confirmation stands, the answer is the selection as it is.
        return selection_view(row)
    if row.state != "awaiting_sms":
        raise RuleError(
            "SELECTION_NOT_IN_STEP",
            f"the selection is {row.state}",
            "PP-07",
            extra={"state": row.state},
        )
    await ctx.codes.verify(row.phone, SMS_PURPOSE.format(row.id), body.code)
    segment = await ctx.catalog.segment(row.segment_id)
    assert segment is not None
    sid = str(selection_id)

    async def call() -> Any:
        return await ctx.hot.confirm(sid, principal.subject, segment.id)

    # From here the number is allocated in Redis; should this replica die or the database fail before the
    # ledger row commits, the next request for the selection (or the sms-windows sweep) records it.
    index, confirmed_at = await _hot_call(ctx, selection_id, principal, call)
    await record_confirmation(
        ctx, ctx.runtime, row, segment, index, confirmed_at, actor_from(request, principal)
    )
    return selection_view(await uow_row(ctx, selection_id))


@router.delete("/{selection_id}", status_code=204, summary="Abandon the selection (放弃)")
async def abandon(
    selection_id: uuid.UUID,
    request: Request,
    principal: Applicant,
    ctx: ContextDep,
    runtime: RuntimeDep,
) -> Response:
    row = await _load_current(ctx, selection_id, principal)
    if row.state not in OPEN_STATES:
        raise RuleError(
            "SELECTION_NOT_IN_STEP",
            f"the selection is {row.state}",
            "PP-06",
            extra={"state": row.state},
        )
    await cancel_selection(ctx, runtime, row, "abandoned", actor_from(request, principal), ban=False)
    return Response(status_code=204)


async def cancel_selection(
    ctx: PlateContext,
    runtime: Any,
    row: Any,
    reason: str,
    actor: Any,
    *,
    ban: bool,
    new_state: str | None = None,
) -> date | None:
    """Abandon (no ban) or cancel (PP-09, 2-year ban): release the hot state, then the ledger row."""
    state = new_state or ("abandoned" if reason == "abandoned" else "cancelled")
    allocated_index: int | None = None
    async with runtime.engine.connect() as conn:
        allocated_index = (
            await conn.execute(
                select(allocations.c.number_index)
                .where(allocations.c.selection_id == row.id)
                .where(allocations.c.released_at.is_(None))
            )
        ).scalar()
    await ctx.hot.release(str(row.id), row.segment_id, state, reason, allocated_index)
    settings = await ctx.catalog.settings(row.office_code)
    until: date | None = None
    async with runtime.uow() as uow:
        now = uow.now
        await uow.session.execute(
            update(allocations)
            .where(allocations.c.selection_id == row.id)
            .where(allocations.c.released_at.is_(None))
            .values(released_at=now, release_reason=reason)
        )
        await uow.session.execute(
            update(selections)
            .where(selections.c.id == row.id)
            .values(state=state, cancelled_at=now, cancel_reason=reason, updated_at=now)
        )
        if ban:
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
                plate_number=row.plate_number if allocated_index is not None else None,
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
            f"plate_selection.{state}",
            f"plate-selection:{row.id}",
            before={"state": row.state},
            after={
                "state": state,
                "reason": reason,
                "ban_until": until.isoformat() if until else None,
            },
        )
        await uow.commit()
    return until
