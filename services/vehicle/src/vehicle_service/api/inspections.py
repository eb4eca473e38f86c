"""`/api/v1/inspection-*`: stations and their published plans (VH-14), slots, and appointments (VH-13).

Capacity is held by the database (ADR 0041): a booking's transaction increments the slot only while
`booked < capacity`, so concurrent bookings never overbook, whatever the number of API replicas.
"""

from __future__ import annotations

import uuid
from datetime import date, datetime, time, timedelta
from typing import Annotated, Literal

from fastapi import APIRouter, Query, Request
from pydantic import BaseModel, Field, model_validator
from sqlalchemy import and_, select, update
from sqlalchemy.engine import RowMapping
from sqlalchemy.exc import IntegrityError

from servicekit.clock import SHANGHAI
from servicekit.ids import new_id
from servicekit.masking import mask_phone
from servicekit.uow import UnitOfWork
from servicekit.web import (
    Conflict,
    IdempotencyKeyHeader,
    NotFound,
    Unprocessable,
    UowDep,
    actor_from,
    idempotent,
)
from vehicle_service import domain, records
from vehicle_service import published as ev
from vehicle_service.api.common import AnyCaller, Citizen, Input, OfficeCode, System, own_vehicle, owner_id
from vehicle_service.tables import (
    inspection_bookings,
    inspection_plans,
    inspection_slots,
    inspection_stations,
    vehicles,
)

router = APIRouter(prefix="/api/v1", tags=["inspections"])

MAX_PLAN_DAYS = 92


# --- stations and plans (VH-14) ------------------------------------------------------------------


class StationIn(Input):
    name: Annotated[str, Field(min_length=1, max_length=100)]
    address: Annotated[str, Field(min_length=1, max_length=300)]
    city_code: OfficeCode
    vehicle_kinds: Annotated[list[Annotated[str, Field(min_length=1, max_length=32)]], Field(min_length=1)]
    max_axle_load_kg: Annotated[int, Field(gt=0)] | None = None
    brake_kinds: list[Annotated[str, Field(min_length=1, max_length=32)]] = Field(default_factory=list)


class StationOut(BaseModel):
    id: uuid.UUID
    name: str
    address: str
    city_code: str
    vehicle_kinds: list[str]
    max_axle_load_kg: int | None
    brake_kinds: list[str]
    state: str
    state_reason: str | None


def _station_out(row: RowMapping) -> StationOut:
    data = {k: row[k] for k in StationOut.model_fields}
    data["vehicle_kinds"], data["brake_kinds"] = list(row["vehicle_kinds"]), list(row["brake_kinds"])
    return StationOut.model_validate(data)


@router.post("/inspection-stations", status_code=201, response_model=StationOut, summary="File a station")
async def create_station(body: StationIn, request: Request, uow: UowDep, principal: System) -> StationOut:
    """VH-14: a city files a station: place, vehicle kinds, axle load, brake kinds."""
    async with uow:
        values = body.model_dump() | {
            "id": new_id(),
            "state": "open",
            "created_at": uow.now,
            "updated_at": uow.now,
        }
        row = (
            (
                await uow.session.execute(
                    inspection_stations.insert().values(**values).returning(inspection_stations)
                )
            )
            .mappings()
            .one()
        )
        uow.audit(
            actor_from(request, principal),
            "inspection_station.filed",
            f"station:{row['id']}",
            None,
            {"name": body.name, "city_code": body.city_code},
        )
        await uow.commit()
    return _station_out(row)


@router.get("/inspection-stations", response_model=list[StationOut], summary="Stations of a city")
async def list_stations(
    uow: UowDep, principal: AnyCaller, city_code: Annotated[str, Query(pattern=r"^\d{6}$")]
) -> list[StationOut]:
    """VH-14: the stations of a city (with their state: a suspended station takes no appointments)."""
    async with uow:
        rows = (
            (
                await uow.session.execute(
                    select(inspection_stations)
                    .where(inspection_stations.c.city_code == city_code)
                    .order_by(inspection_stations.c.name)
                )
            )
            .mappings()
            .all()
        )
    return [_station_out(r) for r in rows]


