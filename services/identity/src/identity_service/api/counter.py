"""`/api/v1/counter/registrations/*`: counter registration through the intake, review and archive posts
(ID-09 to ID-11), each post working its own queue, each case with its working-day deadline (WD-01).
The posts' actions are identity_service.counter's use cases; this module parses, calls and shapes."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, Query, Request
from pydantic import AfterValidator, BaseModel, Field
from sqlalchemy import select

from identity_service import counter, domain
from identity_service.api.common import CtxDep, oldest_first_page, parse_uuid
from identity_service.tables import registrations
from servicekit.clock import SHANGHAI
from servicekit.masking import mask_id_number, mask_phone
from servicekit.validators import mobile_phone, resident_id
from servicekit.web import (
    CurrentPrincipal,
    Forbidden,
    NotFound,
    Principal,
    UowDep,
    actor_from,
    require_roles,
)

router = APIRouter(prefix="/api/v1/counter/registrations", tags=["counter"])

Phone = Annotated[str, AfterValidator(mobile_phone)]
IdNumber = Annotated[str, AfterValidator(lambda v: resident_id(v, field="id_number"))]
IntakeClerk = Annotated[Principal, Depends(require_roles("clerk.intake"))]
ReviewClerk = Annotated[Principal, Depends(require_roles("clerk.review"))]
ArchiveClerk = Annotated[Principal, Depends(require_roles("clerk.archive"))]


class Scan(BaseModel):
    kind: Annotated[str, Field(min_length=1, max_length=64)]
    ref: Annotated[str, Field(min_length=1, max_length=200)]  # where the scan is stored


class UnitDetails(BaseModel):
    """ID-11: what a unit's counter registration records besides its agent."""

    unit_kind: Literal[
        "state_agency", "enterprise", "public_institution", "social_group", "other_organisation"
    ]
    unit_name: Annotated[str, Field(min_length=1, max_length=200)]
    credit_code: str
    mailing_address: Annotated[str, Field(min_length=1, max_length=300)]
    postcode: Annotated[str, Field(pattern=r"^\d{6}$")]
    legal_representative_name: Annotated[str, Field(min_length=1, max_length=100)]
    legal_representative_phone: Phone
    email: Annotated[str, Field(max_length=200)] | None = None
    requested_items: list[str] = []
    delegated_roles: list[Literal["dealer", "hospital"]] = []


class CaseIn(BaseModel):
    category: Literal["personal", "unit"] = "personal"
    kind: Literal["owner_driver", "learner", "new_car_owner"] = "owner_driver"  # personal only
    id_kind: Literal["resident_id"] = "resident_id"
    id_number: IdNumber  # the person, or the unit's agent
    name: Annotated[str, Field(min_length=1, max_length=100)]
    phone: Phone
    password: Annotated[str, Field(min_length=1, max_length=128)]  # typed by the person on the keypad
    scans: list[Scan]
    unit: UnitDetails | None = None


class CaseCorrection(BaseModel):
    name: Annotated[str, Field(min_length=1, max_length=100)] | None = None
    phone: Phone | None = None
    scans: list[Scan] | None = None


class ReasonIn(BaseModel):
    reason: Annotated[str, Field(min_length=1, max_length=500)]


class ArchiveIn(BaseModel):
    filed: list[str]


def case_view(row: Any, now: datetime, *, full: bool) -> dict[str, Any]:
    view: dict[str, Any] = {
        "id": str(row.id),
        "category": row.category,
        "stage": row.stage,
        "office": row.office,
        "name": row.name,
        "id_number": mask_id_number(row.id_number),
        "phone": mask_phone(row.phone),
        "registry_check": row.registry_check,
        "deadline": row.deadline.astimezone(SHANGHAI).isoformat() if row.deadline else None,
        "overdue": domain.is_overdue(row.stage, row.deadline, now),
        "created_at": row.created_at.astimezone(SHANGHAI).isoformat(),
        "return_reason": row.return_reason,
    }
    if full:
        view.update(
            {
                "data": row.data,
                "scans": row.scans,
                "reject_reason": row.reject_reason,
                "account_id": str(row.account_id) if row.account_id else None,
                "filed_items": row.filed_items,
                "history": row.history,
            }
        )
    return view


def _clerk(request: Request, principal: Principal, role: str) -> counter.Clerk:
    return counter.Clerk(principal.subject, principal.office, actor_from(request, principal, role=role))


def _case_id(case_id: str) -> uuid.UUID:
    return parse_uuid(case_id, "registration")


@router.post("", status_code=201, summary="Intake: open a counter registration (ID-09, ID-10, ID-11)")
async def open_case(body: CaseIn, request: Request, principal: IntakeClerk, ctx: CtxDep, uow: UowDep) -> Any:
    """The intake post checks the form and identity document against the population registry and the
    ID-10 disqualifications, enters the data, the on-site photo and scans. A personal case goes to review
    (deadline: 1 working day); a unit's account is created at intake and the case goes to archive (ID-11)."""
    form = counter.IntakeForm(
        category=body.category,
        kind=body.kind,
        id_kind=body.id_kind,
        id_number=body.id_number,
        name=body.name.strip(),
        phone=body.phone,
        password=body.password,
        scans=[s.model_dump() for s in body.scans],
        unit=body.unit.model_dump() if body.unit is not None else None,
    )
    clerk = _clerk(request, principal, "clerk.intake")
    row = await counter.intake(uow, ctx, clerk, form, principal.office or ctx.settings.office_code)
    return case_view(row, uow.now, full=True)


