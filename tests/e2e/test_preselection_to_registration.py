"""A pre-selection taken through the counter's first registration and back, over the real broker
(PP-08, PP-09, VH-15, ADR 0045):

plate-pool's api confirms a selection and writes `plate-pool.selection.confirmed.v1` to its outbox; its
worker relays it; vehicle's worker projects it; the counter (vehicle's api) registers the car with that
selection, which writes `vehicle.vehicle.registered.v1`; vehicle's worker relays it; plate-pool's worker
settles the selection. PP-09 is decided once, at the counter: plate-pool acts on the outcome.

Real PostgreSQL (`plate_pool_test`, `vehicle_test`), Redis and RabbitMQ (the test vhost); both workers run
in this process without their sweeps; both apis run on one FixedClock (a Monday morning), the workers on
the platform clock (their handlers take no deadline from it). Offices, numbers and keys are new on every
run.
"""

from __future__ import annotations

import base64
import secrets
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import httpx
import pytest
from sqlalchemy import delete, select, update
from stdnum.cn import uscc

from plate_pool_service.domain import OfficeSettings
from plate_pool_service.main import create_app as create_plate_pool_app
from plate_pool_service.segments import PlanSegment, build_pool, plan_segment, save_office_settings
from plate_pool_service.service import SPEC as PLATE_POOL
from plate_pool_service.settings import PlatePoolSettings
from plate_pool_service.tables import allocations, bans, segments, selections
from servicekit.clock import SHANGHAI, FixedClock
from servicekit.crypto import blind_match
from servicekit.migrate import migrate
from servicekit.runtime import Runtime
from servicekit.testing import (
    TokenFactory,
    new_phone,
    new_resident_id,
    outbox_payloads,
    service_client,
    set_test_calendar_years,
)
from servicekit.validators import vin_check_digit
from servicekit.web import create_service_app
from servicekit.worker import Worker
from vehicle_service.api import router as vehicle_router
from vehicle_service.service import SPEC as VEHICLE

from .workers import eventually, running_workers, without_sweeps

pytestmark = pytest.mark.integration

MONDAY_10AM = datetime(2027, 3, 1, 10, 0, tzinfo=SHANGHAI)
JPEG = base64.b64encode(b"\xff\xd8\xff\xe0" + b"0" * 64).decode()


def new_vin() -> str:
    alphabet = "0123456789ABCDEFGHJKLMNPRSTUVWXYZ"
    body = "LFV" + "".join(secrets.choice(alphabet) for _ in range(14))
    return body[:8] + vin_check_digit(body[:8] + "0" + body[9:]) + body[9:]


def new_uscc(region: str) -> str:
    while True:
        body = "91" + region + "".join(secrets.choice("0123456789") for _ in range(9))
        code = body + uscc.calc_check_digit(body)
        if uscc.is_valid(code):
            return code


@dataclass
class Pipe:
    office: str
    tokens: TokenFactory
    plates: httpx.AsyncClient
    counter: httpx.AsyncClient
    clerk: dict[str, str]
    plate_pool: Worker


@pytest.fixture(scope="module")
def databases() -> None:
    for spec in (PLATE_POOL, VEHICLE):
        migrate(spec.name)
        # WD-01: the pipe lives in 2027, which both keep in their copy of the office calendar (test fixture)
        set_test_calendar_years(spec.settings().database.url, 2027)


