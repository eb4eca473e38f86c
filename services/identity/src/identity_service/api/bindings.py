"""Bindings (ID-07, ID-08, ID-12, ID-14): own vehicles and licence online, a licence bound to a unit.
Another person's binding or record answers 404. A counter binding (up to 3 vehicles that are not the
person's, ID-13) is a counter change through the review post: api/changes.py."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, Request, Response
from pydantic import BaseModel, Field
from sqlalchemy import select, update

from identity_service import domain
from identity_service.api.common import USER_WRITE_LIMIT, load_account, parse_uuid
from identity_service.binding_events import bind_record, end_bindings
from identity_service.tables import accounts, bindings, person_records
from servicekit.clock import SHANGHAI
from servicekit.uow import UnitOfWork
from servicekit.validators import InvalidValue, social_credit_code
from servicekit.web import (
    CurrentPrincipal,
    NotFound,
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


def binding_view(row: Any, record: Any | None = None) -> dict[str, Any]:
    view = {
        "id": str(row.id),
        "record_kind": row.record_kind,
        "ref": row.ref,
        "owned": row.owned,
        "channel": row.channel,
        "unit_account_id": str(row.unit_account_id) if row.unit_account_id else None,
        "created_at": row.created_at.astimezone(SHANGHAI).isoformat(),
    }
    if record is not None:
        view["plate_number"] = record.plate_number
        view["state"] = record.state
    return view


def owner_key(account: Any) -> str | None:
    """Whose records are 'own': a person's identity number, a unit's credit code."""
    key: str | None = account.credit_code if account.category == "unit" else account.id_number
    return key


async def _record(uow: UnitOfWork, record_kind: str, ref: str) -> Any:
    return (
        await uow.session.execute(
            select(person_records).where(
                person_records.c.record_kind == record_kind, person_records.c.ref == ref
            )
        )
    ).first()


async def _my_binding(uow: UnitOfWork, principal: Principal, binding_id: str) -> Any:
    row = (
        await uow.session.execute(
            select(bindings).where(
                bindings.c.id == parse_uuid(binding_id, "binding"),
                bindings.c.account_id == parse_uuid(principal.subject, "binding"),
                bindings.c.unbound_at.is_(None),
            )
        )
    ).first()
    if row is None:
        raise NotFound("binding")
    return row


@router.get("/users/me/bindings", summary="What the caller has bound (ID-07)")
async def my_bindings(principal: CurrentPrincipal, uow: UowDep) -> dict[str, Any]:
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
    return {"items": [binding_view(r, r) for r in rows], "next_cursor": None}


@router.post(
    "/users/me/bindings",
    status_code=201,
    summary="Bind an own vehicle or licence online (ID-12)",
    dependencies=[Depends(per_user_limit(USER_WRITE_LIMIT, "bindings"))],
)
async def bind_own(
    body: BindIn, request: Request, principal: CurrentPrincipal, uow: UowDep
) -> dict[str, Any]:
    """ID-12 / ID-07: online owner/driver users, counter-registered personal users and units (vehicles
    only, ID-08) bind what is recorded as theirs; a record of someone else answers 404."""
    async with uow:
        account = await load_account(uow.session, principal.subject)
        caps = domain.capabilities(account.category, account.kind, account.channel, account.roles)
        wanted = "bind_own_vehicle" if body.record_kind == "vehicle" else "bind_own_licence"
        if wanted not in caps:
            raise domain.NotAllowed(f"this account kind cannot {wanted.replace('_', ' ')} (ID-07)")
        record = await _record(uow, body.record_kind, body.ref)
        live = domain.LIVE_VEHICLE_STATES if body.record_kind == "vehicle" else domain.LIVE_LICENCE_STATES
        if record is None or record.id_number != owner_key(account) or record.state not in live:
            raise NotFound(body.record_kind)
        row = await bind_record(uow, account.id, body.record_kind, body.ref, True, "online")
        uow.audit(
            actor_from(request, principal), "bind", f"{body.record_kind}:{body.ref}", after={"owned": True}
        )
        await uow.commit()
    return binding_view(row, record)


@router.delete("/users/me/bindings/{binding_id}", status_code=204, summary="Unbind (ID-12)")
async def unbind_own(binding_id: str, request: Request, principal: CurrentPrincipal, uow: UowDep) -> Response:
    async with uow:
        row = await _my_binding(uow, principal, binding_id)
        await end_bindings(uow, bindings.c.id == row.id, "by_user")
        uow.audit(actor_from(request, principal), "unbind", f"{row.record_kind}:{row.ref}")
        await uow.commit()
    return Response(status_code=204)


@router.put("/users/me/bindings/{binding_id}/unit", summary="Bind the own licence to a unit (ID-07)")
async def bind_licence_to_unit(
    binding_id: str, body: UnitBindIn, request: Request, principal: CurrentPrincipal, uow: UowDep
) -> dict[str, Any]:
    try:
        code = social_credit_code(body.credit_code)
    except InvalidValue as exc:
        raise Unprocessable("INVALID_CREDIT_CODE", str(exc)) from None
    async with uow:
        row = await _my_binding(uow, principal, binding_id)
        if row.record_kind != "licence":
            raise NotFound("licence binding")
        unit = (
            await uow.session.execute(
                select(accounts.c.id).where(
                    accounts.c.category == "unit",
                    accounts.c.credit_code == code,
                    accounts.c.status == "active",
                )
            )
        ).first()
        if unit is None:
            raise NotFound("unit")
        await uow.session.execute(
            update(bindings).where(bindings.c.id == row.id).values(unit_account_id=unit.id)
        )
        uow.audit(
            actor_from(request, principal),
            "bind_licence_to_unit",
            f"licence:{row.ref}",
            after={"unit": str(unit.id)},
        )
        await uow.commit()
        row = (await uow.session.execute(select(bindings).where(bindings.c.id == row.id))).one()
    return binding_view(row)


@router.delete(
    "/users/me/bindings/{binding_id}/unit", status_code=204, summary="Unbind the licence from its unit"
)
async def unbind_licence_from_unit(
    binding_id: str, request: Request, principal: CurrentPrincipal, uow: UowDep
) -> Response:
    async with uow:
        row = await _my_binding(uow, principal, binding_id)
        if row.unit_account_id is None:
            raise NotFound("unit binding")
        await uow.session.execute(
            update(bindings).where(bindings.c.id == row.id).values(unit_account_id=None)
        )
        uow.audit(actor_from(request, principal), "unbind_licence_from_unit", f"licence:{row.ref}")
        await uow.commit()
    return Response(status_code=204)


@router.get("/units/me/licences", summary="Licences bound to the calling unit (ID-08)")
async def unit_licences(principal: UnitPrincipal, uow: UowDep) -> dict[str, Any]:
    async with uow:
        rows = (
            await uow.session.execute(
                select(bindings).where(
                    bindings.c.unit_account_id == parse_uuid(principal.subject, "unit"),
                    bindings.c.unbound_at.is_(None),
                )
            )
        ).all()
    return {"items": [binding_view(r) for r in rows], "next_cursor": None}
