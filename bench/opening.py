"""`make bench-opening`: the opening day of a new number segment, through the gateway, with Locust.

A crowd larger than the pool (OPENING_BENCH_PEOPLE, 3,000 by default) arrives within a minute
(OPENING_BENCH_ARRIVAL_S, 60: Locust's spawn rate) at one office's new segment of OPENING_BENCH_NUMBERS
free numbers (1,000), and each person goes through the whole selection once, as the citizen app does
(bench/opening/locustfile.py): start it, draw (202: a place in line, asked again after Retry-After with the
same Idempotency-Key), choose, ask for the SMS code, read it, confirm. Behind the edge: nginx rendered from
the gateway's route table and OPENING_BENCH_REPLICAS (2) plate-pool replicas under uvicorn, the real app
with auth and every rule, on their own database `plate_pool_bench`, a Redis key prefix of their own
(deleted at the end) and a tiny server of the bench's for the JWKS and the SMS inbox (the codes read from
the outbox as notify would send them). Locust runs as a process of its own (gevent), pre-minted citizen
tokens in a file, one person each.

The last line is one JSON object:
- `people`: the crowd; `served`: people who ended with a number confirmed, plus those told 409
  POOL_EXHAUSTED, counted only when the pool truly ended with every number allocated (nothing free and
  nothing held: the refusal was honest). `confirmed`, `told_exhausted` and `unfinished` split it.
- `errors_5xx`: answers >= 500 through the gateway, all requests of all people (goal 0);
  `connection_errors`: requests that got no answer at all.
- `p99_first_answer_ms` (and p50): each person's first draw answer (of those who reached the draw), be
  it numbers (201) or a place in line (202), as the load generator measured it (its own CPU is in the
  machine's load).
- `admission_order_violations`: ADR 0022 replayed from the segment's fairness log in Redis (its stream
  holds every change of the pool and of the line, in the order the scripts ran): an admitted draw while
  `e` people with earlier tickets were still in line (queued, neither admitted nor given up) and fewer
  than 5·(e+1) numbers were free, i.e. one who jumped someone outside the admitted window. Within the
  window order is not promised and is not counted. Goal 0.
- `double_allocations`: the ledger's active allocations of the segment sharing a number (or a selection)
  with another, plus the people's confirmed numbers that repeat or differ from the ledger's row of their
  selection. Goal 0.
- `app_cpu_ms_per_person`: the plate-pool replicas' own CPU (utime + stime from /proc) during the crowd,
  over `people`; `gateway_cpu_ms_per_person` nginx's (master and workers), `loadgen_cpu_ms_per_person`
  Locust's.
- and: `places_given_up` (ADR 0022's unpolled places dropped), `line_stall_max_s` (the longest time
  someone was in line while no one was admitted, a standstill still on at the end with numbers left
  included), `longest_wait_s`, `load_average_1m`, `duration_s`.
"""

from __future__ import annotations

import asyncio
import json
import math
import os
import resource
import secrets
import signal
import subprocess
import sys
import time
from collections import Counter
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from harness import (
    SmsInbox,
    cleanup_redis,
    clear_offices,
    cpu_ms,
    distinct_people,
    load_average_1m,
    logger,
    plate_pool_env,
    plate_pool_keys,
    published_segment,
    serve,
    start_body,
    start_nginx,
    start_replica,
    stop,
    wait_ready,
    with_children,
)
from sqlalchemy import select

from plate_pool_service.context import context_for
from plate_pool_service.hot import to_us
from plate_pool_service.service import SPEC
from plate_pool_service.tables import allocations
from servicekit.migrate import migrate
from servicekit.runtime import Runtime
from servicekit.testing import TokenFactory

ROOT = Path(__file__).resolve().parents[1]
LOCUSTFILE = ROOT / "bench" / "opening" / "locustfile.py"
VAR = ROOT / "var" / "bench-opening"
PEOPLE = int(os.environ.get("OPENING_BENCH_PEOPLE", "3000"))
NUMBERS = int(os.environ.get("OPENING_BENCH_NUMBERS", "1000"))
ARRIVAL_S = float(os.environ.get("OPENING_BENCH_ARRIVAL_S", "60"))
REPLICAS = int(os.environ.get("OPENING_BENCH_REPLICAS", "2"))
MAX_S = int(os.environ.get("OPENING_BENCH_MAX_S", "900"))  # a cap: the run ends when the last person is done
# OPENING_BENCH_PORTS moves them all (bench/plates.py keeps 18100 and up).
_PORTS = int(os.environ.get("OPENING_BENCH_PORTS", "18200"))
EDGE_PORT = _PORTS
REPLICA_PORTS = tuple(_PORTS + 40 + i for i in range(REPLICAS))
SIDE_PORT = _PORTS + 99  # the JWKS and the SMS inbox
DB_URL = os.environ.get("OPENING_BENCH_DB", "postgresql+psycopg://plate_pool@127.0.0.1:5432/plate_pool_bench")
REDIS_URL = os.environ.get("OPENING_BENCH_REDIS", "redis://127.0.0.1:6379/0")
PREFIX = f"ppopen:{secrets.token_hex(4)}"
OFFICE = "139104"
SIZE = max(NUMBERS, 1_000)  # a segment's least size (PP-10)
DRAW_SIZE = 5  # numbers a draw holds (office default); ADR 0022's window counts in these

