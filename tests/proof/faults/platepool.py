"""The plate-pool platform the store faults run against, and the citizens who load it.

`Platform`: plate-pool's api as replicas and its worker (outbox relay, sweeps: the pool rebuilt after Redis
lost it), as real processes on a database and a Redis the test owns (`PrivatePostgres`, `PrivateRedis`),
the broker the session's own vhost; optionally run inside a network namespace (`netns`), reaching the
servers through a veth. One published segment of 1,000 numbers, a JWKS server for the citizens' tokens.

`Load`: citizens arriving one after another, each doing the whole pre-selection as the app does it
(start, a random draw, the choice, the SMS code read back from the outbox, the confirmation), retrying what
failed as a browser would (a lost connection or a 5xx: again, on the other replica). Every answer is
counted; what a success answer promised is checked against PostgreSQL afterwards (`check`).
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import json
import os
import secrets
import signal
import subprocess
import sys
import threading
import time
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import aio_pika
import httpx
import psycopg
from redis.asyncio import Redis
from sqlalchemy import update

from plate_pool_service.context import context_for
from plate_pool_service.domain import OfficeSettings
from plate_pool_service.segments import PlanSegment, build_pool, plan_segment, save_office_settings
from plate_pool_service.service import SPEC
from plate_pool_service.settings import PlatePoolSettings
from plate_pool_service.tables import segments
from servicekit.db import psycopg_dsn
from servicekit.runtime import Runtime
from servicekit.settings import DatabaseSettings, RedisSettings
from servicekit.testing import TokenFactory, new_resident_id, open_payload, set_test_calendar_years
from servicekit.testservers import PrivatePostgres
from servicekit.topology import declare_commands_exchange
from servicekit.validators import vin_check_digit
from tests.e2e.processes import free_port  # one port registry for every server a test starts

ROOT = Path(__file__).resolve().parents[3]
POOL_SIZE = 1_000
JPEG = base64.b64encode(b"\xff\xd8\xff\xe0" + b"0" * 64).decode()
DATABASE = "plate_pool_proof_test"
PROBLEM = "application/problem+json"


class _Jwks(BaseHTTPRequestHandler):
    body = b"{}"

    def do_GET(self) -> None:
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(self.body)))
        self.end_headers()
        self.wfile.write(self.body)

    def log_message(self, format: str, *args: Any) -> None:
        pass


def prepare_database(pg: PrivatePostgres) -> str:
    """plate-pool's database on the private cluster, migrated; its SQLAlchemy URL (127.0.0.1)."""
    url = f"postgresql+psycopg://plate_pool@127.0.0.1:{pg.port}/{DATABASE}"
    env = {**os.environ, "TMS_PG_ADMIN_URL": pg.url(), "TMS_PLATE_POOL__DATABASE__URL": url}
    subprocess.run([sys.executable, "-m", "servicekit.migrate", "plate-pool"], cwd=ROOT, env=env, check=True)
    today = date.today()
    set_test_calendar_years(url, today.year, today.year + 1, today.year + 2)
    return url


