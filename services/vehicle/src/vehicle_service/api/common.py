"""What every router of the vehicle API shares: callers, input types, object-level access."""

from __future__ import annotations

import uuid
from datetime import date, datetime
from typing import Annotated, Any, Literal, Self

from fastapi import Depends
from pydantic import AfterValidator, BaseModel, ConfigDict, Field, model_validator
from sqlalchemy.engine import RowMapping

from servicekit.masking import mask_id_number, mask_phone
from servicekit.uow import UnitOfWork
from servicekit.validators import (
    mobile_phone,
    plate_number,
    resident_id,
    social_credit_code,
    vin,
)
from servicekit.vocabulary import UNIT_ID_KINDS, IdKindIn
from servicekit.web import NotFound, Principal, require_roles
from vehicle_service import records

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


UNIT_OWNER_ID_KINDS = UNIT_ID_KINDS


def owner_id(principal: Principal) -> str | None:
    """ADR 0012: whose vehicles are the caller's own: a person's identity number, a unit's unified social
    credit code (`idn` of a `kind: unit` token; the unit's agent signs in as the unit), nobody's for
    clerks and system clients."""
    if principal.is_staff or "system" in principal.roles:
        return None
    if principal.account_kind not in ("person", "unit"):
        return None
    return principal.id_number


def is_unit(principal: Principal) -> bool:
    return principal.account_kind == "unit"


def owner_kind_matches(principal: Principal, owner_id_kind: str | None) -> bool:
    """A unit owns only records whose owner is a unit (credit code), a person only a person's: an identity
    number and a credit code that happen to be spelt alike name different owners."""
    return (owner_id_kind in UNIT_OWNER_ID_KINDS) == is_unit(principal)


def owns(principal: Principal, row: RowMapping) -> bool:
    """ID-08, VH-01, VH-13: the caller, a person or a unit, is the recorded owner."""
    key = owner_id(principal)
    if key is None or key != row["owner_id_number"]:
        return False
    return owner_kind_matches(principal, row["owner_id_kind"])


def may_see(principal: Principal, row: RowMapping) -> bool:
    """Object-level access: an owner sees their vehicle, a clerk their office's, a system client all."""
    if "system" in principal.roles:
        return True
    if principal.is_staff:
        return principal.office is None or principal.office == row["office_code"]
    return owns(principal, row)


async def vehicle_for(
    uow: UnitOfWork, principal: Principal, vehicle_id: uuid.UUID, *, lock: bool = False
) -> RowMapping:
    """The vehicle, or 404 when it is not there or not the caller's to see (never 403)."""
    row = await records.load(uow, vehicle_id, lock=lock)
    if row is None or not may_see(principal, row):
        raise NotFound("vehicle")
    return row


async def own_vehicle(
    uow: UnitOfWork, principal: Principal, vehicle_id: uuid.UUID, *, lock: bool = False
) -> RowMapping:
    """A citizen's or unit's own vehicle (VH-02, VH-11, VH-13), or 404."""
    row = await records.load(uow, vehicle_id, lock=lock)
    if row is None or not owns(principal, row):
        raise NotFound("vehicle")
    return row
