"""Demo data for `make run` (dev only): `python -m vehicle_service.demo`. Idempotent: run at every start.

- 3,000 vehicles of the office 130100 (石家庄) across states and markers, with owners holding valid
  resident identity numbers and mainland mobile phones, generated from a fixed seed (the same every run);
  the first ones belong to identity's demo citizens with the phones identity knows (ID-03): 张三
  130102199003071233 / 13800138000 and 赵六 130105197701010040 / 13800138003 (as identity's demo has them).
- 3 more vehicles owned by identity's demo units (ID-08, ADR 0012), recorded under their unified social
  credit codes as identity's demo makes them (its table's 17 characters + the computed check character):
  石家庄示例物流有限公司 91130100MA0CXXXX1M (two: one inside the VH-13 window, one not yet) and
  石家庄示例医院 12130100MA0HQ8PT3A (one), with the units' demo phone 13900139000.
- 4 inspection stations (3 in 石家庄, 1 in 唐山 open to other cities of the province) with a published plan
  covering the 30 days from the first run's platform date, 4 times a day.

VH-13 books only vehicles the caller has bound in identity (ADR 0044). identity's demo, which `make run`
runs just before this one, binds these owners' and units' vehicles: their ids here are derived from the
owner and a counter by the formula identity's demo uses (`demo_vehicle_id`), so it can bind them before
they exist. Its `identity.binding.created.v1` events reach vehicle's projection through the broker; this
demo declares that queue before any worker starts, so none of them is parked as unrouted on a first run.
"""

from __future__ import annotations

import asyncio
import random
import sys
import uuid
from collections import Counter
from datetime import date, datetime, time, timedelta
from typing import Any

from sqlalchemy import select
from sqlalchemy.dialects.postgresql import insert

from servicekit.clock import SHANGHAI
from servicekit.consumer import Consumer
from servicekit.ids import demo_id, new_id
from servicekit.relay import connect_broker
from servicekit.runtime import Runtime
from servicekit.uow import Actor, UnitOfWork
from servicekit.validators import vin_check_digit
from vehicle_service import published as ev
from vehicle_service import records
from vehicle_service import subscriptions as subs
from vehicle_service.tables import inspection_plans, inspection_slots, inspection_stations, vehicles

DEMO_ACTOR = Actor(id="demo", role="system")
COUNT = 3000
SEED = 20270301
KNOWN_OWNERS = [
    ("130102199003071233", "张三", "13800138000"),
    ("130105197701010040", "赵六", "13800138003"),
]
# (credit code, unit name, phone, plate, days until the inspection expires)
UNIT_VEHICLES = [
    ("91130100MA0CXXXX1M", "石家庄示例物流有限公司", "13900139000", "冀AU0101", 45),
    ("91130100MA0CXXXX1M", "石家庄示例物流有限公司", "13900139000", "冀AU0102", 300),
    ("12130100MA0HQ8PT3A", "石家庄示例医院", "13900139000", "冀AU0201", 60),
]
SURNAMES = "王李张刘陈杨黄赵吴周徐孙马朱胡郭何高林罗"
GIVEN = "伟芳娜秀英敏静丽强磊军洋勇艳杰娟涛明超秀兰霞平刚桂英"
_VIN = "ABCDEFGHJKLMNPRSTUVWXYZ0123456789"
_PLATE = "ABCDEFGHJKLMNPQRSTUVWXYZ0123456789"
_RIC_WEIGHTS = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)
STATIONS = [
    ("石家庄市第一机动车检测站", "石家庄市长安区建设北大街1号", "130100", False),
    ("石家庄市裕华机动车检测站", "石家庄市裕华区槐安东路88号", "130100", False),
    ("石家庄市新华机动车检测站", "石家庄市新华区友谊北大街66号", "130100", False),
    ("唐山市路南机动车检测站", "唐山市路南区新华西道12号", "130200", True),
]
TIMES = [("09:00", "10:30", 12), ("10:30", "12:00", 12), ("14:00", "15:30", 12), ("15:30", "17:00", 12)]


def demo_vehicle_id(owner_id_number: str, n: int) -> uuid.UUID:
    """The owner's n-th demo vehicle's id, as identity's demo computes it to bind the vehicle (ADR 0044)."""
    return demo_id("vehicle", owner_id_number, n)


