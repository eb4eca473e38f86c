"""`make bench-plates`: plate-pool's hot path through the gateway, all figures from one run.

It starts what it needs beside the running infra (PostgreSQL, Redis): its own database `plate_pool_bench`,
its own Redis key prefix (deleted at the end; nothing else in Redis is touched), a tiny JWKS server for
tokens signed like identity's, plate-pool replicas (uvicorn, the real app with auth, tracing and the rules)
and nginx rendered from the gateway's route table, then drives them with wrk (C, Lua script in
bench/plates/). The last line of output is one JSON object:

- draws_per_s, p50_ms, p99_ms: random draws (PP-06) through the gateway, 64 connections, 1 replica, a
  pool of 50,000; hello_per_s: GET /plate-selections/whoami (authenticated, trivial) the same way;
  draw_to_hello_ratio;
- cpu_ms_per_1000_draws: the replica's own CPU time (utime + stime from /proc) per 1,000 draws;
- replicas_2_to_1_ratio: draws/s with 2 replicas over draws/s with 1;
- throughput_ratio_5m_to_50k, p99_ratio_5m_to_50k: the same draws against a pool of 5,000,000;
- race_confirmed, race_double_allocations, race_leaked: 2,000 selections fighting over 100 numbers
  (draw, choose, SMS code, confirm) through the gateway and 2 replicas.

`--cluster` (`make bench-plates-cluster`): the same with plate-pool's hot state on a Redis Cluster of three
masters the bench starts on private ports and stops at the end (ADR 0097); the JSON says `hot_store`.

Under var/bench-plates: each replica's log (`replica-<port>.log`, JSON lines) and the gateway's access log
(`access.log`); the non-2xx answers of each wrk run are counted from it by status (`non_2xx_by_status` in
its log line), the race's by step, status and code. A 503 or 429 (try again shortly) is asked again after
its Retry-After, as a person would, and counted; a race that has not ended after PLATES_BENCH_RACE_LIMIT_S
(600) stops and says so (`race_stalled`).

The bench offices open 00:00-24:00 and allow unlimited draws per vehicle (office settings, PP-06a), so
that the measure runs at any hour and is not cut short by the 10-draw rule; every other rule applies.
"""

from __future__ import annotations

import asyncio
import json
import os
import secrets
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path
from typing import Any

import httpx
from harness import (
    SmsInbox,
    cleanup_redis,
    clear_offices,
    cpu_ms,
    distinct_people,
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
)
from sqlalchemy import func, select

from plate_pool_service.context import context_for
from plate_pool_service.service import SPEC
from plate_pool_service.tables import allocations
from servicekit.migrate import migrate
from servicekit.runtime import Runtime
from servicekit.testing import TokenFactory

ROOT = Path(__file__).resolve().parents[1]
LUA = ROOT / "bench" / "plates" / "draw.lua"
VAR = ROOT / "var" / "bench-plates"
ACCESS_LOG = VAR / "access.log"  # the gateway's, one JSON line per answer: non-2xx counted per run
# PLATES_BENCH_PORTS moves them all (another bench run on the same machine keeps the defaults).
_PORTS = int(os.environ.get("PLATES_BENCH_PORTS", "18100"))
EDGE_PORT = _PORTS
REPLICA_PORTS = (_PORTS + 40, _PORTS + 41)
JWKS_PORT = _PORTS + 99
DURATION_S = int(os.environ.get("PLATES_BENCH_SECONDS", "10"))
CONNECTIONS = 64
SELECTIONS_PER_POOL = 512
RACE_CONTENDERS = 2_000
RACE_FREE = 100
# The race gives up after this long (a stalled line would otherwise never end) and says so in the JSON.
RACE_LIMIT_S = float(os.environ.get("PLATES_BENCH_RACE_LIMIT_S", "600"))
RUN = secrets.token_hex(4)
DB_URL = os.environ.get("PLATES_BENCH_DB", "postgresql+psycopg://plate_pool@127.0.0.1:5432/plate_pool_bench")
REDIS_URL = os.environ.get("PLATES_BENCH_REDIS", "redis://127.0.0.1:6379/0")
PREFIX = f"ppbench:{RUN}"
CLUSTER = "--cluster" in sys.argv[1:]
OFFICES = {"50k": "139101", "5m": "139102", "race": "139103"}

