"""The pipe under faults: a consumer killed between commit and ack, and the broker restarted while
1,000 events are on their way. The restart happens to a private RabbitMQ node, not the shared one."""

from __future__ import annotations

import asyncio
import json
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from servicekit.testservers import PrivateRabbit

from .test_messaging import _equals, _true, open_pipe, wait_for

pytestmark = [pytest.mark.integration, pytest.mark.fault]


async def test_consumer_killed_between_commit_and_ack_causes_no_second_effect(
    pg_database: str, amqp_url: str
) -> None:
    async with open_pipe(pg_database, amqp_url, consume=False) as pipe:
        await pipe.emit(41)
        assert await pipe.relay.relay_once() == 1
        child = await asyncio.to_thread(
            subprocess.run,
            [
                sys.executable,
                str(Path(__file__).with_name("consume_and_die.py")),
                pipe.settings.database.url,
                amqp_url,
                pipe.producer,
                pipe.consumer_service,
            ],
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )
        assert child.returncode == -9, child.stderr[-2000:]
        assert await pipe.effects() == [41]  # committed before the kill
        await pipe.consumer.start()  # the delivery comes again: the inbox absorbs it
        await wait_for(lambda: _true(pipe.consumer.stats.duplicates == 1))
        assert await pipe.effects() == [41]
        assert pipe.consumer.stats.effects == 0


@pytest.fixture(scope="module")
def private_rabbit() -> Iterator[PrivateRabbit]:
    rabbit = PrivateRabbit(port=5699)
    rabbit.start()
    yield rabbit
    rabbit.destroy()


async def test_thousand_events_survive_a_broker_restart(
    pg_database: str, private_rabbit: PrivateRabbit
) -> None:
    total = 1000
    async with open_pipe(pg_database, private_rabbit.url) as pipe:
        await asyncio.sleep(6)  # let the new quorum queues settle before the fault (see architecture traps)
        stop = asyncio.Event()
        relay_task = asyncio.create_task(pipe.relay.run(stop))

        async def produce() -> None:
            for start in range(0, total, 25):
                await pipe.emit(*range(start, start + 25))
                await asyncio.sleep(0.25)  # ~10 s of production, so the restart lands in the middle

        producing = asyncio.create_task(produce())
        await wait_for(lambda: _true(pipe.relay.stats.published >= 300), timeout_s=60)
        published_at_restart = pipe.relay.stats.published
        await asyncio.to_thread(private_rabbit.restart)
        await producing
        try:
            await wait_for(lambda: _equals(pipe.effects(), list(range(total))), timeout_s=180)
        finally:
            stop.set()
            await relay_task
        effects = await pipe.effects()
        figures = {
            "published": pipe.relay.stats.published,
            "published_before_restart": published_at_restart,
            "publish_retries": pipe.relay.stats.failed_attempts,
            "delivered": pipe.consumer.stats.delivered,
            "effects": len(effects),
            "distinct_effects": len(set(effects)),
            "duplicates_suppressed": pipe.consumer.stats.duplicates,
            "dead_lettered": pipe.consumer.stats.dead_lettered,
        }
        print("\nbroker-restart figures:", json.dumps(figures))
        assert await pipe.pending() == 0
        assert figures["effects"] == figures["distinct_effects"] == total
        assert figures["dead_lettered"] == 0
        assert 0 < published_at_restart < total, (
            "the restart must land while events are still being published"
        )


async def test_relay_sends_its_backlog_as_soon_as_the_broker_is_back(
    pg_database: str, private_rabbit: PrivateRabbit
) -> None:
    """A broker outage is the broker's, not each row's: rows that failed through it are not pushed back by
    their own backoff (up to a minute with the deployed ceiling), so the backlog leaves once it is back."""
    total = 300
    async with open_pipe(pg_database, private_rabbit.url, retry_base_ms=1000) as pipe:
        pipe.settings.broker.retry_max_ms = 60_000  # the deployed ceiling (BrokerSettings' default)
        await asyncio.sleep(6)  # let the new quorum queues settle before the fault (see architecture traps)
        stop = asyncio.Event()
        relay_task = asyncio.create_task(pipe.relay.run(stop))
        try:
            await asyncio.to_thread(private_rabbit.stop)
            await pipe.emit(*range(total))
            await asyncio.sleep(25)  # the relay tries through the outage
            assert await pipe.pending() == total
            await asyncio.to_thread(private_rabbit.start)
            back = asyncio.get_running_loop().time()
            await wait_for(lambda: _equals(pipe.effects(), list(range(total))), timeout_s=60)
            recovered_s = asyncio.get_running_loop().time() - back
        finally:
            stop.set()
            await relay_task
        print(f"\nbacklog of {total} delivered {recovered_s:.1f} s after the broker was back")
        assert recovered_s < 12, f"the backlog took {recovered_s:.1f} s after the broker was back"
