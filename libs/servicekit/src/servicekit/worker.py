"""The worker process of a service: the outbox relay, one consumer per subscription, and the sweeps.
Run as `python -m <package>.worker`; any number of replicas compete safely.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import signal
import zlib

from sqlalchemy import text

from servicekit.consumer import Consumer
from servicekit.relay import OutboxRelay, connect_broker
from servicekit.runtime import Runtime
from servicekit.service import ServiceSpec, Sweep
from servicekit.telemetry import setup_telemetry
from servicekit.topology import declare_commands_exchange, declare_events_exchange

log = logging.getLogger(__name__)


async def run_sweep(runtime: Runtime, sweep: Sweep) -> int:
    """Run one sweep if no other replica is running it (a transaction-scoped advisory lock)."""
    key = zlib.crc32(sweep.name.encode())
    async with runtime.engine.connect() as conn, conn.begin():
        got = (await conn.execute(text("SELECT pg_try_advisory_xact_lock(:k)"), {"k": key})).scalar()
        if not got:
            return 0
        return await sweep.run(runtime)


async def _sweep_loop(runtime: Runtime, sweep: Sweep, stop: asyncio.Event) -> None:
    while not stop.is_set():
        try:
            done = await run_sweep(runtime, sweep)
            if done:
                log.info("sweep %s handled %d items", sweep.name, done)
        except Exception:
            log.exception("sweep %s failed; next round in %.0f s", sweep.name, sweep.every_s)
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stop.wait(), timeout=sweep.every_s)


class Worker:
    def __init__(self, spec: ServiceSpec, runtime: Runtime | None = None) -> None:
        self.spec = spec
        self.settings = spec.settings()
        self.runtime = runtime or Runtime.open(self.settings, spec.metadata, spec.translate)
        self.consumers: list[Consumer] = []
        self.relay: OutboxRelay | None = None

    async def run(self, stop: asyncio.Event) -> None:
        connection = await connect_broker(self.settings.broker)
        try:
            channel = await connection.channel()
            # Declared at start-up, so queues exist (and settle) before anything is published to them.
            await declare_events_exchange(channel, self.spec.name)
            if any(s.kind == "command" for s in self.spec.subscriptions):
                await declare_commands_exchange(channel, self.spec.name)
            await channel.close()
            for subscription in self.spec.subscriptions:
                consumer = Consumer(
                    self.runtime, connection, self.spec.name, subscription, self.settings.broker
                )
                await consumer.start()
                self.consumers.append(consumer)
            self.relay = OutboxRelay(
                self.runtime.engine,
                self.runtime.metadata.tables["outbox"],
                connection,
                self.spec.name,
                self.settings.broker,
            )
            tasks = [asyncio.create_task(self.relay.run(stop), name="relay")]
            tasks += [
                asyncio.create_task(_sweep_loop(self.runtime, sweep, stop), name=f"sweep:{sweep.name}")
                for sweep in self.spec.sweeps
            ]
            log.info(
                "worker %s running: %d consumers, %d sweeps",
                self.spec.name,
                len(self.consumers),
                len(self.spec.sweeps),
            )
            await stop.wait()
            await asyncio.gather(*tasks, return_exceptions=True)
        finally:
            await connection.close()
            await self.runtime.aclose()


def main(spec: ServiceSpec) -> None:
    """Entry point of `python -m <package>.worker`: runs until SIGINT or SIGTERM, then stops cleanly."""
    settings = spec.settings()
    setup_telemetry(f"{spec.name}-worker", settings.telemetry)

    async def _main() -> None:
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(sig, stop.set)
        await Worker(spec).run(stop)

    asyncio.run(_main())
