"""PP-12 with real replicas: two plate-pool api processes serve people selecting at the same time, one is
killed (SIGKILL, no shutdown) in the middle, the people it served carry on with the other one or walk away.

What must hold (ADR 0020): no confirmed allocation is lost (the ledger and GET agree), no number is held
by two selections, the numbers the dead replica held for people who walked away come back once the
platform clock passes their 180 s (the survivor's next script call lapses them), and then every number of
the segment is exactly one of available / held / allocated.

The replicas are uvicorn subprocesses (TMS_ENV=test, `plate_pool_test`) whose Redis is db 13, this test's
own (flushed here; never the shared db 15), so the platform clock offset moved here moves only them. A
tiny JWKS server in this process publishes the TokenFactory's key; SMS codes are read from the outbox.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import secrets
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import httpx
import pytest
from redis.asyncio import Redis
from sqlalchemy import delete, select

from plate_pool_service.context import PlateContext, context_for
from plate_pool_service.domain import OfficeSettings
from plate_pool_service.segments import PlanSegment, build_pool, plan_segment, save_office_settings
from plate_pool_service.selections import SMS_PURPOSE
from plate_pool_service.service import SPEC
from plate_pool_service.settings import PlatePoolSettings
from plate_pool_service.sweeps import end_sessions, sms_windows
from plate_pool_service.tables import allocations, segments, selections
from servicekit.clock import SHANGHAI, set_platform_time
from servicekit.runtime import Runtime
from servicekit.settings import RedisSettings
from servicekit.testing import TokenFactory, new_resident_id, outbox_payloads

from .conftest import JPEG, Applicant, Platform, drain, new_phone, new_vin

pytestmark = pytest.mark.integration

ROOT = Path(__file__).resolve().parents[4]
REDIS_URL = "redis://127.0.0.1:6379/13"  # this test's own db: the clock offset moved here moves only it
# Years after the other plate-pool tests' FixedClocks (2027): their sweeps scan the whole shared test
# database, and would end these sessions, SMS windows and registration deadlines as long past.
START = datetime(2030, 3, 4, 10, 0, tzinfo=SHANGHAI)  # a Monday
POOL_SIZE = 1_000  # the smallest segment PP-10 allows
USERS = 24
KILL_AFTER = 30  # replica B is killed once it has answered this many requests
CONNECTION_LOST = (httpx.ConnectError, httpx.RemoteProtocolError, httpx.ReadError, httpx.WriteError)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


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


async def _wait_healthy(url: str, process: subprocess.Popen[bytes], timeout_s: float = 60) -> None:
    deadline = time.monotonic() + timeout_s
    async with httpx.AsyncClient(trust_env=False, timeout=2) as client:
        while time.monotonic() < deadline:
            if process.poll() is not None:
                raise AssertionError(f"replica exited with {process.returncode}")
            try:
                if (await client.get(url)).status_code == 200:
                    return
            except httpx.HTTPError:
                pass
            await asyncio.sleep(0.1)
    raise AssertionError(f"{url} did not answer within {timeout_s:.0f} s")


def _start_replica(port: int, env: dict[str, str]) -> subprocess.Popen[bytes]:
    return subprocess.Popen(
        [
            sys.executable,
            "-m",
            "uvicorn",
            "--factory",
            "plate_pool_service.main:create_app",
            "--host",
            "127.0.0.1",
            "--port",
            str(port),
            "--no-access-log",
            "--log-level",
            "warning",
        ],
        cwd=ROOT,
        env=env,
    )


@dataclass
class Cluster:
    ctx: PlateContext
    redis: Redis
    tokens: TokenFactory
    office: str
    segment_id: str
    urls: list[str]
    replicas: list[subprocess.Popen[bytes]]


@pytest.fixture
async def db13() -> AsyncIterator[Redis]:
    """Redis db 13, this test's alone: another session running this same test (the plate-pool suite run by
    someone else) waits on a lock kept in the shared db 15 under a key no other test uses, so the two
    never flush or move each other's clock."""
    shared = Redis.from_url(PlatePoolSettings().redis.url)  # the test env's shared db 15
    lock = shared.lock("tms:test:plate-pool:pp12-replica-crash:db13", timeout=300, blocking_timeout=240)
    if not await lock.acquire():
        await shared.aclose()
        pytest.fail("Redis db 13 stayed busy with another run of this test for 240 s")
    redis = Redis.from_url(REDIS_URL)
    await redis.flushdb()
    try:
        yield redis
    finally:
        await redis.flushdb()
        await redis.aclose()
        await lock.release()
        await shared.aclose()