@dataclass
class Platform:
    """Replicas and a worker of plate-pool on the given servers (URLs as the processes reach them)."""

    database_url: str  # as this test process reaches it
    redis_url: str
    broker_url: str
    replicas: int = 2
    netns: str | None = None  # run the processes inside this namespace
    service_database_url: str | None = None  # as the processes reach it (through the veth)
    service_redis_url: str | None = None
    service_broker_url: str | None = None
    api_host: str = "127.0.0.1"
    jwks_host: str = "127.0.0.1"
    prefix: str = field(default_factory=lambda: f"proof{secrets.token_hex(3)}")
    office: str = field(default_factory=lambda: "13" + f"{secrets.randbelow(10_000):04d}")
    tokens: TokenFactory = field(default_factory=TokenFactory)
    processes: list[subprocess.Popen[bytes]] = field(default_factory=list)
    urls: list[str] = field(default_factory=list)
    segment_id: str = ""

    def settings(self) -> PlatePoolSettings:
        return PlatePoolSettings(
            database=DatabaseSettings(url=self.database_url),
            redis=RedisSettings(url=self.redis_url),
            hot_prefix=self.prefix,
            cache_ttl_s=0,
        )

    async def open_segment(self) -> None:
        runtime = Runtime.open(self.settings(), SPEC.metadata)
        try:
            ctx = context_for(runtime)
            await save_office_settings(
                runtime, self.office, OfficeSettings(low_pool_threshold=0), superior="130000", name="proof"
            )
            now = await runtime.clock.now()
            self.segment_id = await plan_segment(
                ctx,
                PlanSegment(
                    office_code=self.office,
                    prefix="冀A",
                    pattern="5####",
                    custom_patterns=["5####"],
                    opens_at=now - timedelta(days=1),
                    size=POOL_SIZE,
                ),
                "proof",
                now,
            )
            async with runtime.engine.begin() as conn:
                await conn.execute(
                    update(segments)
                    .where(segments.c.id == self.segment_id)
                    .values(state="published", approved_by="proof", published_at=now)
                )
            await build_pool(ctx, self.segment_id)
        finally:
            await runtime.aclose()

    def _command(self, args: Sequence[str]) -> list[str]:
        command = [sys.executable, *args]
        return ["ip", "netns", "exec", self.netns, *command] if self.netns else command

    def start(self) -> None:
        _Jwks.body = json.dumps(self.tokens.jwks()).encode()
        self._jwks = ThreadingHTTPServer((self.jwks_host, 0), _Jwks)
        threading.Thread(target=self._jwks.serve_forever, daemon=True).start()
        p = "TMS_PLATE_POOL__"
        env = {
            **os.environ,
            p + "DATABASE__URL": self.service_database_url or self.database_url,
            p + "REDIS__URL": self.service_redis_url or self.redis_url,
            p + "BROKER__URL": self.service_broker_url or self.broker_url,
            p + "HOT_PREFIX": self.prefix,
            p + "CACHE_TTL_S": "0",
            p + "TELEMETRY__LOG_LEVEL": "WARNING",
            p + "AUTH__JWKS_URL": f"http://{self.jwks_host}:{self._jwks.server_address[1]}/jwks.json",
            p + "AUTH__CLAIM_KEYS": self.tokens.claim_keys.spec(),  # ADR 0082: the factory seals its claims
        }
        for _ in range(self.replicas):
            port = free_port()
            args = ["-m", "uvicorn", "--factory", "plate_pool_service.main:create_app", "--no-access-log"]
            args += ["--host", self.api_host, "--port", str(port), "--log-level", "warning"]
            self.processes.append(subprocess.Popen(self._command(args), cwd=ROOT, env=env))
            self.urls.append(f"http://{self.api_host}:{port}")
        worker = self._command(["-m", "plate_pool_service.worker"])
        self.processes.append(subprocess.Popen(worker, cwd=ROOT, env=env))

    async def wait_ready(self, timeout_s: float = 90) -> None:
        deadline = time.monotonic() + timeout_s
        async with httpx.AsyncClient(trust_env=False, timeout=3) as client:
            for url in self.urls:
                while True:
                    with contextlib.suppress(httpx.HTTPError):
                        if (await client.get(f"{url}/readyz")).status_code == 200:
                            break
                    for process in self.processes:
                        assert process.poll() is None, f"a plate-pool process exited ({process.returncode})"
                    assert time.monotonic() < deadline, f"{url} not ready within {timeout_s:.0f} s"
                    await asyncio.sleep(0.2)

    def stop(self) -> None:
        for process in self.processes:
            if process.poll() is None:
                process.send_signal(signal.SIGTERM)
        for process in self.processes:
            try:
                process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                process.kill()
        with contextlib.suppress(AttributeError):
            self._jwks.shutdown()


SMS_QUEUE = "proof.notify.sms"


async def stand_in_for_notify(broker_url: str) -> None:
    """notify does not run here: a queue of its SMS command routes the relay's mandatory publishes (an
    unroutable command stays in the outbox, retried), emptied of an earlier run's."""
    connection = await aio_pika.connect(broker_url)
    async with connection:
        channel = await connection.channel()
        exchange = await declare_commands_exchange(channel, "notify")
        queue = await channel.declare_queue(SMS_QUEUE, durable=True)
        await queue.bind(exchange, "notify.sms.send.v1")
        await queue.purge()


def new_vin() -> str:
    alphabet = "0123456789ABCDEFGHJKLMNPRSTUVWXYZ"
    body = "LFV" + "".join(secrets.choice(alphabet) for _ in range(14))
    return body[:8] + vin_check_digit(body[:8] + "0" + body[9:]) + body[9:]


