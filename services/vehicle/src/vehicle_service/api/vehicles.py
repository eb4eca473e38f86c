"""`/api/v1/vehicles`: the records (VH-01), first registration (VH-15), changes by clerks and other police
systems (VH-16), the owner's contact change (VH-11) and the pre-selection feed (PP-09)."""

from __future__ import annotations

import uuid
from datetime import date, datetime
from typing import Annotated, Literal

from fastapi import APIRouter, Query, Request
from pydantic import BaseModel, Field
from sqlalchemy import select
from sqlalchemy.engine import RowMapping
from sqlalchemy.exc import IntegrityError

from servicekit.ids import new_id
from servicekit.pagination import InvalidCursor, Page, clamp_limit, decode_cursor, encode_cursor
from servicekit.uow import UnitOfWork
from servicekit.web import (
    Conflict,
    IdempotencyKeyHeader,
    Unprocessable,
    UowDep,
    actor_from,
    idempotent,
)
from vehicle_service import dealers, domain, records
from vehicle_service import published as ev
from vehicle_service.access import (
    UNIT_OWNER_ID_KINDS,
    check_bound,
    is_unit,
    own_vehicle,
    owner_id,
    vehicle_for,
)
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
from vehicle_service.tables import vehicles

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
    query = select(vehicles).order_by(vehicles.c.id).limit(size + 1)
    if principal.has_any("citizen", "unit") and not principal.is_staff and "system" not in principal.roles:
        key = owner_id(principal)
        if key is None:
            return Page(items=[])
        kind_is_unit = vehicles.c.owner_id_kind.in_(sorted(UNIT_OWNER_ID_KINDS))
        query = query.where(
            vehicles.c.owner_id_number == key, kind_is_unit if is_unit(principal) else ~kind_is_unit
        )
    else:
        if not (plate_number or vin or owner_id_number):
            raise Unprocessable("SEARCH_NEEDS_A_KEY", "give plate_number, vin or owner_id_number")
        if principal.is_staff and principal.office and "system" not in principal.roles:
            query = query.where(vehicles.c.office_code == principal.office)
    if plate_number:
        query = query.where(vehicles.c.plate_number == plate_number.strip().upper())
    if vin:
        query = query.where(vehicles.c.vin == vin.strip().upper())
    if owner_id_number:
        query = query.where(vehicles.c.owner_id_number == owner_id_number.strip().upper())
    if cursor:
        try:
            after = decode_cursor(cursor)
            query = query.where(vehicles.c.id > uuid.UUID(str(after["id"])))
        except (InvalidCursor, KeyError, ValueError):
            raise Unprocessable("INVALID_CURSOR", "the cursor is not one of ours") from None
    async with uow:
        rows = (await uow.session.execute(query)).mappings().all()
    items = [vehicle_out(row, masked=True) for row in rows[:size]]
    next_cursor = encode_cursor({"id": str(rows[size - 1]["id"])}) if len(rows) > size else None
    return Page(items=items, next_cursor=next_cursor)


