"""`/api/v1/users/counter-changes/*`: a personal user's counter change (ID-13, seed §16 and §19): intake
enters it, stores its scans with it (`PUT .../scans/{kind}`, the body the file itself, AR-01; for a vehicle
that is not the person's, the owner's identity document and vehicle licence too) and submits it; the review
post approves, returns or rejects it within 1 working day (WD-01), the outcome goes out by SMS. Under
`/users`, which the gateway routes to identity (like `/users/licence-photos`). The actions are
identity_service.changes's use cases; this module parses, calls and shapes."""

from __future__ import annotations

import uuid
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, Query, Request
from pydantic import AfterValidator, BaseModel, ConfigDict, Field
from sqlalchemy import select
from starlette.responses import Response

from identity_service import changes, domain, scans
from identity_service.api.common import CtxDep, oldest_first_page, parse_uuid
from identity_service.api.scans import SCAN_CONTENT, SCAN_UPLOAD, ScanKind
from identity_service.api.views import ChangeOut, ScanOut, change_view, scan_views
from identity_service.counter import Clerk
from identity_service.tables import counter_changes
from servicekit.documents import StoredDocument
from servicekit.pagination import Page
from servicekit.validators import mobile_phone
from servicekit.web import Forbidden, NotFound, Principal, UowDep, actor_from, require_roles
from servicekit.web.documents import document_response, read_upload

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
    # The scans are stored with the change (AR-01), not sent as references: a `scans` member is refused.
    model_config = ConfigDict(extra="forbid")

    account_id: str
    kind: Literal["bind_vehicle", "details"]
    ref: Annotated[str, Field(min_length=1, max_length=64)] | None = None  # bind_vehicle: the vehicle
    details: DetailsIn | None = None


class Submission(BaseModel):
    """Submitting (or correcting) a change whose scans are stored."""

    model_config = ConfigDict(extra="forbid")

    # ID-13: intake checked the owner's identity document and vehicle licence valid (another's vehicle)
    owner_documents_checked: bool = False


class ReasonIn(BaseModel):
    reason: Annotated[str, Field(min_length=1, max_length=500)]


def _clerk(request: Request, principal: Principal, role: str) -> Clerk:
    return Clerk(principal.subject, principal.office, actor_from(request, principal, role=role))


def _id(change_id: str) -> uuid.UUID:
    return parse_uuid(change_id, "change")


def _of_my_office(principal: Principal, row: Any) -> bool:
    return principal.office is None or row.office == principal.office


@router.post(
    "",
    status_code=201,
    summary="Intake: enter a personal counter change (ID-13, seed §19)",
    response_model_exclude_unset=True,
)
async def open_change(
    body: ChangeIn, request: Request, principal: IntakeClerk, ctx: CtxDep, uow: UowDep
) -> ChangeOut:
    """The change opens at intake; its scans are stored with it next (`PUT /{id}/scans/{kind}`, AR-01),
    then `POST /{id}/submission` sends it to review."""
    details = body.details.model_dump(exclude_none=True) if body.details is not None else {}
    if body.kind == "bind_vehicle" and body.ref is None:
        raise domain.NothingToChange("a vehicle binding names the vehicle (ref)")
    form = changes.ChangeForm(
        account_id=parse_uuid(body.account_id, "account"),
        kind=body.kind,
        ref=body.ref,
        details=details,
    )
    clerk = _clerk(request, principal, "clerk.intake")
    row = await changes.intake(uow, ctx, clerk, form, principal.office or ctx.settings.office_code)
    return change_view(row, uow.now)


@router.get(
    "",
    summary="The intake or review post's queue of changes, oldest first, with deadlines",
    response_model_exclude_unset=True,
)
async def change_queue(
    principal: Clerks,
    uow: UowDep,
    queue: Annotated[Literal["intake", "review"], Query()],
    limit: Annotated[int | None, Query(ge=1, le=100)] = None,
    cursor: Annotated[str | None, Query(max_length=1024)] = None,
) -> Page[ChangeOut]:
    if domain.POST_OF_STAGE[queue] not in principal.roles:
        raise Forbidden(f"the {queue} queue belongs to the {domain.POST_OF_STAGE[queue]} post")
    query = select(counter_changes).where(counter_changes.c.stage == queue)
    if principal.office is not None:
        query = query.where(counter_changes.c.office == principal.office)
    rows, next_cursor = await oldest_first_page(uow, counter_changes, query, limit, cursor)
    return Page(items=[change_view(r, uow.now) for r in rows], next_cursor=next_cursor)


@router.get(
    "/{change_id}", summary="One change, for the clerks of its office", response_model_exclude_unset=True
)
async def get_change(change_id: str, principal: Clerks, uow: UowDep) -> ChangeOut:
    async with uow:
        row = (
            await uow.session.execute(select(counter_changes).where(counter_changes.c.id == _id(change_id)))
        ).first()
    if row is None or not _of_my_office(principal, row):
        raise NotFound("change")
    return change_view(row, uow.now)


