"""`/api/v1/licences/{record_id}/contact`: the driver's contact details (DL-04), any personal user, own
licence only (others 404), applied at once."""

from __future__ import annotations

import uuid
from typing import Annotated, Self

from fastapi import APIRouter, Request
from pydantic import AfterValidator, BaseModel, Field, model_validator

from license_service import contact
from license_service.api.common import Input, Personal
from servicekit.uow import committed
from servicekit.validators import mobile_phone
from servicekit.web import UowDep, actor_from

router = APIRouter(prefix="/api/v1/licences", tags=["licences"])


class ContactIn(Input):
    phone: Annotated[str, AfterValidator(mobile_phone)] | None = None
    address: Annotated[str, Field(min_length=5, max_length=300, pattern=r"^[^\x00]*$")] | None = None

    @model_validator(mode="after")
    def _something(self) -> Self:
        if self.phone is None and self.address is None:
            raise ValueError("give a phone, an address or both")
        return self


class ContactOut(BaseModel):
    phone: str | None
    address: str | None


@router.get("/{record_id}/contact", response_model=ContactOut, summary="The driver's contact details")
async def get_contact(record_id: uuid.UUID, uow: UowDep, principal: Personal) -> ContactOut:
    found = await committed(uow, contact.get, principal, record_id)
    return ContactOut(phone=found.phone, address=found.address)


@router.put("/{record_id}/contact", response_model=ContactOut, summary="Change the driver's contact (DL-04)")
async def change_contact(
    record_id: uuid.UUID, body: ContactIn, request: Request, uow: UowDep, principal: Personal
) -> ContactOut:
    """Any personal user, counter- or online-registered, for their own licence (else 404), not a
    cancelled one: the phone on the record (published as `license.record.changed.v1`, change `phone`) and
    the mailing address (the default address of a mailed licence), at once."""
    actor = actor_from(request, principal)
    found = await committed(uow, contact.change, principal, actor, record_id, body.phone, body.address)
    return ContactOut(phone=found.phone, address=found.address)