@router.get("", summary="A post's work queue (ID-09), oldest first, with deadlines and overdue flags")
async def queue(
    principal: CurrentPrincipal,
    uow: UowDep,
    queue: Annotated[Literal["intake", "review", "archive"], Query()],
    limit: Annotated[int | None, Query(ge=1, le=100)] = None,
    cursor: Annotated[str | None, Query(max_length=1024)] = None,
) -> dict[str, Any]:
    """Each clerk post reaches only its own queue (403 otherwise); cases of the clerk's office only."""
    if domain.POST_OF_STAGE[queue] not in principal.roles:
        raise Forbidden(f"the {queue} queue belongs to the {domain.POST_OF_STAGE[queue]} post")
    query = select(registrations).where(registrations.c.stage == queue)
    if principal.office is not None:
        query = query.where(registrations.c.office == principal.office)
    rows, next_cursor = await oldest_first_page(uow, registrations, query, limit, cursor)
    return {"items": [case_view(row, uow.now, full=False) for row in rows], "next_cursor": next_cursor}


@router.get(
    "/{case_id}", summary="One case, for the post it is at, the archive once filed (AR-01), or its person"
)
async def get_case(case_id: str, principal: CurrentPrincipal, uow: UowDep) -> dict[str, Any]:
    async with uow:
        now = uow.now
        row = (
            await uow.session.execute(
                select(registrations).where(registrations.c.id == parse_uuid(case_id, "registration"))
            )
        ).first()
        if row is None:
            raise NotFound("registration")
        own_person = principal.id_number is not None and principal.id_number == row.id_number
        at_my_post = (
            principal.is_staff
            and (principal.office is None or principal.office == row.office)
            and (domain.READ_POST.get(row.stage) in principal.roles or "clerk.admin" in principal.roles)
        )
        if not (own_person or at_my_post):
            raise NotFound("registration")
    return case_view(row, now, full=at_my_post)


@router.put("/{case_id}", summary="Intake corrects a returned case and sends it to review again")
async def correct_case(
    case_id: str, body: CaseCorrection, request: Request, principal: IntakeClerk, ctx: CtxDep, uow: UowDep
) -> dict[str, Any]:
    scans = [s.model_dump() for s in body.scans] if body.scans is not None else None
    clerk = _clerk(request, principal, "clerk.intake")
    name = body.name.strip() if body.name else None
    row = await counter.correct(uow, ctx, clerk, _case_id(case_id), name, body.phone, scans)
    return case_view(row, uow.now, full=True)


@router.post("/{case_id}/return", summary="Review returns the case to intake on a mismatch (ID-09)")
async def return_case(
    case_id: str, body: ReasonIn, request: Request, principal: ReviewClerk, ctx: CtxDep, uow: UowDep
) -> dict[str, Any]:
    clerk = _clerk(request, principal, "clerk.review")
    row = await counter.return_to_intake(uow, ctx, clerk, _case_id(case_id), body.reason)
    return case_view(row, uow.now, full=True)


@router.post("/{case_id}/approve", summary="Review approves: the account is created, SMS by event (ID-09)")
async def approve_case(
    case_id: str, request: Request, principal: ReviewClerk, ctx: CtxDep, uow: UowDep
) -> dict[str, Any]:
    """Re-runs a registry check that intake could not make; creates the account (counter channel);
    publishes `identity.registration.approved.v1` (notify sends the account details) and, for a person,
    `identity.person.phone_changed.v1` (ID-06: the phone replaces the one on vehicle and licence records)."""
    row = await counter.approve(uow, ctx, _clerk(request, principal, "clerk.review"), _case_id(case_id))
    return case_view(row, uow.now, full=True)


@router.post("/{case_id}/reject", summary="Review rejects, with the reason sent by SMS (ID-09)")
async def reject_case(
    case_id: str, body: ReasonIn, request: Request, principal: ReviewClerk, ctx: CtxDep, uow: UowDep
) -> dict[str, Any]:
    clerk = _clerk(request, principal, "clerk.review")
    row = await counter.reject(uow, ctx, clerk, _case_id(case_id), body.reason)
    return case_view(row, uow.now, full=True)


@router.post("/{case_id}/archive", summary="Archive binds and files the originals (ID-09, ID-11, AR-01)")
async def archive_case(
    case_id: str, body: ArchiveIn, request: Request, principal: ArchiveClerk, ctx: CtxDep, uow: UowDep
) -> dict[str, Any]:
    clerk = _clerk(request, principal, "clerk.archive")
    row = await counter.archive(uow, ctx, clerk, _case_id(case_id), body.filed)
    return case_view(row, uow.now, full=True)