@pytest.fixture
async def cluster(plate_pool_database: str, db13: Redis, hot_backend: str) -> AsyncIterator[Cluster]:
    """Two replicas; their hot state on db 13 or on the session's Redis Cluster (`hot_backend`, ADR 0097),
    their clock offset on db 13 either way."""
    redis = db13
    await set_platform_time(redis, START)
    prefix = f"pp12crash:{secrets.token_hex(4)}"
    settings = PlatePoolSettings(
        redis=RedisSettings(url=REDIS_URL), hot_prefix=prefix, hot_redis_url=hot_backend, cache_ttl_s=0
    )
    runtime = Runtime.open(settings, SPEC.metadata)
    ctx = context_for(runtime)
    office = "15" + f"{secrets.randbelow(10_000):04d}"
    async with runtime.engine.begin() as conn:
        for table in (allocations, selections, segments):
            await conn.execute(delete(table).where(table.c.office_code == office))
    await save_office_settings(
        runtime,
        office,
        OfficeSettings(low_pool_threshold=0),  # a 10,000-number pool serves here (PP-10 floor lowered)
        superior="130000",
        name="pp12 crash office",
    )
    now = await runtime.clock.now()
    segment_id = await plan_segment(
        ctx,
        PlanSegment(
            office_code=office,
            prefix="冀A",
            pattern="3####",
            custom_patterns=["3####"],
            opens_at=now - timedelta(days=3),
            size=POOL_SIZE,
        ),
        "test",
        now,
    )
    async with runtime.engine.begin() as conn:
        await conn.execute(
            segments.update()
            .where(segments.c.id == segment_id)
            .values(state="published", approved_by="test", published_at=now)
        )
    await build_pool(ctx, segment_id)

    tokens = TokenFactory()
    _Jwks.body = json.dumps(tokens.jwks()).encode()
    jwks = ThreadingHTTPServer(("127.0.0.1", 0), _Jwks)
    threading.Thread(target=jwks.serve_forever, daemon=True).start()
    env = {
        **os.environ,
        "TMS_PLATE_POOL__REDIS__URL": REDIS_URL,
        "TMS_PLATE_POOL__HOT_PREFIX": prefix,
        "TMS_PLATE_POOL__HOT_REDIS_URL": hot_backend,
        "TMS_PLATE_POOL__CACHE_TTL_S": "0",
        "TMS_PLATE_POOL__TELEMETRY__LOG_LEVEL": "WARNING",
        "TMS_PLATE_POOL__AUTH__JWKS_URL": f"http://127.0.0.1:{jwks.server_address[1]}/jwks.json",
        "TMS_PLATE_POOL__AUTH__CLAIM_KEYS": tokens.claim_keys.spec(),  # ADR 0082: the factory seals
    }
    ports = [_free_port(), _free_port()]
    replicas = [_start_replica(port, env) for port in ports]
    urls = [f"http://127.0.0.1:{port}" for port in ports]
    try:
        for url, replica in zip(urls, replicas, strict=True):
            await _wait_healthy(f"{url}/healthz", replica)
        yield Cluster(ctx, redis, tokens, office, segment_id, urls, replicas)
    finally:
        for replica in replicas:
            if replica.poll() is None:
                replica.send_signal(signal.SIGTERM)
        for replica in replicas:
            try:
                replica.wait(timeout=15)
            except subprocess.TimeoutExpired:
                replica.kill()
        jwks.shutdown()
        async with runtime.engine.begin() as conn:
            for table in (allocations, selections, segments):
                await conn.execute(delete(table).where(table.c.office_code == office))
        await ctx.hot.aclose()
        await runtime.aclose()


