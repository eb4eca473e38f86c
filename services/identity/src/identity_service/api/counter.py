"""`/api/v1/counter/registrations/*`: counter registration through the intake, review and archive posts
(ID-09 to ID-11), each post working its own queue, each case with its working-day deadline (WD-01).
Intake opens a case, stores its scans with it (`PUT .../scans/{kind}`, the body the file itself: AR-01)
and submits it. The posts' actions are identity_service.counter's use cases; this module parses, calls and
shapes."""

from __future__ import annotations

import uuid
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, Query, Request
from pydantic import AfterValidator, BaseModel, ConfigDict, Field
from sqlalchemy import select
from starlette.responses import Response

from identity_service import counter, domain, scans
from identity_service.api.common import CtxDep, oldest_first_page, parse_uuid
from identity_service.api.scans import SCAN_CONTENT, SCAN_UPLOAD, ScanKind
from identity_service.api.views import CaseOut, CaseSummary, ScanOut, case_summary, case_view, scan_views
from identity_service.tables import registrations
from servicekit.documents import StoredDocument
from servicekit.pagination import Page
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
from servicekit.web.documents import document_response, read_upload

router = APIRouter(prefix="/api/v1/counter/registrations", tags=["counter"])

Phone = Annotated[str, AfterValidator(mobile_phone)]
IdNumber = Annotated[str, AfterValidator(lambda v: resident_id(v, field="id_number"))]
IntakeClerk = Annotated[Principal, Depends(require_roles("clerk.intake"))]
ReviewClerk = Annotated[Principal, Depends(require_roles("clerk.review"))]
ArchiveClerk = Annotated[Principal, Depends(require_roles("clerk.archive"))]


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
    # The scans are stored with the case (AR-01), not sent as references: a `scans` member is refused.
    model_config = ConfigDict(extra="forbid")

    category: Literal["personal", "unit"] = "personal"
    kind: Literal["owner_driver", "learner", "new_car_owner"] = "owner_driver"  # personal only
    id_kind: Literal["resident_id"] = "resident_id"
    id_number: IdNumber  # the person, or the unit's agent
    name: Annotated[str, Field(min_length=1, max_length=100)]
    phone: Phone
    password: Annotated[str, Field(min_length=1, max_length=128)]  # typed by the person on the keypad
    unit: UnitDetails | None = None


class CaseCorrection(BaseModel):
    model_config = ConfigDict(extra="forbid")  # scans are stored again with `PUT .../scans/{kind}`

    name: Annotated[str, Field(min_length=1, max_length=100)] | None = None
    phone: Phone | None = None


class ReasonIn(BaseModel):
    reason: Annotated[str, Field(min_length=1, max_length=500)]


class ArchiveIn(BaseModel):
    filed: list[str]


def _clerk(request: Request, principal: Principal, role: str) -> counter.Clerk:
    return counter.Clerk(principal.subject, principal.office, actor_from(request, principal, role=role))


def _case_id(case_id: str) -> uuid.UUID:
    return parse_uuid(case_id, "registration")


def _at_my_post(principal: Principal, row: Any) -> bool:
    """The clerks who read a case in full, its scans too: the post it is at (the archive once filed,
    AR-01) or an admin, of the case's office."""
    return (
        principal.is_staff
        and (principal.office is None or principal.office == row.office)
        and (domain.READ_POST.get(row.stage) in principal.roles or "clerk.admin" in principal.roles)
    )


