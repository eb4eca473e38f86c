"""The demo data of `make run`: camera records on identity's demo vehicles (VI-01), loaded again with
nothing changed; once identity's and vehicle's events have told violation of 张三's bindings, he sees his
four through the API (VI-05), may handle two online and not the one above 200 yuan (VI-02), and holds the
fourth decided and paid (VI-03, VI-04); the logistics company sees its own and may not handle it."""

from __future__ import annotations

from datetime import date
from typing import Any

import httpx
import pytest
from sqlalchemy import select

from servicekit.ids import demo_id
from servicekit.runtime import Runtime
from servicekit.testing import TokenFactory
from violation_service import demo
from violation_service import subscriptions as subs
from violation_service.context import context_for
from violation_service.localbank import LocalBank
from violation_service.settings import ViolationSettings
from violation_service.tables import bank_transactions, decisions, violations

from .conftest import deliver

pytestmark = pytest.mark.integration

DEMO_IDS = [record.record_id for record in demo.DEMO_RECORDS]


def test_vi01_demo_vehicles_carry_the_plates_vehicles_demo_gives_them() -> None:
    from vehicle_service import demo as vehicle_demo

    rows = {str(row["id"]): row for row in vehicle_demo.demo_vehicles(date(2027, 3, 1)) if "id" in row}
    for vehicle in demo.DEMO_VEHICLES:
        row = rows[vehicle.vehicle_id]
        assert (row["owner_id_number"], row["plate_kind"], row["plate_number"], row["state"]) == (
            vehicle.owner,
            vehicle.plate_kind,
            vehicle.plate_number,
            "registered",
        )


def test_vi03_the_demo_decision_names_the_account_identitys_demo_makes_for_zhang_san() -> None:
    from identity_service import demo as identity_demo

    assert demo.demo_account_id(demo.ZHANG_SAN) == identity_demo.demo_account_id(demo.ZHANG_SAN)
    assert (demo.ZHANG_SAN, demo.ZHANG_SAN_PHONE) in identity_demo.DEMO_LICENCES
    assert identity_demo.demo_vehicle_ref(demo.ZHANG_SAN, 0) == demo.ZHANG_SAN_CAR.vehicle_id


async def _load(runtime: Runtime) -> int:
    settings = runtime.settings
    assert isinstance(settings, ViolationSettings)
    async with httpx.AsyncClient() as http, runtime.uow() as uow:
        bank = LocalBank.of(settings, runtime.redis, runtime.clock, http)
        added = await demo.load(uow, context_for(runtime), bank)
        await uow.commit()
    return added


async def _snapshot(runtime: Runtime) -> dict[str, Any]:
    async with runtime.engine.connect() as conn:
        rows = (
            await conn.execute(
                select(violations.c.id, violations.c.record_id, violations.c.state, violations.c.version)
                .where(violations.c.record_id.in_(DEMO_IDS))
                .order_by(violations.c.record_id)
            )
        ).all()
        decided = (
            await conn.execute(
                select(decisions.c.id, decisions.c.payment_state, decisions.c.paid_fen).where(
                    decisions.c.violation_id.in_([r.id for r in rows])
                )
            )
        ).all()
        paid = (
            await conn.execute(
                select(bank_transactions.c.id, bank_transactions.c.outcome).where(
                    bank_transactions.c.decision_id.in_([d.id for d in decided])
                )
            )
        ).all()
    return {"violations": rows, "decisions": decided, "payments": paid}


async def test_vi01_vi04_demo_loads_once_the_fourth_decided_and_paid(runtime: Runtime) -> None:
    await _load(runtime)
    first = await _snapshot(runtime)
    assert await _load(runtime) == 0  # make run loads it at every start
    assert await _snapshot(runtime) == first
    states = {r.record_id: r.state for r in first["violations"]}
    assert states == dict.fromkeys(DEMO_IDS, "open") | {"DEMO-VI-0004": "decided"}
    assert [(d.payment_state, d.paid_fen) for d in first["decisions"]] == [("paid", 10_000)]
    assert [p.outcome for p in first["payments"]] == ["booked"]