@dataclass
class Person:
    index: int
    headers: dict[str, str]
    phone: str
    body: dict[str, Any]
    walks_away: bool  # stops at the first lost connection, leaving whatever the dead replica held
    replica: int
    selection_id: str | None = None
    confirmed_plate: str | None = None
    log: list[str] = field(default_factory=list)


class Run:
    """Requests of every person, on their replica; a lost connection moves a person to the survivor."""

    def __init__(self, cluster: Cluster) -> None:
        self.cluster = cluster
        self.clients = [httpx.AsyncClient(base_url=u, trust_env=False, timeout=30) for u in cluster.urls]
        self.answered_by_b = 0
        self.b_busy = asyncio.Event()  # B has answered KILL_AFTER requests: the middle of the run
        self.b_dead = asyncio.Event()

    async def aclose(self) -> None:
        for client in self.clients:
            await client.aclose()

    async def call(self, who: Person, method: str, path: str, **kw: Any) -> httpx.Response | None:
        """The answer, or None when the person walked away after losing their replica."""
        while True:
            replica = who.replica
            try:
                r = await self.clients[replica].request(method, path, headers=who.headers, **kw)
            except CONNECTION_LOST as exc:
                who.log.append(f"{method} {path} lost on replica {replica}: {type(exc).__name__}")
                if who.walks_away:
                    return None
                who.replica = 0  # carry on with the survivor, as a browser retrying would
                continue
            if replica == 1:
                self.answered_by_b += 1
                if self.answered_by_b >= KILL_AFTER:
                    self.b_busy.set()
            who.log.append(f"{method} {path} -> {r.status_code} on replica {replica}")
            return r

    async def sms_code(self, phone: str) -> str:
        async with self.cluster.ctx.runtime.engine.connect() as conn:
            sent = await outbox_payloads(conn, "notify.sms.send.v1", newest_first=True, phone=phone)
            payload = sent[0] if sent else None
        assert payload is not None, f"no SMS code sent to {phone}"
        return str(payload["params"]["code"])

    async def select(self, who: Person) -> None:
        r = await self.call(who, "POST", "/api/v1/plate-selections", json=who.body)
        if r is None:
            return
        if r.status_code == 409 and r.json().get("code") == "VEHICLE_ALREADY_SELECTED":
            # the start went through on the dead replica and its answer was lost with it: the person
            # finds it again (here straight from the table) and stops there
            async with self.cluster.ctx.runtime.engine.connect() as conn:
                found = await conn.execute(select(selections.c.id).where(selections.c.vin == who.body["vin"]))
                who.selection_id = str(found.scalar_one())
            return
        assert r.status_code in (200, 201), r.text
        sid = r.json()["id"]
        who.selection_id = sid
        url = f"/api/v1/plate-selections/{sid}"
        numbers: list[str] = []
        for _ in range(3):
            r = await self.call(who, "POST", f"{url}/random-draws")
            if r is None:
                return
            if r.status_code == 202:  # in line (PP-10): ask again shortly
                await asyncio.sleep(0.05)
                continue
            assert r.status_code == 201, r.text
            numbers = r.json()["numbers"]
            await asyncio.sleep(0)  # let the others interleave
        if who.walks_away:
            # keeps drawing on replica B until it dies (or the draws run out): the last five stay held
            for _ in range(6):
                r = await self.call(who, "POST", f"{url}/random-draws")
                if r is None:
                    return
            return
        if not numbers:
            return
        r = await self.call(who, "POST", f"{url}/choice", json={"number": numbers[0]})
        assert r is not None
        if r.status_code != 200:
            # a choice lost with replica B may have gone through: the selection says where it is
            assert r.status_code == 409, r.text
        r = await self.call(who, "POST", f"{url}/sms-code")
        assert r is not None
        if r.status_code != 202:
            return
        code = await self.sms_code(who.phone)
        r = await self.call(who, "POST", f"{url}/confirmation", json={"code": code})
        assert r is not None
        if r.status_code == 200:
            who.confirmed_plate = r.json()["plate_number"]

    async def kill_b_mid_run(self, deadline_s: float = 60) -> None:
        # fewer requests reaching B than planned within the deadline: kill it anyway, the checks still apply
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self.b_busy.wait(), timeout=deadline_s)
        self.cluster.replicas[1].send_signal(signal.SIGKILL)
        await asyncio.to_thread(self.cluster.replicas[1].wait, 15)
        self.b_dead.set()