@router.post(
    "",
    status_code=201,
    summary="Intake: open a counter registration (ID-09, ID-10, ID-11)",
    response_model_exclude_unset=True,
)
async def open_case(
    body: CaseIn, request: Request, principal: IntakeClerk, ctx: CtxDep, uow: UowDep
) -> CaseOut:
    """The intake post checks the form and identity document against the population registry and the
    ID-10 disqualifications and enters the data; the case opens at intake. The on-site photo and the scans
    are stored with it next (`PUT /{id}/scans/{kind}`, AR-01), then `POST /{id}/submission` sends it on."""
    form = counter.IntakeForm(
        category=body.category,
        kind=body.kind,
        id_kind=body.id_kind,
        id_number=body.id_number,
        name=body.name.strip(),
        phone=body.phone,
        password=body.password,
        unit=body.unit.model_dump() if body.unit is not None else None,
    )
    clerk = _clerk(request, principal, "clerk.intake")
    row = await counter.intake(uow, ctx, clerk, form, principal.office or ctx.settings.office_code)
    return case_view(row, uow.now)


@router.get("", summary="A post's work queue (ID-09), oldest first, with deadlines and overdue flags")
async def queue(
    principal: CurrentPrincipal,
    uow: UowDep,
    queue: Annotated[Literal["intake", "review", "archive"], Query()],
    limit: Annotated[int | None, Query(ge=1, le=100)] = None,
    cursor: Annotated[str | None, Query(max_length=1024)] = None,
) -> Page[CaseSummary]:
    """Each clerk post reaches only its own queue (403 otherwise); cases of the clerk's office only."""
    if domain.POST_OF_STAGE[queue] not in principal.roles:
        raise Forbidden(f"the {queue} queue belongs to the {domain.POST_OF_STAGE[queue]} post")
    query = select(registrations).where(registrations.c.stage == queue)
    if principal.office is not None:
        query = query.where(registrations.c.office == principal.office)
    rows, next_cursor = await oldest_first_page(uow, registrations, query, limit, cursor)
    return Page(items=[case_summary(row, uow.now) for row in rows], next_cursor=next_cursor)


@router.get(
    "/{case_id}",
    summary="One case, for the post it is at, the archive once filed (AR-01), or its person",
    response_model_exclude_unset=True,
)
async def get_case(case_id: str, principal: CurrentPrincipal, uow: UowDep) -> CaseOut | CaseSummary:
    """The post reads the case in full (`CaseOut`); its person, the summary without scans."""
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
        at_my_post = _at_my_post(principal, row)
        if not (own_person or at_my_post):
            raise NotFound("registration")
    return case_view(row, now) if at_my_post else case_summary(row, now)


@router.put(
    "/{case_id}/scans/{kind}",
    status_code=201,
    summary="Intake stores one of the case's scans with it: the body is the JPEG, PNG or PDF (ID-09, AR-01)",
    openapi_extra=SCAN_UPLOAD,
    response_model_exclude_unset=True,
)
async def store_scan(
    case_id: str, kind: ScanKind, request: Request, principal: IntakeClerk, ctx: CtxDep, uow: UowDep
) -> ScanOut:
    """While the case is at intake. Typed by its bytes (415 `DOCUMENT_TYPE_NOT_ALLOWED`) and size-checked
    (413 `DOCUMENT_TOO_LARGE`), both AR-01; another scan of the kind replaces it in the case (the earlier
    one stays stored with the case)."""
    content = await read_upload(request, ctx.documents.max_bytes)  # before the transaction opens
    clerk = _clerk(request, principal, "clerk.intake")
    entry = await counter.store_scan(uow, ctx, clerk, _case_id(case_id), kind, content)
    (view,) = scan_views(f"/api/v1/counter/registrations/{case_id}", [entry])
    return view


@router.get(
    "/{case_id}/scans/{kind}",
    summary="A stored scan of the case: to the post the case is at (the archive once filed) (AR-01)",
    response_class=Response,
    responses=SCAN_CONTENT,
)
async def scan_content(
    case_id: str, kind: ScanKind, principal: CurrentPrincipal, ctx: CtxDep, uow: UowDep
) -> Response:
    """The clerks who read the case in full; anyone else, the person included (their view of the case
    carries no scans), is told it does not exist (404)."""
    async with uow:
        row = (
            await uow.session.execute(select(registrations).where(registrations.c.id == _case_id(case_id)))
        ).first()
        if row is None:
            raise NotFound("registration")

        def entitled(document: StoredDocument) -> bool:
            return _at_my_post(principal, row)

        found = await scans.open_current(
            uow, ctx, row.scans, kind, case_ref=counter.case_ref(row.id), entitled=entitled
        )
    return document_response(found)