@dataclass
class Citizen:
    index: int
    headers: dict[str, str]
    phone: str
    body: dict[str, Any]
    replica: int
    selection_id: str | None = None
    started: bool = False  # a 200/201 answer to the start
    chosen: str | None = None  # the number a 200 answer to the choice gave
    confirmed: str | None = None  # the plate a 200 answer to the confirmation gave
    gave_up: str | None = None
    log: list[str] = field(default_factory=list)


@dataclass
class Answer:
    at: float  # monotonic
    replica: int
    status: int  # 0: no answer (connection lost, timeout)
    seconds: float
    problem: bool  # problem+json body
    step: str = ""  # the path's last part: plate-selections, random-draws, choice, ...


class Load:
    """The citizens' requests, with the retries a browser makes; every answer kept for the figures."""

    RETRY_S = 0.25
    GIVE_UP_S = 120.0

    def __init__(self, platform: Platform, timeout_s: float = 15.0) -> None:
        self.platform = platform
        self.clients = [
            httpx.AsyncClient(base_url=u, trust_env=False, timeout=timeout_s) for u in platform.urls
        ]
        self.answers: list[Answer] = []
        self.citizens: list[Citizen] = []

    async def aclose(self) -> None:
        for client in self.clients:
            await client.aclose()

    def citizen(self, index: int) -> Citizen:
        p = self.platform
        idn = new_resident_id(p.office)
        phone = "139" + "".join(secrets.choice("0123456789") for _ in range(8))
        token = p.tokens.citizen(f"proof-{secrets.token_hex(6)}", id_number=idn, phone=phone, ttl_s=3600)
        body = {
            "vin": new_vin(),
            "vehicle_kind": "small_car",
            "invoice": {
                "number": f"{secrets.randbelow(10**8):08d}",
                "code": "113001900111",
                "date": (date.today() - timedelta(days=2)).isoformat(),
                "amount_fen": 15_800_000,
                "photo": JPEG,
            },
            "certificate_number": "WAC" + secrets.token_hex(6).upper(),
            "owner": {"id_kind": "resident_id", "id_number": idn, "name": "张三"},
            "phone": phone,
            "office_code": p.office,
        }
        who = Citizen(index, TokenFactory.headers(token), phone, body, replica=index % len(self.clients))
        self.citizens.append(who)
        return who

    async def call(self, who: Citizen, method: str, path: str, **kw: Any) -> httpx.Response | None:
        """The first answer below 500; None when none came within GIVE_UP_S."""
        deadline = time.monotonic() + self.GIVE_UP_S
        step = path.rstrip("/").rsplit("/", 1)[-1]
        while time.monotonic() < deadline:
            replica = who.replica
            started = time.monotonic()
            try:
                r = await self.clients[replica].request(method, path, headers=who.headers, **kw)
            except httpx.TransportError as exc:
                self.answers.append(Answer(started, replica, 0, time.monotonic() - started, False, step))
                who.log.append(f"{method} {path}: {type(exc).__name__} on {replica}")
                who.replica = (replica + 1) % len(self.clients)
                await asyncio.sleep(self.RETRY_S)
                continue
            problem = r.headers.get("content-type", "").startswith(PROBLEM)
            elapsed = time.monotonic() - started
            self.answers.append(Answer(started, replica, r.status_code, elapsed, problem, step))
            who.log.append(f"{method} {path} -> {r.status_code} on {replica}")
            if r.status_code >= 500:
                who.replica = (replica + 1) % len(self.clients)
                await asyncio.sleep(self.RETRY_S)
                continue
            return r
        who.gave_up = f"{method} {path}"
        return None

    async def sms_code(self, phone: str) -> str | None:
        """The code the SMS carried, read from the outbox (retrying while the database is away)."""
        query = "SELECT payload FROM outbox WHERE routing_key = 'notify.sms.send.v1' ORDER BY id DESC"
        deadline = time.monotonic() + self.GIVE_UP_S
        while time.monotonic() < deadline:
            try:
                async with await psycopg.AsyncConnection.connect(
                    psycopg_dsn(self.platform.database_url), connect_timeout=3
                ) as conn:
                    rows = await (await conn.execute(query)).fetchall()
                # sealed (ADR 0095): opened and compared here, not in SQL
                for payload in (open_payload(row[0]) for row in rows):
                    if payload["phone"] == phone:
                        return str(payload["params"]["code"])
            except psycopg.OperationalError:
                pass
            await asyncio.sleep(self.RETRY_S)
        return None

    async def select(self, who: Citizen) -> None:
        """One person's whole pre-selection; every success answer noted on `who`."""
        r = await self.call(who, "POST", "/api/v1/plate-selections", json=who.body)
        if r is None:
            return
        if r.status_code not in (200, 201):
            who.gave_up = f"start {r.status_code} {r.text[:200]}"
            return
        who.started = True
        who.selection_id = sid = r.json()["id"]
        url = f"/api/v1/plate-selections/{sid}"
        for attempt in range(2):  # numbers drawn (held, not chosen) that Redis lost: draw again, once
            number = await self._draw(who, url)
            if number is None:
                return
            r = await self.call(who, "POST", f"{url}/choice", json={"number": number})
            if r is None:
                return
            if r.status_code == 200:
                who.chosen = number
                break
            # the choice may have gone through before its answer was lost: the selection says
            view = await self.call(who, "GET", url)
            if view is not None and view.json().get("plate_number") == number:
                break
            if attempt or r.json().get("code") != "NUMBER_NOT_HELD":
                who.gave_up = f"choice {r.status_code} {r.text[:200]}"
                return
        # A code Redis lost with a restart: the person asks for a new one (Redis restarts twice in the
        # proof, and on a loaded machine one person's steps can span both).
        for _ in range(3):
            r = await self.call(who, "POST", f"{url}/sms-code")
            if r is None or r.status_code != 202:
                who.gave_up = f"sms-code {None if r is None else r.status_code}"
                return
            code = await self.sms_code(who.phone)
            if code is None:
                who.gave_up = "no SMS code in the outbox"
                return
            r = await self.call(who, "POST", f"{url}/confirmation", json={"code": code})
            if r is None:
                return
            if r.status_code != 422 or r.json().get("code") != "SMS_CODE_NOT_ISSUED":
                break
        if r.status_code == 200:
            who.confirmed = r.json()["plate_number"]
        else:
            who.gave_up = f"confirmation {r.status_code} {r.text[:200]}"

    async def _draw(self, who: Citizen, url: str) -> str | None:
        """One of five numbers a random draw holds (asking again while in line, 202); None: gave up."""
        for _ in range(40):
            r = await self.call(who, "POST", f"{url}/random-draws")
            if r is None:
                return None
            if r.status_code == 201:
                numbers: list[str] = r.json()["numbers"]
                return numbers[secrets.randbelow(len(numbers))]
            if r.status_code != 202:
                who.gave_up = f"draw {r.status_code} {r.text[:200]}"
                return None
            await asyncio.sleep(0.2)
        who.gave_up = "draw: never out of the line"
        return None

    async def run(self, people: int, every_s: float) -> None:
        """`people` citizens, one arriving every `every_s`, each going through to the end."""
        tasks = []
        for i in range(people):
            tasks.append(asyncio.create_task(self.select(self.citizen(i))))
            await asyncio.sleep(every_s)
        await asyncio.gather(*tasks)

    def statuses(self) -> Counter[int]:
        return Counter(a.status for a in self.answers)

    def timeline(self, since: float, seconds: int = 10) -> str:
        """The answers second by second from `since` (by when they came): how the recovery went."""
        buckets: dict[int, Counter[int]] = {}
        for a in self.answers:
            second = int(a.at + a.seconds - since)
            if 0 <= second < seconds:
                buckets.setdefault(second, Counter())[a.status] += 1
        return "; ".join(f"+{s}s {dict(sorted(buckets[s].items()))}" for s in sorted(buckets))

    def recovered_s(self, back_at: float) -> float:
        """From the server being back to the first success answer of every replica after it."""
        firsts = []
        for replica in range(len(self.clients)):
            oks = [a.at + a.seconds for a in self.answers if a.replica == replica and 200 <= a.status < 300]
            after = [t for t in oks if t >= back_at]
            if after:
                firsts.append(min(after) - back_at)
        return round(max(firsts), 2) if firsts else float("inf")


