"""`/api/v1/users/counter-changes/*`: a personal user's counter change (ID-13, seed §16 and §19): intake
enters it with its scans (for a vehicle that is not the person's, the owner's identity document and
vehicle licence), the review post approves, returns or rejects it within 1 working day (WD-01), the
outcome goes out by SMS. Under `/users`, which the gateway routes to identity (like `/users/licence-photos`).
The actions are identity_service.changes's use cases; this module parses, calls and shapes."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, Query, Request
from pydantic import AfterValidator, BaseModel, Field
from sqlalchemy import select

from identity_service import changes, domain
from identity_service.api.common import CtxDep, oldest_first_page, parse_uuid
from identity_service.api.counter import Scan
from identity_service.counter import Clerk
from identity_service.tables import counter_changes
from servicekit.clock import SHANGHAI
from servicekit.validators import mobile_phone
from servicekit.web import Forbidden, NotFound, Principal, UowDep, actor_from, require_roles

router = APIRouter(prefix="/api/v1/users/counter-changes", tags=["counter"])

IntakeClerk = Annotated[Principal, Depends(require_roles("clerk.intake"))]
ReviewClerk = Annotated[Principal, Depends(require_roles("clerk.review"))]
Clerks = Annotated[Principal, Depends(require_roles("clerk.intake", "clerk.review", "clerk.admin"))]
Phone = Annotated[str, AfterValidator(mobile_phone)]


class DetailsIn(BaseModel):
    phone: Phone | None = None
    email: Annotated[str, Field(max_length=200)] | None = None
    mailing_address: Annotated[str, Field(min_length=1, max_length=300)] | None = None
    postcode: Annotated[str, Field(pattern=r"^\d{6}$")] | None = None


class ChangeIn(BaseModel):
    account_id: str
    kind: Literal["bind_vehicle", "details"]
    ref: Annotated[str, Field(min_length=1, max_length=64)] | None = None  # bind_vehicle: the vehicle
    # ID-13: intake checked the owner's identity document and vehicle licence valid (another's vehicle)
    owner_documents_checked: bool = False
    details: DetailsIn | None = None
    scans: list[Scan]


class ChangeCorrection(BaseModel):
    scans: list[Scan] | None = None
    owner_documents_checked: bool = False


class ReasonIn(BaseModel):
    reason: Annotated[str, Field(min_length=1, max_length=500)]


def change_view(row: Any, now: datetime) -> dict[str, Any]:
    return {
        "id": str(row.id),
        "account_id": str(row.account_id),
        "kind": row.kind,
        "stage": row.stage,
        "office": row.office,
        "data": row.data,
        "scans": row.scans,
        "registry_check": row.registry_check,
        "deadline": row.deadline.astimezone(SHANGHAI).isoformat() if row.deadline else None,
        "overdue": domain.is_overdue(row.stage, row.deadline, now),
        "return_reason": row.return_reason,
        "reject_reason": row.reject_reason,
        "history": row.history,
        "created_at": row.created_at.astimezone(SHANGHAI).isoformat(),
    }


def _clerk(request: Request, principal: Principal, role: str) -> Clerk:
    return Clerk(principal.subject, principal.office, actor_from(request, principal, role=role))


def _id(change_id: str) -> uuid.UUID:
    return parse_uuid(change_id, "change")


@router.post("", status_code=201, summary="Intake: enter a personal counter change (ID-13, seed §19)")
async def open_change(
    body: ChangeIn, request: Request, principal: IntakeClerk, ctx: CtxDep, uow: UowDep
) -> dict[str, Any]:
    details = body.details.model_dump(exclude_none=True) if body.details is not None else {}
    if body.kind == "bind_vehicle" and body.ref is None:
        raise domain.NothingToChange("a vehicle binding names the vehicle (ref)")
    form = changes.ChangeForm(
        account_id=parse_uuid(body.account_id, "account"),
        kind=body.kind,
        scans=[s.model_dump() for s in body.scans],
        ref=body.ref,
        owner_documents_checked=body.owner_documents_checked,
        details=details,
    )
    clerk = _clerk(request, principal, "clerk.intake")
    row = await changes.intake(uow, ctx, clerk, form, principal.office or ctx.settings.office_code)
    return change_view(row, uow.now)


@router.get("", summary="The intake or review post's queue of changes, oldest first, with deadlines")
async def change_queue(
    principal: Clerks,
    uow: UowDep,
    queue: Annotated[Literal["intake", "review"], Query()],
    limit: Annotated[int | None, Query(ge=1, le=100)] = None,
    cursor: Annotated[str | None, Query(max_length=1024)] = None,
) -> dict[str, Any]:
    if domain.POST_OF_STAGE[queue] not in principal.roles:
        raise Forbidden(f"the {queue} queue belongs to the {domain.POST_OF_STAGE[queue]} post")
    query = select(counter_changes).where(counter_changes.c.stage == queue)
    if principal.office is not None:
        query = query.where(counter_changes.c.office == principal.office)
    rows, next_cursor = await oldest_first_page(uow, counter_changes, query, limit, cursor)
    return {"items": [change_view(r, uow.now) for r in rows], "next_cursor": next_cursor}


@router.get("/{change_id}", summary="One change, for the clerks of its office")
async def get_change(change_id: str, principal: Clerks, uow: UowDep) -> dict[str, Any]:
    async with uow:
        row = (
            await uow.session.execute(select(counter_changes).where(counter_changes.c.id == _id(change_id)))
        ).first()
    if row is None or (principal.office is not None and row.office != principal.office):
        raise NotFound("change")
    return change_view(row, uow.now)


@router.put("/{change_id}", summary="Intake corrects a returned change and sends it to review again")
async def correct_change(
    change_id: str, body: ChangeCorrection, request: Request, principal: IntakeClerk, ctx: CtxDep, uow: UowDep
) -> dict[str, Any]:
    scans = [s.model_dump() for s in body.scans] if body.scans is not None else None
    clerk = _clerk(request, principal, "clerk.intake")
    row = await changes.correct(uow, ctx, clerk, _id(change_id), scans, body.owner_documents_checked)
    return change_view(row, uow.now)


@router.post("/{change_id}/return", summary="Review returns the change to intake on a mismatch")
async def return_change(
    change_id: str, body: ReasonIn, request: Request, principal: ReviewClerk, ctx: CtxDep, uow: UowDep
) -> dict[str, Any]:
    clerk = _clerk(request, principal, "clerk.review")
    row = await changes.return_to_intake(uow, ctx, clerk, _id(change_id), body.reason)
    return change_view(row, uow.now)


@router.post("/{change_id}/approve", summary="Review approves: the change takes effect, SMS by event")
async def approve_change(
    change_id: str, request: Request, principal: ReviewClerk, ctx: CtxDep, uow: UowDep
) -> dict[str, Any]:
    row = await changes.approve(uow, ctx, _clerk(request, principal, "clerk.review"), _id(change_id))
    return change_view(row, uow.now)


@router.post("/{change_id}/reject", summary="Review rejects, with the reason sent by SMS")
async def reject_change(
    change_id: str, body: ReasonIn, request: Request, principal: ReviewClerk, ctx: CtxDep, uow: UowDep
) -> dict[str, Any]:
    clerk = _clerk(request, principal, "clerk.review")
    row = await changes.reject(uow, ctx, clerk, _id(change_id), body.reason)
    return change_view(row, uow.now)