def _person(cluster: Cluster, i: int) -> Person:
    idn = new_resident_id(cluster.office)
    phone = new_phone()
    token = cluster.tokens.citizen(f"person-{secrets.token_hex(6)}", id_number=idn, phone=phone, ttl_s=3600)
    body = {
        "vin": new_vin(),
        "vehicle_kind": "small_car",
        "invoice": {
            "number": "12345678",
            "code": "113001900111",
            "date": (START - timedelta(days=2)).date().isoformat(),
            "amount_fen": 15_800_000,
            "photo": JPEG,
        },
        "certificate_number": "WAC" + secrets.token_hex(6).upper(),
        "owner": {"id_kind": "resident_id", "id_number": idn, "name": "张三"},
        "phone": phone,
        "office_code": cluster.office,
    }
    # Even: replica A all along. Odd: replica B; every other one of those walks away when B dies.
    return Person(i, TokenFactory.headers(token), phone, body, walks_away=i % 4 == 1, replica=i % 2)


def _bit(bitmap: bytes, index: int) -> int:
    byte = index >> 3
    return (bitmap[byte] >> (7 - (index & 7))) & 1 if byte < len(bitmap) else 0


async def _hot_sets(cluster: Cluster) -> tuple[set[int], dict[int, str], set[int]]:
    """(available, held index -> selection, allocated) of the segment, as Redis has them."""
    hot = cluster.ctx.hot
    raw = await hot.redis.get(hot.seg_key(cluster.segment_id, "bits"))
    bitmap = raw if isinstance(raw, bytes) else b""
    holds_raw = await hot.redis.hgetall(hot.seg_key(cluster.segment_id, "holds"))
    alloc_raw = await hot.redis.smembers(hot.seg_key(cluster.segment_id, "alloc"))
    available = {i for i in range(POOL_SIZE) if _bit(bitmap, i)}
    holds = {int(k): v.decode() if isinstance(v, bytes) else str(v) for k, v in holds_raw.items()}
    return available, holds, {int(i) for i in alloc_raw}


async def _ledger(cluster: Cluster) -> dict[str, tuple[str, int]]:
    """Active allocations of the office: selection id -> (plate, index)."""
    async with cluster.ctx.runtime.engine.connect() as conn:
        rows = (
            await conn.execute(
                select(allocations.c.selection_id, allocations.c.plate_number, allocations.c.number_index)
                .where(allocations.c.office_code == cluster.office)
                .where(allocations.c.released_at.is_(None))
            )
        ).all()
    return {str(r.selection_id): (r.plate_number, r.number_index) for r in rows}


async def _history(cluster: Cluster, sid: str | None) -> Any:
    async with cluster.ctx.runtime.engine.connect() as conn:
        rows = (await conn.execute(select(allocations).where(allocations.c.selection_id == sid))).all()
        sel = (await conn.execute(select(selections).where(selections.c.id == sid))).all()
    return [tuple(r) for r in rows], [dict(r._mapping) for r in sel]


def _text(value: bytes | str) -> str:
    return value.decode() if isinstance(value, bytes) else value


async def _explain(cluster: Cluster, sid: str, owner: Person) -> dict[str, Any]:
    """What Postgres, Redis and the person's own requests say about a selection (for a failure message)."""
    hot = cluster.ctx.hot
    raw = await hot.redis.hgetall(hot.sel_key(sid, cluster.segment_id))
    async with cluster.ctx.runtime.engine.connect() as conn:
        state = (await conn.execute(select(selections.c.state).where(selections.c.id == sid))).scalar()
    return {
        "selection": sid,
        "postgres_state": state,
        "redis": {_text(k): _text(v) for k, v in raw.items()},
        "requests": owner.log,
    }