@pytest.fixture(scope="module")
async def pipe(databases: None) -> AsyncIterator[Pipe]:
    office = "13" + f"{secrets.randbelow(10_000):04d}"
    clock = FixedClock(MONDAY_10AM)
    tokens = TokenFactory()
    # The default hot-state prefix: plate-pool's worker cancels through it (subscriptions.configured_hot).
    pool_settings = PlatePoolSettings(cache_ttl_s=0)
    plate_app = create_plate_pool_app(pool_settings, clock=clock)
    plate_app.state.verifier = tokens.verifier()
    vehicle_settings = VEHICLE.settings()
    vehicle_app = create_service_app(
        vehicle_settings,
        title="vehicle",
        routers=[vehicle_router],
        runtime_factory=lambda: Runtime.open(vehicle_settings, VEHICLE.metadata, clock=clock),
    )
    vehicle_app.state.verifier = tokens.verifier()
    async with (
        running_workers(without_sweeps(PLATE_POOL), without_sweeps(VEHICLE)) as (plate_pool, _vehicle),
        service_client(plate_app) as plates,
        service_client(vehicle_app) as counter,
    ):
        ctx = plate_app.state.plate
        async with ctx.runtime.engine.begin() as conn:
            for table in (allocations, selections, segments):
                await conn.execute(delete(table).where(table.c.office_code == office))
        # The pool is small; this test office's floor (PP-10) is lowered to it.
        await save_office_settings(
            ctx.runtime, office, OfficeSettings(low_pool_threshold=1_000), superior="130000", name="test"
        )
        now = await clock.now()
        segment_id = await plan_segment(
            ctx,
            PlanSegment(
                office_code=office,
                prefix="冀A",
                pattern="3####",
                custom_patterns=["#####"],
                opens_at=now - timedelta(days=1),
            ),
            "test",
            now,
        )
        async with ctx.runtime.uow() as uow:
            await uow.session.execute(
                update(segments)
                .where(segments.c.id == segment_id)
                .values(state="published", published_at=now)
            )
            await uow.commit()
        await build_pool(ctx, segment_id)
        clerk = tokens.headers(tokens.clerk(roles=("clerk.intake",), office=office))
        yield Pipe(office, tokens, plates, counter, clerk, plate_pool)
        async with ctx.runtime.engine.begin() as conn:
            ours = (
                await conn.execute(select(selections.c.id).where(selections.c.office_code == office))
            ).scalars()
            keys = [ctx.hot.home_key(str(sid)) for sid in ours]
            for table in (allocations, selections, segments):
                await conn.execute(delete(table).where(table.c.office_code == office))
        redis = ctx.runtime.redis
        keys += [k async for k in redis.scan_iter(match=ctx.hot.seg_key(segment_id, "*"), count=1000)]
        await redis.delete(*keys)


async def _sms_code(p: Pipe, phone: str) -> str:
    async with p.plate_pool.runtime.engine.connect() as conn:
        sent = await outbox_payloads(conn, "notify.sms.send.v1", newest_first=True, phone=phone)
        code = sent[0]["params"]["code"] if sent else None
    assert code is not None, "no code sent"
    return str(code)


async def preselect(p: Pipe, headers: dict[str, str], owner: dict[str, str], vin: str, phone: str) -> Any:
    """PP-01..PP-08 through plate-pool's api: start, draw, choose, SMS code, confirm."""
    body = {
        "vin": vin,
        "vehicle_kind": "small_car",
        "invoice": {
            "number": "12345678",
            "code": "113001900111",
            "date": "2027-02-27",
            "amount_fen": 15_800_000,
            "photo": JPEG,
        },
        "certificate_number": "WAC" + secrets.token_hex(6).upper(),
        "owner": owner,
        "phone": phone,
        "office_code": p.office,
    }
    r = await p.plates.post("/api/v1/plate-selections", json=body, headers=headers)
    assert r.status_code == 201, r.text
    url = f"/api/v1/plate-selections/{r.json()['id']}"
    r = await p.plates.post(f"{url}/random-draws", headers=headers)
    assert r.status_code == 201, r.text
    r = await p.plates.post(f"{url}/choice", json={"number": r.json()["numbers"][0]}, headers=headers)
    assert r.status_code == 200, r.text
    r = await p.plates.post(f"{url}/sms-code", headers=headers)
    assert r.status_code == 202, r.text
    r = await p.plates.post(f"{url}/confirmation", json={"code": await _sms_code(p, phone)}, headers=headers)
    assert r.status_code == 200, r.text
    assert r.json()["state"] == "selected"
    return r.json()


async def register_at_counter(p: Pipe, body: dict[str, Any]) -> httpx.Response:
    """The counter's first registration, once vehicle has projected the confirmation."""
    answer: list[httpx.Response] = []

    async def projected() -> bool:
        r = await p.counter.post("/api/v1/vehicles", json=body, headers=p.clerk)
        if r.status_code == 409 and r.json()["code"] == "SELECTION_UNKNOWN":
            return False  # the confirmation has not reached vehicle yet
        answer.append(r)
        return True

    await eventually(projected, "plate-pool's confirmation projected by vehicle")
    return answer[0]


