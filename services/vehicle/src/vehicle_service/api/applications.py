"""`/api/v1/vehicle-applications`: reissue (lost) and replacement (damaged) of plates, vehicle licence and
inspection mark (VH-02..VH-10): the citizen's application (a mark's with its insurance certificate's image
stored with it, AR-01), the office's queue and steps, the post's delivery updates, the archive."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Annotated, Literal

from fastapi import APIRouter, Query, Request
from pydantic import BaseModel, Field, model_validator
from sqlalchemy.engine import RowMapping
from starlette.responses import Response

from servicekit.documents import SCANS
from servicekit.masking import mask_phone
from servicekit.uow import committed
from servicekit.web import IdempotencyKeyHeader, UowDep, actor_from, idempotent
from servicekit.web.documents import document_response, read_upload
from vehicle_service import applications as cases
from vehicle_service.api.common import (
    AnyCaller,
    Archivist,
    Documents,
    Input,
    Intake,
    Personal,
    Phone,
    SystemOnly,
)

router = APIRouter(prefix="/api/v1/vehicle-applications", tags=["vehicle-applications"])


class ApplicationIn(Input):
    vehicle_id: uuid.UUID
    item: Literal["plate", "licence", "mark"]
    kind: Literal["reissue", "replace"]
    delivery: Literal["mail", "pickup"]
    address: Annotated[str, Field(min_length=5, max_length=300)] | None = None
    phone: Phone | None = Field(
        default=None, description="Contact for this case; default: the record's phone"
    )
    temp_plate: bool = False

    @model_validator(mode="after")
    def _consistent(self) -> ApplicationIn:
        if self.delivery == "mail" and not self.address:
            raise ValueError("a mailed delivery needs an address")
        if self.temp_plate and self.item != "plate":
            raise ValueError("a temporary plate is offered only with a plate reissue or replacement (VH-08)")
        if self.item == "mark" and self.kind == "replace":
            raise ValueError("an inspection mark is reissued (补领), not replaced")
        return self


class ApplicationOut(BaseModel):
    id: uuid.UUID
    vehicle_id: uuid.UUID
    plate_number: str
    office_code: str
    item: str
    kind: str
    delivery: str
    phone: str
    temp_plate: bool
    state: str
    intake_due: datetime | None = Field(
        description="VH-09: 1 working day from the submission; none for a draft"
    )
    insurance_photo: str | None = Field(
        default=None, description="VH-09 / AR-01: the path of the stored insurance certificate, for a mark"
    )
    ready_at: datetime | None
    pickup_due: datetime | None
    tracking_number: str | None
    archived: bool
    returned_item_received: bool
    returned_item_destroyed: bool
    core_number_restored: bool
    refusal_reason: str | None
    created_at: datetime
    updated_at: datetime
    intake_overdue: bool = Field(
        default=False, description="VH-09: still submitted after its 1-working-day intake deadline"
    )


def _out(row: RowMapping, *, masked: bool = False, now: datetime | None = None) -> ApplicationOut:
    data = {k: row[k] for k in ApplicationOut.model_fields if k not in ("intake_overdue", "insurance_photo")}
    data["intake_overdue"] = now is not None and row["state"] == "submitted" and now > row["intake_due"]
    if row["insurance_photo_id"] is not None:
        data["insurance_photo"] = f"/api/v1/vehicle-applications/{row['id']}/insurance-photo"
    if masked:
        data["phone"] = mask_phone(data["phone"])
    return ApplicationOut.model_validate(data)


@router.post("", status_code=201, response_model=ApplicationOut, summary="Apply for a reissue or replacement")
async def apply(
    body: ApplicationIn,
    request: Request,
    uow: UowDep,
    principal: Personal,
    _key: IdempotencyKeyHeader = None,
) -> object:
    """VH-02..VH-09 as the citizen applies: counter-registered users, for vehicles they own and have bound
    to their account in identity (VH-02, ADR 0044); no active one-year ban (VH-07); not in the VH-03
    states; plate kinds the office offers online (VH-08); a licence only with its photo stored (VH-04); a
    second or later plate reissue is not mailed (VH-05); a mark only with inspection passed and insurance
    valid (VH-09). The office must take it in within 1 working day (`intake_due`). A mark's application
    opens as a `draft`: store the insurance certificate with it (`PUT /{id}/insurance-photo`), then submit it
    (`POST /{id}/submission`)."""

    async def run() -> ApplicationOut:
        ask = cases.Request(**body.model_dump())
        return _out(await committed(uow, cases.apply, principal, actor_from(request, principal), ask))

    return await idempotent(request, principal.subject, run, status_code=201)


@router.put(
    "/{application_id}/insurance-photo",
    response_model=ApplicationOut,
    summary="Store the insurance certificate with a mark's draft: the body is the JPEG, PNG or PDF (AR-01)",
    openapi_extra={
        "requestBody": {
            "required": True,
            "description": "The image or the insurer's PDF itself, checked by its bytes",
            "content": {t: {"schema": {"type": "string", "format": "binary"}} for t in SCANS},
        }
    },
)
async def store_insurance_photo(
    application_id: uuid.UUID, request: Request, uow: UowDep, principal: Personal, store: Documents
) -> ApplicationOut:
    """VH-09 / AR-01: the applicant's own draft only (409 once submitted, 404 for anyone else's). Typed by
    its bytes (415 `DOCUMENT_TYPE_NOT_ALLOWED`) and size-checked (413 `DOCUMENT_TOO_LARGE`), both AR-01;
    stored again, it replaces the first in the application (the first stays stored with it)."""
    content = await read_upload(request, store.max_bytes)  # before the transaction opens
    actor = actor_from(request, principal)
    return _out(
        await committed(uow, cases.store_insurance_photo, principal, actor, store, application_id, content),
        now=uow.now,
    )


@router.get(
    "/{application_id}/insurance-photo",
    summary="The stored insurance certificate: to the applicant and the office's clerks (AR-01)",
    response_class=Response,
    responses={200: {"content": {t: {} for t in SCANS}}, 404: {"description": "not there or not yours"}},
)
async def insurance_photo(
    application_id: uuid.UUID, uow: UowDep, principal: AnyCaller, store: Documents
) -> Response:
    return document_response(await committed(uow, cases.insurance_photo, principal, store, application_id))


@router.post("/{application_id}/submission", response_model=ApplicationOut, summary="Submit a mark's draft")
async def submit(
    application_id: uuid.UUID, request: Request, uow: UowDep, principal: Personal
) -> ApplicationOut:
    """VH-09: with its insurance certificate stored (422 `INSURANCE_PHOTO_MISSING` otherwise); the rules of
    the application are checked again, and the office's 1 working day starts now."""
    actor = actor_from(request, principal)
    return _out(await committed(uow, cases.submit, principal, actor, application_id), now=uow.now)


