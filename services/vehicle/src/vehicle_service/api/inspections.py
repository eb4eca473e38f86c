"""`/api/v1/inspection-*`: stations and their published plans (VH-14), slots, and appointments (VH-13).
The use cases are `stations.py` and `inspections.py`; this module parses, calls and shapes."""

from __future__ import annotations

import uuid
from datetime import date, datetime, time
from typing import Annotated, Literal

from fastapi import APIRouter, Query, Request
from pydantic import BaseModel, Field, model_validator
from sqlalchemy.engine import RowMapping

from servicekit.masking import mask_phone
from servicekit.uow import committed
from servicekit.web import IdempotencyKeyHeader, UowDep, actor_from, idempotent
from vehicle_service import inspections, stations
from vehicle_service.api.common import AnyCaller, Citizen, Input, OfficeCode, System

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
    return _station_out(
        await committed(uow, stations.file_station, actor_from(request, principal), body.model_dump())
    )


@router.get("/inspection-stations", response_model=list[StationOut], summary="Stations of a city")
async def list_stations(
    uow: UowDep, principal: AnyCaller, city_code: Annotated[str, Query(pattern=r"^\d{6}$")]
) -> list[StationOut]:
    """VH-14: the stations of a city (with their state: a suspended station takes no appointments)."""
    return [_station_out(r) for r in await committed(uow, stations.stations_of, city_code)]


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
    plan = stations.Plan(
        first_day=body.first_day,
        last_day=body.last_day,
        times=[t.model_dump(mode="json") for t in body.times],
        other_cities=body.other_cities,
        weekdays_only=body.weekdays_only,
    )
    plan_id = await committed(uow, stations.file_plan, actor_from(request, principal), station_id, plan)
    return PlanOut(
        id=plan_id,
        station_id=station_id,
        first_day=body.first_day,
        last_day=body.last_day,
        other_cities=body.other_cities,
        state="filed",
    )


@router.post("/inspection-plans/{plan_id}/publication", response_model=PlanOut, summary="Publish a plan")
async def publish_plan(plan_id: uuid.UUID, request: Request, uow: UowDep, principal: System) -> PlanOut:
    """VH-14: the province publishes the plan: its slots open for appointments and the plan is published
    as an event."""
    plan, slots = await committed(uow, stations.publish_plan, actor_from(request, principal), plan_id)
    return PlanOut(
        id=plan_id,
        station_id=plan["station_id"],
        first_day=plan["first_day"],
        last_day=plan["last_day"],
        other_cities=plan["other_cities"],
        state="published",
        slots=slots,
    )


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
    actor = actor_from(request, principal)
    after, cancelled = await committed(uow, stations.set_state, actor, station_id, body.state, body.reason)
    return StationStateOut(**_station_out(after).model_dump(), cancelled_bookings=cancelled)


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
    rows = await committed(uow, stations.slots_of, station_id, day_from, day_to)
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
        vehicle, slot, booking_id = await committed(
            uow, inspections.book, principal, actor, body.vehicle_id, body.slot_id
        )
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
    return [_booking_out(r) for r in await committed(uow, inspections.bookings_of, principal)]


@router.post("/inspection-bookings/{booking_id}/cancellation", response_model=BookingOut, summary="Cancel")
async def cancel_booking(
    booking_id: uuid.UUID, request: Request, uow: UowDep, principal: Citizen
) -> BookingOut:
    """VH-13: the holder cancels before the inspection day; the place returns to the slot."""
    row = await committed(uow, inspections.cancel, principal, actor_from(request, principal), booking_id)
    return _booking_out(row, "cancelled")
