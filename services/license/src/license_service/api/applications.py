"""`/api/v1/licence-applications`: reissue of a lost licence (DL-02), replacement of a damaged one (DL-03),
deferrals (DL-06), renewal on expiry (DL-07), the over-age exchange (DL-08): the citizen's application and
its printable receipt, the office's queue and steps (`application_steps.py`), the post's reports."""

from __future__ import annotations

import uuid
from datetime import date, datetime
from typing import Annotated, Literal

from fastapi import APIRouter, Depends, Query, Request, Response
from pydantic import AfterValidator, BaseModel, Field, model_validator
from sqlalchemy.engine import RowMapping

from license_service import applications as cases
from license_service import domain, receipt, records
from license_service.api.common import CLERKS, Input, Personal
from license_service.domain import ApplicationKind, ApplicationState, Delivery, LicenceClass
from servicekit.masking import mask_phone
from servicekit.uow import UnitOfWork, committed
from servicekit.validators import mobile_phone
from servicekit.web import IdempotencyKeyHeader, Principal, UowDep, actor_from, idempotent, require_roles

router = APIRouter(prefix="/api/v1/licence-applications", tags=["licence-applications"])

PersonalOrClerk = Annotated[Principal, Depends(require_roles("citizen", *CLERKS))]
Phone = Annotated[str, AfterValidator(mobile_phone)]
# PostgreSQL refuses a NUL in text: refused here as bad input, never a 500.
Address = Annotated[str, Field(min_length=5, max_length=300, pattern=r"^[^\x00]*$")]
Note = Annotated[str, Field(min_length=1, max_length=500, pattern=r"^[^\x00]*$")]


class ApplicationIn(Input):
    kind: ApplicationKind
    delivery: Delivery | None = Field(
        default=None, description="mail or pickup: for the kinds that produce a licence (DL-02, 03, 07, 08)"
    )
    address: Address | None = Field(default=None, description="for mail; default: the one on file (DL-04)")
    phone: Phone | None = Field(default=None, description="contact for this case; default: the record's")
    target_class: LicenceClass | None = Field(default=None, description="DL-08: C1 or C2 (60+), F (70+)")
    months: Annotated[int, Field(ge=1, le=domain.MAX_DEFERRAL_MONTHS)] | None = Field(
        default=None, description="DL-06: how long to defer, in months"
    )
    deferral_reason: Literal["military_service", "abroad", "other"] | None = None
    deferral_note: Note | None = None

    @model_validator(mode="after")
    def _fits_the_kind(self) -> ApplicationIn:
        produces = self.kind in domain.PRODUCES_A_LICENCE
        if produces and self.delivery is None:
            raise ValueError("delivery: mail or pickup, for a new licence")
        if not produces and self.delivery is not None:
            raise ValueError("delivery: a deferral produces no licence")
        if (self.kind == "over_age") != (self.target_class is not None):
            raise ValueError("target_class: given for the over-age exchange (DL-08), and only for it")
        deferral = self.kind in domain.DEFERRALS
        if deferral != (self.months is not None) or deferral != (self.deferral_reason is not None):
            raise ValueError("months and deferral_reason: given for a deferral (DL-06), and only for one")
        return self


class ApplicationOut(BaseModel):
    id: uuid.UUID
    record_id: uuid.UUID
    office_code: str
    kind: ApplicationKind
    rule: str
    state: ApplicationState
    delivery: Delivery | None
    phone: str
    target_class: str | None
    deferral_due: date | None
    deferred_to: date | None
    deferral_reason: str | None
    medical_certificate_id: uuid.UUID | None
    medical_wait_until: datetime | None
    tracking_number: str | None
    ready_at: datetime | None
    pickup_due: datetime | None
    old_card_returned: bool
    refusal_reason: str | None = Field(description="why it was refused, as the person is told by SMS")
    created_at: datetime
    updated_at: datetime


def application_out(row: RowMapping, *, masked: bool = False) -> ApplicationOut:
    data = {k: row[k] for k in ApplicationOut.model_fields if k != "rule"}
    data["rule"] = domain.RULE_OF[row["kind"]]
    if masked:
        data["phone"] = mask_phone(data["phone"])
    return ApplicationOut.model_validate(data)


@router.post("", status_code=201, response_model=ApplicationOut, summary="Apply (DL-02, 03, 06, 07, 08)")
async def apply(
    body: ApplicationIn,
    request: Request,
    uow: UowDep,
    principal: Personal,
    _key: IdempotencyKeyHeader = None,
) -> object:
    """For the caller's own licence (none: 404). Counter-registered users only (each kind's rule); not a
    revoked or cancelled licence; VH-07: during a ban no reissue or replacement, and a new card is picked
    up, not mailed; DL-05: a new card needs a current photo; DL-07: from 90 days before expiry to 11
    months after; DL-08: A1-B2 at 60 for C1/C2, D/E at 70 for F; DL-06: at least a month before the date,
    at most three years; one open application per slot (every card-producing kind shares one). A renewal
    or over-age exchange waits for a hospital's medical certificate (`awaiting_medical`) unless a fit one
    is on file (DL-09)."""

    async def run() -> ApplicationOut:
        ask = cases.Request(**body.model_dump())
        return application_out(
            await committed(uow, cases.apply, principal, actor_from(request, principal), ask)
        )

    return await idempotent(request, principal.subject, run, status_code=201)


@router.get("", response_model=list[ApplicationOut], summary="My applications, or the office queue")
async def list_applications(
    uow: UowDep,
    principal: PersonalOrClerk,
    state: ApplicationState | None = None,
    kind: ApplicationKind | None = None,
    limit: Annotated[int, Query(ge=1, le=200)] = 50,
) -> list[ApplicationOut]:
    """A clerk sees the office's queue (oldest first, by state and kind); a citizen their own applications.
    Phones are masked in the list."""
    rows = await committed(uow, cases.listing, principal, state, kind, limit)
    return [application_out(r, masked=True) for r in rows]


@router.get("/{application_id}", response_model=ApplicationOut, summary="One application")
async def get_application(
    application_id: uuid.UUID, uow: UowDep, principal: PersonalOrClerk
) -> ApplicationOut:
    """The applicant's own, or one of the clerk's office; anything else 404."""
    return application_out(await committed(uow, cases.get, principal, application_id))


async def _receipt(uow: UnitOfWork, principal: Principal, application_id: uuid.UUID) -> bytes:
    row = await cases.get(uow, principal, application_id)
    record = await records.load(uow, row["record_id"])
    assert record is not None
    return receipt.render(row, record["name"])


@router.get(
    "/{application_id}/receipt",
    summary="The printable receipt (申请回执), PDF",
    response_class=Response,
    responses={200: {"content": {"application/pdf": {}}}},
)
async def get_receipt(application_id: uuid.UUID, uow: UowDep, principal: PersonalOrClerk) -> Response:
    """The application's number, business, state and next step, identity number, phone and address masked;
    the applicant's own or their office's clerks'."""
    pdf = await committed(uow, _receipt, principal, application_id)
    return Response(
        pdf,
        media_type="application/pdf",
        headers={
            "Content-Disposition": f'inline; filename="licence-application-{application_id}.pdf"',
            "Cache-Control": "private, no-store",
        },
    )
