"""`/api/v1/vehicles/{id}/...`: the changes clerks and other police systems make to a record: transfer,
deregistration and change of use (VH-16, published for ID-14), police markers and state (VH-01/VH-03),
inspection and insurance dates (VH-01), the licence photo (VH-04). Use cases in `vehicles.py`."""

from __future__ import annotations

import uuid
from datetime import date
from typing import Literal

from fastapi import APIRouter, Request
from pydantic import Field

from servicekit.uow import committed
from servicekit.web import Unprocessable, UowDep, actor_from
from vehicle_service import domain
from vehicle_service import vehicles as cases
from vehicle_service.api.common import Input, OwnerIn, Phone, Registrar, Use, VehicleOut, vehicle_out

router = APIRouter(prefix="/api/v1/vehicles", tags=["vehicles"])


# --- VH-16: changes by clerks and other police systems ---------------------------------------------


class TransferIn(Input):
    owner: OwnerIn
    phone: Phone


@router.post("/{vehicle_id}/transfer", response_model=VehicleOut, summary="Transfer of ownership")
async def transfer_vehicle(
    vehicle_id: uuid.UUID, body: TransferIn, request: Request, uow: UowDep, principal: Registrar
) -> VehicleOut:
    """VH-16: the new owner on the record, published for ID-14 (identity unbinds the others)."""
    owner = domain.Owner(body.owner.id_kind, body.owner.id_number, body.owner.name)
    actor = actor_from(request, principal)
    return vehicle_out(await committed(uow, cases.transfer, principal, actor, vehicle_id, owner, body.phone))


class DeregistrationIn(Input):
    forced: bool = False


@router.post("/{vehicle_id}/deregistration", response_model=VehicleOut, summary="Deregistration")
async def deregister_vehicle(
    vehicle_id: uuid.UUID, body: DeregistrationIn, request: Request, uow: UowDep, principal: Registrar
) -> VehicleOut:
    """VH-16: deregistered (or force-deregistered), published for ID-14."""
    actor = actor_from(request, principal)
    return vehicle_out(await committed(uow, cases.deregister, principal, actor, vehicle_id, body.forced))


class UseIn(Input):
    use: Use


@router.put("/{vehicle_id}/use", response_model=VehicleOut, summary="Change of use")
async def change_use(
    vehicle_id: uuid.UUID, body: UseIn, request: Request, uow: UowDep, principal: Registrar
) -> VehicleOut:
    """VH-16: a change of use, published for ID-14."""
    actor = actor_from(request, principal)
    return vehicle_out(await committed(uow, cases.change_use, principal, actor, vehicle_id, body.use))


Flag = Literal["stolen", "suspended", "suspect", "detained", "seized", "hit_and_run", "locked"]


class StateIn(Input):
    state: Literal["registered", "transferred_out"] = "registered"
    flags: list[Flag] = Field(default_factory=list)


@router.put("/{vehicle_id}/state", response_model=VehicleOut, summary="Police markers and state")
async def set_state(
    vehicle_id: uuid.UUID, body: StateIn, request: Request, uow: UowDep, principal: Registrar
) -> VehicleOut:
    """VH-01/VH-03: what other police systems record (stolen, locked, transferred out, ...), published.
    Deregistration has its own endpoint (its own event, ID-14)."""
    actor = actor_from(request, principal)
    return vehicle_out(
        await committed(uow, cases.set_state, principal, actor, vehicle_id, body.state, list(body.flags))
    )


class ValidityIn(Input):
    inspection_valid_until: date | None = None
    insurance_valid_until: date | None = None


@router.patch("/{vehicle_id}/validity", response_model=VehicleOut, summary="Inspection and insurance dates")
async def set_validity(
    vehicle_id: uuid.UUID, body: ValidityIn, request: Request, uow: UowDep, principal: Registrar
) -> VehicleOut:
    """VH-01: the inspection (from the stations' system) and compulsory insurance (from the insurers'
    platform) valid-until dates, published."""
    dates = body.model_dump(exclude_unset=True)
    if not dates:
        raise Unprocessable("NOTHING_TO_CHANGE", "give inspection_valid_until or insurance_valid_until")
    actor = actor_from(request, principal)
    return vehicle_out(await committed(uow, cases.set_validity, principal, actor, vehicle_id, dates))


class LicencePhotoIn(Input):
    stored: bool


@router.put("/{vehicle_id}/licence-photo", response_model=VehicleOut, summary="Licence photo stored")
async def set_licence_photo(
    vehicle_id: uuid.UUID, body: LicencePhotoIn, request: Request, uow: UowDep, principal: Registrar
) -> VehicleOut:
    """VH-01/VH-04: whether the vehicle licence photo is stored in the information system."""
    actor = actor_from(request, principal)
    return vehicle_out(
        await committed(uow, cases.set_licence_photo, principal, actor, vehicle_id, body.stored)
    )
