"""Inspection stations, their plans and slots (VH-14): one use case per action of the city and province
(system clients) and of anyone reading the slots. The HTTP module (`api/inspections.py`) parses, calls
and shapes; appointments themselves are in `inspections.py`.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from typing import Any

from sqlalchemy import func, select, update
from sqlalchemy.engine import RowMapping
from sqlalchemy.exc import IntegrityError

from servicekit.clock import SHANGHAI
from servicekit.ids import new_id
from servicekit.uow import Actor, UnitOfWork
from servicekit.web import NotFound
from vehicle_service import domain, inspections
from vehicle_service import published as ev
from vehicle_service.tables import (
    inspection_bookings,
    inspection_plans,
    inspection_slots,
    inspection_stations,
    vehicles,
)


async def station(uow: UnitOfWork, station_id: uuid.UUID, *, lock: bool = False) -> RowMapping:
    query = select(inspection_stations).where(inspection_stations.c.id == station_id)
    if lock:
        query = query.with_for_update()
    row = (await uow.session.execute(query)).mappings().first()
    if row is None:
        raise NotFound("station")
    return row


async def file_station(uow: UnitOfWork, actor: Actor, values: dict[str, Any]) -> RowMapping:
    """VH-14: a city files a station: place, vehicle kinds, axle load, brake kinds."""
    row: RowMapping = (
        (
            await uow.session.execute(
                inspection_stations.insert()
                .values(**values, id=new_id(), state="open", created_at=uow.now, updated_at=uow.now)
                .returning(inspection_stations)
            )
        )
        .mappings()
        .one()
    )
    uow.audit(
        actor,
        "inspection_station.filed",
        f"station:{row['id']}",
        None,
        {"name": row["name"], "city_code": row["city_code"]},
    )
    return row


async def stations_of(uow: UnitOfWork, city_code: str) -> list[RowMapping]:
    query = (
        select(inspection_stations)
        .where(inspection_stations.c.city_code == city_code)
        .order_by(inspection_stations.c.name)
    )
    return list((await uow.session.execute(query)).mappings().all())


@dataclass(frozen=True)
class Plan:
    first_day: date
    last_day: date
    times: list[dict[str, Any]]  # {"start": "09:00:00", "end": "10:30:00", "capacity": 12}
    other_cities: bool
    weekdays_only: bool


async def file_plan(uow: UnitOfWork, actor: Actor, station_id: uuid.UUID, plan: Plan) -> uuid.UUID:
    """VH-14: the city files a station's plan; it takes appointments once the province publishes it."""
    row = await station(uow, station_id)
    plan_id = new_id()
    await uow.session.execute(
        inspection_plans.insert().values(
            id=plan_id,
            station_id=row["id"],
            first_day=plan.first_day,
            last_day=plan.last_day,
            times=plan.times + ([{"weekdays_only": True}] if plan.weekdays_only else []),
            other_cities=plan.other_cities,
            state="filed",
            created_at=uow.now,
        )
    )
    uow.audit(actor, "inspection_plan.filed", f"plan:{plan_id}", None, {"station_id": str(station_id)})
    return plan_id


async def plans_of(uow: UnitOfWork, station_id: uuid.UUID) -> list[RowMapping]:
    """VH-14: a station's plans, newest first, each with the number of slots it opened."""
    await station(uow, station_id)
    slots = (
        select(func.count())
        .select_from(inspection_slots)
        .where(inspection_slots.c.plan_id == inspection_plans.c.id)
        .scalar_subquery()
    )
    query = (
        select(inspection_plans, slots.label("slots"))
        .where(inspection_plans.c.station_id == station_id)
        .order_by(inspection_plans.c.created_at.desc(), inspection_plans.c.id.desc())
    )
    return list((await uow.session.execute(query)).mappings().all())


def _slots(plan: RowMapping, station_id: uuid.UUID) -> list[dict[str, Any]]:
    entries = [t for t in plan["times"] if "start" in t]
    weekdays_only = any(t.get("weekdays_only") for t in plan["times"])
    slots = []
    day = plan["first_day"]
    while day <= plan["last_day"]:
        if not weekdays_only or day.weekday() < 5:
            for entry in entries:
                slots.append(
                    {
                        "id": new_id(),
                        "station_id": station_id,
                        "plan_id": plan["id"],
                        "day": day,
                        "starts_at": datetime.combine(
                            day, time.fromisoformat(entry["start"]), tzinfo=SHANGHAI
                        ),
                        "ends_at": datetime.combine(day, time.fromisoformat(entry["end"]), tzinfo=SHANGHAI),
                        "capacity": int(entry["capacity"]),
                        "booked": 0,
                        "other_cities": plan["other_cities"],
                    }
                )
        day += timedelta(days=1)
    return slots