@router.get("", response_model=list[ApplicationOut], summary="My applications, or the office queue")
async def list_applications(
    uow: UowDep,
    principal: AnyCaller,
    state: Annotated[str | None, Query(max_length=24)] = None,
    limit: Annotated[int, Query(ge=1, le=200)] = 50,
) -> list[ApplicationOut]:
    """VH-09: a clerk sees the office's queue (oldest intake deadline first, by state); a citizen their own
    applications. Phones are masked in the list."""
    rows = await committed(uow, cases.listing, principal, state, limit)
    return [_out(r, masked=True, now=uow.now) for r in rows]


@router.get("/{application_id}", response_model=ApplicationOut, summary="One application")
async def get_application(application_id: uuid.UUID, uow: UowDep, principal: AnyCaller) -> ApplicationOut:
    return _out(await committed(uow, cases.get, principal, application_id), now=uow.now)


class IntakeIn(Input):
    decision: Literal["accept", "reject"]
    reason: Annotated[str, Field(min_length=1, max_length=300)] | None = None
    insurance_photo_valid: bool | None = Field(
        default=None, description="VH-09, marks only: the photo is clear, complete, unaltered, valid, matches"
    )


@router.post("/{application_id}/intake", response_model=ApplicationOut, summary="Intake (受理)")
async def intake(
    application_id: uuid.UUID, body: IntakeIn, request: Request, uow: UowDep, principal: Intake
) -> ApplicationOut:
    """VH-09: the intake post re-checks the VH-03 states (they may have changed since the application)
    and, for a mark, the insurance certificate's photo; then accepts or rejects with a reason."""
    actor = actor_from(request, principal)
    return _out(await committed(uow, cases.intake, principal, actor, application_id, **body.model_dump()))


