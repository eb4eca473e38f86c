"""`/api/v1/plate-selections`: start, read, find and abandon a pre-selection (PP-01..PP-04, PP-08). The
steps of the selection itself are in selection_steps_api.py, the certificate in certificates_api.py; the
use cases they call in selections.py."""

from __future__ import annotations

import uuid
from datetime import date
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query, Request, Response
from fastapi.encoders import jsonable_encoder
from fastapi.responses import JSONResponse
from pydantic import BaseModel, Field

from plate_pool_service import selections
from plate_pool_service.context import ContextDep
from plate_pool_service.schemas import (
    PlateSelectionDetailOut,
    PlateSelectionOut,
    PlateSelectionPage,
    PlateServerTimeOut,
    PlateWhoAmIOut,
)
from plate_pool_service.views import iso, selection_view
from servicekit.vocabulary import IdKindIn
from servicekit.web import (
    IdempotencyKeyHeader,
    Principal,
    Unprocessable,
    actor_from,
    idempotent,
    require_roles,
)

router = APIRouter(prefix="/api/v1/plate-selections", tags=["plate-selections"])

Applicant = Annotated[Principal, Depends(require_roles("citizen", "unit"))]
Clerk = Annotated[Principal, Depends(require_roles("clerk.intake", "clerk.review", "clerk.admin"))]


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
    certificate_number: Annotated[str, Field(min_length=1, max_length=40, description="the vehicle's 合格证")]
    owner: OwnerIn
    phone: Annotated[
        str | None,
        Field(
            min_length=1,
            max_length=32,
            description="optional: the SMS code goes to the account's registered phone (PP-07); a phone "
            "given here must be that one",
        ),
    ] = None
    residence_permit: ResidencePermit | None = None
    office_code: Annotated[str, Field(pattern=r"^\d{6}$")]

    def application(self) -> selections.Application:
        return selections.Application(
            vin=self.vin,
            vehicle_kind=self.vehicle_kind,
            invoice_number=self.invoice.number,
            invoice_code=self.invoice.code,
            invoice_date=self.invoice.date,
            invoice_amount_fen=self.invoice.amount_fen,
            invoice_photo_b64=self.invoice.photo,
            certificate_number=self.certificate_number,
            owner_id_kind=self.owner.id_kind,
            owner_id_number=self.owner.id_number,
            owner_name=self.owner.name,
            office_code=self.office_code,
            residence_permit=self.residence_permit.model_dump() if self.residence_permit else None,
            phone=self.phone,
        )


@router.post(
    "",
    status_code=201,
    response_model=PlateSelectionOut,
    summary="Start a pre-selection for one new car (PP-01..PP-04)",
    responses={200: {"model": PlateSelectionOut, "description": "the vehicle's selection, resumed (PP-04)"}},
)
async def start_selection(
    body: StartSelection,
    request: Request,
    principal: Applicant,
    ctx: ContextDep,
    _key: IdempotencyKeyHeader = None,
) -> Response:
    """With an Idempotency-Key (the apps send one on every POST), a repeat gets the first start's answer
    (or 409 IDEMPOTENCY_KEY_IN_USE while it still runs) instead of starting again: on an opening morning
    a start answered too late for the gateway (504) is asked again, and without the key each repeat was
    the whole start's work once more, on replicas already behind (bench/opening.py)."""

    async def start() -> JSONResponse:
        row, created = await selections.start(
            ctx, body.application(), principal, actor_from(request, principal)
        )
        return JSONResponse(jsonable_encoder(selection_view(row)), status_code=201 if created else 200)

    return await idempotent(request, principal.subject, start, status_code=201)


@router.get(
    "",
    response_model=PlateSelectionPage,
    summary="Find selections at the counter: by voucher number, VIN or plate (clerks, PP-08)",
)
async def find_selections(
    principal: Clerk,
    ctx: ContextDep,
    voucher_number: Annotated[
        str | None, Query(max_length=64, description="预选号凭证编号, as on the certificate and the SMS")
    ] = None,
    vin: Annotated[str | None, Query(max_length=17)] = None,
    plate_number: Annotated[str | None, Query(max_length=8)] = None,
) -> dict[str, Any]:
    """The seed lets the success SMS stand in for the printed certificate: the voucher number it names finds
    the selection, as do the car's VIN and the plate. Only the clerk's own office's selections."""
    if voucher_number is None and vin is None and plate_number is None:
        raise Unprocessable("LOOKUP_KEY_REQUIRED", "give voucher_number, vin or plate_number")
    rows = await selections.find_for_counter(
        ctx, principal, voucher_number=voucher_number, vin=vin, plate_number=plate_number
    )
    return {"items": [selection_view(row) for row in rows], "next_cursor": None}


@router.get(
    "/whoami",
    response_model=PlateWhoAmIOut,
    summary="The caller as plate-pool sees them (a trivial authenticated endpoint)",
)
async def whoami(principal: Applicant) -> JSONResponse:
    # A Response as it is (the model documents it): the benchmark's reference stays as cheap as it was.
    return JSONResponse({"subject": principal.subject, "roles": sorted(principal.roles)})


@router.get(
    "/server-time",
    response_model=PlateServerTimeOut,
    summary="The platform time, to count the selection's deadlines down from (public)",
)
async def server_time(ctx: ContextDep) -> dict[str, Any]:
    """The deadlines a selection answers (the 180-second hold, the 30-minute SMS window, the session's
    end) are platform times; a client measures its own clock against this once per screen."""
    return {"now": iso(await ctx.runtime.clock.now())}


@router.get("/mine", response_model=PlateSelectionPage, summary="My selections, newest first (我的选号)")
async def my_selections(
    principal: Applicant,
    ctx: ContextDep,
    limit: Annotated[int | None, Query(ge=1, le=100)] = None,
    cursor: Annotated[str | None, Query(max_length=1024)] = None,
) -> dict[str, Any]:
    """The caller's own selections, each with the chances it has right now (api.md: a page at a time)."""
    page, next_cursor = await selections.mine(ctx, principal, limit, cursor)
    return {
        "items": [selection_view(found.row, found.counters) for found in page],
        "next_cursor": next_cursor,
    }


@router.get(
    "/{selection_id}",
    response_model=PlateSelectionDetailOut,
    # `held_numbers` and `held_until` are there only while numbers are held
    response_model_exclude_unset=True,
    summary="One selection (yours; clerks see their office's)",
)
async def get_selection(
    selection_id: uuid.UUID,
    principal: Annotated[
        Principal,
        Depends(require_roles("citizen", "unit", "clerk.intake", "clerk.review", "clerk.admin")),
    ],
    ctx: ContextDep,
) -> dict[str, Any]:
    found = await selections.current(ctx, selection_id, principal)
    view = selection_view(found.row, found.counters)
    if found.held_numbers is not None:
        view["held_numbers"] = found.held_numbers
        view["held_until"] = iso(found.held_until)
    return view


@router.delete("/{selection_id}", status_code=204, summary="Abandon the selection (放弃)")
async def abandon(
    selection_id: uuid.UUID, request: Request, principal: Applicant, ctx: ContextDep
) -> Response:
    await selections.abandon(ctx, selection_id, principal, actor_from(request, principal))
    return Response(status_code=204)
