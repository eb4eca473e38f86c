"""Demo data for `make run` (dev only): `python -m violation_service.demo`. Idempotent: run at every start.

Camera records (VI-01) on the demo vehicles identity's demo binds, taken through intake as another police
system's records are, each with two small generated PNG images as evidence (AR-01). Record ids are fixed
(`DEMO-VI-…`): a record already taken is left as it is.

On 张三's car (130102199003071233, password `Demo2027pass`; identity's demo binds his car and his C1
licence, ADR 0060):
- `DEMO-VI-0001` red light, 200 yuan and 6 points: he may handle it online (VI-02: 200 yuan or less, his
  own car), then pay it (VI-04);
- `DEMO-VI-0002` parking, a warning: he may handle it online; nothing to pay;
- `DEMO-VI-0003` speeding by 50 % or more, 1,000 yuan and 6 points: not online, the detail view answers
  `handling: {allowed: false, refusal: FINE_ABOVE_ONLINE_LIMIT}` (a traffic police office handles it);
- `DEMO-VI-0004` parking, 100 yuan and no points: already decided for him (VI-03, its decision PDF) and
  paid at the local bank's counter with the voucher's payment reference (VI-04: the bank's signed notice
  read by the same adapter), so his decisions and payments list it.
On the logistics company's 冀AU0101 (unit 91130100MA0CXXXX1M): `DEMO-VI-0005`, 100 yuan: the unit sees it,
but only a personal user handles online (PERSONAL_USERS_ONLY).

What the citizen sees comes from violation's projections of identity's bindings and vehicle's plates,
which their events fill (ADR 0060). `make run` loads every demo before any worker starts, so this demo
declares violation's queues first (the first run's binding and vehicle events find them; identity's demo
publishes the demo accounts' bindings again at every run for a projection that missed them), and records
the demo vehicles' plates in its projection until vehicle's events do (the same values: vehicle's demo
fixes them). The decision of `DEMO-VI-0004` names 张三's account: the one violation's projection has for
his licence, else the id identity's demo makes his account with (`demo_id("account", number)`).
"""

from __future__ import annotations

import asyncio
import io
import sys
import uuid
from dataclasses import dataclass
from datetime import datetime

import httpx
from sqlalchemy import select
from sqlalchemy.engine import RowMapping

from servicekit.clock import SHANGHAI
from servicekit.consumer import Consumer
from servicekit.crypto import blind_match
from servicekit.ids import demo_id
from servicekit.relay import connect_broker
from servicekit.runtime import Runtime
from servicekit.uow import Actor, UnitOfWork
from violation_service import handling, intake, payments, projections
from violation_service import subscriptions as subs
from violation_service.context import ViolationContext, context_for
from violation_service.localbank import LocalBank
from violation_service.settings import SIMULATOR, ViolationSettings
from violation_service.tables import bindings, vehicle_plates, violations

DEMO_ACTOR = Actor(id="demo", role="system")
SOURCE = "demo-camera-system"  # the police system the records come from, as intake records its source


@dataclass(frozen=True)
class DemoVehicle:
    owner: str  # identity number or credit code, as vehicle's and identity's demos key it
    n: int  # the owner's n-th demo vehicle
    plate_kind: str
    plate_number: str

    @property
    def vehicle_id(self) -> str:
        """The id vehicle's demo gives the vehicle and identity's demo binds (`demo_vehicle_id`)."""
        return str(demo_id("vehicle", self.owner, self.n))


# vehicle's demo gives these vehicles these plates (its fixed seed for 张三's, its table for the unit's).
ZHANG_SAN = "130102199003071233"
ZHANG_SAN_CAR = DemoVehicle(ZHANG_SAN, 0, "02", "冀A6XYFB")
LOGISTICS_CAR = DemoVehicle("91130100MA0CXXXX1M", 0, "02", "冀AU0101")
DEMO_VEHICLES = (ZHANG_SAN_CAR, LOGISTICS_CAR)
ZHANG_SAN_NAME, ZHANG_SAN_PHONE = "张三", "13800138000"


