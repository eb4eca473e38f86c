"""Licence photos (ID-12, ID-15, DL-05): counter-registered personal users submit online; the review post
checks them within 1 working day and the approved photo is published for license.

The photo's bytes are stored with it (AR-01, `servicekit.documents`, case `licence_photo:<id>`): the
upload's body is the image itself, typed by its bytes (JPEG or PNG), and it is served only to its owner
and to clerks (of its office, when the clerk has one); anyone else is told it does not exist (404)."""

from __future__ import annotations

import uuid
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query, Request
from pydantic import BaseModel, Field
from sqlalchemy import select, update
from starlette.responses import Response

from identity_service import domain
from identity_service.api.common import USER_WRITE_LIMIT, CtxDep, load_account, parse_uuid
from identity_service.api.views import PhotoOut
from identity_service.published import LicencePhotoApproved, LicencePhotoRejected
from identity_service.tables import accounts, licence_photos
from servicekit.clock import SHANGHAI
from servicekit.documents import IMAGES, StoredDocument
from servicekit.ids import new_id
from servicekit.masking import mask_id_number
from servicekit.pagination import Page
from servicekit.uow import UnitOfWork
from servicekit.web import CurrentPrincipal, NotFound, Principal, UowDep, actor_from, require_roles
from servicekit.web.documents import document_response, read_upload
from servicekit.web.limits import per_user_limit

router = APIRouter(prefix="/api/v1/users", tags=["licence photos"])
ReviewClerk = Annotated[Principal, Depends(require_roles("clerk.review"))]


FORMATS = {"image/jpeg": "jpeg", "image/png": "png"}
UPLOAD_BODY = {
    "requestBody": {
        "required": True,
        "description": "The photo itself (JPEG or PNG, checked by its bytes)",
        "content": {t: {"schema": {"type": "string", "format": "binary"}} for t in FORMATS},
    }
}


def content_path(photo_id: uuid.UUID | str) -> str:
    return f"/api/v1/users/licence-photos/{photo_id}/content"


def case_ref(photo_id: uuid.UUID | str) -> str:
    """The case a licence photo's stored bytes are kept with (AR-01)."""
    return f"licence_photo:{photo_id}"


class ReviewChecks(BaseModel):
    """ID-15: what the review post confirms before storing the photo."""

    clear: bool
    valid_format: bool
    matches_registration_photo: bool


class RejectIn(BaseModel):
    reason: Annotated[str, Field(min_length=1, max_length=500)]


def photo_view(row: Any, now: Any) -> PhotoOut:
    return PhotoOut(
        id=str(row.id),
        account_id=str(row.account_id),
        id_number=mask_id_number(row.id_number),
        photo_ref=row.photo_ref,
        format=row.format,
        state=row.state,
        submitted_at=row.submitted_at.astimezone(SHANGHAI).isoformat(),
        deadline=row.deadline.astimezone(SHANGHAI).isoformat(),
        overdue=row.state == "pending" and now > row.deadline,
        reject_reason=row.reject_reason,
        content=content_path(row.id) if row.document_id is not None else None,
    )


@router.post(
    "/me/licence-photos",
    status_code=201,
    summary="Submit a licence photo: the body is the JPEG or PNG itself (ID-12, DL-05, AR-01)",
    dependencies=[Depends(per_user_limit(USER_WRITE_LIMIT, "licence-photos"))],
    openapi_extra=UPLOAD_BODY,
)
async def submit_photo(request: Request, principal: CurrentPrincipal, ctx: CtxDep, uow: UowDep) -> PhotoOut:
    content = await read_upload(request, ctx.documents.max_bytes)  # before the transaction opens
    async with uow:
        now = uow.now
        account = await load_account(uow.session, principal.subject)
        caps = domain.capabilities(account.category, account.kind, account.channel, account.roles)
        if "licence_photo_submission" not in caps:
            raise domain.NotCounterUser(
                "licence photos are submitted online by counter-registered personal users"
            )
        photo_id = new_id()
        document = await ctx.documents.store(
            uow.session,
            content,
            case_ref=case_ref(photo_id),
            owner=str(account.id),
            kind="licence_photo",
            allowed=IMAGES,
            created_by=principal.subject,
            now=now,
        )
        await uow.session.execute(
            licence_photos.insert().values(
                id=photo_id,
                account_id=account.id,
                id_number=account.id_number,
                office=account.office or ctx.settings.office_code,
                photo_ref=content_path(photo_id),
                format=FORMATS[document.media_type],
                document_id=document.id,
                state="pending",
                submitted_at=now,
                deadline=domain.review_deadline(now, ctx.calendar),
            )
        )
        uow.audit(actor_from(request, principal), "licence_photo_submitted", f"licence_photo:{photo_id}")
        await uow.commit()
        row = (await uow.session.execute(select(licence_photos).where(licence_photos.c.id == photo_id))).one()
    return photo_view(row, now)


@router.get("/me/licence-photos", summary="The caller's licence photos")
async def my_photos(principal: CurrentPrincipal, uow: UowDep) -> Page[PhotoOut]:
    async with uow:
        rows = (
            await uow.session.execute(
                select(licence_photos)
                .where(licence_photos.c.account_id == parse_uuid(principal.subject, "account"))
                .order_by(licence_photos.c.submitted_at)
            )
        ).all()
        now = uow.now
    return Page(items=[photo_view(r, now) for r in rows], next_cursor=None)