plate_pool_env(DB_URL, REDIS_URL, PREFIX, SIDE_PORT, os.environ.get("OPENING_BENCH_LOG_LEVEL", "WARNING"))
log = logger("bench-opening")


async def prepare(tokens: TokenFactory) -> str:
    """The office and its new segment (earlier bench rows of the office removed), and the crowd's file."""
    migrate("plate-pool", DB_URL)
    runtime = Runtime.open(SPEC.settings(), SPEC.metadata)
    try:
        await clear_offices(runtime, [OFFICE])
        now = await runtime.clock.now()
        pattern = "#####" if SIZE <= 100_000 else "&####"
        ctx = context_for(runtime)
        segment_id = await published_segment(runtime, ctx, OFFICE, pattern, SIZE, now, "bench opening day")
        if SIZE > NUMBERS:  # a small crowd's try-out: the rest stand for earlier allocations
            await ctx.hot.build(segment_id, SIZE, list(range(NUMBERS, SIZE)))
    finally:
        await runtime.aclose()
    with (VAR / "people.jsonl").open("w", encoding="utf-8") as people:
        for idn, phone in distinct_people(OFFICE, PEOPLE):
            token = tokens.citizen(f"opening-{secrets.token_hex(6)}", id_number=idn, phone=phone, ttl_s=7200)
            body = start_body(OFFICE, idn, phone)
            people.write(json.dumps({"token": token, "phone": phone, "body": body}) + "\n")
    return segment_id


def results() -> list[dict[str, Any]]:
    path = VAR / "results.jsonl"
    if not path.exists():
        return []
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line]


async def crowd(segment_id: str, inbox: SmsInbox) -> float:
    """Locust until the last person is done; progress every 5 s. Returns Locust's CPU ms."""
    runtime = Runtime.open(SPEC.settings(), SPEC.metadata)
    hot = context_for(runtime).hot
    follower = asyncio.create_task(inbox.follow(runtime.engine, datetime.now(UTC) - timedelta(seconds=1)))
    env = dict(
        os.environ,
        OPENING_PEOPLE=str(VAR / "people.jsonl"),
        OPENING_RESULTS=str(VAR / "results.jsonl"),
        OPENING_SMS_URL=f"http://127.0.0.1:{SIDE_PORT}/sms/",
    )
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    with (VAR / "locust.log").open("wb") as out:
        locust = await asyncio.create_subprocess_exec(
            str(Path(sys.executable).parent / "locust"),
            *("-f", str(LOCUSTFILE), "--headless", "--only-summary", "--loglevel", "WARNING"),
            *("-u", str(PEOPLE), "-r", f"{PEOPLE / ARRIVAL_S:.3f}", "--run-time", f"{MAX_S}s"),
            *("--stop-timeout", "5", "--host", f"http://127.0.0.1:{EDGE_PORT}"),
            cwd=ROOT,
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
        )
        started = time.monotonic()
        try:
            while True:
                try:
                    await asyncio.wait_for(locust.wait(), timeout=5)
                    break
                except TimeoutError:
                    done = results()
                    c = await hot.counts(segment_id)
                    outcomes = Counter(r["outcome"] for r in done)
                    log(
                        f"{time.monotonic() - started:.0f} s: {len(done)} of {PEOPLE} done "
                        f"({outcomes['confirmed']} confirmed, {outcomes['exhausted']} told none left); "
                        f"pool: {c.available} free, {c.held} held, {c.allocated} allocated, "
                        f"{c.queued} in line; "
                        f"load {load_average_1m()}"
                    )
        finally:
            if locust.returncode is None:
                locust.terminate()
                await locust.wait()
            follower.cancel()
            await runtime.aclose()
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    if locust.returncode not in (0, 1):  # 1: some requests failed (counted here too)
        raise RuntimeError(f"locust exited with {locust.returncode}: see {VAR / 'locust.log'}")
    return (after.ru_utime + after.ru_stime - before.ru_utime - before.ru_stime) * 1000


