"""`make bench-relay`: the outbox relay's throughput with publisher confirms, all figures from one run.

The bench uses plate-pool's worker as the subject (any service's relay is the same servicekit class) with
its own database `plate_pool_relay_bench` (migrated like a service's, its outbox emptied at the start) and
its own RabbitMQ vhost (made at the start, deleted at the end). For each round it writes N events
(`RELAY_BENCH_EVENTS`, default 50,000) through the unit of work inside a request span, as a route does, so
the rows are sealed (ADR 0095) and carry a traceparent; then it starts relay processes (the worker's
`OutboxRelay` with the worker's settings, one or two replicas), lets them go at once, and waits until
every row is marked published. A quorum queue bound to `plate-pool.events` with `#` is drained by a
consumer in this process that counts deliveries by message id. The last line of output is one JSON
object:

- events_per_s: rows acked and marked published per second, 1 relay process (the headline figure);
- lost: rows published but never delivered to the queue, over every round (must be 0); duplicates:
  deliveries beyond the first of a message id;
- relays_2_events_per_s, replicas_2_to_1_ratio: the same with two relay processes side by side;
- cpu_ms_per_1000_events: the relay process's own CPU (utime + stime) per 1,000 events;
- with `--base <commit>` (`make bench-relay BASE=<commit>`): the relay module of that commit run the same
  way in the same run, and new_to_base_ratio (the machine is shared: compare ratios, not absolute rates);
- load_avg: the 1-minute load average before and after.

Rounds alternate (new, base, new, base, ...) so a burst of load elsewhere does not land on one side only.
"""

from __future__ import annotations

import argparse
import asyncio
import importlib.util
import json
import os
import resource
import shutil
import signal
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path
from typing import Any

import aio_pika
import httpx

ROOT = Path(__file__).resolve().parents[1]
VAR = ROOT / "var" / "bench-relay"
EVENTS = int(os.environ.get("RELAY_BENCH_EVENTS", "50000"))
EVENTS_PER_UNIT = 100  # events written per unit of work (a bulk change; keeps the set-up short)
RUN = f"{os.getpid():x}"
DB_URL = os.environ.get(
    "RELAY_BENCH_DB", "postgresql+psycopg://plate_pool@127.0.0.1:5432/plate_pool_relay_bench"
)
MANAGEMENT = os.environ.get("RELAY_BENCH_MANAGEMENT", "http://127.0.0.1:15672")
VHOST = f"relay-bench-{RUN}"
AMQP_URL = os.environ.get("RELAY_BENCH_AMQP", "amqp://guest:guest@127.0.0.1:5672/") + VHOST
GIT = shutil.which("git") or "git"
RABBITMQCTL = shutil.which("rabbitmqctl") or "rabbitmqctl"

# Relay processes inherit the bench's environment, so they use its database and vhost (not their own run's).
if "--child" not in sys.argv[1:]:
    os.environ["TMS_ENV"] = "dev"
    os.environ["TMS_PLATE_POOL__DATABASE__URL"] = DB_URL
    os.environ["TMS_PLATE_POOL__BROKER__URL"] = AMQP_URL
os.environ["TMS_PLATE_POOL__TELEMETRY__LOG_LEVEL"] = os.environ.get("RELAY_BENCH_LOG_LEVEL", "WARNING")

from opentelemetry import trace  # noqa: E402
from sqlalchemy import delete, func, select  # noqa: E402

from plate_pool_service.published import SelectionConfirmed  # noqa: E402
from plate_pool_service.service import SPEC  # noqa: E402
from servicekit.amqp import connect_broker  # noqa: E402
from servicekit.migrate import migrate  # noqa: E402
from servicekit.runtime import Runtime  # noqa: E402
from servicekit.telemetry import setup_telemetry  # noqa: E402
from servicekit.topology import declare_events_exchange, declare_handler_queues, queue_names  # noqa: E402


def log(message: str) -> None:
    print(f"[bench-relay] {message}", file=sys.stderr, flush=True)


def load1() -> float:
    return round(os.getloadavg()[0], 2)


# --- a relay process ---------------------------------------------------------------------------------