class PlanTime(Input):
    start: time
    end: time
    capacity: Annotated[int, Field(ge=1, le=10_000)]

    @model_validator(mode="after")
    def _ordered(self) -> PlanTime:
        if self.end <= self.start:
            raise ValueError("end must be after start")
        return self


class PlanIn(Input):
    first_day: date
    last_day: date
    times: Annotated[list[PlanTime], Field(min_length=1, max_length=48)]
    other_cities: bool = False
    weekdays_only: bool = False

    @model_validator(mode="after")
    def _span(self) -> PlanIn:
        if self.last_day < self.first_day:
            raise ValueError("last_day is before first_day")
        if (self.last_day - self.first_day).days >= MAX_PLAN_DAYS:
            raise ValueError(f"a plan covers at most {MAX_PLAN_DAYS} days")
        return self


class PlanOut(BaseModel):
    id: uuid.UUID
    station_id: uuid.UUID
    first_day: date
    last_day: date
    other_cities: bool
    state: str
    slots: int = 0


@router.post(
    "/inspection-stations/{station_id}/plans", status_code=201, response_model=PlanOut, summary="File a plan"
)
async def file_plan(
    station_id: uuid.UUID, body: PlanIn, request: Request, uow: UowDep, principal: System
) -> PlanOut:
    """VH-14: the city files the station's plan (dates, times, capacity, and whether other cities of the
    province may book); it takes appointments once the province publishes it."""
    async with uow:
        station = await _station(uow, station_id)
        plan_id = new_id()
        await uow.session.execute(
            inspection_plans.insert().values(
                id=plan_id,
                station_id=station["id"],
                first_day=body.first_day,
                last_day=body.last_day,
                times=[t.model_dump(mode="json") for t in body.times] + _weekday_marker(body.weekdays_only),
                other_cities=body.other_cities,
                state="filed",
                created_at=uow.now,
            )
        )
        uow.audit(
            actor_from(request, principal),
            "inspection_plan.filed",
            f"plan:{plan_id}",
            None,
            {"station_id": str(station_id)},
        )
        await uow.commit()
    return PlanOut(
        id=plan_id,
        station_id=station_id,
        first_day=body.first_day,
        last_day=body.last_day,
        other_cities=body.other_cities,
        state="filed",
    )


def _weekday_marker(weekdays_only: bool) -> list[dict[str, bool]]:
    return [{"weekdays_only": True}] if weekdays_only else []


@router.post("/inspection-plans/{plan_id}/publication", response_model=PlanOut, summary="Publish a plan")
async def publish_plan(plan_id: uuid.UUID, request: Request, uow: UowDep, principal: System) -> PlanOut:
    """VH-14: the province publishes the plan: its slots open for appointments and the plan is published
    as an event."""
    async with uow:
        plan = (
            (
                await uow.session.execute(
                    select(inspection_plans).where(inspection_plans.c.id == plan_id).with_for_update()
                )
            )
            .mappings()
            .first()
        )
        if plan is None:
            raise NotFound("plan")
        if plan["state"] == "published":
            raise Conflict("PLAN_ALREADY_PUBLISHED", "the plan is published", rule="VH-14")
        station = await _station(uow, plan["station_id"])
        entries = [t for t in plan["times"] if "start" in t]
        weekdays_only = any(t.get("weekdays_only") for t in plan["times"])
        slots = []
        day = plan["first_day"]
        while day <= plan["last_day"]:
            if not weekdays_only or day.weekday() < 5:
                for entry in entries:
                    starts = datetime.combine(day, time.fromisoformat(entry["start"]), tzinfo=SHANGHAI)
                    ends = datetime.combine(day, time.fromisoformat(entry["end"]), tzinfo=SHANGHAI)
                    slots.append(
                        {
                            "id": new_id(),
                            "station_id": station["id"],
                            "plan_id": plan_id,
                            "day": day,
                            "starts_at": starts,
                            "ends_at": ends,
                            "capacity": int(entry["capacity"]),
                            "booked": 0,
                            "other_cities": plan["other_cities"],
                        }
                    )
            day += timedelta(days=1)
        if slots:
            try:
                await uow.session.execute(inspection_slots.insert(), slots)
            except IntegrityError:
                raise Conflict(
                    "PLAN_OVERLAPS",
                    "the plan has slots at times another plan of the station has",
                    rule="VH-14",
                ) from None
        await uow.session.execute(
            update(inspection_plans)
            .where(inspection_plans.c.id == plan_id)
            .values(state="published", published_at=uow.now)
        )
        uow.emit(
            ev.InspectionPlanPublished(
                plan_id=str(plan_id),
                station_id=str(station["id"]),
                station_name=station["name"],
                city_code=station["city_code"],
                first_day=plan["first_day"],
                last_day=plan["last_day"],
                other_cities=plan["other_cities"],
                slots=len(slots),
                capacity=sum(s["capacity"] for s in slots),
                published_at=uow.now,
            )
        )
        uow.audit(
            actor_from(request, principal),
            "inspection_plan.published",
            f"plan:{plan_id}",
            None,
            {"slots": len(slots)},
        )
        await uow.commit()
    return PlanOut(
        id=plan_id,
        station_id=plan["station_id"],
        first_day=plan["first_day"],
        last_day=plan["last_day"],
        other_cities=plan["other_cities"],
        state="published",
        slots=len(slots),
    )