plate_pool_env(DB_URL, REDIS_URL, PREFIX, JWKS_PORT, os.environ.get("PLATES_BENCH_LOG_LEVEL", "WARNING"))
log = logger("bench-plates")


# --- fixtures ---------------------------------------------------------------------------------------


async def prepare(tokens: TokenFactory) -> dict[str, str]:
    """Offices, segments and pools of this run (earlier bench rows of these offices are removed)."""
    migrate("plate-pool", DB_URL)
    runtime = Runtime.open(SPEC.settings(), SPEC.metadata)
    ctx = context_for(runtime)
    try:
        await clear_offices(runtime, list(OFFICES.values()))
        now = await runtime.clock.now()
        made: dict[str, str] = {}
        shapes = {"50k": ("#####", 50_000), "5m": ("&&&&#", 5_000_000), "race": ("#####", 1_000)}
        for key, office in OFFICES.items():
            pattern, size = shapes[key]
            started = time.perf_counter()
            made[key] = await published_segment(runtime, ctx, office, pattern, size, now, f"bench {key}")
            log(f"pool {key}: {size} numbers built in {time.perf_counter() - started:.2f} s")
        # The race: 100 numbers free; the other 900 of its 1,000 stand for earlier allocations.
        await ctx.hot.build(made["race"], 1_000, list(range(RACE_FREE, 1_000)))
        return made
    finally:
        await runtime.aclose()


# --- processes --------------------------------------------------------------------------------------


def answers_since(offset: int) -> dict[str, int]:
    """The gateway's non-2xx answers logged after `offset`: "<status> upstream <status(es)>" -> count."""
    counts: Counter[str] = Counter()
    with ACCESS_LOG.open("rb") as log_file:
        log_file.seek(offset)
        for line in log_file:
            entry = json.loads(line)
            if not 200 <= entry["status"] < 300:
                counts[f"{entry['status']} upstream {entry['upstream_status'] or '-'}"] += 1
    return dict(counts)