def _resident_id(rng: random.Random) -> str:
    region = rng.choice(["130102", "130104", "130105", "130108", "130181"])
    born = date(1955, 1, 1) + timedelta(days=rng.randrange(0, 365 * 48))
    body = f"{region}{born:%Y%m%d}{rng.randrange(1000):03d}"
    return body + "10X98765432"[sum(int(c) * w for c, w in zip(body, _RIC_WEIGHTS, strict=True)) % 11]


def _vin(rng: random.Random) -> str:
    body = "LS" + "".join(rng.choice(_VIN) for _ in range(15))
    return body[:8] + vin_check_digit(body[:8] + "0" + body[9:]) + body[9:]


def demo_vehicles(today: date) -> list[dict[str, Any]]:
    """The same 3,000 personal records and the units' few every run (the seed fixes every value)."""
    rng = random.Random(SEED)
    rows: list[dict[str, Any]] = []
    for i in range(COUNT):
        if i < len(KNOWN_OWNERS):
            id_number, name, phone = KNOWN_OWNERS[i]
        else:
            id_number = _resident_id(rng)
            name = rng.choice(SURNAMES) + rng.choice(GIVEN) + rng.choice(GIVEN)
            phone = "13" + str(rng.randrange(5, 10)) + f"{rng.randrange(10**8):08d}"
        roll = rng.random()
        state, flags = "registered", []
        if roll < 0.03:
            state = "deregistered"
        elif roll < 0.05:
            state = "transferred_out"
        elif roll < 0.10:
            flags = [
                rng.choice(["stolen", "suspended", "suspect", "detained", "seized", "hit_and_run", "locked"])
            ]
        rows.append(
            {
                "office_code": "130100",
                "plate_kind": "52" if rng.random() < 0.15 else "02",
                "plate_number": "冀A" + "".join(rng.choice(_PLATE) for _ in range(5)),
                "vin": _vin(rng),
                "vehicle_kind": "small_car",
                "owner_id_kind": "resident_id",
                "owner_id_number": id_number,
                "owner_name": name,
                "phone": phone,
                "use": "commercial" if rng.random() < 0.08 else "non_commercial",
                "state": state,
                "flags": flags,
                # Inspections due from 1 to 24 months ahead: many inside the 3-month window (VH-13).
                "inspection_valid_until": today + timedelta(days=rng.randrange(20, 730))
                if i
                else today + timedelta(days=40),
                "insurance_valid_until": today + timedelta(days=rng.randrange(-30, 365)),
                "licence_photo_stored": rng.random() < 0.9 or i < len(KNOWN_OWNERS),
                "plate_reissue_count": 1 if rng.random() < 0.05 else 0,
            }
        )
    for row in rows[: len(KNOWN_OWNERS)]:
        row["id"] = demo_vehicle_id(row["owner_id_number"], 0)
    unit_rng = random.Random(SEED + 1)  # its own sequence: the 3,000 above stay as they were
    per_unit: Counter[str] = Counter()
    for credit_code, name, phone, plate, due_in in UNIT_VEHICLES:
        rows.append(
            {
                "id": demo_vehicle_id(credit_code, per_unit[credit_code]),
                "office_code": "130100",
                "plate_kind": "02",
                "plate_number": plate,
                "vin": _vin(unit_rng),
                "vehicle_kind": "small_car",
                "owner_id_kind": "uscc",
                "owner_id_number": credit_code,
                "owner_name": name,
                "phone": phone,
                "use": "non_commercial",
                "state": "registered",
                "flags": [],
                "inspection_valid_until": today + timedelta(days=due_in),
                "insurance_valid_until": today + timedelta(days=200),
                "licence_photo_stored": True,
                "plate_reissue_count": 0,
            }
        )
        per_unit[credit_code] += 1
    return rows


