"""Safety-inspection appointments (VH-13): book and cancel, one use case each, and what station changes
share with them (releasing a place, the cancelled event). The HTTP module (`api/inspections.py`) parses,
calls and shapes.

Capacity is held by the database (ADR 0041): a booking's transaction increments the slot only while
`booked < capacity`, so concurrent bookings never overbook, whatever the number of API replicas; the
vehicle's row lock and a unique index keep one live appointment per vehicle; a booking holds its station's
row FOR SHARE, so a suspension (FOR UPDATE) either sees and cancels it or is seen by it.
"""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Literal

from sqlalchemy import select, update
from sqlalchemy.engine import RowMapping
from sqlalchemy.exc import IntegrityError

from servicekit.clock import SHANGHAI
from servicekit.crypto import blind_match
from servicekit.ids import new_id
from servicekit.uow import Actor, UnitOfWork
from servicekit.web import NotFound, Principal
from vehicle_service import domain
from vehicle_service import published as ev
from vehicle_service.access import check_bound, own_vehicle, owner_id
from vehicle_service.tables import inspection_bookings, inspection_slots, inspection_stations, vehicles


async def _slot(uow: UnitOfWork, slot_id: uuid.UUID) -> RowMapping:
    query = (
        select(
            inspection_slots,
            inspection_stations.c.state.label("station_state"),
            inspection_stations.c.city_code,
            inspection_stations.c.name.label("station_name"),
            inspection_stations.c.vehicle_kinds,
        )
        .join(inspection_stations, inspection_stations.c.id == inspection_slots.c.station_id)
        .where(inspection_slots.c.id == slot_id)
        # VH-14: the station's state holds until the booking commits. A suspension (FOR UPDATE of the
        # station) waits for it and then cancels it, or the booking waits and reads the station suspended.
        .with_for_update(of=inspection_stations, read=True)
    )
    slot = (await uow.session.execute(query)).mappings().first()
    if slot is None:
        raise NotFound("slot")
    return slot


async def book(
    uow: UnitOfWork, principal: Principal, actor: Actor, vehicle_id: uuid.UUID, slot_id: uuid.UUID
) -> tuple[RowMapping, RowMapping, uuid.UUID]:
    """VH-13: a personal or unit user books an inspection for a vehicle they own (else 404) and have bound
    in identity (ADR 0044): not in the VH-03 states or seized, within the 3 months before the inspection
    expires (ADR 0041), at the registration city or a station of another city of the province by its
    published plan, of a kind the station inspects; the slot is not overbooked (VH-14). Returns the
    vehicle, the slot and the booking's id."""
    vehicle = await own_vehicle(uow, principal, vehicle_id, lock=True)
    await check_bound(uow, principal, vehicle, "VH-13")
    domain.check_inspection_allowed(vehicle["state"], vehicle["flags"])
    slot = await _slot(uow, slot_id)
    if slot["station_state"] != "open":
        raise domain.StationNotOpen(
            "the station is not taking appointments", extra={"station_state": slot["station_state"]}
        )
    domain.check_inspection_window(
        vehicle["inspection_valid_until"], uow.now.astimezone(SHANGHAI).date(), slot["day"]
    )
    if slot["starts_at"] <= uow.now:
        raise domain.OutsideInspectionWindow("the slot has begun")
    domain.check_station_reachable(vehicle["office_code"], slot["city_code"], slot["other_cities"])
    domain.check_station_inspects(slot["vehicle_kinds"], vehicle["vehicle_kind"])
    live = (
        await uow.session.execute(
            select(inspection_bookings.c.id).where(
                inspection_bookings.c.vehicle_id == vehicle["id"], inspection_bookings.c.state == "booked"
            )
        )
    ).first()
    if live is not None:
        raise domain.AlreadyBooked(
            "the vehicle has an appointment; cancel it first", extra={"booking_id": str(live.id)}
        )
    taken = (
        await uow.session.execute(
            update(inspection_slots)
            .where(
                inspection_slots.c.id == slot["id"],
                inspection_slots.c.booked < inspection_slots.c.capacity,
            )
            .values(booked=inspection_slots.c.booked + 1)
            .returning(inspection_slots.c.booked)
        )
    ).first()
    if taken is None:
        raise domain.SlotFull("the slot is fully booked")
    booking_id = new_id()
    try:
        await uow.session.execute(
            inspection_bookings.insert().values(
                id=booking_id,
                slot_id=slot["id"],
                station_id=slot["station_id"],
                vehicle_id=vehicle["id"],
                holder_id_number=vehicle["owner_id_number"],
                holder_subject=principal.subject,
                phone=vehicle["phone"],
                state="booked",
                created_at=uow.now,
                updated_at=uow.now,
            )
        )
    except IntegrityError:
        raise domain.AlreadyBooked("the vehicle has an appointment") from None
    uow.emit(
        ev.InspectionBooked(
            booking_id=str(booking_id),
            vehicle_id=str(vehicle["id"]),
            plate_number=vehicle["plate_number"],
            station_id=str(slot["station_id"]),
            station_name=slot["station_name"],
            starts_at=slot["starts_at"],
            phone=vehicle["phone"],
            booked_at=uow.now,
            account_id=principal.subject,
        )
    )
    uow.audit(
        actor,
        "inspection.booked",
        f"booking:{booking_id}",
        None,
        {"vehicle_id": str(vehicle["id"]), "slot_id": str(slot["id"])},
    )
    return vehicle, slot, booking_id