def relay_class(source: str | None) -> Any:
    """The relay of HEAD, or a relay module saved from another commit (loaded beside HEAD's servicekit)."""
    if source is None:
        from servicekit.relay import OutboxRelay

        return OutboxRelay
    spec = importlib.util.spec_from_file_location("servicekit_relay_base", source)
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # its dataclasses look their module up there
    spec.loader.exec_module(module)
    return module.OutboxRelay


async def relay_child(source: str | None) -> None:
    """As `servicekit.worker.Worker` builds its relay; ready → waits for `go` on stdin → relays until
    SIGTERM → prints its stats and CPU time as JSON."""
    settings = SPEC.settings()
    setup_telemetry(f"{SPEC.name}-worker", settings.telemetry)
    runtime = Runtime.open(settings, SPEC.metadata)
    connection = await connect_broker(settings.broker)
    relay = relay_class(source)(
        runtime.engine, runtime.metadata.tables["outbox"], connection, SPEC.name, settings.broker
    )
    stop = asyncio.Event()
    asyncio.get_running_loop().add_signal_handler(signal.SIGTERM, stop.set)
    print("ready", flush=True)
    await asyncio.to_thread(sys.stdin.readline)
    before = resource.getrusage(resource.RUSAGE_SELF)
    await relay.run(stop)
    after = resource.getrusage(resource.RUSAGE_SELF)
    cpu_s = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    await connection.close()
    await runtime.aclose()
    stats = relay.stats
    print(
        json.dumps(
            {
                "published": stats.published,
                "failed_attempts": stats.failed_attempts,
                "last_errors": stats.last_errors,
                "cpu_s": cpu_s,
            }
        ),
        flush=True,
    )


# --- the bench -----------------------------------------------------------------------------------------


def make_vhost() -> None:
    """Through the management API when it is on, else `rabbitmqctl` (as `wt/env.sh` and the tests do)."""
    try:
        with httpx.Client(base_url=MANAGEMENT, auth=("guest", "guest"), timeout=30) as client:
            client.put(f"/api/vhosts/{VHOST}").raise_for_status()
            body = {"configure": ".*", "write": ".*", "read": ".*"}
            client.put(f"/api/permissions/{VHOST}/guest", json=body).raise_for_status()
    except httpx.HTTPError:
        subprocess.run([RABBITMQCTL, "add_vhost", VHOST], check=True, capture_output=True)  # noqa: S603
        subprocess.run(  # noqa: S603
            [RABBITMQCTL, "set_permissions", "-p", VHOST, "guest", ".*", ".*", ".*"],
            check=True,
            capture_output=True,
        )


def delete_vhost() -> None:
    try:
        with httpx.Client(base_url=MANAGEMENT, auth=("guest", "guest"), timeout=30) as client:
            client.delete(f"/api/vhosts/{VHOST}").raise_for_status()
    except httpx.HTTPError:
        subprocess.run([RABBITMQCTL, "delete_vhost", VHOST], check=False, capture_output=True)  # noqa: S603


class Counting:
    """Counts deliveries at the bench's queue by message id (auto-ack: counting is all it does)."""

    def __init__(self) -> None:
        self.seen: Counter[str] = Counter()

    async def start(self) -> aio_pika.abc.AbstractRobustConnection:
        connection = await aio_pika.connect_robust(AMQP_URL)
        channel = await connection.channel()
        await channel.set_qos(prefetch_count=2000)
        exchange = await declare_events_exchange(channel, SPEC.name)
        queue = await declare_handler_queues(channel, queue_names("relaybench", "count"), [(exchange, "#")])
        await queue.consume(self._on_message, no_ack=True)
        return connection

    async def _on_message(self, message: aio_pika.abc.AbstractIncomingMessage) -> None:
        self.seen[message.message_id or ""] += 1