async def _station(uow: UnitOfWork, station_id: uuid.UUID, *, lock: bool = False) -> RowMapping:
    query = select(inspection_stations).where(inspection_stations.c.id == station_id)
    if lock:
        query = query.with_for_update()
    row = (await uow.session.execute(query)).mappings().first()
    if row is None:
        raise NotFound("station")
    return row


class StationStateIn(Input):
    state: Literal["open", "suspended", "closed"]
    reason: Annotated[str, Field(min_length=1, max_length=200)] | None = None


class StationStateOut(StationOut):
    cancelled_bookings: int


@router.put(
    "/inspection-stations/{station_id}/state", response_model=StationStateOut, summary="Suspend or resume"
)
async def set_station_state(
    station_id: uuid.UUID, body: StationStateIn, request: Request, uow: UowDep, principal: System
) -> StationStateOut:
    """VH-14: a station that suspends or stops service takes no more appointments; the change is
    published, and every holder of an appointment from now on is told (one cancelled event each)."""
    async with uow:
        station = await _station(uow, station_id, lock=True)
        if station["state"] == "closed" and body.state != "closed":
            raise Conflict("STATION_CLOSED", "a closed station does not reopen; file a new one", rule="VH-14")
        cancelled = 0
        if body.state != "open":
            cancelled = await _cancel_station_bookings(uow, station, body.reason)
        after = (
            (
                await uow.session.execute(
                    update(inspection_stations)
                    .where(inspection_stations.c.id == station_id)
                    .values(state=body.state, state_reason=body.reason, updated_at=uow.now)
                    .returning(inspection_stations)
                )
            )
            .mappings()
            .one()
        )
        uow.emit(
            ev.StationStateChanged(
                station_id=str(station_id),
                name=station["name"],
                city_code=station["city_code"],
                state=body.state,
                reason=body.reason,
                affected_bookings=cancelled,
                changed_at=uow.now,
            )
        )
        uow.audit(
            actor_from(request, principal),
            "inspection_station.state",
            f"station:{station_id}",
            {"state": station["state"]},
            {"state": body.state, "cancelled_bookings": cancelled},
        )
        await uow.commit()
    return StationStateOut(**_station_out(after).model_dump(), cancelled_bookings=cancelled)


async def _cancel_station_bookings(uow: UnitOfWork, station: RowMapping, reason: str | None) -> int:
    rows = (
        (
            await uow.session.execute(
                select(inspection_bookings, inspection_slots.c.starts_at, vehicles.c.plate_number)
                .join(inspection_slots, inspection_slots.c.id == inspection_bookings.c.slot_id)
                .join(vehicles, vehicles.c.id == inspection_bookings.c.vehicle_id)
                .where(
                    inspection_bookings.c.station_id == station["id"],
                    inspection_bookings.c.state == "booked",
                    inspection_slots.c.starts_at > uow.now,
                )
                .with_for_update(of=inspection_bookings)
            )
        )
        .mappings()
        .all()
    )
    for row in rows:
        await _release(uow, row, "cancelled_by_station")
        uow.emit(_cancelled_event(row, station["name"], "station", reason, uow.now))
    return len(rows)