@dataclass
class Verdict:
    lost: list[str]
    doubled: list[str]


async def check(platform: Platform, load: Load) -> Verdict:
    """What the success answers promised, against PostgreSQL (the authority); numbers given twice."""
    lost: list[str] = []
    doubled: list[str] = []
    async with await psycopg.AsyncConnection.connect(psycopg_dsn(platform.database_url)) as conn:
        rows = await (
            await conn.execute(
                "SELECT id::text, vin, state, plate_number FROM selections WHERE office_code = %s",
                (platform.office,),
            )
        ).fetchall()
        by_id = {r[0]: r for r in rows}
        vins = Counter(r[1] for r in rows)
        active = await (
            await conn.execute(
                "SELECT selection_id::text, plate_number, number_index FROM allocations "
                "WHERE segment_id = %s AND released_at IS NULL",
                (platform.segment_id,),
            )
        ).fetchall()
        confirmed_payloads = await (
            await conn.execute(
                "SELECT payload FROM outbox WHERE routing_key = 'plate-pool.selection.confirmed.v1'"
            )
        ).fetchall()
        # sealed (ADR 0095): opened and counted here, not in SQL
        confirmed_events = list(
            Counter(open_payload(row[0])["selection_id"] for row in confirmed_payloads).items()
        )
    allocation_of: dict[str, list[str]] = {}
    holders: dict[str, list[str]] = {}
    for sid, plate, _ in active:
        allocation_of.setdefault(sid, []).append(plate)
        holders.setdefault(plate, []).append(sid)
    for who in load.citizens:
        sid = who.selection_id
        if who.started and (sid not in by_id or by_id[sid][1] != who.body["vin"]):
            lost.append(f"citizen {who.index}: started {sid}, no such selection")
        if who.chosen and (sid not in by_id or by_id[sid][3] != who.chosen):
            lost.append(f"citizen {who.index}: chose {who.chosen}, the selection says {by_id.get(sid or '')}")
        if who.confirmed and allocation_of.get(sid or "") != [who.confirmed]:
            lost.append(
                f"citizen {who.index}: confirmed {who.confirmed}, ledger {allocation_of.get(sid or '')}"
            )
    doubled += [f"vin {vin}: {n} selections" for vin, n in vins.items() if n > 1]
    doubled += [f"plate {plate}: allocated to {sids}" for plate, sids in holders.items() if len(sids) > 1]
    doubled += [f"selection {sid}: {plates}" for sid, plates in allocation_of.items() if len(plates) > 1]
    doubled += [f"selection {sid}: {n} confirmed events" for sid, n in confirmed_events if n > 1]
    return Verdict(lost, doubled)


