"""`make bench-exams`: DL-11's oversubscribed slot, over HTTP against the license service on real PostgreSQL.

It starts what it needs beside the running infra: its own database `license_bench` (dropped and migrated
anew at the start), a tiny JWKS server for tokens signed like identity's, and license api
replicas (uvicorn, the real app with auth and the rules; 2 by default, requests alternating between them).
Then:

1. an office publishes a site and one 100-seat subject-1 slot, and the licence-application system feeds
   1,000 learners (acceptance times spread over 90 days, some shared, so the tie-break by request time
   counts; 15% with an earlier cancelled booking or absence, set in the database as their history);
2. the 1,000 learners ask for the slot at once (asyncio, up to `EXAMS_BENCH_CONNECTIONS` connections);
3. the cut-off runs: two sweeps at the same moment, as two worker replicas would (`sweep_cutoffs`);
4. the outcome is checked against the published order computed here from the learners' own data (not
   from what the service stored): the seated set must be the first 100 and every place must match.

The last line printed is one JSON object: `seated` (must be 100), `order_violations` (must be 0),
`bookings_per_s`, and `requests`, `refused`, `p50_ms`, `p99_ms`, `cpu_ms_per_booking` (the replicas' own
CPU time per request, which the machine's other load does not inflate), `load_average_1m`, `decide_ms`,
`slots_decided`, `decided_events`, `api_places_checked`, `replicas`.
"""

from __future__ import annotations

import asyncio
import json
import os
import random
import secrets
import socket
import statistics
import subprocess
import sys
import time
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import psycopg
from sqlalchemy import select, update
from sqlalchemy.engine import make_url

ROOT = Path(__file__).resolve().parents[1]
LEARNERS = int(os.environ.get("EXAMS_BENCH_LEARNERS", "1000"))
SEATS = int(os.environ.get("EXAMS_BENCH_SEATS", "100"))
REPLICAS = int(os.environ.get("EXAMS_BENCH_REPLICAS", "2"))
CONNECTIONS = int(os.environ.get("EXAMS_BENCH_CONNECTIONS", "200"))
OFFICE = "139201"
DB_URL = os.environ.get("EXAMS_BENCH_DB", "postgresql+psycopg://license@127.0.0.1:5432/license_bench")
REDIS_URL = os.environ.get("EXAMS_BENCH_REDIS", "redis://127.0.0.1:6379/0")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


JWKS_PORT = free_port()
os.environ.update(
    {
        "TMS_ENV": "dev",
        "TMS_LICENSE__DATABASE__URL": DB_URL,
        "TMS_LICENSE__REDIS__URL": REDIS_URL,
        "TMS_LICENSE__AUTH__JWKS_URL": f"http://127.0.0.1:{JWKS_PORT}/jwks.json",
        "TMS_LICENSE__TELEMETRY__LOG_LEVEL": os.environ.get("EXAMS_BENCH_LOG_LEVEL", "WARNING"),
    }
)

from harness import cpu_ms, serve, start_replica, stop, wait_ready  # noqa: E402

from license_service.exam_slots import sweep_cutoffs  # noqa: E402  (settings come from the env above)
from license_service.service import SPEC  # noqa: E402
from license_service.tables import exam_bookings, exam_learners, exam_slots  # noqa: E402
from servicekit.clock import FixedClock  # noqa: E402
from servicekit.crypto import DataKeys, blind_match  # noqa: E402
from servicekit.migrate import ADMIN_URL, migrate  # noqa: E402
from servicekit.runtime import Runtime  # noqa: E402
from servicekit.testing import TokenFactory, new_resident_id, outbox_payloads  # noqa: E402


def log(message: str) -> None:
    print(f"[bench-exams] {message}", file=sys.stderr, flush=True)


def new_id_numbers(count: int) -> list[str]:
    numbers: set[str] = set()
    while len(numbers) < count:
        numbers.add(new_resident_id())
    return sorted(numbers)