def replay(entries: list[dict[str, str]], free: int, size: int, end_us: int) -> dict[str, Any]:
    """ADR 0022's rules checked against the fairness log: see the module's doc."""
    avail, alloc = free, size - free
    waiting: dict[str, int] = {}  # selection -> ticket, in line now
    violations = given_up = unknown = 0
    stall_us = 0
    since: int | None = None  # the last admission, or when the line formed

    def count(field: str, entry: dict[str, str]) -> int:
        return len([x for x in entry.get(field, "").split(",") if x])

    for e in entries:
        op, at = e["op"], int(e["at"])
        if op == "queue":
            if not waiting:
                since = at
            waiting[e["sel"]] = int(e["ticket"])
        elif op == "unqueue":
            for sel in e["dropped"].split(","):
                given_up += waiting.pop(sel, None) is not None
        elif op == "draw":
            ticket = int(e["ticket"]) if e.get("ticket") else None
            had_line = bool(waiting)
            waiting.pop(e["sel"], None)
            ahead = len(waiting) if ticket is None else sum(t < ticket for t in waiting.values())
            if ahead and avail < DRAW_SIZE * (ahead + 1):
                violations += 1
            if had_line and since is not None:
                stall_us = max(stall_us, at - since)
                since = at
            avail += count("released", e) - count("held", e)
        elif op in ("choose", "lapse"):
            avail += count("released", e)
        elif op == "confirm":
            alloc += 1
        elif op == "verify":
            avail += count("released", e) - count("held", e)
        else:  # abandon, session end, unconfirm...: not in this crowd's flow; said, not guessed at
            unknown += 1
            waiting.pop(e.get("sel", ""), None)
            avail += count("released", e)
    if waiting and since is not None and (avail > 0 or size - avail - alloc > 0):
        stall_us = max(stall_us, end_us - since)  # still standing at the end, numbers left
    return {
        "violations": violations,
        "given_up": given_up,
        "stall_s": stall_us / 1e6,
        "unknown_ops": unknown,
        "available": avail,
        "allocated": alloc,
    }


async def audit(segment_id: str, people: list[dict[str, Any]]) -> dict[str, Any]:
    """The ledger, the pool and the fairness log after the crowd."""
    runtime = Runtime.open(SPEC.settings(), SPEC.metadata)
    ctx = context_for(runtime)
    try:
        async with runtime.engine.connect() as conn:
            rows = (
                await conn.execute(
                    select(allocations.c.selection_id, allocations.c.plate_number)
                    .where(allocations.c.segment_id == segment_id)
                    .where(allocations.c.released_at.is_(None))
                )
            ).all()
            total = len(rows)
            distinct_numbers = len({r.plate_number for r in rows})
            distinct_selections = len({r.selection_id for r in rows})
        ledger = {str(r.selection_id): r.plate_number for r in rows}
        confirmed = [p for p in people if p["outcome"] == "confirmed"]
        mine = Counter(p["number"] for p in confirmed)
        double = (total - distinct_numbers) + (total - distinct_selections)
        double += sum(n - 1 for n in mine.values() if n > 1)
        double += sum(ledger.get(p["sid"]) != p["number"] for p in confirmed)
        stream = ctx.hot.log_key(segment_id)
        entries: list[dict[str, str]] = []
        start = "-"
        while True:
            chunk = await ctx.hot.redis.xrange(stream, min=start, count=10_000)
            entries += [{k.decode(): v.decode() for k, v in fields.items()} for _, fields in chunk]
            if len(chunk) < 10_000:
                break
            start = "(" + chunk[-1][0].decode()
        counts = await ctx.hot.counts(segment_id)
        return {
            "double": double,
            "ledger": total,
            "replay": replay(entries, NUMBERS, SIZE, to_us(await runtime.clock.now())),
            "counts": counts,
        }
    finally:
        await runtime.aclose()


def percentile(values: list[float], p: float) -> float:
    """Nearest rank."""
    if not values:
        return math.nan
    ordered = sorted(values)
    return ordered[max(0, math.ceil(p / 100 * len(ordered)) - 1)]


