"""Proof "broker": 5,000 of identity's messages while RabbitMQ restarts three times (gracefully, then
SIGKILLed twice), carried by the platform's own workers, each its own process as deployed (identity's
outbox relay; notify's and vehicle's consumers), through a private RabbitMQ node. Every message produced is
consumed by every handler subscribed to it, and no effect is applied twice. ADR 0087 describes the method."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from typing import Any

import pytest

from identity_service.service import SPEC as IDENTITY
from notify_service.service import SPEC as NOTIFY
from servicekit.migrate import migrate
from servicekit.runtime import Runtime
from servicekit.settings import ServiceSettings
from servicekit.testservers import PrivateRabbit
from vehicle_service.service import SPEC as VEHICLE

from .event_ledger import Ledger, count_effects, progress, reconcile
from .platform_processes import Process, quiet_env

pytestmark = [pytest.mark.integration, pytest.mark.fault, pytest.mark.proof]

TOTAL = 5_000
BATCH = 25
PACE_S = 0.3  # between batches: a steady stream, as a busy office's api would write
RESTARTS = ("graceful", "sigkill", "sigkill")
SETTLE_S = 8.0  # a quorum queue killed within ~5 s of its declaration can stay leaderless (architecture.md)
GAP_S = 5.0
RECOVERY_LIMIT_S = 300.0
CONSUMERS = (NOTIFY, VEHICLE)


@pytest.fixture(scope="module")
def rabbit() -> Iterator[PrivateRabbit]:
    node = PrivateRabbit(port=5697, name="tmsproofbroker")
    node.start()
    yield node
    node.destroy()


@pytest.fixture(scope="module")
def workers(rabbit: PrivateRabbit) -> Iterator[dict[str, Process]]:
    """identity's relay (only: its own consumers are other proofs' business), notify's and vehicle's
    consumers; no sweeps. Each a process of its own, on the private broker."""
    env = quiet_env(
        "identity",
        *(spec.name for spec in CONSUMERS),
        **{
            ServiceSettings.env_prefix_for(s.name) + "BROKER__URL": rabbit.url for s in (IDENTITY, *CONSUMERS)
        },
    )
    processes = {
        "identity": Process.quiet_worker("identity", env, relay_only=True),
        **{spec.name: Process.quiet_worker(spec.name, env) for spec in CONSUMERS},
    }
    for name in processes:
        migrate(name)
    try:
        for process in processes.values():
            process.start()
        for process in processes.values():
            process.wait_ready()
        yield processes
    finally:
        for process in processes.values():
            process.stop()


@pytest.mark.timeout(900)
async def test_five_thousand_messages_survive_three_broker_restarts(
    workers: dict[str, Process],
    rabbit: PrivateRabbit,
    request: pytest.FixtureRequest,
    record_figures: Callable[[str, dict[str, Any]], object],
) -> None:
    identity = Runtime.open(IDENTITY.settings(), IDENTITY.metadata)
    consumers = {spec.name: Runtime.open(spec.settings(), spec.metadata) for spec in CONSUMERS}
    ledger = Ledger()
    try:
        with progress(request.config) as say:
            say(f"broker proof: {TOTAL} messages, restarts {RESTARTS}, private RabbitMQ on :{rabbit.port}")
            await asyncio.sleep(SETTLE_S)

            at_restart: list[int] = []

            def quarter(n: int) -> int:
                return TOTAL * n // (len(RESTARTS) + 1)

            async def produce() -> None:
                while ledger.produced < TOTAL:
                    # Held at each quarter until its restart begins (a slow restart must not let the
                    # production run past the next ones): messages on both sides of every restart.
                    if len(at_restart) < len(RESTARTS) and ledger.produced >= quarter(len(at_restart) + 1):
                        await asyncio.sleep(0.1)
                        continue
                    count = min(BATCH, TOTAL - ledger.produced)
                    await ledger.emit(identity, ledger.next_messages(count, datetime.now(UTC)))
                    await asyncio.sleep(PACE_S)

            producing = asyncio.create_task(produce(), name="produce")
            back_at: list[float] = []
            for n, kind in enumerate(RESTARTS, start=1):
                # At a quarter, half and three quarters of the production (and some seconds after the last
                # return, to let the workers reconnect and work): messages on both sides of each restart.
                not_before = back_at[-1] + GAP_S if back_at else 0.0
                while ledger.produced < quarter(n) or time.monotonic() < not_before:
                    if producing.done():
                        producing.result()  # a failed producer fails the proof now, not after the restarts
                    await asyncio.sleep(0.1)
                at_restart.append(ledger.produced)
                say(f"{kind} restart with {ledger.produced} produced")
                await asyncio.to_thread(rabbit.stop if kind == "graceful" else rabbit.kill)
                await asyncio.to_thread(rabbit.start)
                back_at.append(time.monotonic())
                say(f"broker back after the {kind} restart: {ledger.produced} produced")
            await producing
            produced_at = time.monotonic()
            say(f"all {TOTAL} produced; waiting for every handler to consume them")

            specs = list(CONSUMERS)
            while True:
                state = await reconcile(ledger, identity, consumers, specs)
                elapsed = time.monotonic() - back_at[-1]
                if state.settled or elapsed > RECOVERY_LIMIT_S:
                    break
                say(f"+{elapsed:.0f} s after the return: {state.unpublished} unsent, {state.lost} unconsumed")
                await asyncio.sleep(5)
            settled_at = time.monotonic()
            effects = await count_effects(ledger, consumers["notify"], consumers["vehicle"])
            counters = {name: process.stop() for name, process in workers.items()}
            figures = {
                "events": ledger.produced,
                "lost": state.lost,
                "double_effects": effects.double,
                "effects_missing": effects.missing,
                # From the broker's return after the last restart (with a quarter of the messages still to
                # come) until every subscribed handler consumed every message.
                "recovered_s": round(settled_at - back_at[-1], 1),
                "settled_after_last_produced_s": round(settled_at - produced_at, 1),
                "restarts": len(RESTARTS),
                "produced_at_restarts": at_restart,
                "publish_retries": counters["identity"].get("publish_failures"),
                "redelivered_duplicates": sum(c.get("duplicates", 0) for c in counters.values()),
                "dead_lettered": sum(c.get("dead_lettered", 0) for c in counters.values()),
                "per_type": state.per_type,
            }
            say("broker figures:", figures)
            record_figures("broker", figures)
    finally:
        for runtime in (identity, *consumers.values()):
            await runtime.aclose()
    assert all(0 < n < TOTAL for n in at_restart), "every restart must land while messages are produced"
    assert state.unpublished == 0
    assert figures["lost"] == 0
    assert figures["double_effects"] == 0
    assert figures["effects_missing"] == 0
    assert figures["dead_lettered"] == 0