@router.put(
    "/{change_id}/scans/{kind}",
    status_code=201,
    summary="Intake stores one of the change's scans with it: the body is the JPEG, PNG or PDF (AR-01)",
    openapi_extra=SCAN_UPLOAD,
    response_model_exclude_unset=True,
)
async def store_scan(
    change_id: str, kind: ScanKind, request: Request, principal: IntakeClerk, ctx: CtxDep, uow: UowDep
) -> ScanOut:
    """While the change is at intake. Typed by its bytes (415 `DOCUMENT_TYPE_NOT_ALLOWED`) and
    size-checked (413 `DOCUMENT_TOO_LARGE`), both AR-01; another scan of the kind replaces it in the change
    (the earlier one stays stored with it)."""
    content = await read_upload(request, ctx.documents.max_bytes)  # before the transaction opens
    clerk = _clerk(request, principal, "clerk.intake")
    entry = await changes.store_scan(uow, ctx, clerk, _id(change_id), kind, content)
    (view,) = scan_views(f"/api/v1/users/counter-changes/{change_id}", [entry])
    return view


@router.get(
    "/{change_id}/scans/{kind}",
    summary="A stored scan of the change: to the clerks of its office (AR-01)",
    response_class=Response,
    responses=SCAN_CONTENT,
)
async def scan_content(
    change_id: str, kind: ScanKind, principal: Clerks, ctx: CtxDep, uow: UowDep
) -> Response:
    """The clerks who read the change; anyone else is told it does not exist (404)."""
    async with uow:
        row = (
            await uow.session.execute(select(counter_changes).where(counter_changes.c.id == _id(change_id)))
        ).first()
        if row is None:
            raise NotFound("change")

        def entitled(document: StoredDocument) -> bool:
            return _of_my_office(principal, row)

        found = await scans.open_current(
            uow, ctx, row.scans, kind, case_ref=changes.case_ref(row.id), entitled=entitled
        )
    return document_response(found)


@router.post(
    "/{change_id}/submission",
    summary="Intake submits the change with its scans stored (ID-13)",
    response_model_exclude_unset=True,
)
async def submit_change(
    change_id: str, body: Submission, request: Request, principal: IntakeClerk, ctx: CtxDep, uow: UowDep
) -> ChangeOut:
    """Every scan the change needs must be stored (422 `MISSING_SCANS`; for another's vehicle the owner's
    documents, checked: 422 `OWNER_DOCUMENTS_REQUIRED`); it goes to review within 1 working day."""
    clerk = _clerk(request, principal, "clerk.intake")
    row = await changes.submit(uow, ctx, clerk, _id(change_id), body.owner_documents_checked)
    return change_view(row, uow.now)


@router.put(
    "/{change_id}",
    summary="Intake corrects a returned change and sends it to review again",
    response_model_exclude_unset=True,
)
async def correct_change(
    change_id: str, body: Submission, request: Request, principal: IntakeClerk, ctx: CtxDep, uow: UowDep
) -> ChangeOut:
    """A scan is stored again with `PUT /{id}/scans/{kind}` first."""
    clerk = _clerk(request, principal, "clerk.intake")
    row = await changes.correct(uow, ctx, clerk, _id(change_id), body.owner_documents_checked)
    return change_view(row, uow.now)


@router.post(
    "/{change_id}/return",
    summary="Review returns the change to intake on a mismatch",
    response_model_exclude_unset=True,
)
async def return_change(
    change_id: str, body: ReasonIn, request: Request, principal: ReviewClerk, ctx: CtxDep, uow: UowDep
) -> ChangeOut:
    clerk = _clerk(request, principal, "clerk.review")
    row = await changes.return_to_intake(uow, ctx, clerk, _id(change_id), body.reason)
    return change_view(row, uow.now)


@router.post(
    "/{change_id}/approve",
    summary="Review approves: the change takes effect, SMS by event",
    response_model_exclude_unset=True,
)
async def approve_change(
    change_id: str, request: Request, principal: ReviewClerk, ctx: CtxDep, uow: UowDep
) -> ChangeOut:
    row = await changes.approve(uow, ctx, _clerk(request, principal, "clerk.review"), _id(change_id))
    return change_view(row, uow.now)


@router.post(
    "/{change_id}/reject",
    summary="Review rejects, with the reason sent by SMS",
    response_model_exclude_unset=True,
)
async def reject_change(
    change_id: str, body: ReasonIn, request: Request, principal: ReviewClerk, ctx: CtxDep, uow: UowDep
) -> ChangeOut:
    clerk = _clerk(request, principal, "clerk.review")
    row = await changes.reject(uow, ctx, clerk, _id(change_id), body.reason)
    return change_view(row, uow.now)