def _cancelled_event(
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
    )


async def _release(uow: UnitOfWork, booking: RowMapping, state: str) -> None:
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


# --- slots -------------------------------------------------------------------------------------


class SlotOut(BaseModel):
    id: uuid.UUID
    station_id: uuid.UUID
    day: date
    starts_at: datetime
    ends_at: datetime
    capacity: int
    booked: int
    available: int
    other_cities: bool


@router.get("/inspection-slots", response_model=list[SlotOut], summary="Slots of a station")
async def list_slots(
    uow: UowDep,
    principal: AnyCaller,
    station_id: uuid.UUID,
    day_from: date | None = None,
    day_to: date | None = None,
) -> list[SlotOut]:
    """VH-14: a station's published slots with what is left; none while it is suspended."""
    async with uow:
        station = await _station(uow, station_id)
        if station["state"] != "open":
            return []
        query = select(inspection_slots).where(inspection_slots.c.station_id == station_id)
        if day_from:
            query = query.where(inspection_slots.c.day >= day_from)
        if day_to:
            query = query.where(inspection_slots.c.day <= day_to)
        rows = (
            (await uow.session.execute(query.order_by(inspection_slots.c.starts_at).limit(500)))
            .mappings()
            .all()
        )
    return [
        SlotOut.model_validate(
            {
                **{k: r[k] for k in SlotOut.model_fields if k != "available"},
                "available": r["capacity"] - r["booked"],
            }
        )
        for r in rows
    ]


# --- bookings (VH-13) --------------------------------------------------------------------------


class BookingIn(Input):
    vehicle_id: uuid.UUID
    slot_id: uuid.UUID


class BookingOut(BaseModel):
    id: uuid.UUID
    vehicle_id: uuid.UUID
    slot_id: uuid.UUID
    station_id: uuid.UUID
    starts_at: datetime
    phone: str
    state: str


@router.post("/inspection-bookings", status_code=201, response_model=BookingOut, summary="Book an inspection")
async def book(
    body: BookingIn,
    request: Request,
    uow: UowDep,
    principal: Citizen,
    _key: IdempotencyKeyHeader = None,
) -> object:
    """VH-13: a personal or unit user books an inspection for a vehicle they own and have bound in identity
    (ADR 0044; units too, ID-08): not in the VH-03 states or seized, within the 3 months before the
    inspection expires (ADR 0041), at the registration city or a station of another city of the province by
    its published plan; the slot is not overbooked (VH-14)."""

    async def run() -> BookingOut:
        actor = actor_from(request, principal)
        async with uow:
            vehicle = await own_vehicle(uow, principal, body.vehicle_id, lock=True)
            if not await records.is_bound(uow, principal.subject, vehicle["id"]):
                raise domain.VehicleNotBound(
                    "bind the vehicle to your account first (in identity), then book its inspection"
                )
            domain.check_inspection_allowed(vehicle["state"], vehicle["flags"])
            slot = (
                (
                    await uow.session.execute(
                        select(
                            inspection_slots,
                            inspection_stations.c.state.label("station_state"),
                            inspection_stations.c.city_code,
                            inspection_stations.c.name.label("station_name"),
                            inspection_stations.c.vehicle_kinds,
                        )
                        .join(inspection_stations, inspection_stations.c.id == inspection_slots.c.station_id)
                        .where(inspection_slots.c.id == body.slot_id)
                    )
                )
                .mappings()
                .first()
            )
            if slot is None:
                raise NotFound("slot")
            if slot["station_state"] != "open":
                raise domain.StationNotOpen(
                    "the station is not taking appointments", station_state=slot["station_state"]
                )
            today = uow.now.astimezone(SHANGHAI).date()
            domain.check_inspection_window(vehicle["inspection_valid_until"], today, slot["day"])
            if slot["starts_at"] <= uow.now:
                raise domain.OutsideInspectionWindow("the slot has begun")
            domain.check_station_reachable(vehicle["office_code"], slot["city_code"], slot["other_cities"])
            if vehicle["vehicle_kind"] not in slot["vehicle_kinds"]:
                raise Unprocessable(
                    "STATION_DOES_NOT_INSPECT_THIS_KIND",
                    f"the station does not inspect {vehicle['vehicle_kind']}",
                    rule="VH-14",
                )
            live = (
                await uow.session.execute(
                    select(inspection_bookings.c.id).where(
                        and_(
                            inspection_bookings.c.vehicle_id == vehicle["id"],
                            inspection_bookings.c.state == "booked",
                        )
                    )
                )
            ).first()
            if live is not None:
                raise Conflict(
                    "ALREADY_BOOKED",
                    "the vehicle has an appointment; cancel it first",
                    rule="VH-13",
                    extra={"booking_id": str(live.id)},
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
            values = {
                "id": booking_id,
                "slot_id": slot["id"],
                "station_id": slot["station_id"],
                "vehicle_id": vehicle["id"],
                "holder_id_number": vehicle["owner_id_number"],
                "holder_subject": principal.subject,
                "phone": vehicle["phone"],
                "state": "booked",
                "created_at": uow.now,
                "updated_at": uow.now,
            }
            try:
                await uow.session.execute(inspection_bookings.insert().values(**values))
            except IntegrityError:
                raise Conflict("ALREADY_BOOKED", "the vehicle has an appointment", rule="VH-13") from None
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
                )
            )
            uow.audit(
                actor,
                "inspection.booked",
                f"booking:{booking_id}",
                None,
                {"vehicle_id": str(vehicle["id"]), "slot_id": str(slot["id"])},
            )
            await uow.commit()
        return BookingOut(
            id=booking_id,
            vehicle_id=vehicle["id"],
            slot_id=slot["id"],
            station_id=slot["station_id"],
            starts_at=slot["starts_at"],
            phone=mask_phone(vehicle["phone"]),
            state="booked",
        )

    return await idempotent(request, principal.subject, run, status_code=201)


