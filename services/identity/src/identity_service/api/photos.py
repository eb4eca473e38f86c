"""Licence photos (ID-12, ID-15, DL-05): counter-registered personal users submit online; the review post
checks them within 1 working day and the approved photo is published for license."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, Query, Request
from pydantic import BaseModel, Field
from sqlalchemy import select, update

from identity_service import domain
from identity_service.api.common import USER_WRITE_LIMIT, CtxDep, load_account, parse_uuid
from identity_service.published import LicencePhotoApproved, LicencePhotoRejected
from identity_service.tables import accounts, licence_photos
from servicekit.clock import SHANGHAI
from servicekit.ids import new_id
from servicekit.masking import mask_id_number
from servicekit.uow import UnitOfWork
from servicekit.web import CurrentPrincipal, NotFound, Principal, UowDep, actor_from, require_roles
from servicekit.web.limits import per_user_limit

router = APIRouter(prefix="/api/v1/users", tags=["licence photos"])
ReviewClerk = Annotated[Principal, Depends(require_roles("clerk.review"))]
NotCounterUser = domain.refusal("COUNTER_REGISTRATION_REQUIRED", "ID-12")
ChecksFailed = domain.refusal("PHOTO_CHECKS_FAILED", "ID-15", 422)


class PhotoIn(BaseModel):
    photo_ref: Annotated[str, Field(min_length=1, max_length=200)]
    format: Literal["jpeg", "png"]


class ReviewChecks(BaseModel):
    """ID-15: what the review post confirms before storing the photo."""

    clear: bool
    valid_format: bool
    matches_registration_photo: bool


class RejectIn(BaseModel):
    reason: Annotated[str, Field(min_length=1, max_length=500)]


def photo_view(row: Any, now: Any) -> dict[str, Any]:
    return {
        "id": str(row.id),
        "account_id": str(row.account_id),
        "id_number": mask_id_number(row.id_number),
        "photo_ref": row.photo_ref,
        "format": row.format,
        "state": row.state,
        "submitted_at": row.submitted_at.astimezone(SHANGHAI).isoformat(),
        "deadline": row.deadline.astimezone(SHANGHAI).isoformat(),
        "overdue": row.state == "pending" and now > row.deadline,
        "reject_reason": row.reject_reason,
    }


@router.post(
    "/me/licence-photos",
    status_code=201,
    summary="Submit a licence photo (ID-12, DL-05)",
    dependencies=[Depends(per_user_limit(USER_WRITE_LIMIT, "licence-photos"))],
)
async def submit_photo(
    body: PhotoIn, request: Request, principal: CurrentPrincipal, ctx: CtxDep, uow: UowDep
) -> dict[str, Any]:
    async with uow:
        now = uow.now
        account = await load_account(uow.session, principal.subject)
        caps = domain.capabilities(account.category, account.kind, account.channel, account.roles)
        if "licence_photo_submission" not in caps:
            raise NotCounterUser("licence photos are submitted online by counter-registered personal users")
        photo_id = new_id()
        await uow.session.execute(
            licence_photos.insert().values(
                id=photo_id,
                account_id=account.id,
                id_number=account.id_number,
                office=account.office or ctx.settings.office_code,
                photo_ref=body.photo_ref,
                format=body.format,
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
async def my_photos(principal: CurrentPrincipal, uow: UowDep) -> dict[str, Any]:
    async with uow:
        rows = (
            await uow.session.execute(
                select(licence_photos)
                .where(licence_photos.c.account_id == parse_uuid(principal.subject, "account"))
                .order_by(licence_photos.c.submitted_at)
            )
        ).all()
        now = uow.now
    return {"items": [photo_view(r, now) for r in rows], "next_cursor": None}


@router.get(
    "/licence-photos", summary="The review post's photo queue (ID-15), with deadlines and overdue flags"
)
async def photo_queue(
    principal: ReviewClerk,
    uow: UowDep,
    limit: Annotated[int, Query(ge=1, le=100)] = 50,
) -> dict[str, Any]:
    query = select(licence_photos).where(licence_photos.c.state == "pending")
    if principal.office is not None:
        query = query.where(licence_photos.c.office == principal.office)
    async with uow:
        rows = (await uow.session.execute(query.order_by(licence_photos.c.submitted_at).limit(limit))).all()
        now = uow.now
    return {"items": [photo_view(r, now) for r in rows], "next_cursor": None}


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
) -> dict[str, Any]:
    """ID-15: the photo is clear, in a valid format and matches the registration photo; it is then stored
    (published as `identity.licence_photo.approved.v1` for license, DL-05)."""
    failed = [name for name, ok in body.model_dump().items() if not ok]
    if failed:
        raise ChecksFailed(f"the photo fails the checks: {', '.join(failed)}; reject it with the reason")
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
) -> dict[str, Any]:
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
