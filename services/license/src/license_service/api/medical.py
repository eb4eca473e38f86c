"""`/api/v1/medical-certificates`: hospitals enabled for online medicals (unit accounts with the `hospital`
role) submit medical certificates (身体条件证明) electronically (DL-09; the periodic one, DL-10)."""

from __future__ import annotations

import uuid
from datetime import date, datetime
from typing import Annotated, Self

from fastapi import APIRouter, Depends, Query, Request
from pydantic import BaseModel, Field, model_validator
from sqlalchemy.engine import RowMapping

from license_service import medical
from license_service.api.applications import ApplicationOut, application_out
from license_service.api.common import CLERKS, Hospital, Input
from license_service.domain import Conclusion, MedicalPurpose
from servicekit.masking import mask_id_number
from servicekit.uow import committed
from servicekit.validators import resident_id
from servicekit.web import IdempotencyKeyHeader, Principal, UowDep, actor_from, idempotent, require_roles

router = APIRouter(prefix="/api/v1/medical-certificates", tags=["medical-certificates"])

Reader = Annotated[Principal, Depends(require_roles("hospital", "citizen", *CLERKS, "system"))]
Name = Annotated[str, Field(min_length=1, max_length=100, pattern=r"^[^\x00]*$")]


class CertificateIn(Input):
    id_number: Annotated[str, Field(min_length=15, max_length=18)]
    name: Name
    purpose: MedicalPurpose = Field(description="DL-09's occasions, or `periodic` (DL-10)")
    conclusion: Conclusion
    examined_on: date
    doctor: Name | None = None
    remarks: Annotated[str, Field(max_length=500, pattern=r"^[^\x00]*$")] | None = None

    @model_validator(mode="after")
    def _resident_id(self) -> Self:
        object.__setattr__(self, "id_number", resident_id(self.id_number, field="id_number"))
        return self


class CertificateOut(BaseModel):
    id: uuid.UUID
    id_number: str
    name: str
    record_id: uuid.UUID | None
    hospital_code: str | None
    purpose: MedicalPurpose
    conclusion: Conclusion
    examined_on: date
    valid_until: date
    used_by: uuid.UUID | None = Field(description="the application it sent on (DL-09)")
    submitted_at: datetime


class SubmittedOut(BaseModel):
    certificate: CertificateOut
    applications: list[ApplicationOut] = Field(description="DL-09: the waiting applications it moved")


def certificate_out(row: RowMapping, *, masked: bool = False) -> CertificateOut:
    data = {k: row[k] for k in CertificateOut.model_fields}
    if masked:
        data["id_number"] = mask_id_number(data["id_number"])
    return CertificateOut.model_validate(data)


@router.post("", status_code=201, response_model=SubmittedOut, summary="Submit a medical certificate (DL-09)")
async def submit(
    body: CertificateIn,
    request: Request,
    uow: UowDep,
    principal: Hospital,
    _key: IdempotencyKeyHeader = None,
) -> object:
    """An examination of at most six months ago (422 otherwise); the name must match the person's licence
    record. A fit certificate sends the person's renewal or over-age exchange waiting for it to intake; an
    unfit one ends it with the reason (told by SMS). `periodic` (DL-10): for a holder aged 60 or over or
    holding C5 whose review date is reached (409 otherwise); a fit one moves the review date a period on."""

    async def run() -> SubmittedOut:
        done = await committed(
            uow,
            medical.submit,
            principal,
            actor_from(request, principal),
            medical.Submission(**body.model_dump()),
        )
        return SubmittedOut(
            certificate=certificate_out(done.certificate),
            applications=[application_out(a, masked=True) for a in done.applications],
        )

    return await idempotent(request, principal.subject, run, status_code=201)


@router.get("", response_model=list[CertificateOut], summary="Certificates")
async def list_certificates(
    uow: UowDep,
    principal: Reader,
    id_number: Annotated[str | None, Query(min_length=15, max_length=18, pattern=r"^[0-9Xx]+$")] = None,
    limit: Annotated[int, Query(ge=1, le=200)] = 50,
) -> list[CertificateOut]:
    """A hospital its own submissions (optionally for one person); a citizen their own; clerks and police
    systems by `id_number`. Identity numbers masked."""
    number = id_number.upper() if id_number else None
    rows = await committed(uow, medical.listing, principal, number, limit)
    return [certificate_out(r, masked=True) for r in rows]


@router.get("/{certificate_id}", response_model=CertificateOut, summary="One certificate")
async def get_certificate(certificate_id: uuid.UUID, uow: UowDep, principal: Reader) -> CertificateOut:
    """The hospital that submitted it, the person, clerks, police systems; others 404."""
    return certificate_out(await committed(uow, medical.get, principal, certificate_id))