async def _own_booking(uow: UnitOfWork, principal_id_number: str | None, booking_id: uuid.UUID) -> RowMapping:
    row = (
        (
            await uow.session.execute(
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
        )
        .mappings()
        .first()
    )
    if row is None or principal_id_number is None or row["holder_id_number"] != principal_id_number:
        raise NotFound("booking")
    return row


def _booking_out(row: RowMapping, state: str | None = None) -> BookingOut:
    return BookingOut(
        id=row["id"],
        vehicle_id=row["vehicle_id"],
        slot_id=row["slot_id"],
        station_id=row["station_id"],
        starts_at=row["starts_at"],
        phone=mask_phone(row["phone"]),
        state=state or row["state"],
    )


@router.get("/inspection-bookings", response_model=list[BookingOut], summary="My appointments")
async def my_bookings(uow: UowDep, principal: Citizen) -> list[BookingOut]:
    async with uow:
        rows = (
            (
                await uow.session.execute(
                    select(inspection_bookings, inspection_slots.c.starts_at)
                    .join(inspection_slots, inspection_slots.c.id == inspection_bookings.c.slot_id)
                    .where(inspection_bookings.c.holder_id_number == (owner_id(principal) or ""))
                    .order_by(inspection_slots.c.starts_at.desc())
                    .limit(100)
                )
            )
            .mappings()
            .all()
        )
    return [_booking_out(r) for r in rows]


@router.post("/inspection-bookings/{booking_id}/cancellation", response_model=BookingOut, summary="Cancel")
async def cancel_booking(
    booking_id: uuid.UUID, request: Request, uow: UowDep, principal: Citizen
) -> BookingOut:
    """VH-13: the holder cancels before the inspection day; the place returns to the slot."""
    async with uow:
        row = await _own_booking(uow, owner_id(principal), booking_id)
        if row["state"] != "booked":
            raise domain.WrongState(f"the appointment is {row['state']}", state=row["state"])
        domain.check_cancellable(row["day"], uow.now.astimezone(SHANGHAI).date())
        await _release(uow, row, "cancelled")
        uow.emit(_cancelled_event(row, row["station_name"], "holder", None, uow.now))
        uow.audit(
            actor_from(request, principal),
            "inspection.cancelled",
            f"booking:{booking_id}",
            {"state": "booked"},
            {"state": "cancelled"},
        )
        await uow.commit()
    return _booking_out(row, "cancelled")