async def write_events(runtime: Runtime, count: int) -> set[str]:
    """`count` events through the unit of work, each unit inside a request span as a route writes them."""
    outbox = runtime.metadata.tables["outbox"]
    async with runtime.engine.begin() as conn:
        await conn.execute(delete(outbox))
    tracer = trace.get_tracer("bench.relay")
    example = SelectionConfirmed.example()
    ids: set[str] = set()
    started = time.monotonic()
    for start in range(0, count, EVENTS_PER_UNIT):
        with tracer.start_as_current_span("POST /api/v1/plate-selections/{id}/confirm"):
            async with runtime.uow() as uow:
                uow.emit(
                    *(
                        example.model_copy(update={"selection_id": f"{RUN}-{n}"})
                        for n in range(start, min(count, start + EVENTS_PER_UNIT))
                    )
                )
                ids.update(str(i) for i in await uow.commit())
        if (start // EVENTS_PER_UNIT) % 100 == 99:
            log(f"  written {start + EVENTS_PER_UNIT:,}/{count:,} ({time.monotonic() - started:.0f} s)")
    return ids


async def pending(runtime: Runtime) -> int:
    outbox = runtime.metadata.tables["outbox"]
    async with runtime.engine.connect() as conn:
        count = await conn.scalar(
            select(func.count()).select_from(outbox).where(outbox.c.published_at.is_(None))
        )
    return int(count or 0)


async def start_relays(replicas: int, source: str | None) -> list[subprocess.Popen[str]]:
    argv = [sys.executable, __file__, "--child", *(["--relay-source", source] if source else [])]
    children = [
        subprocess.Popen(argv, stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)  # noqa: S603, ASYNC220
        for _ in range(replicas)
    ]
    for child in children:
        assert child.stdout is not None
        line = await asyncio.to_thread(child.stdout.readline)
        if line.strip() != "ready":
            raise RuntimeError(f"a relay process did not start: {line!r}")
    return children


async def round_(
    runtime: Runtime, counting: Counting, *, replicas: int, source: str | None, label: str
) -> dict[str, Any]:
    log(f"{label}: writing {EVENTS:,} events through the unit of work")
    ids = await write_events(runtime, EVENTS)
    counting.seen.clear()
    children = await start_relays(replicas, source)
    load_before = load1()
    log(f"{label}: {replicas} relay process(es) go (load {load_before})")
    started = time.monotonic()
    for child in children:
        assert child.stdin is not None
        child.stdin.write("go\n")
        child.stdin.flush()
    left = EVENTS
    last_note = started
    while left:
        await asyncio.sleep(0.2)
        left = await pending(runtime)
        if time.monotonic() - last_note >= 2 or not left:
            last_note = time.monotonic()
            done = EVENTS - left
            log(
                f"  {done:,}/{EVENTS:,} published, {len(counting.seen):,} delivered, "
                f"{done / (last_note - started):,.0f}/s"
            )
        if time.monotonic() - started > 600:
            raise RuntimeError(f"{label}: {left:,} rows still unpublished after 10 minutes")
    elapsed = time.monotonic() - started
    deadline = time.monotonic() + 30
    while not ids <= counting.seen.keys() and time.monotonic() < deadline:  # noqa: ASYNC110 (a count, no event)
        await asyncio.sleep(0.1)
    delivered_s = time.monotonic() - started
    cpu_s = 0.0
    retries = 0
    for child in children:
        child.send_signal(signal.SIGTERM)
        out, _ = await asyncio.to_thread(child.communicate, timeout=60)
        stats = json.loads(out.strip().splitlines()[-1])
        cpu_s += stats["cpu_s"]
        retries += stats["failed_attempts"]
        if stats["last_errors"]:
            log(f"  a relay's last publish errors: {stats['last_errors'][:2]}")
    lost = len(ids - counting.seen.keys())
    duplicates = sum(n - 1 for key, n in counting.seen.items() if key in ids)
    rate = EVENTS / elapsed
    log(f"{label}: {rate:,.0f} events/s, lost {lost}, duplicates {duplicates}, publish retries {retries}")
    return {
        "label": label,
        "replicas": replicas,
        "events_per_s": round(rate),
        "elapsed_s": round(elapsed, 2),
        "delivered_s": round(delivered_s, 2),
        "lost": lost,
        "duplicates": duplicates,
        "publish_retries": retries,
        "cpu_ms_per_1000_events": round(cpu_s * 1000 / EVENTS * 1000, 1),
        "load_avg": load_before,
    }


def base_relay_file(commit: str) -> str:
    """The relay module as it was at `commit`, saved where a relay process can load it."""
    text = subprocess.run(  # noqa: S603
        [GIT, "-C", str(ROOT), "show", f"{commit}:libs/servicekit/src/servicekit/relay.py"],
        check=True,
        capture_output=True,
        text=True,
    ).stdout
    VAR.mkdir(parents=True, exist_ok=True)
    path = VAR / f"relay-{commit[:12]}.py"
    path.write_text(text)
    return str(path)


def median(values: list[float]) -> float:
    ordered = sorted(values)
    middle = len(ordered) // 2
    return ordered[middle] if len(ordered) % 2 else (ordered[middle - 1] + ordered[middle]) / 2


async def bench(base: str | None, rounds: int) -> dict[str, Any]:
    load_start = load1()
    migrate("plate-pool", DB_URL)
    settings = SPEC.settings()
    setup_telemetry("bench-relay", settings.telemetry)
    runtime = Runtime.open(settings, SPEC.metadata)
    counting = Counting()
    connection = await counting.start()
    base_source = base_relay_file(base) if base else None
    plan: list[tuple[str, int, str | None]] = []
    for _ in range(rounds):
        plan.append(("new", 1, None))
        if base_source:
            plan.append(("base", 1, base_source))
    plan.append(("new", 2, None))
    if base_source:
        plan.append(("base", 2, base_source))
    results: list[dict[str, Any]] = []
    try:
        for i, (side, replicas, source) in enumerate(plan, 1):
            label = f"round {i}/{len(plan)} {side} x{replicas}"
            results.append(
                {"side": side}
                | await round_(runtime, counting, replicas=replicas, source=source, label=label)
            )
    finally:
        await connection.close()
        await runtime.aclose()

    def rate(side: str, replicas: int) -> float:
        return median([r["events_per_s"] for r in results if r["side"] == side and r["replicas"] == replicas])

    new1 = [r for r in results if r["side"] == "new" and r["replicas"] == 1]
    summary: dict[str, Any] = {
        "events": EVENTS,
        "relays": 1,
        "batch_size": settings.broker.relay_batch_size,
        "batches_in_flight": settings.broker.relay_batches_in_flight,
        "events_per_s": round(rate("new", 1)),
        "lost": sum(r["lost"] for r in results),
        "duplicates": sum(r["duplicates"] for r in results),
        "cpu_ms_per_1000_events": round(median([r["cpu_ms_per_1000_events"] for r in new1]), 1),
        "relays_2_events_per_s": round(rate("new", 2)),
        "replicas_2_to_1_ratio": round(rate("new", 2) / rate("new", 1), 2),
    }
    if base:
        base1 = [r for r in results if r["side"] == "base" and r["replicas"] == 1]
        summary |= {
            "base": base,
            "base_events_per_s": round(rate("base", 1)),
            "base_cpu_ms_per_1000_events": round(median([r["cpu_ms_per_1000_events"] for r in base1]), 1),
            "base_relays_2_events_per_s": round(rate("base", 2)),
            "new_to_base_ratio": round(rate("new", 1) / rate("base", 1), 2),
            "new_to_base_ratio_2_relays": round(rate("new", 2) / rate("base", 2), 2),
        }
    summary |= {"load_avg": {"start": load_start, "end": load1()}, "cores": os.cpu_count(), "rounds": results}
    return summary


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--base", help="also run the relay module of this commit, side by side")
    parser.add_argument("--rounds", type=int, default=int(os.environ.get("RELAY_BENCH_ROUNDS", "2")))
    parser.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--relay-source", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        asyncio.run(relay_child(args.relay_source))
        return 0
    make_vhost()
    try:
        result = asyncio.run(bench(args.base, args.rounds))
    finally:
        delete_vhost()
    print(json.dumps(result), flush=True)
    return 0 if result["lost"] == 0 else 1


if __name__ == "__main__":
    sys.exit(main())