@router.get("/{vehicle_id}", response_model=VehicleOut, summary="One vehicle record")
async def get_vehicle(vehicle_id: uuid.UUID, uow: UowDep, principal: AnyCaller) -> VehicleOut:
    """VH-01: the owner, a clerk of its office or a system client; anyone else gets 404."""
    async with uow:
        row = await vehicle_for(uow, principal, vehicle_id)
    return vehicle_out(row)


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
        office = principal.office
        if office is None:
            raise Unprocessable("OFFICE_REQUIRED", "the registering clerk's token names no office")
        actor = actor_from(request, principal)
        owner = domain.Owner(body.owner.id_kind, body.owner.id_number, body.owner.name)
        async with uow:
            plate = body.plate_number
            if body.selection_id is not None:
                selection = domain.check_selection_usable(
                    await records.load_preselection(uow, body.selection_id), office, uow.now
                )
                wrong = domain.selection_mismatches(selection, body.vin, owner, body.phone)
                if wrong:
                    uow.emit(
                        ev.RegistrationRefused(
                            selection_id=selection.selection_id,
                            office_code=office,
                            vin=body.vin,
                            mismatched=wrong,
                            refused_at=uow.now,
                        )
                    )
                    uow.audit(
                        actor,
                        "registration.refused",
                        f"selection:{selection.selection_id}",
                        None,
                        {"mismatched": wrong},
                    )
                    await uow.commit()
                    raise domain.SelectionMismatch(
                        f"differs from the pre-selection in: {', '.join(wrong)}", extra={"mismatched": wrong}
                    )
                if plate is not None and plate != selection.plate_number:
                    raise Unprocessable(
                        "PLATE_NOT_THE_SELECTED_ONE",
                        "the plate number differs from the pre-selection",
                        rule="PP-09",
                    )
                plate = selection.plate_number
                await records.end_preselection(uow, selection.selection_id, "registered")
            if plate is None:
                raise Unprocessable("PLATE_NUMBER_REQUIRED", "give plate_number or selection_id")
            vehicle_id = new_id()
            values = {
                "id": vehicle_id,
                "office_code": office,
                "plate_kind": body.plate_kind,
                "plate_number": plate,
                "vin": body.vin,
                "vehicle_kind": body.vehicle_kind,
                "owner_id_kind": owner.id_kind,
                "owner_id_number": owner.id_number,
                "owner_name": owner.name,
                "phone": body.phone,
                "phone_changed_at": uow.now,
                "use": body.use,
                "state": "registered",
                "flags": [],
                "inspection_valid_until": body.inspection_valid_until,
                "insurance_valid_until": body.insurance_valid_until,
                "licence_photo_stored": body.licence_photo_stored,
                "plate_reissue_count": 0,
                "selection_id": body.selection_id,
                "registered_at": uow.now,
                "updated_at": uow.now,
                "version": 1,
            }
            await _refuse_duplicates(uow, body.vin, body.plate_kind, plate)
            await dealers.note_registration(uow, body.vin, owner)
            try:
                row = (
                    (await uow.session.execute(vehicles.insert().values(**values).returning(vehicles)))
                    .mappings()
                    .one()
                )
            except IntegrityError:
                raise Conflict(
                    "VEHICLE_ALREADY_REGISTERED", "the VIN or plate is registered", rule="VH-15"
                ) from None
            uow.emit(
                ev.VehicleRegistered(
                    vehicle_id=str(vehicle_id),
                    office_code=office,
                    plate_number=plate,
                    plate_kind=body.plate_kind,
                    vin=body.vin,
                    owner=records.owner_ref(row),
                    phone=body.phone,
                    use=body.use,
                    selection_id=body.selection_id,
                    registered_at=uow.now,
                )
            )
            uow.audit(actor, "vehicle.registered", f"vehicle:{vehicle_id}", None, records.snapshot(row))
            await uow.commit()
        return vehicle_out(row)

    return await idempotent(request, principal.subject, run, status_code=201)


async def _refuse_duplicates(uow: UnitOfWork, vin: str, plate_kind: str, plate: str) -> None:
    found = (
        await uow.session.execute(
            select(vehicles.c.vin, vehicles.c.plate_number).where(
                (vehicles.c.vin == vin)
                | ((vehicles.c.plate_kind == plate_kind) & (vehicles.c.plate_number == plate))
            )
        )
    ).first()
    if found is not None:
        what = "VIN" if found.vin == vin else "plate number"
        raise Conflict("VEHICLE_ALREADY_REGISTERED", f"the {what} is already registered", rule="VH-15")


# --- VH-16: changes by clerks and other police systems ---------------------------------------------


def _must_be_registered(row: RowMapping) -> None:
    state = row["state"]
    if state != "registered":
        raise domain.WrongState(f"the vehicle is {state}", extra={"state": state})


class TransferIn(Input):
    owner: OwnerIn
    phone: Phone