@router.get(
    "/licence-photos/{photo_id}/content",
    summary="The stored photo: to its owner and to clerks only (AR-01)",
    response_class=Response,
    responses={200: {"content": {t: {} for t in FORMATS}}, 404: {"description": "not there or not yours"}},
)
async def photo_content(photo_id: str, principal: CurrentPrincipal, ctx: CtxDep, uow: UowDep) -> Response:
    async with uow:
        row = (
            await uow.session.execute(
                select(licence_photos).where(licence_photos.c.id == parse_uuid(photo_id, "licence photo"))
            )
        ).first()
        if row is None or row.document_id is None:
            raise NotFound("licence photo")

        def entitled(document: StoredDocument) -> bool:
            if principal.subject == str(row.account_id) == document.owner:
                return True
            return principal.is_staff and principal.office in (None, row.office)

        found = await ctx.documents.open(
            uow.session, row.document_id, case_ref=case_ref(row.id), entitled=entitled
        )
    return document_response(found)


@router.get(
    "/licence-photos", summary="The review post's photo queue (ID-15), with deadlines and overdue flags"
)
async def photo_queue(
    principal: ReviewClerk,
    uow: UowDep,
    limit: Annotated[int, Query(ge=1, le=100)] = 50,
) -> Page[PhotoOut]:
    query = select(licence_photos).where(licence_photos.c.state == "pending")
    if principal.office is not None:
        query = query.where(licence_photos.c.office == principal.office)
    async with uow:
        rows = (await uow.session.execute(query.order_by(licence_photos.c.submitted_at).limit(limit))).all()
        now = uow.now
    return Page(items=[photo_view(r, now) for r in rows], next_cursor=None)


async def _pending(uow: UnitOfWork, photo_id: str, principal: Principal) -> Any:
    row = (
        await uow.session.execute(
            select(licence_photos)
            .where(licence_photos.c.id == parse_uuid(photo_id, "licence photo"))
            .with_for_update()
        )
    ).first()
    if (
        row is None
        or row.state != "pending"
        or (principal.office is not None and row.office != principal.office)
    ):
        raise NotFound("licence photo")
    return row


async def _phone(uow: UnitOfWork, account_id: Any) -> str | None:
    """NT-01: the registered phone the review outcome is told to."""
    phone: str | None = await uow.session.scalar(select(accounts.c.phone).where(accounts.c.id == account_id))
    return phone


@router.post("/licence-photos/{photo_id}/approve", summary="Approve and store the photo (ID-15)")
async def approve_photo(
    photo_id: str, body: ReviewChecks, request: Request, principal: ReviewClerk, uow: UowDep
) -> PhotoOut:
    """ID-15: the photo is clear, in a valid format and matches the registration photo; it is then stored
    (published as `identity.licence_photo.approved.v1` for license, DL-05)."""
    failed = [name for name, ok in body.model_dump().items() if not ok]
    if failed:
        raise domain.PhotoChecksFailed(
            f"the photo fails the checks: {', '.join(failed)}; reject it with the reason"
        )
    async with uow:
        now = uow.now
        row = await _pending(uow, photo_id, principal)
        await uow.session.execute(
            update(licence_photos)
            .where(licence_photos.c.id == row.id)
            .values(state="approved", reviewed_by=principal.subject, reviewed_at=now)
        )
        uow.emit(
            LicencePhotoApproved(
                photo_id=str(row.id),
                account_id=str(row.account_id),
                id_kind="resident_id",
                id_number=row.id_number,
                photo_ref=row.photo_ref,
                format=row.format,
                approved_at=now,
                phone=await _phone(uow, row.account_id),
            )
        )
        uow.audit(
            actor_from(request, principal, role="clerk.review"),
            "licence_photo_approved",
            f"licence_photo:{row.id}",
        )
        await uow.commit()
        row = (await uow.session.execute(select(licence_photos).where(licence_photos.c.id == row.id))).one()
    return photo_view(row, now)


@router.post("/licence-photos/{photo_id}/reject", summary="Reject the photo with the reason (ID-15)")
async def reject_photo(
    photo_id: str, body: RejectIn, request: Request, principal: ReviewClerk, uow: UowDep
) -> PhotoOut:
    async with uow:
        now = uow.now
        row = await _pending(uow, photo_id, principal)
        await uow.session.execute(
            update(licence_photos)
            .where(licence_photos.c.id == row.id)
            .values(
                state="rejected", reviewed_by=principal.subject, reviewed_at=now, reject_reason=body.reason
            )
        )
        uow.emit(
            LicencePhotoRejected(
                photo_id=str(row.id),
                account_id=str(row.account_id),
                phone=await _phone(uow, row.account_id),
                reason=body.reason,
                rejected_at=now,
            )
        )
        uow.audit(
            actor_from(request, principal, role="clerk.review"),
            "licence_photo_rejected",
            f"licence_photo:{row.id}",
            after={"reason": body.reason},
        )
        await uow.commit()
        row = (await uow.session.execute(select(licence_photos).where(licence_photos.c.id == row.id))).one()
    return photo_view(row, now)
