"""violation to license over the real broker (DL-12, VI-03): violation's outbox publishes
`violation.decision.issued.v1` and `violation.decision.revoked.v1`; license's worker takes them from
`license.record-points`, counts the points on the driver's licence (flagging it at 12, publishing each
change as `license.record.changed.v1`) and takes a revoked decision's points off again.

violation is not built yet (its decisions come later, VI-03); its published events are, so its outbox
is written here as its use case will write it. Real PostgreSQL (`violation_test`, `license_test`) and
RabbitMQ; violation runs a relay-only worker, license its consumers (with a fixed clock), in this
process, stopped by the fixture. Identity numbers and ids are new on every run.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import secrets
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from datetime import date, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import select

from license_service import records
from license_service.service import SPEC as LICENSE
from license_service.tables import licence_records
from license_service.tables import metadata as license_metadata
from servicekit.clock import SHANGHAI, FixedClock
from servicekit.migrate import migrate
from servicekit.runtime import Runtime
from servicekit.service import ServiceSpec
from servicekit.testing import new_resident_id
from servicekit.uow import SYSTEM_ACTOR
from servicekit.worker import Worker
from violation_service.published import DecisionIssued, DecisionRevoked
from violation_service.service import SPEC as VIOLATION

pytestmark = pytest.mark.integration

TIMEOUT_S = 30.0
NOW = datetime(2027, 3, 1, 9, 0, tzinfo=SHANGHAI)


async def eventually(check: Callable[[], Awaitable[bool]], what: str) -> None:
    loop = asyncio.get_running_loop()
    deadline = loop.time() + TIMEOUT_S
    while not await check():
        if loop.time() > deadline:
            raise AssertionError(f"not within {TIMEOUT_S:.0f} s: {what}")
        await asyncio.sleep(0.05)


@contextlib.asynccontextmanager
async def running_workers(*workers: Worker) -> AsyncIterator[None]:
    stop = asyncio.Event()
    tasks = [asyncio.create_task(w.run(stop), name=f"{w.spec.name}-worker") for w in workers]
    try:

        async def started() -> bool:
            for task in tasks:
                if task.done():
                    task.result()
                    raise AssertionError(f"{task.get_name()} stopped while starting")
            return all(w.relay is not None and len(w.consumers) == len(w.spec.subscriptions) for w in workers)

        await eventually(started, "the workers started")
        yield
    finally:
        stop.set()
        _, pending = await asyncio.wait(tasks, timeout=TIMEOUT_S)
        for task in pending:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)


def decision(number: str, points: int) -> DecisionIssued:
    return DecisionIssued(
        decision_id=str(uuid.uuid4()),
        decision_number="1301042027" + "".join(secrets.choice("0123456789") for _ in range(8)),
        violation_id=str(uuid.uuid4()),
        driver_id_number=number,
        plate_number="冀A12345",
        violation_code="1625",
        violated_at=NOW - timedelta(days=6),
        place="石家庄市中华大街与裕华路交叉口",
        points=points,
        fine_fen=20000,
        decided_at=NOW - timedelta(hours=1),
    )


@pytest.fixture(scope="module")
def databases() -> None:
    for spec in (VIOLATION, LICENSE):
        migrate(spec.name)


@pytest.fixture(scope="module")
async def workers(databases: None) -> AsyncIterator[dict[str, Worker]]:
    violation = Worker(dataclasses.replace(VIOLATION, subscriptions=(), sweeps=()))
    # license's consumers on a fixed clock (decisions are dated by it); its sweeps belong to its own tests.
    license_spec: ServiceSpec = dataclasses.replace(LICENSE, sweeps=())
    license_runtime = Runtime.open(LICENSE.settings(), LICENSE.metadata, clock=FixedClock(NOW))
    license = Worker(license_spec, runtime=license_runtime)
    async with running_workers(violation, license):
        yield {"violation": violation, "license": license}


async def publish(violation: Worker, *events: DecisionIssued | DecisionRevoked) -> None:
    """What violation's VI-03 use case will do: emit in the unit of work that issues the decision."""
    async with violation.runtime.uow() as uow:
        uow.emit(*events)
        await uow.commit()


async def test_dl12_decisions_published_by_violation_reach_the_licence_and_a_revocation_takes_them_off(
    workers: dict[str, Worker],
) -> None:
    violation, license = workers["violation"], workers["license"]
    number = new_resident_id()
    async with license.runtime.uow() as uow:
        row = await records.issue(
            uow,
            SYSTEM_ACTOR,
            records.Facts(
                number=number,
                name="张三",
                birth_date=date(1990, 3, 7),
                classes=frozenset({"C1"}),
                first_issue=date(2015, 8, 20),
                valid_from=date(2021, 8, 20),
                valid_until=date(2031, 8, 20),
                office_code="130100",
            ),
            "police_system",
        )
        await uow.commit()

    async def standing() -> tuple[int, str]:
        async with license.runtime.engine.connect() as conn:
            got = (
                await conn.execute(
                    select(licence_records.c.points, licence_records.c.state).where(
                        licence_records.c.id == row["id"]
                    )
                )
            ).one()
        return got.points, got.state

    first, second = decision(number, 6), decision(number, 6)
    await publish(violation, first)
    await publish(violation, first)  # published twice (two messages): counted once
    await publish(violation, second)

    async def flagged() -> bool:
        return await standing() == (12, "full_points")

    await eventually(flagged, "both decisions counted and the licence flagged")
    revoked = DecisionRevoked(
        **first.model_dump(include=set(DecisionRevoked.model_fields)),
        ground="litigation",
        revoked_at=NOW - timedelta(minutes=5),
    )
    await publish(violation, revoked)

    async def lifted() -> bool:
        return await standing() == (6, "valid")

    await eventually(lifted, "the revoked decision's points taken off and the flag lifted")
    outbox = license_metadata.tables["outbox"]
    async with license.runtime.engine.connect() as conn:
        published: list[dict[str, Any]] = [
            payload
            for (payload,) in await conn.execute(
                select(outbox.c.payload)
                .where(
                    outbox.c.subject == str(row["id"]), outbox.c.routing_key == "license.record.changed.v1"
                )
                .order_by(outbox.c.id)
            )
        ]
    assert [(p["change"], p["points"], p["state"]) for p in published] == [
        ("points", 6, "valid"),
        ("points", 12, "valid"),
        ("state", 12, "full_points"),
        ("points", 6, "full_points"),
        ("state", 6, "valid"),
    ]
