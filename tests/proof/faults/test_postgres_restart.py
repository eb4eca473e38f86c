"""Part "postgres": PostgreSQL restarted under citizens doing their plate pre-selection through the API.

A private PostgreSQL (never the shared one) holds plate-pool's database; two api replicas and the worker
use it. Citizens arrive one after another and go through start, draw, choice, SMS code and confirmation,
retrying what failed as a browser would, while the server is stopped twice for a few seconds: a fast
shutdown (sessions ended cleanly), then an immediate one (no checkpoint: crash recovery at the start).

What must hold: every request that got a success answer is in the database afterwards, nothing happened
twice (a vehicle with two selections, a number allocated twice, a selection confirmed twice), and the
services came back by themselves (the pool's pre-ping drops the dead connections). `recovered_s`: from the
server accepting connections again to every replica's next success answer, the worst restart.
"""

from __future__ import annotations

import asyncio
import os
import time
from collections.abc import Iterator

import pytest

from servicekit.testservers import PrivatePostgres, PrivateRedis
from tests.proof.conftest import Progress, Record

from .platepool import Load, Platform, check, free_port, prepare_database, stand_in_for_notify

pytestmark = [pytest.mark.proof, pytest.mark.fault, pytest.mark.integration]

PEOPLE = 60
EVERY_S = 0.3  # a new citizen every 0.3 s: about 18 s of arrivals
DOWN_S = 3.0  # how long the server stays away each time


@pytest.fixture
def servers() -> Iterator[tuple[PrivatePostgres, PrivateRedis]]:
    pg = PrivatePostgres(port=free_port())
    redis = PrivateRedis(port=free_port())
    pg.start()
    redis.start()
    try:
        yield pg, redis
    finally:
        pg.destroy()
        redis.destroy()


@pytest.mark.timeout(600)
async def test_postgres_restarts_under_citizen_load(
    servers: tuple[PrivatePostgres, PrivateRedis], record_figures: Record, progress: Progress
) -> None:
    pg, redis = servers
    database_url = prepare_database(pg)
    broker_url = os.environ["TMS_TEST_AMQP_URL"]
    await stand_in_for_notify(broker_url)
    platform = Platform(database_url, redis.url(), broker_url)
    await platform.open_segment()
    platform.start()
    load = Load(platform)
    try:
        await platform.wait_ready()
        progress(f"postgres: {PEOPLE} citizens arriving every {EVERY_S} s on {len(platform.urls)} replicas")
        began = time.monotonic()
        running = asyncio.create_task(load.run(PEOPLE, EVERY_S))
        backs: list[float] = []
        await asyncio.sleep(4.0)
        for mode in ("fast", "immediate"):
            progress(f"postgres: {mode} shutdown, {len(load.answers)} answers so far")
            await asyncio.to_thread(pg.stop, mode)
            await asyncio.sleep(DOWN_S)
            await asyncio.to_thread(pg.start)
            backs.append(time.monotonic())
            progress(f"postgres: back after the {mode} shutdown")
            await asyncio.sleep(6.0)  # each recovery seen on its own before the next fault
        await running
        progress(f"postgres: load done in {time.monotonic() - began:.1f} s; statuses {dict(load.statuses())}")
        verdict = await check(platform, load)
    finally:
        await load.aclose()
        platform.stop()

    statuses = load.statuses()
    for back in backs:
        progress(f"postgres: after it was back: {load.timeline(back)}")
    recovered = max(load.recovered_s(back) for back in backs)
    successes = sum(n for status, n in statuses.items() if 200 <= status < 300)
    figures = {
        "requests": len(load.answers),
        "succeeded": successes,
        "lost": len(verdict.lost),
        "double_effects": len(verdict.doubled),
        "recovered_s": recovered,
        "answered_500": statuses[500],
        "answered_503": statuses[503],
        "no_answer": statuses[0],
        "confirmed": sum(1 for who in load.citizens if who.confirmed),
        "gave_up": sum(1 for who in load.citizens if who.gave_up),
    }
    record_figures("postgres", figures)
    progress(f"postgres: figures {figures}")
    gave_up = [(who.index, who.gave_up, who.log[-3:]) for who in load.citizens if who.gave_up]
    assert not verdict.lost, verdict.lost
    assert not verdict.doubled, verdict.doubled
    assert recovered < 30, f"not recovered: {recovered}"
    assert statuses[500] == 0, "a database away is our fault only if we say so: 503, not 500"
    assert not gave_up, gave_up[:5]