@router.post(
    "/{case_id}/submission",
    summary="Intake submits the case with its scans stored (ID-09, ID-11)",
    response_model_exclude_unset=True,
)
async def submit_case(
    case_id: str, request: Request, principal: IntakeClerk, ctx: CtxDep, uow: UowDep
) -> CaseOut:
    """Every scan the case needs must be stored (422 `MISSING_SCANS`). A personal case goes to review
    (deadline: 1 working day); a unit's account is created at intake and its case goes to archive (ID-11)."""
    row = await counter.submit(uow, ctx, _clerk(request, principal, "clerk.intake"), _case_id(case_id))
    return case_view(row, uow.now)


@router.put(
    "/{case_id}",
    summary="Intake corrects a returned case and sends it to review again",
    response_model_exclude_unset=True,
)
async def correct_case(
    case_id: str, body: CaseCorrection, request: Request, principal: IntakeClerk, ctx: CtxDep, uow: UowDep
) -> CaseOut:
    """Name and phone as corrected; a scan is stored again with `PUT /{id}/scans/{kind}` first."""
    clerk = _clerk(request, principal, "clerk.intake")
    name = body.name.strip() if body.name else None
    row = await counter.correct(uow, ctx, clerk, _case_id(case_id), name, body.phone)
    return case_view(row, uow.now)


@router.post(
    "/{case_id}/return",
    summary="Review returns the case to intake on a mismatch (ID-09)",
    response_model_exclude_unset=True,
)
async def return_case(
    case_id: str, body: ReasonIn, request: Request, principal: ReviewClerk, ctx: CtxDep, uow: UowDep
) -> CaseOut:
    clerk = _clerk(request, principal, "clerk.review")
    row = await counter.return_to_intake(uow, ctx, clerk, _case_id(case_id), body.reason)
    return case_view(row, uow.now)


@router.post(
    "/{case_id}/approve",
    summary="Review approves: the account is created, SMS by event (ID-09)",
    response_model_exclude_unset=True,
)
async def approve_case(
    case_id: str, request: Request, principal: ReviewClerk, ctx: CtxDep, uow: UowDep
) -> CaseOut:
    """Re-runs a registry check that intake could not make; creates the account (counter channel);
    publishes `identity.registration.approved.v1` (notify sends the account details) and, for a person,
    `identity.person.phone_changed.v1` (ID-06: the phone replaces the one on vehicle and licence records)."""
    row = await counter.approve(uow, ctx, _clerk(request, principal, "clerk.review"), _case_id(case_id))
    return case_view(row, uow.now)


@router.post(
    "/{case_id}/reject",
    summary="Review rejects, with the reason sent by SMS (ID-09)",
    response_model_exclude_unset=True,
)
async def reject_case(
    case_id: str, body: ReasonIn, request: Request, principal: ReviewClerk, ctx: CtxDep, uow: UowDep
) -> CaseOut:
    clerk = _clerk(request, principal, "clerk.review")
    row = await counter.reject(uow, ctx, clerk, _case_id(case_id), body.reason)
    return case_view(row, uow.now)


@router.post(
    "/{case_id}/archive",
    summary="Archive binds and files the originals (ID-09, ID-11, AR-01)",
    response_model_exclude_unset=True,
)
async def archive_case(
    case_id: str, body: ArchiveIn, request: Request, principal: ArchiveClerk, ctx: CtxDep, uow: UowDep
) -> CaseOut:
    clerk = _clerk(request, principal, "clerk.archive")
    row = await counter.archive(uow, ctx, clerk, _case_id(case_id), body.filed)
    return case_view(row, uow.now)