async def bookings_of(uow: UnitOfWork, principal: Principal) -> list[RowMapping]:
    """The caller's appointments, latest first."""
    query = (
        select(inspection_bookings, inspection_slots.c.starts_at)
        .join(inspection_slots, inspection_slots.c.id == inspection_bookings.c.slot_id)
        .where(blind_match(inspection_bookings.c.holder_id_number, owner_id(principal) or ""))
        .order_by(inspection_slots.c.starts_at.desc())
        .limit(100)
    )
    return list((await uow.session.execute(query)).mappings().all())


async def _own_booking(uow: UnitOfWork, principal: Principal, booking_id: uuid.UUID) -> RowMapping:
    query = (
        select(
            inspection_bookings,
            inspection_slots.c.starts_at,
            inspection_slots.c.day,
            vehicles.c.plate_number,
            inspection_stations.c.name.label("station_name"),
        )
        .join(inspection_slots, inspection_slots.c.id == inspection_bookings.c.slot_id)
        .join(vehicles, vehicles.c.id == inspection_bookings.c.vehicle_id)
        .join(inspection_stations, inspection_stations.c.id == inspection_bookings.c.station_id)
        .where(inspection_bookings.c.id == booking_id)
        .with_for_update(of=inspection_bookings)
    )
    row = (await uow.session.execute(query)).mappings().first()
    holder = owner_id(principal)
    if row is None or holder is None or row["holder_id_number"] != holder:
        raise NotFound("booking")
    return row


async def cancel(uow: UnitOfWork, principal: Principal, actor: Actor, booking_id: uuid.UUID) -> RowMapping:
    """VH-13: the holder cancels before the inspection day; the place returns to the slot."""
    row = await _own_booking(uow, principal, booking_id)
    if row["state"] != "booked":
        raise domain.WrongState(f"the appointment is {row['state']}", extra={"state": row["state"]})
    domain.check_cancellable(row["day"], uow.now.astimezone(SHANGHAI).date())
    await release(uow, row, "cancelled")
    uow.emit(cancelled_event(row, row["station_name"], "holder", None, uow.now))
    uow.audit(
        actor,
        "inspection.cancelled",
        f"booking:{booking_id}",
        {"state": "booked"},
        {"state": "cancelled"},
    )
    return row


async def release(uow: UnitOfWork, booking: RowMapping, state: str) -> None:
    """The appointment ends (cancelled by its holder or the station) and its place returns to the slot."""
    await uow.session.execute(
        update(inspection_bookings)
        .where(inspection_bookings.c.id == booking["id"])
        .values(state=state, updated_at=uow.now)
    )
    await uow.session.execute(
        update(inspection_slots)
        .where(inspection_slots.c.id == booking["slot_id"])
        .values(booked=inspection_slots.c.booked - 1)
    )


def cancelled_event(
    row: RowMapping, station_name: str, by: Literal["holder", "station"], reason: str | None, now: datetime
) -> ev.InspectionCancelled:
    return ev.InspectionCancelled(
        booking_id=str(row["id"]),
        vehicle_id=str(row["vehicle_id"]),
        plate_number=row["plate_number"],
        station_id=str(row["station_id"]),
        station_name=station_name,
        starts_at=row["starts_at"],
        phone=row["phone"],
        by=by,
        reason=reason,
        cancelled_at=now,
        account_id=row["holder_subject"],
    )
