"""The worker's liveness endpoint: what a Kubernetes probe asks to know whether to restart it."""

from __future__ import annotations

import asyncio
import socket
from datetime import UTC, datetime

import httpx
import pytest

from servicekit.clock import FixedClock
from servicekit.runtime import Runtime
from servicekit.service import ServiceSpec
from servicekit.worker import Worker

from .messaging_kit import DemoSettings, create_tables, delete_topology, demo_metadata, demo_settings, letters

pytestmark = pytest.mark.integration


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


async def test_worker_answers_its_liveness_probe_while_relaying(pg_database: str, amqp_url: str) -> None:
    metadata = demo_metadata()
    create_tables(pg_database, metadata)
    port = free_port()
    settings = demo_settings(pg_database, amqp_url)
    settings.worker_health_port = port
    spec = ServiceSpec(name=letters(), settings_cls=DemoSettings, metadata=metadata)
    runtime = Runtime.open(settings, metadata, clock=FixedClock(datetime(2027, 3, 1, tzinfo=UTC)))
    worker = Worker(spec, runtime, settings=settings)
    stop = asyncio.Event()
    task = asyncio.create_task(worker.run(stop))
    try:
        async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}") as client:
            for _ in range(100):
                if worker.relay is not None and worker.relay.last_loop is not None:
                    break
                await asyncio.sleep(0.05)
            answer = await client.get("/healthz")
            assert answer.status_code == 200
            assert answer.json()["broker"] == "open"
            assert answer.json()["relay_loop_age_s"] < 5
            assert (await client.get("/other")).status_code == 404
            assert worker.connection is not None
            await worker.connection.close()  # the broker connection gone: the probe must say so
            answer = await client.get("/healthz")
            assert answer.status_code == 503
            assert answer.json()["broker"] == "closed"
    finally:
        stop.set()
        await asyncio.wait_for(task, timeout=10)
        await delete_topology(amqp_url, spec.name, spec.name)