async def _selection_ids(cluster: Cluster) -> list[str]:
    async with cluster.ctx.runtime.engine.connect() as conn:
        rows = (
            await conn.execute(select(selections.c.id).where(selections.c.office_code == cluster.office))
        ).all()
    return [str(r.id) for r in rows]


@pytest.mark.redis_cluster
async def test_pp12_replica_killed_mid_run_loses_no_allocation_and_its_holds_lapse_after_180_s(
    cluster: Cluster,
) -> None:
    run = Run(cluster)
    people = [_person(cluster, i) for i in range(USERS)]
    try:
        await asyncio.wait_for(
            asyncio.gather(run.kill_b_mid_run(), *(run.select(p) for p in people)), timeout=120
        )
        assert run.b_dead.is_set()
        assert cluster.replicas[1].returncode == -signal.SIGKILL
        lost = [line for p in people for line in p.log if "lost on replica 1" in line]
        assert lost, "nothing was in flight on replica B or sent to it after: the kill was not mid-run"
        survivor = run.clients[0]

        # A start whose answer died with replica B: the selection is there all the same, and its owner's.
        async with cluster.ctx.runtime.engine.connect() as conn:
            rows = await conn.execute(
                select(selections.c.vin, selections.c.id).where(selections.c.office_code == cluster.office)
            )
            by_vin = {r.vin: r.id for r in rows}
        for p in people:
            if p.selection_id is None and p.body["vin"] in by_vin:
                p.selection_id = str(by_vin[p.body["vin"]])

        # --- no confirmed allocation lost: what people were told, the ledger and GET all agree
        ledger = await _ledger(cluster)
        confirmed = [p for p in people if p.confirmed_plate is not None]
        assert confirmed, "nobody got through to a confirmation: the run proves nothing"
        for p in confirmed:
            assert p.selection_id in ledger, (p.log, await _history(cluster, p.selection_id))
            assert ledger[p.selection_id][0] == p.confirmed_plate
        plates = [plate for plate, _ in ledger.values()]
        assert len(plates) == len(set(plates)), "a number allocated twice"
        owners = {p.selection_id: p for p in people if p.selection_id}
        views: dict[str, dict[str, Any]] = {}
        for sid in await _selection_ids(cluster):
            owner = owners.get(sid)
            assert owner is not None, "a selection nobody started"
            r = await survivor.get(f"/api/v1/plate-selections/{sid}", headers=owner.headers)
            assert r.status_code == 200, r.text
            views[sid] = view = r.json()
            if sid in ledger:
                assert view["state"] == "selected", view
                assert view["plate_number"] == ledger[sid][0], view
            else:
                assert view["state"] != "selected", view

        # --- no number held by two selections (the API's view and Redis's holds)
        held_by: dict[str, str] = {}
        for sid, view in views.items():
            for number in view.get("held_numbers", []):
                assert number not in held_by, f"{number} held by {held_by[number]} and {sid}"
                held_by[number] = sid
        available, holds, allocated = await _hot_sets(cluster)
        assert not available & set(holds)
        assert not available & allocated
        assert not set(holds) & allocated
        walkers_holding = {sid for sid in holds.values() if owners[sid].walks_away}
        assert walkers_holding, "no one left holds behind on the dead replica: the run proves nothing"

        # --- the platform clock passes 180 s: the survivor's next script call lapses the dead replica's holds
        now = await cluster.ctx.runtime.clock.now()
        await set_platform_time(cluster.redis, now + timedelta(seconds=181))
        late = _person(cluster, USERS)
        late.replica = 0
        r = await survivor.post("/api/v1/plate-selections", json=late.body, headers=late.headers)
        assert r.status_code == 201, r.text
        late_url = f"/api/v1/plate-selections/{r.json()['id']}"
        deadline = time.monotonic() + 30
        while True:
            # each script call first lapses up to 64 expired holds of its segment
            r = await survivor.post(f"{late_url}/random-draws", headers=late.headers)
            _, holds, _ = await _hot_sets(cluster)
            # expired holds still there: anyone's but the late person's and those awaiting their SMS code
            stale = {
                i: sid for i, sid in holds.items() if sid in owners and views[sid]["state"] != "awaiting_sms"
            }
            if not stale:
                break
            if r.status_code != 201 or time.monotonic() > deadline:
                details = [await _explain(cluster, sid, owners[sid]) for sid in set(stale.values())]
                raise AssertionError(f"{len(stale)} holds never lapsed ({r.status_code}): {details}")
        r = await survivor.delete(late_url, headers=late.headers)
        assert r.status_code == 204, r.text

        # --- every number is exactly one of available / held / allocated
        available, holds, allocated = await _hot_sets(cluster)
        for i in range(POOL_SIZE):
            places = (i in available) + (i in holds) + (i in allocated)
            assert places == 1, f"number {i} is in {places} places"
        ledger = await _ledger(cluster)
        ledger_indexes = {index for _, index in ledger.values()}
        assert ledger_indexes <= allocated
        # A confirmation or a choice whose replica died before Postgres recorded it was recorded when
        # its selection was next read (the GETs above, reconcile.py): nothing allocated outside the
        # ledger, and whatever is still held belongs to a selection waiting for its SMS code (30 min).
        assert not allocated - ledger_indexes, "allocated in Redis, not in the ledger"
        for sid in set(holds.values()):
            assert views[sid]["state"] == "awaiting_sms", (sid, views[sid])
    finally:
        await run.aclose()


