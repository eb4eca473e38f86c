"""Part "redis": Redis restarted under citizens selecting their plate numbers.

plate-pool's hot state (the pool's bitmap, holds, allocations mirrored from the ledger, each selection's
hash) lives in a Redis that keeps nothing on disk (architecture.md, traps): a restart loses all of it.
Two api replicas and the worker run on a private Redis (and a private PostgreSQL); citizens arrive one
after another and go through the whole pre-selection while Redis is stopped twice for a few seconds.

What must hold: no confirmed allocation is lost (every confirmation answered 200 is in the ledger), no
number is given to two people (the ledger, the hot state and the people's views), and once the worker
has rebuilt the pool from the segment minus the ledger, the hot state agrees with PostgreSQL: Redis's
allocated set is the ledger's, and no number is both available and held or allocated. `recovered_s`: from
Redis accepting connections again to every replica's next success answer, the worst restart.
"""

from __future__ import annotations

import asyncio
import os
import time
from collections.abc import Iterator

import pytest

from servicekit.testservers import PrivatePostgres, PrivateRedis
from tests.proof.conftest import Progress, Record

from .platepool import (
    Load,
    Platform,
    check,
    free_port,
    hot_agrees,
    prepare_database,
    stand_in_for_notify,
    views_agree,
)

pytestmark = [pytest.mark.proof, pytest.mark.fault, pytest.mark.integration]

PEOPLE = 60
EVERY_S = 0.3
DOWN_S = 2.0


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
async def test_redis_restarts_under_plate_selection(
    servers: tuple[PrivatePostgres, PrivateRedis], record_figures: Record, progress: Progress
) -> None:
    pg, redis = servers
    broker_url = os.environ["TMS_TEST_AMQP_URL"]
    await stand_in_for_notify(broker_url)
    platform = Platform(prepare_database(pg), redis.url(), broker_url)
    await platform.open_segment()
    platform.start()
    load = Load(platform)
    try:
        await platform.wait_ready()
        progress(f"redis: {PEOPLE} citizens arriving every {EVERY_S} s on {len(platform.urls)} replicas")
        began = time.monotonic()
        running = asyncio.create_task(load.run(PEOPLE, EVERY_S))
        backs: list[float] = []
        await asyncio.sleep(4.0)
        for _ in range(2):
            progress(f"redis: stopped (everything it held is gone), {len(load.answers)} answers so far")
            await asyncio.to_thread(redis.stop)
            await asyncio.sleep(DOWN_S)
            await asyncio.to_thread(redis.start)
            backs.append(time.monotonic())
            progress("redis: back, empty")
            await asyncio.sleep(6.0)  # each recovery seen on its own before the next fault
        await running
        progress(f"redis: load done in {time.monotonic() - began:.1f} s; statuses {dict(load.statuses())}")
        verdict = await check(platform, load)
        await asyncio.sleep(11)  # the worker's pools sweep (every 10 s) has rebuilt whatever is missing
        hot = await hot_agrees(platform)
        views = await views_agree(load)
    finally:
        await load.aclose()
        platform.stop()

    statuses = load.statuses()
    for back in backs:
        progress(f"redis: after it was back: {load.timeline(back)}")
    recovered = max(load.recovered_s(back) for back in backs)
    figures = {
        "draws": sum(1 for a in load.answers if a.status == 201 and a.step == "random-draws"),
        "confirmed": sum(1 for who in load.citizens if who.confirmed),
        "lost": len(verdict.lost),
        "double_effects": len(verdict.doubled) + len(views),
        "recovered_s": recovered,
        "hot_state_disagreements": len(hot),
        "answered_500": statuses[500],
        "answered_503": statuses[503],
        "gave_up": sum(1 for who in load.citizens if who.gave_up),
    }
    record_figures("redis", figures)
    progress(f"redis: figures {figures}")
    gave_up = [(who.index, who.gave_up, who.log[-6:]) for who in load.citizens if who.gave_up]
    for line in gave_up[:8]:
        progress(f"redis: gave up {line}")
    assert not verdict.lost, verdict.lost
    assert not verdict.doubled, verdict.doubled
    assert not views, views
    assert not hot, hot
    assert recovered < 30, f"not recovered: {recovered}"
    assert statuses[500] == 0, "Redis away is a 503, not a 500"
    assert not gave_up, gave_up[:5]
