"""Services' workers run inside a test's event loop (outbox relay, consumers, sweeps), and waiting for
what they do: what the in-process pipe tests share."""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
from collections.abc import AsyncIterator, Awaitable, Callable

from servicekit.service import ServiceSpec
from servicekit.worker import Worker

TIMEOUT_S = 30.0


async def eventually(check: Callable[[], Awaitable[bool]], what: str, timeout_s: float = TIMEOUT_S) -> None:
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout_s
    while not await check():
        if loop.time() > deadline:
            raise AssertionError(f"not within {timeout_s:.0f} s: {what}")
        await asyncio.sleep(0.05)


@contextlib.asynccontextmanager
async def running_workers(*specs: ServiceSpec, timeout_s: float = TIMEOUT_S) -> AsyncIterator[list[Worker]]:
    """The workers of `specs`, started (relay up, every consumer attached) until the block ends."""
    stop = asyncio.Event()
    workers = [Worker(spec) for spec in specs]
    tasks = [asyncio.create_task(w.run(stop), name=f"{w.spec.name}-worker") for w in workers]
    try:

        async def started() -> bool:
            for task in tasks:
                if task.done():
                    task.result()
                    raise AssertionError(f"{task.get_name()} stopped while starting")
            return all(w.relay is not None and len(w.consumers) == len(w.spec.subscriptions) for w in workers)

        await eventually(started, "the workers started", timeout_s)
        yield workers
    finally:
        stop.set()
        _, pending = await asyncio.wait(tasks, timeout=timeout_s)
        for task in pending:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)


def without_sweeps(spec: ServiceSpec) -> ServiceSpec:
    """A worker's relay and consumers; its sweeps run on the real clock and belong to their own tests."""
    return dataclasses.replace(spec, sweeps=())


def relay_only(spec: ServiceSpec) -> ServiceSpec:
    """A producer's worker that only relays its outbox: its consumers and sweeps belong to its own tests."""
    return dataclasses.replace(spec, subscriptions=(), sweeps=())