def wrk(rows_file: Path, mode: str = "draw", duration_s: int = DURATION_S) -> dict[str, Any]:
    env = dict(os.environ, PLATES_SELECTIONS=str(rows_file), PLATES_MODE=mode)
    offset = ACCESS_LOG.stat().st_size if ACCESS_LOG.exists() else 0
    out = subprocess.run(  # noqa: S603
        [
            "/usr/bin/wrk",
            "-t2",
            f"-c{CONNECTIONS}",
            f"-d{duration_s}s",
            "--timeout",
            "5s",
            "-s",
            str(LUA),
            f"http://127.0.0.1:{EDGE_PORT}",
        ],
        env=env,
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    result: dict[str, Any] = json.loads(out.strip().splitlines()[-1])
    result["per_s"] = result["requests"] / (result["duration_us"] / 1e6)
    if result["non_2xx"]:
        result["non_2xx_by_status"] = answers_since(offset)
    log(f"wrk {mode} {rows_file.name}: {result}")
    return result


# --- selections through the API ---------------------------------------------------------------------


AGAIN = (429, 503)  # "try again shortly" (Retry-After): a moment of overload, not a refusal (ADR 0088)


async def post_as_told(
    client: httpx.AsyncClient,
    gate: asyncio.Semaphore,
    url: str,
    seen: Counter[str],
    **kwargs: Any,
) -> httpx.Response:
    """POST through `gate`; every answer but a 2xx is counted in `seen` ("<step> <status> <code>"), and
    one that says try again shortly is asked again after its Retry-After, as a person would, 5 times at
    most (a start, a choice, a confirmation repeated are answered as the first; a draw spends another)."""
    for _ in range(6):
        async with gate:
            r = await client.post(url, **kwargs)
        if r.is_success:
            return r
        code = r.json().get("code") if r.headers.get("content-type", "").endswith("json") else None
        seen[f"{url.rsplit('/', 1)[1]} {r.status_code} {code}"] += 1
        if r.status_code not in AGAIN:
            return r
        await asyncio.sleep(float(r.headers.get("Retry-After", "2")))
    return r


async def make_selections(
    client: httpx.AsyncClient, tokens: TokenFactory, office: str, count: int
) -> list[tuple[str, str, str]]:
    """`count` selections of `office`: (selection id, token, phone) each, its own person and car."""
    gate = asyncio.Semaphore(CONNECTIONS)
    queue = distinct_people(office, count)

    async def one() -> tuple[str, str, str]:
        idn, phone = queue.pop()
        token = tokens.citizen(f"bench-{secrets.token_hex(6)}", id_number=idn, phone=phone, ttl_s=7200)
        r = await post_as_told(
            client,
            gate,
            "/api/v1/plate-selections",
            seen,
            json=start_body(office, idn, phone),
            headers={"Authorization": f"Bearer {token}"},
        )
        if not r.is_success:
            raise RuntimeError(f"a start answered {r.status_code}: {r.text}")
        return r.json()["id"], token, phone

    seen: Counter[str] = Counter()
    made = list(await asyncio.gather(*(one() for _ in range(count))))
    if seen:
        log(f"starts of {office}: answers other than 2xx, asked again: {dict(seen)}")
    return made


def rows_file(rows: list[tuple[str, str, str]], name: str) -> Path:
    path = VAR / f"{name}.txt"
    path.write_text("".join(f"{sid} {token}\n" for sid, token, _ in rows), encoding="utf-8")
    return path


async def race(segment_id: str, tokens: TokenFactory) -> dict[str, Any]:
    """2,000 selections over 100 numbers: draw, choose, SMS code, confirm; then count the ledger and Redis."""
    limits = httpx.Limits(max_connections=CONNECTIONS, max_keepalive_connections=CONNECTIONS)
    async with httpx.AsyncClient(
        base_url=f"http://127.0.0.1:{EDGE_PORT}", limits=limits, timeout=60.0
    ) as client:
        started = time.perf_counter()
        rows = await make_selections(client, tokens, OFFICES["race"], RACE_CONTENDERS)
        log(f"race: {len(rows)} selections made in {time.perf_counter() - started:.1f} s")
        runtime = Runtime.open(SPEC.settings(), SPEC.metadata)
        confirmed = 0
        # All 2,000 contenders are in the race at once, but at most CONNECTIONS requests are in flight (as
        # before: the client has that many connections). They wait here, not in httpx's pool, whose queue
        # is walked on every request (O(n^2) in the waiters: the client, not the server, was the limit).
        # Draws (most of them people in line asking again) and the steps after a draw (choice, SMS code,
        # confirmation) have half the connections each: on their own phones, the people past the line
        # would not wait behind 2,000 others' polls in one client's queue.
        gates = {"draw": asyncio.Semaphore(CONNECTIONS // 2), "step": asyncio.Semaphore(CONNECTIONS // 2)}

        # Every answer but a 2xx, by step, status and code: a contender stops at the first refusal.
        refused: Counter[str] = Counter()

        async def post(url: str, headers: dict[str, str], **kwargs: Any) -> httpx.Response:
            gate = gates["draw" if url.endswith("/random-draws") else "step"]
            return await post_as_told(client, gate, url, refused, headers=headers, **kwargs)

        # The codes from the outbox as they are written: earlier runs' rows in the bench's database are
        # sealed with other keys (each run makes its own), so reading the outbox whole failed on a rerun.
        inbox = SmsInbox()
        reader = asyncio.create_task(inbox.follow(runtime.engine, await runtime.clock.now()))

        async def code_for(phone: str) -> str:
            for _ in range(1_200):  # a minute at most
                if inbox.codes.get(phone):
                    return max(inbox.codes[phone])[1]  # the newest (outbox ids are UUIDv7) send's code
                await asyncio.sleep(0.05)
            raise RuntimeError(f"no SMS code for {phone} in the outbox after a minute")

        async def contend(sid: str, token: str, phone: str) -> None:
            nonlocal confirmed
            headers = {"Authorization": f"Bearer {token}"}
            # With every free number held, a draw waits in line (202, PP-10): numbers come back as others
            # choose and give back their other four, and the line is served in order. Once all 100 are
            # allocated and nothing is held, the answer is 409 POOL_EXHAUSTED and the contender stops.
            r = await post(f"/api/v1/plate-selections/{sid}/random-draws", headers)
            while r.status_code == 202:  # as told: ask again after Retry-After
                await asyncio.sleep(float(r.headers["Retry-After"]))
                r = await post(f"/api/v1/plate-selections/{sid}/random-draws", headers)
            if r.status_code != 201:
                return
            for number in r.json()["numbers"]:
                c = await post(f"/api/v1/plate-selections/{sid}/choice", headers, json={"number": number})
                if c.status_code == 200:
                    break
            else:
                return
            if (await post(f"/api/v1/plate-selections/{sid}/sms-code", headers)).status_code != 202:
                return
            code = await code_for(phone)
            done = await post(f"/api/v1/plate-selections/{sid}/confirmation", headers, json={"code": code})
            if done.status_code == 200:
                confirmed += 1

        async def progress() -> None:  # a line every 5 s: where the race stands
            hot = context_for(runtime).hot
            while True:
                await asyncio.sleep(5)
                c = await hot.counts(segment_id)
                log(
                    f"race: {time.perf_counter() - started:.0f} s, {confirmed} confirmed, available "
                    f"{c.available}, held {c.held}, in line {c.queued}"
                )

        started = time.perf_counter()
        reporter = asyncio.create_task(progress())
        stalled = False
        try:
            await asyncio.wait_for(asyncio.gather(*(contend(*row) for row in rows)), RACE_LIMIT_S)
        except TimeoutError:
            stalled = True
        reporter.cancel()
        reader.cancel()
        race_s = time.perf_counter() - started
        log(f"race: contended in {race_s:.1f} s, {confirmed} confirmed{' (stopped: over time)' * stalled}")
        log(f"race: answers other than 2xx (step status code): {dict(refused)}")
        try:
            ctx = context_for(runtime)
            async with runtime.engine.connect() as conn:
                total, distinct = (
                    await conn.execute(
                        select(func.count(), func.count(func.distinct(allocations.c.plate_number)))
                        .where(allocations.c.segment_id == segment_id)
                        .where(allocations.c.released_at.is_(None))
                    )
                ).one()
            bits = await ctx.hot.redis.bitcount(ctx.hot.seg_key(segment_id, "bits"))
            counts = await ctx.hot.counts(segment_id)
            leaked = 1_000 - bits - counts.held - counts.allocated
            # Allocated in Redis must be the ledger's plus the 900 standing for earlier allocations.
            leaked += abs(counts.allocated - (1_000 - RACE_FREE) - int(total))
            return {
                "race_s": round(race_s, 1),
                "race_stalled": stalled,
                "race_non_2xx": sum(refused.values()),
                "race_confirmed": int(total),
                "race_double_allocations": int(total) - int(distinct) + max(0, confirmed - int(total)),
                "race_leaked": leaked,
            }
        finally:
            await runtime.aclose()


def main() -> int:
    hot_cluster = None
    if CLUSTER:
        from servicekit.testservers import PrivateRedisCluster

        hot_cluster = PrivateRedisCluster(masters=3)
        hot_cluster.start()
        os.environ["TMS_PLATE_POOL__HOT_REDIS_URL"] = hot_cluster.url  # the replicas inherit it
        log(f"hot state on a Redis Cluster: {hot_cluster.url}")
    try:
        return _main()
    finally:
        if hot_cluster is not None:
            hot_cluster.stop()


def _main() -> int:
    tokens = TokenFactory()
    plate_pool_keys(tokens)
    jwks_body = json.dumps(tokens.jwks()).encode()
    jwks = serve(JWKS_PORT, {"/jwks.json": lambda _: jwks_body})
    VAR.mkdir(parents=True, exist_ok=True)
    for old in (ACCESS_LOG, *VAR.glob("replica-*.log")):  # this run's logs only
        old.unlink(missing_ok=True)  # a fresh checkout (plates_ab's worktrees) has none yet
    replicas: list[subprocess.Popen[bytes]] = []
    nginx: subprocess.Popen[bytes] | None = None
    try:
        segment_ids = asyncio.run(prepare(tokens))
        replicas.append(start_replica(REPLICA_PORTS[0], log_dir=VAR))
        wait_ready(f"http://127.0.0.1:{REPLICA_PORTS[0]}/readyz")
        nginx = start_nginx(VAR, EDGE_PORT, REPLICA_PORTS[:1], str(ACCESS_LOG))
        wait_ready(f"http://127.0.0.1:{EDGE_PORT}/healthz")

        async def selections_for(key: str) -> list[tuple[str, str, str]]:
            async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{EDGE_PORT}", timeout=60.0) as client:
                return await make_selections(client, tokens, OFFICES[key], SELECTIONS_PER_POOL)

        file_50k = rows_file(asyncio.run(selections_for("50k")), "selections-50k")
        file_5m = rows_file(asyncio.run(selections_for("5m")), "selections-5m")
        wrk(file_50k, "draw", 3)  # warm-up: token cache, script cache, connection pools
        wrk(file_50k, "hello", 2)
        hello = wrk(file_50k, "hello")
        pid = replicas[0].pid
        cpu_before = cpu_ms(pid)
        draws = wrk(file_50k, "draw")
        cpu_used = cpu_ms(pid) - cpu_before
        draws_5m = wrk(file_5m, "draw")

        replicas.append(start_replica(REPLICA_PORTS[1], log_dir=VAR))
        wait_ready(f"http://127.0.0.1:{REPLICA_PORTS[1]}/readyz")
        stop(nginx)
        nginx = start_nginx(VAR, EDGE_PORT, REPLICA_PORTS, str(ACCESS_LOG))
        wait_ready(f"http://127.0.0.1:{EDGE_PORT}/healthz")
        wrk(file_50k, "draw", 2)
        draws_2 = wrk(file_50k, "draw")
        race_result: dict[str, Any]
        if os.environ.get("PLATES_BENCH_RACE", "1") == "1":
            race_result = asyncio.run(race(segment_ids["race"], tokens))
        else:  # a quick look at throughput only (development); `make bench-plates` always races
            race_result = {"race_confirmed": -1, "race_double_allocations": -1, "race_leaked": -1}

        failures = sum(run["non_2xx"] for run in (draws, draws_5m, draws_2, hello))
        ok_draws = draws["requests"] - draws["non_2xx"]
        result = {
            "draws_per_s": round(draws["per_s"], 1),
            "p50_ms": round(draws["p50_ms"], 2),
            "p99_ms": round(draws["p99_ms"], 2),
            "hello_per_s": round(hello["per_s"], 1),
            "draw_to_hello_ratio": round(draws["per_s"] / hello["per_s"], 3),
            "cpu_ms_per_1000_draws": round(cpu_used / max(1, draws["requests"]) * 1000, 1),
            "replicas_2_to_1_ratio": round(draws_2["per_s"] / draws["per_s"], 3),
            "throughput_ratio_5m_to_50k": round(draws_5m["per_s"] / draws["per_s"], 3),
            "p99_ratio_5m_to_50k": round(draws_5m["p99_ms"] / draws["p99_ms"], 3),
            "non_2xx": failures,
            "replicas_2_non_2xx": draws_2["non_2xx"],
            **race_result,
            "hot_store": "redis_cluster_3_masters" if CLUSTER else "redis",
        }
        log(f"non-2xx answers in the measured runs: {failures} (of {ok_draws} successful 1-replica draws)")
        print(json.dumps(result), flush=True)
        return 0
    finally:
        stop(nginx)
        for proc in replicas:
            stop(proc)
        jwks.shutdown()
        asyncio.run(cleanup_redis(REDIS_URL, PREFIX))


if __name__ == "__main__":
    raise SystemExit(main())