async def views_agree(load: Load) -> list[str]:
    """Through the API, as the people see it after recovery: no number held by two selections, and a
    number chosen (awaiting its SMS code) or confirmed held by no one else."""
    seen: dict[str, str] = {}
    problems = []
    for who in load.citizens:
        if who.selection_id is None:
            continue
        r = await load.call(who, "GET", f"/api/v1/plate-selections/{who.selection_id}")
        assert r is not None
        assert r.status_code == 200, r.text
        view = r.json()
        numbers = set(view.get("held_numbers") or [])
        if view["state"] in ("awaiting_sms", "selected") and view["plate_number"]:
            numbers.add(view["plate_number"])
        for number in numbers:
            if number in seen:
                problems.append(f"{number}: {seen[number]} and {who.selection_id}")
            seen[number] = who.selection_id
    return problems


async def hot_agrees(platform: Platform) -> list[str]:
    """PP-12 after recovery: Redis's allocated set is the ledger's, and every number is in one place only
    (available, held by one selection, or allocated)."""
    redis = Redis.from_url(platform.redis_url)
    try:
        key = f"{platform.prefix}:{{{platform.segment_id}}}:"  # hot.py's layout (ADR 0097)
        raw = await redis.get(key + "bits")
        bits = raw if isinstance(raw, bytes) else b""
        holds = {int(k): str(v) for k, v in (await redis.hgetall(key + "holds")).items()}
        alloc = {int(m) for m in await redis.smembers(key + "alloc")}
    finally:
        await redis.aclose()
    available = {i for i in range(POOL_SIZE) if i // 8 < len(bits) and bits[i // 8] >> (7 - i % 8) & 1}
    async with await psycopg.AsyncConnection.connect(psycopg_dsn(platform.database_url)) as conn:
        ledger = {
            r[0]
            for r in await (
                await conn.execute(
                    "SELECT number_index FROM allocations WHERE segment_id = %s AND released_at IS NULL",
                    (platform.segment_id,),
                )
            ).fetchall()
        }
    problems = []
    if alloc != ledger:
        problems.append(f"Redis allocated {len(alloc)}, ledger {len(ledger)}: {sorted(alloc ^ ledger)[:10]}")
    for name, a, b in (("available", available, set(holds)), ("allocated", alloc, set(holds))):
        if a & b:
            problems.append(f"held and {name}: {sorted(a & b)[:10]}")
    if available & alloc:
        problems.append(f"available and allocated: {sorted(available & alloc)[:10]}")
    return problems
