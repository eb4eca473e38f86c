"""A service's worker as a process of its own, as deployed but without its sweeps (they run on the real
clock and are other tests' business) and, with `--relay-only`, without its consumers:
`python run_worker.py <service> [--relay-only]`. It prints `ready` once every consumer is attached, and
when SIGTERM stops it, its relay's and consumers' counters as one JSON line."""

from __future__ import annotations

import argparse
import asyncio
import dataclasses
import json
import signal

from servicekit.service import load_spec
from servicekit.worker import Worker


async def main(service: str, relay_only: bool) -> None:
    spec = load_spec(service)
    spec = dataclasses.replace(spec, sweeps=(), subscriptions=() if relay_only else spec.subscriptions)
    worker = Worker(spec)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    running = asyncio.create_task(worker.run(stop))
    while worker.relay is None or len(worker.consumers) < len(spec.subscriptions):
        if running.done():
            running.result()
        await asyncio.sleep(0.1)
    print("ready", flush=True)
    await running
    consumers = [consumer.stats for consumer in worker.consumers]
    print(
        json.dumps(
            {
                "published": worker.relay.stats.published,
                "publish_failures": worker.relay.stats.failed_attempts,
                "broker_unavailable": worker.relay.stats.broker_unavailable,
                "duplicates": sum(s.duplicates for s in consumers),
                "dead_lettered": sum(s.dead_lettered for s in consumers),
                "effects": sum(s.effects for s in consumers),
            }
        ),
        flush=True,
    )


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("service")
    parser.add_argument("--relay-only", action="store_true")
    args = parser.parse_args()
    asyncio.run(main(args.service, args.relay_only))