def main() -> int:
    # stopped (timeout, Ctrl-C): still stop Locust, the replicas and nginx (the `finally`s)
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    VAR.mkdir(parents=True, exist_ok=True)
    (VAR / "results.jsonl").unlink(missing_ok=True)
    tokens = TokenFactory()
    plate_pool_keys(tokens)
    inbox = SmsInbox()
    jwks = json.dumps(tokens.jwks()).encode()
    side = serve(SIDE_PORT, {"/jwks.json": lambda _: jwks, "/sms/": inbox.route})
    replicas: list[subprocess.Popen[bytes]] = []
    nginx: subprocess.Popen[bytes] | None = None
    try:
        started = time.perf_counter()
        segment_id = asyncio.run(prepare(tokens))
        log(f"a segment of {NUMBERS} numbers, {PEOPLE} people ready in {time.perf_counter() - started:.1f} s")
        replicas = [start_replica(port) for port in REPLICA_PORTS]
        for port in REPLICA_PORTS:
            wait_ready(f"http://127.0.0.1:{port}/readyz")
        nginx = start_nginx(VAR, EDGE_PORT, REPLICA_PORTS)
        wait_ready(f"http://127.0.0.1:{EDGE_PORT}/healthz")
        app_pids = [p.pid for p in replicas]
        edge_pids = with_children(nginx.pid)
        app_before = sum(cpu_ms(pid) for pid in app_pids)
        edge_before = sum(cpu_ms(pid) for pid in edge_pids)
        log(f"{PEOPLE} people arriving over {ARRIVAL_S:.0f} s, {REPLICAS} replicas; load {load_average_1m()}")
        started = time.perf_counter()
        loadgen_ms = asyncio.run(crowd(segment_id, inbox))
        duration = time.perf_counter() - started
        app_ms = sum(cpu_ms(pid) for pid in app_pids) - app_before
        edge_ms = sum(cpu_ms(pid) for pid in edge_pids) - edge_before
        load = load_average_1m()

        people = results()
        found = asyncio.run(audit(segment_id, people))
        counts, replayed = found["counts"], found["replay"]
        outcomes = Counter(p["outcome"] for p in people)
        statuses: Counter[str] = Counter()
        problems: Counter[str] = Counter()
        for p in people:
            statuses.update(p["statuses"])
            problems.update(p.get("problems", {}))
        honest = counts.available == 0 and counts.held == 0 and counts.allocated == SIZE
        firsts = [p["first_ms"] for p in people if "first_ms" in p]
        waits = [p["admitted_after_s"] for p in people if "admitted_after_s" in p]
        others = {k: v for k, v in outcomes.items() if k not in ("confirmed", "exhausted")}
        if others:
            log(f"other outcomes: {others}")
        log(f"answers: {dict(sorted(statuses.items()))}")
        log(f"non-2xx by step and code: {dict(problems.most_common())}")
        if replayed["available"] != counts.available:
            log(f"the fairness log replays to {replayed['available']} free, Redis says {counts.available}")
        result = {
            "people": PEOPLE,
            "served": outcomes["confirmed"] + (outcomes["exhausted"] if honest else 0),
            "errors_5xx": sum(n for s, n in statuses.items() if int(s) >= 500),
            "p99_first_answer_ms": round(percentile(firsts, 99), 1),
            "admission_order_violations": replayed["violations"],
            "double_allocations": found["double"],
            "app_cpu_ms_per_person": round(app_ms / PEOPLE, 2),
            "numbers": NUMBERS,
            "confirmed": outcomes["confirmed"],
            "ledger_allocations": found["ledger"],
            "told_exhausted": outcomes["exhausted"],
            "unfinished": PEOPLE - outcomes["confirmed"] - outcomes["exhausted"],
            "connection_errors": statuses["0"],
            "p50_first_answer_ms": round(percentile(firsts, 50), 1),
            "first_answers_in_line": sum(p.get("first_status") == 202 for p in people),
            "places_given_up": replayed["given_up"],
            "line_stall_max_s": round(replayed["stall_s"], 1),
            "longest_wait_s": round(max(waits, default=0.0), 1),
            "log_ops_not_replayed": replayed["unknown_ops"],
            "gateway_cpu_ms_per_person": round(edge_ms / PEOPLE, 2),
            "loadgen_cpu_ms_per_person": round(loadgen_ms / PEOPLE, 2),
            "replicas": REPLICAS,
            "arrival_s": ARRIVAL_S,
            "duration_s": round(duration, 1),
            "load_average_1m": load,
        }
        print(json.dumps(result), flush=True)
        return 0
    finally:
        stop(nginx)
        for proc in replicas:
            stop(proc)
        side.shutdown()
        asyncio.run(cleanup_redis(REDIS_URL, PREFIX))


if __name__ == "__main__":
    raise SystemExit(main())