async def _bindings(runtime: Runtime, account_id: str, vehicle: demo.DemoVehicle, licence: bool) -> None:
    """What identity's and vehicle's events tell violation after `make run`'s workers start."""
    await deliver(
        runtime,
        subs.PLATES,
        {
            "vehicle_id": vehicle.vehicle_id,
            "plate_number": vehicle.plate_number,
            "plate_kind": vehicle.plate_kind,
            "owner": {"id_number": vehicle.owner},
        },
        "vehicle.vehicle.imported.v1",
        "/vehicle",
    )
    binding = {
        "binding_id": str(demo_id("test-binding", account_id, vehicle.vehicle_id)),
        "account_id": account_id,
        "record_kind": "vehicle",
        "ref": vehicle.vehicle_id,
        "owned": True,
        "channel": "online",
        "at": "2027-03-01T09:00:00+08:00",
    }
    await deliver(runtime, subs.VEHICLE_BINDINGS, binding, "identity.binding.created.v1")
    if licence:
        await deliver(
            runtime,
            subs.LICENCE_BINDINGS,
            {
                "binding_id": str(demo_id("test-binding", account_id, "licence")),
                "account_id": account_id,
                "licence_number": vehicle.owner,
                "holder_name": demo.ZHANG_SAN_NAME,
                "channel": "online",
                "at": "2027-03-01T09:00:00+08:00",
            },
            "identity.licence_binding.created.v1",
        )


async def test_vi05_vi02_zhang_san_sees_his_demo_records_through_the_api(
    runtime: Runtime, client: httpx.AsyncClient, tokens: TokenFactory
) -> None:
    await _load(runtime)
    zhang = str(demo.demo_account_id(demo.ZHANG_SAN))
    await _bindings(runtime, zhang, demo.ZHANG_SAN_CAR, licence=True)
    headers = tokens.headers(
        tokens.citizen(subject=zhang, id_number=demo.ZHANG_SAN, phone=demo.ZHANG_SAN_PHONE, channel="online")
    )

    listed = await client.get("/api/v1/violations", headers=headers)
    assert listed.status_code == 200, listed.text
    mine = {v["record_id"]: v for v in listed.json()["items"]}
    assert set(mine) == {"DEMO-VI-0001", "DEMO-VI-0002", "DEMO-VI-0003", "DEMO-VI-0004"}
    handling = {}
    for record_id, brief in mine.items():
        detail = (await client.get(f"/api/v1/violations/{brief['id']}", headers=headers)).json()
        handling[record_id] = (detail["handling"]["allowed"], detail["handling"]["refusal"])
        assert len(detail["evidence"]) == 2
        image = await client.get(detail["evidence"][0]["url"], headers=headers)
        assert (image.status_code, image.headers["content-type"]) == (200, "image/png")
        if record_id == "DEMO-VI-0004":
            assert detail["decision"]["payment_state"] == "paid"
    assert handling == {
        "DEMO-VI-0001": (True, None),  # 200 yuan, 6 points, his own car
        "DEMO-VI-0002": (True, None),  # a warning
        "DEMO-VI-0003": (False, "FINE_ABOVE_ONLINE_LIMIT"),
        "DEMO-VI-0004": (False, "VIOLATION_ALREADY_HANDLED"),
    }
    decided = (await client.get("/api/v1/violations/decisions", headers=headers)).json()["items"]
    assert [d["violation_id"] for d in decided] == [mine["DEMO-VI-0004"]["id"]]
    paid = (await client.get("/api/v1/payments", headers=headers)).json()["items"]
    assert [(p["decision_id"], p["amount_fen"], p["outcome"]) for p in paid] == [
        (decided[0]["id"], 10_000, "booked")
    ]

    unit = str(demo_id("test-account", demo.LOGISTICS_CAR.owner))
    await _bindings(runtime, unit, demo.LOGISTICS_CAR, licence=False)
    unit_headers = tokens.headers(
        tokens.mint(unit, kind="unit", roles=("unit",), id_number=demo.LOGISTICS_CAR.owner)
    )
    theirs = (await client.get("/api/v1/violations", headers=unit_headers)).json()["items"]
    assert [v["record_id"] for v in theirs] == ["DEMO-VI-0005"]
    detail = (await client.get(f"/api/v1/violations/{theirs[0]['id']}", headers=unit_headers)).json()
    assert detail["handling"] == {"allowed": False, "refusal": "PERSONAL_USERS_ONLY"}
    stranger = await client.get(f"/api/v1/violations/{theirs[0]['id']}", headers=headers)
    assert stranger.status_code == 404