async def settled(p: Pipe, selection_id: str) -> tuple[str, str | None]:
    state: tuple[str, str | None] = ("", None)

    async def done() -> bool:
        nonlocal state
        async with p.plate_pool.runtime.engine.connect() as conn:
            row = (
                await conn.execute(
                    select(selections.c.state, selections.c.cancel_reason).where(
                        selections.c.id == uuid.UUID(selection_id)
                    )
                )
            ).one()
        state = (row.state, row.cancel_reason)
        return row.state != "selected"

    await eventually(done, "vehicle's outcome acted on by plate-pool")
    return state


async def bans_of(p: Pipe, id_number: str) -> list[Any]:
    async with p.plate_pool.runtime.engine.connect() as conn:
        return list(
            (await conn.execute(select(bans).where(blind_match(bans.c.owner_id_number, id_number)))).all()
        )


async def test_pp09_a_name_differing_only_by_spaces_is_registered_settled_and_bans_no_one(pipe: Pipe) -> None:
    p = pipe
    id_number, vin, phone = new_resident_id(p.office), new_vin(), new_phone()
    token = p.tokens.citizen(f"person-{secrets.token_hex(6)}", id_number=id_number, phone=phone, ttl_s=3600)
    owner = {"id_kind": "resident_id", "id_number": id_number, "name": "欧阳 娜娜"}
    selection = await preselect(p, p.tokens.headers(token), owner, vin, phone)
    at_counter = {**owner, "name": "欧阳娜娜"}  # the counter's record of the name, without the space
    r = await register_at_counter(
        p, {"selection_id": selection["id"], "vin": vin, "owner": at_counter, "phone": phone}
    )
    assert r.status_code == 201, r.text
    assert r.json()["plate_number"] == selection["plate_number"]
    assert await settled(p, selection["id"]) == ("registered", None)
    assert await bans_of(p, id_number) == []


async def test_pp09_a_difference_the_counter_refuses_cancels_the_number_with_the_ban(pipe: Pipe) -> None:
    p = pipe
    id_number, vin, phone = new_resident_id(p.office), new_vin(), new_phone()
    token = p.tokens.citizen(f"person-{secrets.token_hex(6)}", id_number=id_number, phone=phone, ttl_s=3600)
    owner = {"id_kind": "resident_id", "id_number": id_number, "name": "卫十四"}
    selection = await preselect(p, p.tokens.headers(token), owner, vin, phone)
    r = await register_at_counter(
        p, {"selection_id": selection["id"], "vin": vin, "owner": owner, "phone": new_phone()}
    )
    assert (r.status_code, r.json()["code"], r.json()["mismatched"]) == (409, "SELECTION_MISMATCH", ["phone"])
    assert await settled(p, selection["id"]) == ("cancelled", "registration_mismatch")
    (ban,) = await bans_of(p, id_number)
    assert ban.until.year == ban.created_at.astimezone(SHANGHAI).year + 2


async def test_vh15_a_units_preselection_is_registered_at_the_counter_and_settled(pipe: Pipe) -> None:
    """One vocabulary of identity kinds (ADR 0045): the unit's credit code is `uscc` in plate-pool's body,
    its confirmed event, vehicle's projection and the counter's body alike."""
    p = pipe
    code, vin, phone = new_uscc(p.office), new_vin(), new_phone()
    token = p.tokens.mint(f"unit-{code}", kind="unit", roles=("unit",), id_number=code, phone=phone)
    owner = {"id_kind": "uscc", "id_number": code, "name": "石家庄某某科技有限公司"}
    selection = await preselect(p, p.tokens.headers(token), owner, vin, phone)
    r = await register_at_counter(
        p, {"selection_id": selection["id"], "vin": vin, "owner": owner, "phone": phone}
    )
    assert r.status_code == 201, r.text
    assert (r.json()["plate_number"], r.json()["owner_id_kind"]) == (selection["plate_number"], "uscc")
    assert await settled(p, selection["id"]) == ("registered", None)
    assert await bans_of(p, code) == []