@router.post("/{vehicle_id}/transfer", response_model=VehicleOut, summary="Transfer of ownership")
async def transfer_vehicle(
    vehicle_id: uuid.UUID, body: TransferIn, request: Request, uow: UowDep, principal: Registrar
) -> VehicleOut:
    """VH-16: the new owner on the record, published for ID-14 (identity unbinds the others)."""
    async with uow:
        row = await vehicle_for(uow, principal, vehicle_id, lock=True)
        _must_be_registered(row)
        owner = domain.Owner(body.owner.id_kind, body.owner.id_number, body.owner.name)
        if owner.id_number == row["owner_id_number"]:
            raise Conflict("SAME_OWNER", "the vehicle already belongs to this owner", rule="VH-16")
        after = await records.transfer(uow, actor_from(request, principal), row, owner, body.phone)
        await uow.commit()
    return vehicle_out(after)


class DeregistrationIn(Input):
    forced: bool = False


@router.post("/{vehicle_id}/deregistration", response_model=VehicleOut, summary="Deregistration")
async def deregister_vehicle(
    vehicle_id: uuid.UUID, body: DeregistrationIn, request: Request, uow: UowDep, principal: Registrar
) -> VehicleOut:
    """VH-16: deregistered (or force-deregistered), published for ID-14."""
    async with uow:
        row = await vehicle_for(uow, principal, vehicle_id, lock=True)
        _must_be_registered(row)
        after = await records.deregister(uow, actor_from(request, principal), row, body.forced)
        await uow.commit()
    return vehicle_out(after)


class UseIn(Input):
    use: Use


@router.put("/{vehicle_id}/use", response_model=VehicleOut, summary="Change of use")
async def change_use(
    vehicle_id: uuid.UUID, body: UseIn, request: Request, uow: UowDep, principal: Registrar
) -> VehicleOut:
    """VH-16: a change of use, published for ID-14."""
    async with uow:
        row = await vehicle_for(uow, principal, vehicle_id, lock=True)
        _must_be_registered(row)
        if row["use"] == body.use:
            return vehicle_out(row)
        after = await records.change_use(uow, actor_from(request, principal), row, body.use)
        await uow.commit()
    return vehicle_out(after)


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
    async with uow:
        row = await vehicle_for(uow, principal, vehicle_id, lock=True)
        if row["state"] in ("deregistered", "force_deregistered"):
            raise domain.WrongState(f"the vehicle is {row['state']}", extra={"state": row["state"]})
        if row["state"] == body.state and sorted(row["flags"]) == sorted(set(body.flags)):
            return vehicle_out(row)
        after = await records.change_state(
            uow, actor_from(request, principal), row, body.state, list(body.flags)
        )
        await uow.commit()
    return vehicle_out(after)


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
    async with uow:
        row = await vehicle_for(uow, principal, vehicle_id, lock=True)
        after = await records.change_validity(uow, actor_from(request, principal), row, **dates)
        await uow.commit()
    return vehicle_out(after)


class LicencePhotoIn(Input):
    stored: bool


@router.put("/{vehicle_id}/licence-photo", response_model=VehicleOut, summary="Licence photo stored")
async def set_licence_photo(
    vehicle_id: uuid.UUID, body: LicencePhotoIn, request: Request, uow: UowDep, principal: Registrar
) -> VehicleOut:
    """VH-01/VH-04: whether the vehicle licence photo is stored in the information system."""
    async with uow:
        row = await vehicle_for(uow, principal, vehicle_id, lock=True)
        after = await records.set_licence_photo(uow, actor_from(request, principal), row, body.stored)
        await uow.commit()
    return vehicle_out(after)


# --- VH-11: the owner's contact change --------------------------------------------------------------


class ContactIn(Input):
    phone: Phone


@router.put("/{vehicle_id}/contact", response_model=VehicleOut, summary="Change the owner's phone")
async def change_contact(
    vehicle_id: uuid.UUID, body: ContactIn, request: Request, uow: UowDep, principal: Personal
) -> VehicleOut:
    """VH-11: any personal user (online or counter-registered) changes the phone on a vehicle they own;
    applied to the record and published (identity's ID-03 projection reads it)."""
    async with uow:
        row = await own_vehicle(uow, principal, vehicle_id, lock=True)
        await check_bound(uow, principal, row, "VH-11")
        _must_be_registered(row)
        if row["phone"] == body.phone:
            return vehicle_out(row)
        after = await records.change_phone(
            uow, actor_from(request, principal), row, body.phone, "vehicle.contact_changed"
        )
        await uow.commit()
    return vehicle_out(after)


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