async def _choose_on_a_replica_that_dies(p: Platform) -> tuple[Applicant, dict[str, Any], str]:
    """The crash window made exact in process: the choose script has run (as on the replica that then
    died) and its Postgres update has not."""
    segment = await p.open_segment()
    who, selection = await p.start()
    r = await p.draw(who, selection)
    assert r.status_code == 201, r.text
    number = r.json()["numbers"][0]
    seg = await p.ctx.catalog.segment(segment)
    assert seg is not None
    index = seg.space.index(number)
    assert index is not None
    await p.ctx.hot.choose(selection["id"], who.subject, segment, index)  # ... and the replica dies here
    return who, selection, number


async def _confirm_on_a_replica_that_dies(p: Platform) -> tuple[Applicant, dict[str, Any], str, str]:
    """The confirm crash window made exact in process: the code was checked and the confirm script has
    run (as on the replica that then died); the ledger row was never written."""
    await p.open_segment()
    who, selection = await p.start()
    r = await p.draw(who, selection)
    assert r.status_code == 201, r.text
    number = r.json()["numbers"][0]
    r = await p.choose(who, selection, number)
    assert r.status_code == 200, r.text
    r = await p.client.post(p.url(selection, "/sms-code"), headers=who.headers)
    assert r.status_code == 202, r.text
    code = await p.sms_code(who.phone)
    await p.ctx.codes.verify(who.phone, SMS_PURPOSE.format(selection["id"]), code)
    await p.ctx.hot.confirm(selection["id"], who.subject, await p.segment_id())  # ... the replica dies
    return who, selection, number, code


async def test_pp12_a_choice_lost_with_its_replica_can_be_made_again(platform: Platform) -> None:
    """The person retries their choice on the survivor, as the browser would, and goes on to the SMS code;
    the SMS window is the one the first choice opened."""
    p = platform
    who, selection, number = await _choose_on_a_replica_that_dies(p)
    hot = await p.ctx.hot.selection(selection["id"], await p.segment_id())
    assert hot is not None
    assert hot.chosen_until is not None

    p.clock.advance(timedelta(seconds=20))
    r = await p.choose(who, selection, number)
    assert r.status_code == 200, r.text
    assert r.json()["state"] == "awaiting_sms"
    assert r.json()["plate_number"] == number
    assert datetime.fromisoformat(r.json()["sms_deadline"]) == hot.chosen_until
    r = await p.confirm(who, selection)  # the SMS code, then the confirmation
    assert r.status_code == 200, r.text
    assert r.json()["plate_number"] == number


