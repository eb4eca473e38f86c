"""Bindings (ID-07, ID-08, ID-12, ID-14): own vehicles and licence online, a licence bound to a unit.
Another person's binding or record answers 404. A counter binding (up to 3 vehicles that are not the
person's, ID-13) is a counter change through the review post: api/changes.py."""

from __future__ import annotations

import uuid
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, Request, Response
from pydantic import BaseModel, Field
from sqlalchemy import select

from identity_service import bindings as use
from identity_service.api.common import USER_WRITE_LIMIT, parse_uuid
from identity_service.tables import bindings, person_records
from servicekit.clock import SHANGHAI
from servicekit.uow import Actor
from servicekit.validators import InvalidValue, social_credit_code
from servicekit.web import (
    CurrentPrincipal,
    Principal,
    Unprocessable,
    UowDep,
    actor_from,
    require_roles,
)
from servicekit.web.limits import per_user_limit

router = APIRouter(prefix="/api/v1", tags=["bindings"])

IntakeClerk = Annotated[Principal, Depends(require_roles("clerk.intake"))]
UnitPrincipal = Annotated[Principal, Depends(require_roles("unit"))]


class BindIn(BaseModel):
    record_kind: Literal["vehicle", "licence"]
    ref: Annotated[str, Field(min_length=1, max_length=64)]


class UnitBindIn(BaseModel):
    credit_code: str


class BindingOut(BaseModel):
    """A live binding of an account to a record (a vehicle's id at vehicle, a licence's at license)."""

    id: str
    record_kind: str = Field(description="vehicle | licence")
    ref: str = Field(description="the record's id in its service")
    owned: bool = Field(description="the record is the account's own (ID-12), not bound at a counter (ID-13)")
    channel: str = Field(description="online | counter")
    unit_account_id: str | None = Field(description="ID-07: the unit a licence is bound to")
    created_at: str


class BoundRecordOut(BindingOut):
    """A binding with what identity knows of its record (ID-03 feed); null where nothing is recorded."""

    plate_number: str | None = Field(description="a vehicle's plate")
    state: str | None = Field(description="the record's state: registered, valid, ...")


class BoundRecords(BaseModel):
    items: list[BoundRecordOut]
    next_cursor: str | None = None


class UnitLicences(BaseModel):
    items: list[BindingOut]
    next_cursor: str | None = None


def binding_view(row: Any) -> BindingOut:
    return BindingOut(
        id=str(row.id),
        record_kind=row.record_kind,
        ref=row.ref,
        owned=row.owned,
        channel=row.channel,
        unit_account_id=str(row.unit_account_id) if row.unit_account_id else None,
        created_at=row.created_at.astimezone(SHANGHAI).isoformat(),
    )


def bound_record_view(row: Any, record: Any) -> BoundRecordOut:
    return BoundRecordOut(
        **binding_view(row).model_dump(), plate_number=record.plate_number, state=record.state
    )


def _actor(request: Request, principal: Principal) -> Actor:
    return actor_from(request, principal)


def _ids(principal: Principal, binding_id: str) -> tuple[uuid.UUID, uuid.UUID]:
    """The caller's account and the binding: an unparseable id is a binding that is not there (404)."""
    return parse_uuid(principal.subject, "binding"), parse_uuid(binding_id, "binding")


@router.get("/users/me/bindings", response_model=BoundRecords, summary="What the caller has bound (ID-07)")
async def my_bindings(principal: CurrentPrincipal, uow: UowDep) -> BoundRecords:
    async with uow:
        rows = (
            await uow.session.execute(
                select(bindings, person_records.c.plate_number, person_records.c.state)
                .join(
                    person_records,
                    (person_records.c.record_kind == bindings.c.record_kind)
                    & (person_records.c.ref == bindings.c.ref),
                    isouter=True,
                )
                .where(
                    bindings.c.account_id == parse_uuid(principal.subject, "account"),
                    bindings.c.unbound_at.is_(None),
                )
                .order_by(bindings.c.created_at)
            )
        ).all()
    return BoundRecords(items=[bound_record_view(r, r) for r in rows])


@router.post(
    "/users/me/bindings",
    status_code=201,
    response_model=BoundRecordOut,
    summary="Bind an own vehicle or licence online (ID-12)",
    dependencies=[Depends(per_user_limit(USER_WRITE_LIMIT, "bindings"))],
)
async def bind_own(
    body: BindIn, request: Request, principal: CurrentPrincipal, uow: UowDep
) -> BoundRecordOut:
    """ID-12 / ID-07: online owner/driver users, counter-registered personal users and units (vehicles
    only, ID-08) bind what is recorded as theirs; a record of someone else answers 404."""
    account_id = parse_uuid(principal.subject, "account")
    row, record = await use.bind_own(uow, _actor(request, principal), account_id, body.record_kind, body.ref)
    return bound_record_view(row, record)


@router.delete("/users/me/bindings/{binding_id}", status_code=204, summary="Unbind (ID-12)")
async def unbind_own(binding_id: str, request: Request, principal: CurrentPrincipal, uow: UowDep) -> Response:
    await use.unbind_own(uow, _actor(request, principal), *_ids(principal, binding_id))
    return Response(status_code=204)


@router.put(
    "/users/me/bindings/{binding_id}/unit",
    response_model=BindingOut,
    summary="Bind the own licence to a unit (ID-07)",
)
async def bind_licence_to_unit(
    binding_id: str, body: UnitBindIn, request: Request, principal: CurrentPrincipal, uow: UowDep
) -> BindingOut:
    try:
        code = social_credit_code(body.credit_code)
    except InvalidValue as exc:
        raise Unprocessable("INVALID_CREDIT_CODE", str(exc)) from None
    actor = _actor(request, principal)
    row = await use.bind_licence_to_unit(uow, actor, *_ids(principal, binding_id), code)
    return binding_view(row)


@router.delete(
    "/users/me/bindings/{binding_id}/unit", status_code=204, summary="Unbind the licence from its unit"
)
async def unbind_licence_from_unit(
    binding_id: str, request: Request, principal: CurrentPrincipal, uow: UowDep
) -> Response:
    await use.unbind_licence_from_unit(uow, _actor(request, principal), *_ids(principal, binding_id))
    return Response(status_code=204)


@router.get(
    "/units/me/licences", response_model=UnitLicences, summary="Licences bound to the calling unit (ID-08)"
)
async def unit_licences(principal: UnitPrincipal, uow: UowDep) -> UnitLicences:
    async with uow:
        rows = (
            await uow.session.execute(
                select(bindings).where(
                    bindings.c.unit_account_id == parse_uuid(principal.subject, "unit"),
                    bindings.c.unbound_at.is_(None),
                )
            )
        ).all()
    return UnitLicences(items=[binding_view(r) for r in rows])
