"""The worker process of a service: the outbox relay, one consumer per subscription, and the sweeps.
Run as `python -m <package>.worker`; any number of replicas compete safely.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import signal
import zlib

from aio_pika.abc import AbstractRobustConnection
from sqlalchemy import text

from servicekit.audit import retention_sweep, seal_sweep
from servicekit.consumer import Consumer
from servicekit.relay import OutboxRelay, connect_broker
from servicekit.runtime import Runtime
from servicekit.service import ServiceSpec, Sweep
from servicekit.settings import ServiceSettings
from servicekit.telemetry import setup_telemetry
from servicekit.topology import declare_commands_exchange, declare_events_exchange

log = logging.getLogger(__name__)

# The sweeps every service's worker runs besides its own: the audit trail's sealer (AU-01, ADR 0089) and
# its retention (ADR 0090).
KIT_SWEEPS = (
    Sweep("audit-seal", every_s=2.0, run=seal_sweep),
    Sweep("audit-retention", every_s=600.0, run=retention_sweep),
)


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


LIVENESS_STALE_S = 60.0


class WorkerHealth:
    """`GET /healthz` on a port of its own, for the worker's liveness probe: 200 while the relay keeps going
    round and the broker connection is open, 503 otherwise. Plain asyncio: the worker serves nothing else."""

    def __init__(self, worker: Worker) -> None:
        self._worker = worker

    def status(self) -> tuple[int, dict[str, object]]:
        relay = self._worker.relay
        connection = self._worker.connection
        now = asyncio.get_running_loop().time()
        relay_age = None if relay is None or relay.last_loop is None else round(now - relay.last_loop, 1)
        broker_open = connection is not None and not connection.is_closed
        healthy = relay_age is not None and relay_age < LIVENESS_STALE_S and broker_open
        body: dict[str, object] = {
            "status": "ok" if healthy else "unhealthy",
            "relay_loop_age_s": relay_age,
            "broker": "open" if broker_open else "closed",
            "consumers": len(self._worker.consumers),
        }
        return (200 if healthy else 503), body

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            request_line = await asyncio.wait_for(reader.readline(), timeout=5)
            status, body = self.status() if request_line.startswith(b"GET /healthz") else (404, {})
            payload = json.dumps(body).encode()
            reason = {200: "OK", 404: "Not Found", 503: "Service Unavailable"}[status]
            writer.write(
                f"HTTP/1.1 {status} {reason}\r\ncontent-type: application/json\r\n"
                f"content-length: {len(payload)}\r\nconnection: close\r\n\r\n".encode()
                + payload
            )
            await writer.drain()
        except (TimeoutError, ConnectionError):
            pass
        finally:
            writer.close()

    async def start(self, port: int, host: str = "0.0.0.0") -> asyncio.Server:  # noqa: S104 - a pod's probe
        return await asyncio.start_server(self._serve, host, port)


class Worker:
    def __init__(
        self, spec: ServiceSpec, runtime: Runtime | None = None, settings: ServiceSettings | None = None
    ) -> None:
        self.spec = spec
        self.settings = settings or spec.settings()
        self.runtime = runtime or Runtime.open(self.settings, spec.metadata)
        self.consumers: list[Consumer] = []
        self.relay: OutboxRelay | None = None
        self.connection: AbstractRobustConnection | None = None

    async def run(self, stop: asyncio.Event) -> None:
        connection = await connect_broker(self.settings.broker)
        self.connection = connection
        health = None
        if self.settings.worker_health_port:
            health = await WorkerHealth(self).start(self.settings.worker_health_port)
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
                for sweep in (*KIT_SWEEPS, *self.spec.sweeps)
            ]
            log.info(
                "worker %s running: %d consumers, %d sweeps",
                self.spec.name,
                len(self.consumers),
                len(KIT_SWEEPS) + len(self.spec.sweeps),
            )
            await stop.wait()
            # Consumers first: no new deliveries, the ones in hand finish; then the relay and sweeps end.
            await asyncio.gather(*(consumer.stop() for consumer in self.consumers))
            await asyncio.gather(*tasks, return_exceptions=True)
        finally:
            if health is not None:
                health.close()
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