async def test_pp12_a_choice_lost_with_its_replica_shows_on_the_next_read(platform: Platform) -> None:
    """Reading the selection (the app's refresh) is enough: it shows the choice and the SMS step."""
    p = platform
    who, selection, number = await _choose_on_a_replica_that_dies(p)
    view = await p.get(who, selection)
    assert view["state"] == "awaiting_sms"
    assert view["plate_number"] == number
    assert view["held_numbers"] == [number]


async def test_pp12_a_choice_lost_with_its_replica_is_recorded_when_its_session_would_end(
    platform: Platform,
) -> None:
    """Nobody comes back: the end-sessions sweep records the choice instead of ending the session as if
    no number had been chosen (which would have left it held in Redis, awaiting_sms, for nobody); the
    SMS window then runs out like anyone's and the number goes back to the pool."""
    p = platform
    _, selection, number = await _choose_on_a_replica_that_dies(p)
    segment = await p.segment_id()
    p.clock.advance(timedelta(minutes=61))
    await drain(end_sessions, p.ctx.runtime)
    async with p.ctx.runtime.engine.connect() as conn:
        row = (await conn.execute(select(selections).where(selections.c.id == selection["id"]))).one()
    assert (row.state, row.plate_number) == ("awaiting_sms", number)
    await drain(sms_windows, p.ctx.runtime)
    async with p.ctx.runtime.engine.connect() as conn:
        state = (
            await conn.execute(select(selections.c.state).where(selections.c.id == selection["id"]))
        ).scalar()
    assert state == "session_expired"  # chances left, the session over: PP-07's step back, then PP-04
    counts = await p.ctx.hot.counts(segment)
    assert (counts.held, counts.allocated) == (0, 0)


async def test_pp12_a_confirmation_lost_with_its_replica_is_completed_by_the_retry(
    platform: Platform,
) -> None:
    """The person, having entered the right code, retries the same request on the survivor: the number is
    theirs (no new code needed: the first one was checked), recorded once in the ledger, one event."""
    p = platform
    who, selection, number, code = await _confirm_on_a_replica_that_dies(p)
    p.clock.advance(timedelta(seconds=5))
    r = await p.client.post(p.url(selection, "/confirmation"), json={"code": code}, headers=who.headers)
    assert r.status_code == 200, r.text
    assert (r.json()["state"], r.json()["plate_number"]) == ("selected", number)
    r = await p.client.post(p.url(selection, "/confirmation"), json={"code": code}, headers=who.headers)
    assert r.status_code == 200, r.text  # a further repeat answers the same
    await _assert_recorded_once(p, selection["id"], number)


async def test_pp12_a_confirmation_lost_with_its_replica_is_recorded_by_the_sms_window_sweep(
    platform: Platform,
) -> None:
    """Nobody comes back: when the SMS window would end, the sweep finds the number confirmed in Redis and
    records it (the person then hears of it by the confirmation's SMS), instead of stranding it."""
    p = platform
    _, selection, number, _ = await _confirm_on_a_replica_that_dies(p)
    p.clock.advance(timedelta(minutes=31))
    await drain(sms_windows, p.ctx.runtime)
    await _assert_recorded_once(p, selection["id"], number)
    async with p.ctx.runtime.engine.connect() as conn:
        row = (await conn.execute(select(selections).where(selections.c.id == selection["id"]))).one()
    assert row.state == "selected"
    assert row.confirmed_at < row.updated_at  # confirmed when the script ran, not when it was recorded


async def _assert_recorded_once(p: Platform, selection_id: str, number: str) -> None:
    async with p.ctx.runtime.engine.connect() as conn:
        plates = (
            await conn.execute(
                select(allocations.c.plate_number)
                .where(allocations.c.selection_id == selection_id)
                .where(allocations.c.released_at.is_(None))
            )
        ).scalars()
        assert list(plates) == [number]
        events = await outbox_payloads(conn, "plate-pool.selection.confirmed.v1", selection_id=selection_id)
    assert len(events) == 1