async def publish_plan(uow: UnitOfWork, actor: Actor, plan_id: uuid.UUID) -> tuple[RowMapping, int]:
    """VH-14: the province publishes the plan: its slots open for appointments and it is published as an
    event. Returns the plan and its number of slots."""
    query = select(inspection_plans).where(inspection_plans.c.id == plan_id).with_for_update()
    plan = (await uow.session.execute(query)).mappings().first()
    if plan is None:
        raise NotFound("plan")
    if plan["state"] == "published":
        raise domain.PlanAlreadyPublished("the plan is published")
    where = await station(uow, plan["station_id"])
    slots = _slots(plan, where["id"])
    if slots:
        try:
            await uow.session.execute(inspection_slots.insert(), slots)
        except IntegrityError:
            raise domain.PlanOverlaps("the plan has slots at times another plan of the station has") from None
    await uow.session.execute(
        update(inspection_plans)
        .where(inspection_plans.c.id == plan_id)
        .values(state="published", published_at=uow.now)
    )
    uow.emit(
        ev.InspectionPlanPublished(
            plan_id=str(plan_id),
            station_id=str(where["id"]),
            station_name=where["name"],
            city_code=where["city_code"],
            first_day=plan["first_day"],
            last_day=plan["last_day"],
            other_cities=plan["other_cities"],
            slots=len(slots),
            capacity=sum(s["capacity"] for s in slots),
            published_at=uow.now,
        )
    )
    uow.audit(actor, "inspection_plan.published", f"plan:{plan_id}", None, {"slots": len(slots)})
    return plan, len(slots)


async def set_state(
    uow: UnitOfWork, actor: Actor, station_id: uuid.UUID, state: str, reason: str | None
) -> tuple[RowMapping, int]:
    """VH-14: a station that suspends or stops service takes no more appointments; the change is
    published, and every holder of an appointment from now on is told (one cancelled event each).
    Returns the station and the number of appointments cancelled."""
    before = await station(uow, station_id, lock=True)
    domain.check_station_change(before["state"], state)
    cancelled = 0 if state == "open" else await _cancel_bookings(uow, before, reason)
    after = (
        (
            await uow.session.execute(
                update(inspection_stations)
                .where(inspection_stations.c.id == station_id)
                .values(state=state, state_reason=reason, updated_at=uow.now)
                .returning(inspection_stations)
            )
        )
        .mappings()
        .one()
    )
    uow.emit(
        ev.StationStateChanged(
            station_id=str(station_id),
            name=before["name"],
            city_code=before["city_code"],
            state=state,
            reason=reason,
            affected_bookings=cancelled,
            changed_at=uow.now,
        )
    )
    uow.audit(
        actor,
        "inspection_station.state",
        f"station:{station_id}",
        {"state": before["state"]},
        {"state": state, "cancelled_bookings": cancelled},
    )
    return after, cancelled


async def _cancel_bookings(uow: UnitOfWork, where: RowMapping, reason: str | None) -> int:
    rows = (
        (
            await uow.session.execute(
                select(inspection_bookings, inspection_slots.c.starts_at, vehicles.c.plate_number)
                .join(inspection_slots, inspection_slots.c.id == inspection_bookings.c.slot_id)
                .join(vehicles, vehicles.c.id == inspection_bookings.c.vehicle_id)
                .where(
                    inspection_bookings.c.station_id == where["id"],
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
        await inspections.release(uow, row, "cancelled_by_station")
        uow.emit(inspections.cancelled_event(row, where["name"], "station", reason, uow.now))
    return len(rows)


async def slots_of(
    uow: UnitOfWork, station_id: uuid.UUID, day_from: date | None, day_to: date | None
) -> list[RowMapping]:
    """VH-14: a station's published slots; none while it is not open."""
    where = await station(uow, station_id)
    if where["state"] != "open":
        return []
    query = select(inspection_slots).where(inspection_slots.c.station_id == station_id)
    if day_from:
        query = query.where(inspection_slots.c.day >= day_from)
    if day_to:
        query = query.where(inspection_slots.c.day <= day_to)
    query = query.order_by(inspection_slots.c.starts_at).limit(500)
    return list((await uow.session.execute(query)).mappings().all())
