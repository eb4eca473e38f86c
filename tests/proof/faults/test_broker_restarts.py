"""Proof "broker": 5,000 of identity's messages while RabbitMQ restarts three times (gracefully, then
SIGKILLed twice), carried by the platform's own workers (identity's outbox relay; notify's and vehicle's
consumers) through a private RabbitMQ node. Every message produced is consumed by every handler subscribed
to it, and no effect is applied twice. ADR 0087 describes the method."""

from __future__ import annotations

import asyncio
import dataclasses
import time
from collections.abc import AsyncIterator, Callable, Iterator
from datetime import UTC, datetime
from typing import Any

import pytest

from identity_service.service import SPEC as IDENTITY
from notify_service.service import SPEC as NOTIFY
from servicekit.migrate import migrate
from servicekit.service import ServiceSpec
from servicekit.settings import ServiceSettings
from servicekit.testservers import PrivateRabbit
from servicekit.worker import Worker
from vehicle_service.service import SPEC as VEHICLE

from .event_ledger import Ledger, count_effects, progress, reconcile

pytestmark = [pytest.mark.integration, pytest.mark.fault, pytest.mark.proof]

TOTAL = 5_000
BATCH = 25
PACE_S = 0.35  # between batches: ~70 s of production, so all three restarts land inside it
RESTARTS = ("graceful", "sigkill", "sigkill")
SETTLE_S = 8.0  # a quorum queue killed within ~5 s of its declaration can stay leaderless (architecture.md)
RECOVERY_LIMIT_S = 240.0

# The relay's and consumers' processes; identity relays only (its own consumers are other proofs' business).
PRODUCER = dataclasses.replace(IDENTITY, subscriptions=(), sweeps=())
CONSUMERS = tuple(dataclasses.replace(spec, sweeps=()) for spec in (NOTIFY, VEHICLE))


@pytest.fixture(scope="module")
def rabbit() -> Iterator[PrivateRabbit]:
    node = PrivateRabbit(port=5697, name="tmsproofbroker")
    node.start()
    yield node
    node.destroy()


@pytest.fixture
def on_private_broker(rabbit: PrivateRabbit, monkeypatch: pytest.MonkeyPatch) -> None:
    for spec in (PRODUCER, *CONSUMERS):
        migrate(spec.name)
        monkeypatch.setenv(ServiceSettings.env_prefix_for(spec.name) + "BROKER__URL", rabbit.url)


@dataclasses.dataclass
class Running:
    producer: Worker
    consumers: list[Worker]


async def _started(workers: list[Worker], tasks: list[asyncio.Task[None]]) -> None:
    deadline = time.monotonic() + 120
    while not all(w.relay is not None and len(w.consumers) == len(w.spec.subscriptions) for w in workers):
        for task in tasks:
            if task.done():
                task.result()
                raise AssertionError(f"{task.get_name()} stopped while starting")
        assert time.monotonic() < deadline, "the workers did not start"
        await asyncio.sleep(0.1)


@pytest.fixture
async def running(on_private_broker: None) -> AsyncIterator[Running]:
    stop = asyncio.Event()
    specs: list[ServiceSpec] = [PRODUCER, *CONSUMERS]
    workers = [Worker(spec) for spec in specs]
    tasks = [asyncio.create_task(w.run(stop), name=f"{w.spec.name}-worker") for w in workers]
    try:
        await _started(workers, tasks)
        yield Running(workers[0], workers[1:])
    finally:
        stop.set()
        _, pending = await asyncio.wait(tasks, timeout=60)
        for task in pending:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)


@pytest.mark.timeout(900)
async def test_five_thousand_messages_survive_three_broker_restarts(
    running: Running,
    rabbit: PrivateRabbit,
    request: pytest.FixtureRequest,
    record_figures: Callable[[str, dict[str, Any]], object],
) -> None:
    identity = running.producer.runtime
    consumers = {w.spec.name: w.runtime for w in running.consumers}
    ledger = Ledger()
    with progress(request.config) as say:
        say(f"broker proof: {TOTAL} messages, restarts {RESTARTS}, private RabbitMQ on :{rabbit.port}")
        await asyncio.sleep(SETTLE_S)

        async def produce() -> None:
            while ledger.produced < TOTAL:
                await ledger.emit(
                    identity, ledger.next_messages(min(BATCH, TOTAL - ledger.produced), datetime.now(UTC))
                )
                await asyncio.sleep(PACE_S)

        async def relayed() -> int:
            assert running.producer.relay is not None
            return running.producer.relay.stats.published

        producing = asyncio.create_task(produce(), name="produce")
        restarted_at: list[float] = []
        at_restart: list[int] = []
        for kind in RESTARTS:
            await asyncio.sleep(6.0)
            if producing.done():
                producing.result()  # a failed producer fails the proof now, not after the restarts
            at_restart.append(ledger.produced)
            say(f"{kind} restart with {ledger.produced} produced, {await relayed()} relayed")
            if kind == "graceful":
                await asyncio.to_thread(rabbit.stop)
            else:
                await asyncio.to_thread(rabbit.kill)
            await asyncio.to_thread(rabbit.start)
            restarted_at.append(time.monotonic())
            say(f"broker back after {kind} restart; {ledger.produced} produced")
        await producing
        say(f"all {TOTAL} produced; waiting for every handler to consume them")

        last_report = 0.0
        while True:
            state = await reconcile(ledger, identity, consumers, [w.spec for w in running.consumers])
            if state.settled:
                break
            elapsed = time.monotonic() - restarted_at[-1]
            if elapsed - last_report > 10:
                say(f"+{elapsed:.0f} s: {state.lost} not consumed, {state.unpublished} unsent")
                last_report = elapsed
            if elapsed > RECOVERY_LIMIT_S:
                break
            await asyncio.sleep(0.5)
        recovered_s = round(time.monotonic() - restarted_at[-1], 1)
        effects = await count_effects(ledger, consumers["notify"], consumers["vehicle"])
        relay = running.producer.relay
        assert relay is not None
        figures = {
            "events": ledger.produced,
            "lost": state.lost,
            "double_effects": effects.double,
            "effects_missing": effects.missing,
            "recovered_s": recovered_s,
            "restarts": len(RESTARTS),
            "produced_at_restarts": at_restart,
            "publish_retries": relay.stats.failed_attempts,
            "redelivered_duplicates": sum(c.stats.duplicates for w in running.consumers for c in w.consumers),
            "dead_lettered": sum(c.stats.dead_lettered for w in running.consumers for c in w.consumers),
            "per_type": state.per_type,
        }
        say("figures:", figures)
        record_figures("broker", figures)
    assert all(0 < n < TOTAL for n in at_restart), "every restart must land while messages are produced"
    assert state.unpublished == 0
    assert figures["lost"] == 0
    assert figures["double_effects"] == 0
    assert figures["effects_missing"] == 0
    assert figures["dead_lettered"] == 0