@dataclass(frozen=True)
class DemoRecord:
    record_id: str
    vehicle: DemoVehicle
    violated_at: str
    office_code: str
    place: str
    violation_code: str
    description: str
    penalty: str
    fine_fen: int
    points: int
    decided_and_paid: bool = False


DEMO_RECORDS = (
    DemoRecord(
        "DEMO-VI-0001",
        ZHANG_SAN_CAR,
        "2026-11-18T08:12:00+08:00",
        "130104",
        "石家庄市中华大街与裕华路交叉口",
        "1625",
        "驾驶机动车违反道路交通信号灯通行的",
        "fine",
        20_000,
        6,
    ),
    DemoRecord(
        "DEMO-VI-0002",
        ZHANG_SAN_CAR,
        "2026-11-21T19:40:00+08:00",
        "130102",
        "石家庄市长安区建设北大街1号门前",
        "1039",
        "机动车违反规定停放、临时停车，妨碍其他车辆、行人通行的",
        "warning",
        0,
        0,
    ),
    DemoRecord(
        "DEMO-VI-0003",
        ZHANG_SAN_CAR,
        "2026-11-24T14:05:00+08:00",
        "130108",
        "石家庄市二环南路槐安路段",
        "1636",
        "驾驶机动车在城市道路上行驶超过规定时速50%以上的",
        "fine",
        100_000,
        6,
    ),
    DemoRecord(
        "DEMO-VI-0004",
        ZHANG_SAN_CAR,
        "2026-11-10T10:30:00+08:00",
        "130105",
        "石家庄市新华区友谊北大街66号门前",
        "1039",
        "机动车违反规定停放、临时停车，妨碍其他车辆、行人通行的",
        "fine",
        10_000,
        0,
        decided_and_paid=True,
    ),
    DemoRecord(
        "DEMO-VI-0005",
        LOGISTICS_CAR,
        "2026-11-26T07:55:00+08:00",
        "130104",
        "石家庄市槐安东路与体育大街交叉口",
        "1039",
        "机动车违反规定停放、临时停车，妨碍其他车辆、行人通行的",
        "fine",
        10_000,
        0,
    ),
)


def evidence_png(seed: int, shot: int) -> bytes:
    """A small picture standing in for a camera's shot: a road, lane marks and a car (Pillow, which
    reportlab brings)."""
    from PIL import Image, ImageDraw

    image = Image.new("RGB", (160, 96), (88, 92, 98))
    draw = ImageDraw.Draw(image)
    for x in range(0, 160, 24):
        draw.rectangle((x, 46, x + 12, 49), fill=(235, 235, 235))
    left = 20 + 30 * shot
    draw.rectangle((left, 58, left + 44, 80), fill=((60 * seed) % 256, 70, 170 - 20 * shot))
    draw.rectangle((left + 14, 74, left + 30, 78), fill=(30, 60, 200))  # the plate
    draw.ellipse((140, 6, 152, 18), fill=(220, 30, 30) if seed % 2 else (30, 190, 60))
    out = io.BytesIO()
    image.save(out, format="PNG")
    return out.getvalue()


def camera_record(record: DemoRecord, seed: int) -> intake.CameraRecord:
    return intake.CameraRecord(
        record_id=record.record_id,
        office_code=record.office_code,
        plate_kind=record.vehicle.plate_kind,
        plate_number=record.vehicle.plate_number,
        violated_at=datetime.fromisoformat(record.violated_at),
        place=record.place,
        violation_code=record.violation_code,
        description=record.description,
        penalty=record.penalty,
        fine_fen=record.fine_fen,
        points=record.points,
        evidence=(evidence_png(seed, 0), evidence_png(seed, 1)),
    )


def demo_account_id(id_number: str) -> uuid.UUID:
    """The id identity's demo makes a demo citizen's account with (its `demo_account_id`)."""
    return demo_id("account", id_number)