async def load_vehicles(uow: UnitOfWork) -> int:
    rows = demo_vehicles(uow.now.astimezone(SHANGHAI).date())
    added = 0
    for start in range(0, len(rows), 500):
        batch = [
            {"id": new_id()} | row | {"registered_at": uow.now, "updated_at": uow.now, "version": 1}
            for row in rows[start : start + 500]
        ]
        inserted = (
            (
                await uow.session.execute(
                    insert(vehicles).values(batch).on_conflict_do_nothing().returning(vehicles)
                )
            )
            .mappings()
            .all()
        )
        for row in inserted:
            uow.emit(
                ev.VehicleImported(
                    vehicle_id=str(row["id"]),
                    office_code=row["office_code"],
                    plate_number=row["plate_number"],
                    plate_kind=row["plate_kind"],
                    vin=row["vin"],
                    owner=records.owner_ref(row),
                    phone=row["phone"],
                    use=row["use"],
                    state=row["state"],
                    flags=list(row["flags"]),
                    imported_at=uow.now,
                )
            )
        added += len(inserted)
    return added


async def load_stations(uow: UnitOfWork) -> int:
    today = uow.now.astimezone(SHANGHAI).date()
    added = 0
    for name, address, city, other_cities in STATIONS:
        found = (
            await uow.session.execute(
                select(inspection_stations.c.id).where(inspection_stations.c.name == name)
            )
        ).first()
        if found is not None:
            continue
        station_id, plan_id = new_id(), new_id()
        await uow.session.execute(
            inspection_stations.insert().values(
                id=station_id,
                name=name,
                address=address,
                city_code=city,
                vehicle_kinds=["small_car", "large_car"],
                max_axle_load_kg=11500,
                brake_kinds=["hydraulic", "pneumatic"],
                state="open",
                created_at=uow.now,
                updated_at=uow.now,
            )
        )
        first, last = today + timedelta(days=1), today + timedelta(days=30)
        await uow.session.execute(
            inspection_plans.insert().values(
                id=plan_id,
                station_id=station_id,
                first_day=first,
                last_day=last,
                times=[{"start": s, "end": e, "capacity": c} for s, e, c in TIMES],
                other_cities=other_cities,
                state="published",
                published_at=uow.now,
                created_at=uow.now,
            )
        )
        slots = []
        day = first
        while day <= last:
            for s, e, c in TIMES:
                slots.append(
                    {
                        "id": new_id(),
                        "station_id": station_id,
                        "plan_id": plan_id,
                        "day": day,
                        "starts_at": datetime.combine(day, time.fromisoformat(s), tzinfo=SHANGHAI),
                        "ends_at": datetime.combine(day, time.fromisoformat(e), tzinfo=SHANGHAI),
                        "capacity": c,
                        "booked": 0,
                        "other_cities": other_cities,
                    }
                )
            day += timedelta(days=1)
        await uow.session.execute(inspection_slots.insert(), slots)
        uow.emit(
            ev.InspectionPlanPublished(
                plan_id=str(plan_id),
                station_id=str(station_id),
                station_name=name,
                city_code=city,
                first_day=first,
                last_day=last,
                other_cities=other_cities,
                slots=len(slots),
                capacity=sum(s["capacity"] for s in slots),
                published_at=uow.now,
            )
        )
        added += 1
    return added


async def declare_binding_queue(runtime: Runtime) -> None:
    """`make run` starts every worker at once: identity's relay could publish its demo's binding events
    before vehicle's worker has bound the queue, and the broker would park them as unrouted."""
    from vehicle_service.service import SPEC

    broker = runtime.settings.broker
    connection = await connect_broker(broker)
    try:
        channel = await connection.channel()
        await Consumer(runtime, connection, SPEC.name, subs.BINDINGS, broker).declare(channel)
    finally:
        await connection.close()


async def run() -> None:
    from vehicle_service.service import SPEC

    runtime = Runtime.open(SPEC.settings(), SPEC.metadata)
    try:
        await declare_binding_queue(runtime)
        async with runtime.uow() as uow:
            added = await load_vehicles(uow)
            stations = await load_stations(uow)
            if added or stations:
                uow.audit(
                    DEMO_ACTOR, "demo.loaded", "vehicle-demo", None, {"vehicles": added, "stations": stations}
                )
            await uow.commit()
        print(f"vehicle demo: {added} vehicles and {stations} stations added", flush=True)
    finally:
        await runtime.aclose()


def main() -> int:
    asyncio.run(run())
    return 0


if __name__ == "__main__":
    sys.exit(main())
