"""The pipe on a RabbitMQ cluster (ADR 0098): three private nodes, the platform's quorum queues with a
replica on each, 5,000 events on their way from an outbox (the real relay, publisher confirms) to a real
consumer (its inbox, a row written per effect), and the node leading the queues SIGKILLed mid-stream.
Nothing is lost, nothing is applied twice, publishing and consuming go on through the loss (the clients
hold every node's address), and the node rejoins when it comes back. `make proof-broker-cluster`."""

from __future__ import annotations

import asyncio
import sys
import time
from collections.abc import Awaitable, Callable, Iterator
from pathlib import Path

import pytest
from sqlalchemy import distinct, func, select

from servicekit.testservers import RabbitCluster

from .test_messaging import Pipe, open_pipe

sys.path.insert(0, str(Path(__file__).resolve().parents[3] / "scripts"))
import proof_report

pytestmark = [pytest.mark.integration, pytest.mark.fault, pytest.mark.proof]

TOTAL = 5_000
BATCH = 50
PACE_S = 0.1  # between batches: ~10 s of production at most, so the kill lands in the middle of it
KILL_AT = 1_500  # effects applied before the kill
SETTLE_S = 8.0  # a quorum queue killed within ~5 s of its declaration can stay leaderless (architecture.md)
LIMIT_S = 240.0


@pytest.fixture(scope="module")
def cluster() -> Iterator[RabbitCluster]:
    nodes = RabbitCluster(port=5681)
    nodes.start()
    yield nodes
    nodes.destroy()


async def _counts(pipe: Pipe) -> tuple[int, int]:
    """(effect rows, distinct events among them)."""
    effects = pipe.metadata.tables["effects"]
    async with pipe.runtime.engine.connect() as conn:
        row = (await conn.execute(select(func.count(), func.count(distinct(effects.c.n))))).one()
        return int(row[0]), int(row[1])


async def _until(check: Callable[[], Awaitable[bool]], what: str, timeout_s: float = LIMIT_S) -> float:
    """Poll `check` until it holds; the seconds it took."""
    start = time.monotonic()
    while not await check():
        if time.monotonic() - start > timeout_s:
            raise AssertionError(f"not reached in {timeout_s:.0f} s: {what}")
        await asyncio.sleep(0.1)
    return time.monotonic() - start


@pytest.mark.timeout(900)
async def test_a_node_killed_under_five_thousand_events_loses_none_and_applies_none_twice(
    pg_database: str, cluster: RabbitCluster
) -> None:
    async with open_pipe(pg_database, cluster.url) as pipe:
        queue = pipe.consumer.queue
        assert queue is not None
        await asyncio.sleep(SETTLE_S)
        every_node = {node.node for node in cluster.nodes}
        leader, online = cluster.queue_members(cluster.nodes[0])[queue.name]
        assert online == every_node, f"{queue.name} has replicas on {online}, not on every node"
        victim = cluster.node(leader)
        survivor = next(node for node in cluster.nodes if node is not victim)

        stop = asyncio.Event()
        relay_task = asyncio.create_task(pipe.relay.run(stop), name="relay")

        async def produce() -> None:
            for start in range(0, TOTAL, BATCH):
                await pipe.emit(*range(start, start + BATCH))
                await asyncio.sleep(PACE_S)

        producing = asyncio.create_task(produce(), name="produce")
        try:

            async def enough_applied() -> bool:
                return (await _counts(pipe))[1] >= KILL_AT

            await _until(enough_applied, f"{KILL_AT} effects before the kill")
            published_at_kill = pipe.relay.stats.published
            applied_at_kill = (await _counts(pipe))[1]
            await asyncio.to_thread(victim.kill)
            killed_at = time.monotonic()

            # Deliveries already in the consumer's hand (the prefetch) may still commit: only more than
            # that is consuming again, and a confirmed publish after the kill is publishing again.
            async def both_going() -> bool:
                applied = (await _counts(pipe))[1]
                return (
                    pipe.relay.stats.published > published_at_kill
                    and applied > applied_at_kill + pipe.settings.broker.prefetch
                )

            try:
                await _until(both_going, "publishing and consuming after the kill")
            except AssertionError as exc:
                raise AssertionError(f"{exc}\n{cluster.describe(survivor)}") from exc
            recovered_s = time.monotonic() - killed_at
            published_during_loss = pipe.relay.stats.published - published_at_kill

            await asyncio.to_thread(victim.start)

            async def rejoined() -> bool:
                running = await asyncio.to_thread(cluster.running_nodes, survivor)
                members = await asyncio.to_thread(cluster.queue_members, survivor)
                return running == every_node and members.get(queue.name, ("", set()))[1] == every_node

            rejoin_s = await _until(rejoined, f"{victim.node} back in the cluster and in {queue.name}")
            await producing

            async def all_applied() -> bool:
                return (await _counts(pipe))[1] >= TOTAL and await pipe.pending() == 0

            await _until(all_applied, f"all {TOTAL} events applied")
            # Redeliveries of what was in hand at the kill arrive late: let them come and be absorbed.
            await asyncio.sleep(3)
        finally:
            stop.set()
            producing.cancel()
            await relay_task
        rows, distinct_events = await _counts(pipe)
        stats = pipe.consumer.stats
        figures = {
            "events": TOTAL,
            "lost": TOTAL - distinct_events,
            "applied_twice": rows - distinct_events,
            "killed_node": victim.node,
            "recovered_s": round(recovered_s, 1),
            "rejoin_s": round(rejoin_s, 1),
            "published_during_loss": published_during_loss,
            "redeliveries_absorbed": stats.duplicates,
            "relay_failed_attempts": pipe.relay.stats.failed_attempts,
            "relay_channels_renewed": pipe.relay.stats.channels_renewed,
        }
        proof_report.record("cluster", "node-loss", figures)
        print(f"\nbroker cluster, node loss: {figures}")
        assert figures["lost"] == 0
        assert figures["applied_twice"] == 0
        assert stats.dead_lettered == 0
        assert recovered_s < 60, f"publishing and consuming came back {recovered_s:.1f} s after the kill"
