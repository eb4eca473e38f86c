"""`/api/v1/vehicles`: the records (VH-01), first registration (VH-15), the owner's contact change (VH-11)
and the pre-selection feed (PP-09); the changes clerks and other police systems make (VH-16) are in
`api/vehicle_changes.py`, the use cases in `vehicles.py`."""

from __future__ import annotations

import uuid
from datetime import date, datetime
from typing import Annotated, Literal

from fastapi import APIRouter, Query, Request
from pydantic import BaseModel, Field

from servicekit.pagination import InvalidCursor, Page, clamp_limit, decode_cursor, encode_cursor
from servicekit.uow import committed
from servicekit.web import (
    IdempotencyKeyHeader,
    Unprocessable,
    UowDep,
    actor_from,
    idempotent,
)
from vehicle_service import domain, records, registration
from vehicle_service import vehicles as cases
from vehicle_service.api.common import (
    AnyCaller,
    Input,
    OfficeCode,
    OwnerIn,
    Personal,
    Phone,
    PlateKind,
    PlateNumber,
    Registrar,
    System,
    Use,
    VehicleOut,
    Vin,
    vehicle_out,
)

router = APIRouter(prefix="/api/v1/vehicles", tags=["vehicles"])


# --- reading -----------------------------------------------------------------------------------


@router.get("", response_model=Page[VehicleOut], summary="Vehicles: a citizen's own, or a search")
async def list_vehicles(
    uow: UowDep,
    principal: AnyCaller,
    plate_number: Annotated[str | None, Query(max_length=10)] = None,
    vin: Annotated[str | None, Query(max_length=17)] = None,
    owner_id_number: Annotated[str | None, Query(max_length=32)] = None,
    limit: Annotated[int | None, Query(ge=1, le=100)] = None,
    cursor: Annotated[str | None, Query(max_length=1024)] = None,
) -> Page[VehicleOut]:
    """VH-01. A citizen or unit lists the vehicles they own; a clerk (own office) or a system client
    searches by plate, VIN or owner. Identity numbers and phones are masked in the list."""
    size = clamp_limit(limit)
    if not cases.searches_own(principal) and not (plate_number or vin or owner_id_number):
        raise Unprocessable("SEARCH_NEEDS_A_KEY", "give plate_number, vin or owner_id_number")
    after = None
    if cursor:
        try:
            after = uuid.UUID(str(decode_cursor(cursor)["id"]))
        except (InvalidCursor, KeyError, ValueError):
            raise Unprocessable("INVALID_CURSOR", "the cursor is not one of ours") from None
    rows = await committed(
        uow,
        cases.search,
        principal,
        plate_number=plate_number,
        vin=vin,
        owner_id_number=owner_id_number,
        after=after,
        limit=size + 1,
    )
    items = [vehicle_out(row, masked=True) for row in rows[:size]]
    next_cursor = encode_cursor({"id": str(rows[size - 1]["id"])}) if len(rows) > size else None
    return Page(items=items, next_cursor=next_cursor)


@router.get("/{vehicle_id}", response_model=VehicleOut, summary="One vehicle record")
async def get_vehicle(vehicle_id: uuid.UUID, uow: UowDep, principal: AnyCaller) -> VehicleOut:
    """VH-01: the owner, a clerk of its office or a system client; anyone else gets 404."""
    return vehicle_out(await committed(uow, cases.vehicle, principal, vehicle_id))


# --- VH-15: first registration at the counter ----------------------------------------------------


class RegistrationIn(Input):
    plate_kind: PlateKind = "02"
    plate_number: PlateNumber | None = Field(
        default=None, description="Required without a pre-selection; taken from it otherwise."
    )
    selection_id: Annotated[str, Field(min_length=1, max_length=64)] | None = None
    vin: Vin
    vehicle_kind: Annotated[str, Field(min_length=1, max_length=32)] = "small_car"
    owner: OwnerIn
    phone: Phone
    use: Use = "non_commercial"
    inspection_valid_until: date | None = None
    insurance_valid_until: date | None = None
    licence_photo_stored: bool = True