async def account_of(uow: UnitOfWork, licence_number: str) -> str:
    """The account that has bound this licence, as violation's projection knows it; before identity's
    event has arrived (a first `make run`), the id identity's demo gives the account."""
    known = (
        await uow.session.execute(
            select(bindings.c.account_id)
            .where(
                bindings.c.record_kind == "licence",
                blind_match(bindings.c.licence_number, licence_number),
                bindings.c.bound_at.is_not(None),
                bindings.c.ended_at.is_(None),
            )
            .order_by(bindings.c.bound_at.desc())
            .limit(1)
        )
    ).scalar_one_or_none()
    return str(known) if known is not None else str(demo_account_id(licence_number))


async def record_plates(uow: UnitOfWork) -> None:
    """The demo vehicles' plates, until vehicle's events record them (a plate vehicle told is kept)."""
    for vehicle in DEMO_VEHICLES:
        known = select(vehicle_plates.c.vehicle_id).where(vehicle_plates.c.vehicle_id == vehicle.vehicle_id)
        if (await uow.session.execute(known)).first() is None:
            await projections.project_plate(
                uow, vehicle.vehicle_id, vehicle.plate_kind, vehicle.plate_number, vehicle.owner
            )


async def decide_and_pay(uow: UnitOfWork, ctx: ViolationContext, bank: LocalBank, row: RowMapping) -> None:
    """VI-03 and VI-04 through their use cases: the decision issued to 张三, then paid at the local bank's
    counter with its payment reference; the bank's signed notice goes through the adapter (`receive_notice`)
    as it would over HTTP. The bank's ledger takes the payment once, so a run that failed after it books the
    same payment on the next run."""
    decision = await handling.issue(
        uow,
        ctx,
        DEMO_ACTOR,
        row,
        await account_of(uow, ZHANG_SAN),
        projections.Licence(ZHANG_SAN, ZHANG_SAN_NAME),
        ZHANG_SAN_PHONE,
    )
    due = payments.due_now(decision, uow.now)
    payment, _ = await bank.take(due.total_fen, payment_reference=decision["payment_reference"])
    await payments.receive_notice(uow, ctx, SIMULATOR, bank.notice_body(payment))


async def load(uow: UnitOfWork, ctx: ViolationContext, bank: LocalBank) -> int:
    """The demo records not taken yet; how many were taken."""
    await record_plates(uow)
    added = 0
    for seed, record in enumerate(DEMO_RECORDS, start=1):
        found = (
            (await uow.session.execute(select(violations).where(violations.c.record_id == record.record_id)))
            .mappings()
            .first()
        )
        if found is not None:
            continue
        taken = await intake.take(uow, ctx.documents, DEMO_ACTOR, SOURCE, camera_record(record, seed))
        added += 1
        if record.decided_and_paid:
            await decide_and_pay(uow, ctx, bank, taken.violation)
    return added


async def declare_queues(runtime: Runtime) -> None:
    """`make run` starts every worker at once: identity's and vehicle's relays could publish the demo's
    bindings and vehicles before violation's worker has bound its queues, and the broker would drop them
    as unrouted. Declaring again is harmless."""
    from violation_service.service import SPEC

    broker = runtime.settings.broker
    connection = await connect_broker(broker)
    try:
        channel = await connection.channel()
        for subscription in (subs.VEHICLE_BINDINGS, subs.LICENCE_BINDINGS, subs.PLATES):
            await Consumer(runtime, connection, SPEC.name, subscription, broker).declare(channel)
    finally:
        await connection.close()


async def run() -> int:
    from violation_service.service import SPEC

    settings = SPEC.settings()
    if not isinstance(settings, ViolationSettings) or not settings.is_test_env:
        print("violation demo data is for dev and test only", file=sys.stderr)
        return 2
    runtime = Runtime.open(settings, SPEC.metadata)
    try:
        await declare_queues(runtime)
        async with httpx.AsyncClient(trust_env=False) as http, runtime.uow() as uow:
            bank = LocalBank.of(settings, runtime.redis, runtime.clock, http)
            added = await load(uow, context_for(runtime), bank)
            await uow.commit()
        now = (await runtime.clock.now()).astimezone(SHANGHAI)
        print(f"violation demo: {added} camera records added ({now:%Y-%m-%d})", flush=True)
    finally:
        await runtime.aclose()
    return 0


def main() -> int:
    return asyncio.run(run())


if __name__ == "__main__":
    sys.exit(main())
