"""Sweeps: deadlines are found by reading the platform clock (WD-02), never by sleeping, and several
worker replicas never run the same sweep at once."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import Column, DateTime, Integer, MetaData, String, Table, insert, select, update

from servicekit.clock import FixedClock
from servicekit.db import new_metadata
from servicekit.runtime import Runtime
from servicekit.service import Sweep
from servicekit.worker import run_sweep

from .messaging_kit import create_tables, demo_settings

pytestmark = pytest.mark.integration

START = datetime(2027, 3, 1, 9, 0, tzinfo=UTC)


def holds_metadata() -> MetaData:
    metadata = new_metadata()
    Table(
        "holds",
        metadata,
        Column("id", Integer, primary_key=True),
        Column("state", String(20), nullable=False),
        Column("held_until", DateTime(timezone=True), nullable=False),
    )
    return metadata


async def expire_holds(runtime: Runtime) -> int:
    """The shape of every deadline sweep: `now` from the unit of work's clock, never datetime.now()."""
    holds = runtime.metadata.tables["holds"]
    async with runtime.uow() as uow:
        result = await uow.session.execute(
            update(holds)
            .where(holds.c.state == "held", holds.c.held_until <= uow.now)
            .values(state="expired")
        )
        await uow.commit()
    return result.rowcount


async def test_wd02_sweep_acts_once_the_clock_passes_the_deadline(pg_database: str, amqp_url: str) -> None:
    metadata = holds_metadata()
    create_tables(pg_database, metadata)
    clock = FixedClock(START)
    runtime = Runtime.open(demo_settings(pg_database, amqp_url), metadata, clock=clock)
    try:
        async with runtime.engine.begin() as conn:
            await conn.execute(
                insert(metadata.tables["holds"]),
                [{"id": 1, "state": "held", "held_until": START + timedelta(seconds=180)}],
            )
        sweep = Sweep("expire-holds", every_s=1, run=expire_holds)
        assert await run_sweep(runtime, sweep) == 0
        clock.advance(timedelta(seconds=179))
        assert await run_sweep(runtime, sweep) == 0
        clock.advance(timedelta(seconds=1))
        assert await run_sweep(runtime, sweep) == 1
        async with runtime.engine.connect() as conn:
            assert (await conn.execute(select(metadata.tables["holds"].c.state))).scalar_one() == "expired"
    finally:
        await runtime.aclose()


async def test_two_replicas_never_run_one_sweep_at_once(pg_database: str, amqp_url: str) -> None:
    metadata = holds_metadata()
    create_tables(pg_database, metadata)
    runtime = Runtime.open(demo_settings(pg_database, amqp_url), metadata, clock=FixedClock(START))
    running = 0
    overlaps = 0
    ran = 0

    async def slow(_runtime: Runtime) -> int:
        nonlocal running, overlaps, ran
        running += 1
        overlaps += running > 1
        await asyncio.sleep(0.3)  # holds the lock while the other replica tries
        running -= 1
        ran += 1
        return 1

    try:
        sweep = Sweep("slow", every_s=1, run=slow)
        results = await asyncio.gather(run_sweep(runtime, sweep), run_sweep(runtime, sweep))
        assert sorted(results) == [0, 1]
        assert (ran, overlaps) == (1, 0)
    finally:
        await runtime.aclose()