@router.post("", status_code=201, response_model=VehicleOut, summary="First registration (counter)")
async def register_vehicle(
    request: Request,
    body: RegistrationIn,
    uow: UowDep,
    principal: Registrar,
    _key: IdempotencyKeyHeader = None,
) -> object:
    """VH-15: the counter registers a new vehicle, consuming its pre-selected number after the PP-09
    check (VIN, owner's identity kind, number, name and phone as pre-selected, within 3 working days,
    at the office it was selected for). A mismatch is refused and published (ADR 0040); a success is
    published as `vehicle.vehicle.registered.v1`, which settles the selection in plate-pool."""

    async def run() -> VehicleOut:
        if principal.office is None:
            raise Unprocessable("OFFICE_REQUIRED", "the registering clerk's token names no office")
        reg = registration.FirstRegistration(
            office=principal.office,
            owner=domain.Owner(body.owner.id_kind, body.owner.id_number, body.owner.name),
            **body.model_dump(exclude={"owner"}),
        )
        async with uow:
            outcome = await registration.register(uow, actor_from(request, principal), reg)
            await uow.commit()  # a mismatch's refusal event commits too (ADR 0040)
        if isinstance(outcome, registration.Mismatch):
            raise outcome.refusal()
        return vehicle_out(outcome)

    return await idempotent(request, principal.subject, run, status_code=201)


# --- VH-11: the owner's contact change --------------------------------------------------------------


class ContactIn(Input):
    phone: Phone


@router.put("/{vehicle_id}/contact", response_model=VehicleOut, summary="Change the owner's phone")
async def change_contact(
    vehicle_id: uuid.UUID, body: ContactIn, request: Request, uow: UowDep, principal: Personal
) -> VehicleOut:
    """VH-11: any personal user (online or counter-registered) changes the phone on a vehicle they own and
    have bound to their account (ADR 0044); applied to the record and published (identity's ID-03
    projection reads it)."""
    actor = actor_from(request, principal)
    return vehicle_out(await committed(uow, cases.change_contact, principal, actor, vehicle_id, body.phone))


# --- the pre-selection projection, fed by a system client until plate-pool publishes ---------------


class PreselectionIn(Input):
    office_code: OfficeCode
    plate_number: PlateNumber
    vin: Vin
    owner: OwnerIn
    phone: Phone
    register_by: datetime
    state: Literal["confirmed", "registered", "cancelled"] = "confirmed"


class PreselectionOut(BaseModel):
    selection_id: str
    state: str


preselection_router = APIRouter(prefix="/api/v1/vehicles/preselections", tags=["vehicles"])


@preselection_router.put("/{selection_id}", response_model=PreselectionOut, summary="Feed a pre-selection")
async def put_preselection(
    selection_id: Annotated[str, Field(min_length=1, max_length=64)],
    body: PreselectionIn,
    uow: UowDep,
    principal: System,
) -> PreselectionOut:
    """PP-08/PP-09: what `plate-pool.selection.confirmed.v1` / `cancelled.v1` will carry, for a system
    client while that producer is not publishing yet (ADR 0003's consequence)."""
    if body.register_by.tzinfo is None:
        raise Unprocessable("REGISTER_BY_NEEDS_OFFSET", "register_by needs a UTC offset")
    async with uow:
        if body.state == "confirmed":
            await records.upsert_preselection(
                uow,
                selection_id=selection_id,
                office_code=body.office_code,
                plate_number=body.plate_number,
                vin=body.vin,
                owner_id_kind=body.owner.id_kind,
                owner_id_number=body.owner.id_number,
                owner_name=body.owner.name,
                phone=body.phone,
                register_by=body.register_by,
                state="confirmed",
            )
        else:
            await records.end_preselection(uow, selection_id, body.state)
        await uow.commit()
    return PreselectionOut(selection_id=selection_id, state=body.state)
