"""What every router of the vehicle API shares: callers, input types, the record's output, and running a
use case: `servicekit.uow.committed`. Object-level access is `vehicle_service.access`."""

from __future__ import annotations

import uuid
from datetime import date, datetime
from typing import Annotated, Any, Literal, Self

from fastapi import Depends, Request
from pydantic import AfterValidator, BaseModel, ConfigDict, Field, model_validator
from sqlalchemy.engine import RowMapping

from servicekit.documents import DocumentStore
from servicekit.masking import mask_id_number, mask_phone
from servicekit.validators import (
    mobile_phone,
    plate_number,
    resident_id,
    social_credit_code,
    vin,
)
from servicekit.vocabulary import IdKindIn
from servicekit.web import Principal, require_roles

CLERKS = ("clerk.intake", "clerk.review", "clerk.archive", "clerk.admin")

Citizen = Annotated[Principal, Depends(require_roles("citizen", "unit"))]
# Personal users only: services ID-08 does not give units (reissue/replacement VH-02, contact change VH-11).
Personal = Annotated[Principal, Depends(require_roles("citizen"))]
Clerk = Annotated[Principal, Depends(require_roles(*CLERKS))]
ClerkOrSystem = Annotated[Principal, Depends(require_roles(*CLERKS, "system"))]
Registrar = Annotated[Principal, Depends(require_roles("clerk.intake", "system"))]
System = Annotated[Principal, Depends(require_roles("system", "clerk.admin"))]
SystemOnly = Annotated[Principal, Depends(require_roles("system"))]
Intake = Annotated[Principal, Depends(require_roles("clerk.intake"))]
Archivist = Annotated[Principal, Depends(require_roles("clerk.archive"))]
AnyCaller = Annotated[Principal, Depends(require_roles("citizen", "unit", *CLERKS, "system"))]

Phone = Annotated[str, AfterValidator(mobile_phone)]
Vin = Annotated[str, AfterValidator(vin)]
PlateNumber = Annotated[str, AfterValidator(plate_number)]
PlateKind = Annotated[str, Field(pattern=r"^\d{2}$", description="GA 24.7 plate kind, e.g. 02 small car")]
OfficeCode = Annotated[str, Field(pattern=r"^\d{6}$", description="administrative division code")]
Use = Literal["commercial", "non_commercial"]


class Input(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)


class OwnerIn(Input):
    id_kind: IdKindIn  # ADR 0045: one vocabulary; another system's `social_credit_code` reads as `uscc`
    id_number: Annotated[str, Field(min_length=5, max_length=32)]
    name: Annotated[str, Field(min_length=1, max_length=100)]

    @model_validator(mode="after")
    def _number_fits_kind(self) -> Self:
        if self.id_kind == "resident_id":
            object.__setattr__(self, "id_number", resident_id(self.id_number, field="owner.id_number"))
        elif self.id_kind == "uscc":
            object.__setattr__(self, "id_number", social_credit_code(self.id_number, field="owner.id_number"))
        else:
            object.__setattr__(self, "id_number", self.id_number.upper())
        return self


class VehicleOut(BaseModel):
    id: uuid.UUID
    office_code: str
    plate_kind: str
    plate_number: str
    vin: str
    vehicle_kind: str
    owner_id_kind: str
    owner_id_number: str
    owner_name: str
    phone: str
    use: str
    state: str
    flags: list[str]
    inspection_valid_until: date | None
    insurance_valid_until: date | None
    licence_photo_stored: bool
    plate_reissue_count: int
    registered_at: datetime
    updated_at: datetime
    version: int


def vehicle_out(row: RowMapping | dict[str, Any], *, masked: bool = False) -> VehicleOut:
    data = {key: row[key] for key in VehicleOut.model_fields}
    data["flags"] = list(data["flags"])
    if masked:
        data["owner_id_number"] = mask_id_number(data["owner_id_number"])
        data["phone"] = mask_phone(data["phone"])
    return VehicleOut.model_validate(data)


def document_store(request: Request) -> DocumentStore:
    """The stored documents (AR-01) of this process, built once from the `documents` settings (the service's
    own database, or an S3-compatible store) on first use."""
    store = getattr(request.app.state, "documents", None)
    if not isinstance(store, DocumentStore):
        runtime = request.app.state.runtime
        store = DocumentStore.from_settings(runtime.metadata, runtime.settings.documents)
        request.app.state.documents = store
    return store


Documents = Annotated[DocumentStore, Depends(document_store)]