class Person:
    """A learner as the bench knows them: the data it fed and the history it set, its own record of what
    the published order must read."""

    def __init__(self, id_number: str, accepted_at: datetime, token: str) -> None:
        self.id_number = id_number
        self.accepted_at = accepted_at
        self.cancelled_at: datetime | None = None
        self.absent_at: datetime | None = None
        self.token = token
        self.booking_id: str | None = None
        self.latency_s = 0.0

    def ranks_by(self) -> datetime:
        """DL-11 for a first subject-1 booking: the acceptance, or a later cancellation or absence."""
        return max(t for t in (self.accepted_at, self.cancelled_at, self.absent_at) if t is not None)


async def prepare(
    clients: list[httpx.AsyncClient], tokens: TokenFactory, now: datetime
) -> tuple[str, list[Person]]:
    """A site, one slot, and the learners (with their history)."""
    system = {"Authorization": f"Bearer {tokens.system(ttl_s=7200)}"}
    api = clients[0]
    r = await api.post(
        "/api/v1/exams/sites",
        json={"name": "bench 考场", "address": "石家庄", "office_code": OFFICE, "subjects": [1]},
        headers=system,
    )
    r.raise_for_status()
    starts = now + timedelta(days=5)
    r = await api.post(
        f"/api/v1/exams/sites/{r.json()['id']}/slots",
        json={
            "subject": 1,
            "classes": ["C1", "C2"],
            "starts_at": starts.isoformat(),
            "capacity": SEATS,
            "booking_opens_at": (now - timedelta(hours=1)).isoformat(),
            "cutoff_at": (starts - timedelta(days=3)).isoformat(),
        },
        headers=system,
    )
    r.raise_for_status()
    slot = r.json()
    rng = random.Random(2027)
    people = []
    for idn in new_id_numbers(LEARNERS):
        # Every third hour of 90 days: 720 times for 1,000 learners, so many share one and the tie-break
        # by request time decides between them.
        accepted = (now - timedelta(days=90) + timedelta(hours=3 * rng.randrange(720))).replace(
            minute=0, second=0, microsecond=0
        )
        token = tokens.citizen(f"bench-{idn}", id_number=idn, ttl_s=7200)
        people.append(Person(idn, accepted, token))
    gate = asyncio.Semaphore(32)

    async def feed(i: int, person: Person) -> None:
        async with gate:
            r = await clients[i % len(clients)].post(
                "/api/v1/exams/learners",
                json={
                    "application_number": f"B{secrets.token_hex(8).upper()}",
                    "id_number": person.id_number,
                    "name": "考生",
                    "phone": "139" + f"{i:08d}",
                    "classes": ["C1"],
                    "office_code": OFFICE,
                    "accepted_at": person.accepted_at.isoformat(),
                },
                headers=system,
            )
        r.raise_for_status()

    await asyncio.gather(*(feed(i, p) for i, p in enumerate(people)))
    # History: 15% cancelled a seated booking or missed an exam after their acceptance (set here, as the
    # records of earlier slots would have left it).
    runtime = Runtime.open(SPEC.settings(), SPEC.metadata)
    try:
        async with runtime.engine.begin() as conn:
            for person in rng.sample(people, LEARNERS * 15 // 100):
                moment = person.accepted_at + timedelta(hours=rng.randrange(1, 60 * 24))
                moment = min(moment, now - timedelta(minutes=1))
                if rng.random() < 0.5:
                    person.cancelled_at = moment
                    values = {"last_cancelled_at": moment}
                else:
                    person.absent_at = moment
                    values = {"last_absent_at": moment}
                await conn.execute(
                    update(exam_learners)
                    .where(blind_match(exam_learners.c.id_number, person.id_number))
                    .values(**values)
                )
    finally:
        await runtime.aclose()
    return slot["id"], people


async def book_all(clients: list[httpx.AsyncClient], slot_id: str, people: list[Person]) -> tuple[float, int]:
    """Every learner asks for the slot at once. Returns the seconds taken and the refusals."""
    refused = 0

    async def one(i: int, person: Person) -> None:
        nonlocal refused
        started = time.perf_counter()
        r = await clients[i % len(clients)].post(
            "/api/v1/exams/bookings",
            json={"slot_id": slot_id},
            headers={"Authorization": f"Bearer {person.token}"},
        )
        person.latency_s = time.perf_counter() - started
        if r.status_code == 201:
            person.booking_id = r.json()["id"]
        else:
            refused += 1
            log(f"refused: {r.status_code} {r.text[:200]}")

    order = list(enumerate(people))
    random.shuffle(order)
    started = time.perf_counter()
    await asyncio.gather(*(one(i, p) for i, p in order))
    return time.perf_counter() - started, refused


async def cutoff(slot_id: str) -> tuple[float, int]:
    """The cut-off as two worker replicas sweep it at the same moment."""
    runtime = Runtime.open(SPEC.settings(), SPEC.metadata)
    try:
        async with runtime.engine.connect() as conn:
            at = (
                await conn.execute(select(exam_slots.c.cutoff_at).where(exam_slots.c.id == slot_id))
            ).scalar_one()
    finally:
        await runtime.aclose()
    replicas = [Runtime.open(SPEC.settings(), SPEC.metadata, clock=FixedClock(at)) for _ in range(2)]
    try:
        started = time.perf_counter()
        done = await asyncio.gather(*(sweep_cutoffs(rt) for rt in replicas))
        return time.perf_counter() - started, sum(done)
    finally:
        for rt in replicas:
            await rt.aclose()


async def check(clients: list[httpx.AsyncClient], slot_id: str, people: list[Person]) -> dict[str, int]:
    """The outcome against the published order computed here from the bench's own data."""
    runtime = Runtime.open(SPEC.settings(), SPEC.metadata)
    try:
        async with runtime.engine.connect() as conn:
            rows = (
                await conn.execute(
                    select(
                        exam_bookings.c.id,
                        exam_bookings.c.id_number,
                        exam_bookings.c.state,
                        exam_bookings.c.place,
                        exam_bookings.c.requested_at,
                    ).where(exam_bookings.c.slot_id == slot_id)
                )
            ).all()
            events = len(await outbox_payloads(conn, "license.exam_booking.decided.v1", slot_id=slot_id))
            seated_column = (
                await conn.execute(select(exam_slots.c.seated).where(exam_slots.c.id == slot_id))
            ).scalar_one()
    finally:
        await runtime.aclose()
    by_number = {p.id_number: p for p in people}
    expected = sorted(rows, key=lambda r: (by_number[r.id_number].ranks_by(), r.requested_at, str(r.id)))
    violations = 0
    for index, row in enumerate(expected, start=1):
        should = "seated" if index <= SEATS else "not_seated"
        if row.place != index or row.state != should:
            violations += 1
    seated = sum(r.state == "seated" for r in rows)
    if seated_column != seated:
        violations += 1
    # What the learners see: their place through the API, for a sample across the order.
    sample = expected[:: max(1, len(expected) // 50)]
    checked = 0
    for i, row in enumerate(sample):
        person = by_number[row.id_number]
        r = await clients[i % len(clients)].get(
            "/api/v1/exams/bookings/mine", headers={"Authorization": f"Bearer {person.token}"}
        )
        (mine,) = r.json()
        if (mine["place"], mine["state"], mine["place_final"]) != (row.place, row.state, True):
            violations += 1
        checked += 1
    return {
        "seated": seated,
        "order_violations": violations,
        "decided_events": int(events),
        "api_places_checked": checked,
    }


async def run(ports: list[int], pids: list[int], tokens: TokenFactory) -> dict[str, Any]:
    limits = httpx.Limits(max_connections=CONNECTIONS // len(ports), max_keepalive_connections=CONNECTIONS)
    clients = [
        httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}", timeout=120.0, limits=limits, trust_env=False)
        for port in ports
    ]
    try:
        runtime = Runtime.open(SPEC.settings(), SPEC.metadata)
        try:
            now = await runtime.clock.now()
        finally:
            await runtime.aclose()
        started = time.perf_counter()
        slot_id, people = await prepare(clients, tokens, now)
        log(f"{LEARNERS} learners and a {SEATS}-seat slot in {time.perf_counter() - started:.1f} s")
        cpu_before = sum(cpu_ms(pid) for pid in pids)
        elapsed, refused = await book_all(clients, slot_id, people)
        cpu_used = sum(cpu_ms(pid) for pid in pids) - cpu_before
        log(f"{LEARNERS} requests in {elapsed:.2f} s, {refused} refused")
        decide_s, slots_decided = await cutoff(slot_id)
        log(f"cut-off: {slots_decided} slot(s) decided in {decide_s * 1000:.0f} ms")
        outcome = await check(clients, slot_id, people)
        latencies = sorted(p.latency_s for p in people)
        return {
            "seated": outcome["seated"],
            "order_violations": outcome["order_violations"],
            "bookings_per_s": round(LEARNERS / elapsed, 1),
            "requests": LEARNERS,
            "capacity": SEATS,
            "refused": refused,
            "p50_ms": round(statistics.median(latencies) * 1000, 1),
            "p99_ms": round(latencies[int(len(latencies) * 0.99) - 1] * 1000, 1),
            # The replicas' own CPU per request: what a booking costs, whatever else loads the machine.
            "cpu_ms_per_booking": round(cpu_used / LEARNERS, 2),
            "load_average_1m": round(os.getloadavg()[0], 2),
            "decide_ms": round(decide_s * 1000, 1),
            "slots_decided": slots_decided,
            "decided_events": outcome["decided_events"],
            "api_places_checked": outcome["api_places_checked"],
            "replicas": len(ports),
        }
    finally:
        for client in clients:
            await client.aclose()


def reset() -> None:
    """The bench database made anew at the newest revision: nothing an earlier run (or another branch's
    migrations) left in it counts."""
    name = make_url(DB_URL).database
    if not name or not name.endswith("_bench"):
        raise SystemExit(f"refusing to drop {name!r}: the bench drops only a *_bench database")
    with psycopg.connect(ADMIN_URL, autocommit=True) as admin:
        admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    migrate("license", DB_URL)


def main() -> int:
    tokens = TokenFactory()
    # ADR 0082: the replicas open the sealed claims with the key the bench's tokens are sealed with.
    os.environ["TMS_LICENSE__AUTH__CLAIM_KEYS"] = tokens.claim_keys.spec()
    keys = DataKeys.generate("bench")  # ADR 0095: one ring for the bench and its replicas
    os.environ["TMS_LICENSE__CRYPTO__DATA_KEYS"] = keys.data.spec()
    os.environ["TMS_LICENSE__CRYPTO__INDEX_KEYS"] = keys.index.spec()
    jwks_body = json.dumps(tokens.jwks()).encode()
    jwks = serve(JWKS_PORT, {"/jwks.json": lambda _: jwks_body})
    replicas: list[subprocess.Popen[bytes]] = []
    try:
        reset()
        ports = [free_port() for _ in range(REPLICAS)]
        for port in ports:
            replicas.append(start_replica(port, app="license_service.main:create_app"))
        for port in ports:
            wait_ready(f"http://127.0.0.1:{port}/readyz")
        result = asyncio.run(run(ports, [proc.pid for proc in replicas], tokens))
        print(json.dumps(result), flush=True)
        return 0 if result["seated"] == SEATS and result["order_violations"] == 0 else 1
    finally:
        for proc in replicas:
            stop(proc)
        jwks.shutdown()


if __name__ == "__main__":
    raise SystemExit(main())