@router.post("/{application_id}/production", response_model=ApplicationOut, summary="Items produced")
async def produce(
    application_id: uuid.UUID, request: Request, uow: UowDep, principal: Intake
) -> ApplicationOut:
    """VH-09: the office made the items (and the temporary plate if asked). A plate counts toward the
    vehicle's reissues (VH-05)."""
    return _out(
        await committed(uow, cases.produce, principal, actor_from(request, principal), application_id)
    )


@router.post("/{application_id}/handoff", response_model=ApplicationOut, summary="Mail or make ready")
async def handoff(
    application_id: uuid.UUID, request: Request, uow: UowDep, principal: Intake
) -> ApplicationOut:
    """VH-09: mail goes to the post (tracking number kept); pickup becomes ready, due within one month
    (VH-07)."""
    return _out(
        await committed(uow, cases.handoff, principal, actor_from(request, principal), application_id)
    )


class PickupIn(Input):
    damaged_item_returned: bool = False


@router.post("/{application_id}/pickup", response_model=ApplicationOut, summary="Collected at the counter")
async def picked_up(
    application_id: uuid.UUID, body: PickupIn, request: Request, uow: UowDep, principal: Intake
) -> ApplicationOut:
    """VH-06: for a replaced plate or licence the damaged one is handed to the counter at pickup."""
    actor = actor_from(request, principal)
    return _out(
        await committed(uow, cases.pick_up, principal, actor, application_id, body.damaged_item_returned)
    )


@router.post("/{application_id}/missed-pickup", response_model=ApplicationOut, summary="Not collected")
async def missed_pickup(
    application_id: uuid.UUID, request: Request, uow: UowDep, principal: Intake
) -> ApplicationOut:
    """VH-07/VH-09: the office records a pickup missed for a month (the worker's sweep does it too)."""
    return _out(
        await committed(uow, cases.miss_pickup, principal, actor_from(request, principal), application_id)
    )


class PostEventIn(Input):
    tracking_number: Annotated[str, Field(min_length=1, max_length=64)]
    event: Literal["delivered", "refused"]
    damaged_item_collected: bool = False


post_router = APIRouter(prefix="/api/v1/vehicle-applications/post-events", tags=["vehicle-applications"])


@post_router.post("", response_model=ApplicationOut, summary="A delivery update from the post")
async def post_event(
    body: PostEventIn, request: Request, uow: UowDep, principal: SystemOnly
) -> ApplicationOut:
    """VH-05/VH-06/VH-07: the post reports delivered (with the damaged item collected, for a replacement)
    or refused; a refusal bans online reissue and replacement for a year."""
    actor = actor_from(request, principal)
    return _out(await committed(uow, cases.post_event, actor, **body.model_dump()))


class ArchiveIn(Input):
    action: Literal["file", "destroy_returned", "settle"]


@router.post("/{application_id}/archive", response_model=ApplicationOut, summary="Archive post (档案岗)")
async def archive(
    application_id: uuid.UUID, body: ArchiveIn, request: Request, uow: UowDep, principal: Archivist
) -> ApplicationOut:
    """VH-10: `file` an eligible case (intake passed); `destroy_returned` the damaged plate or licence
    handed back; `settle` a refused or missed case: restore the certificate core number when it was
    filed, otherwise withdraw the case (退办)."""
    actor = actor_from(request, principal)
    return _out(await committed(uow, cases.archive, principal, actor, application_id, body.action))
