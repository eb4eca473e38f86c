"""PP-01..PP-08 end to end through the gateway: a citizen starts a pre-selection, draws five numbers,
chooses one, asks for the SMS code, confirms it and downloads the certificate PDF; another citizen gets
404 on that selection; an office outside its selection hours refuses to start one (PP-04).

Real processes: plate-pool's api (uvicorn, TMS_ENV=test, `plate_pool_test`, its own hot-state key prefix)
and nginx with the configuration generated from the gateway's route table, each on a free port. Tokens are
signed by a `TokenFactory` whose public key a tiny JWKS server in this process publishes (as identity's
JWKS would); the SMS code is read back from plate-pool's outbox (`notify.sms.send.v1`), where the test env
leaves every message it sends.

The api's Redis is db 12, this module's own (a lock in db 15 keeps two runs of it apart), so its platform
clock can stand at a Monday morning years after the other plate-pool tests' FixedClocks: their sweeps scan
the whole shared `plate_pool_test` and would otherwise end these sessions and SMS windows as long past.
"""

from __future__ import annotations

import asyncio
import base64
import json
import os
import secrets
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import httpx
import psycopg
import pytest
from redis import Redis as SyncRedis
from sqlalchemy import delete
from sqlalchemy.engine import make_url

from gateway_service.nginx import NginxOptions, render
from gateway_service.routes import route_table
from plate_pool_service.context import context_for
from plate_pool_service.domain import OfficeSettings
from plate_pool_service.segments import PlanSegment, build_pool, plan_segment, save_office_settings
from plate_pool_service.service import SPEC
from plate_pool_service.settings import PlatePoolSettings
from plate_pool_service.tables import allocations, segments, selections
from servicekit.clock import SHANGHAI, set_platform_time
from servicekit.migrate import migrate
from servicekit.runtime import Runtime
from servicekit.settings import Environment, RedisSettings
from servicekit.testing import (
    TokenFactory,
    new_phone,
    new_resident_id,
    outbox_payloads,
    set_test_calendar_years,
)
from servicekit.validators import vin_check_digit

from .processes import NGINX, free_port, spawn, wait_until_ok

pytestmark = pytest.mark.integration

ROOT = Path(__file__).resolve().parents[2]
REDIS_URL = "redis://127.0.0.1:6379/12"  # this module's own: its clock offset moves only its processes
START = datetime(2030, 3, 4, 10, 0, tzinfo=SHANGHAI)  # a Monday, inside the seed's 08:00-23:00
JPEG = base64.b64encode(b"\xff\xd8\xff\xe0" + b"0" * 64).decode()


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


@dataclass
class Edge:
    url: str
    tokens: TokenFactory
    settings: PlatePoolSettings
    open_office: str
    closed_office: str
    today: date  # the platform's date (Asia/Shanghai) when the module started


def _hold_test_database() -> psycopg.Connection[Any]:
    """Migrate `plate_pool_test` and keep one connection open on it for the module: another test session
    starting meanwhile drops every `<service>_test` database that nobody is connected to (root conftest),
    which would pull it from under the api process between its requests."""
    url = make_url(SPEC.settings().database.url).set(drivername="postgresql")
    for _ in range(5):
        migrate("plate-pool")
        # WD-01: the module lives in 2030 (its confirmations' register-by): a test fixture of the calendar
        set_test_calendar_years(SPEC.settings().database.url, 2030)
        try:
            return psycopg.connect(url.render_as_string(hide_password=False), autocommit=True)
        except psycopg.OperationalError:
            continue  # dropped between the migration and the connection: migrate again
    raise AssertionError("could not hold plate_pool_test open")


def _lock_db12() -> Any:
    """Hold db 12 for this module (a lock under a key of its own in the shared db 15), then empty it."""
    shared = SyncRedis.from_url(PlatePoolSettings().redis.url)
    lock = shared.lock("tms:test:e2e:plates-through-gateway:db12", timeout=600, blocking_timeout=240)
    if not lock.acquire():
        pytest.fail("Redis db 12 stayed busy with another run of this module for 240 s")
    SyncRedis.from_url(REDIS_URL).flushdb()
    return lock


def _runtime(settings: PlatePoolSettings) -> Runtime:
    return Runtime.open(settings, SPEC.metadata)


async def _prepare(settings: PlatePoolSettings, open_office: str, closed_office: str) -> date:
    """Office `open_office` open 24 h with one published segment; `closed_office` closed right now."""
    runtime = _runtime(settings)
    ctx = context_for(runtime)
    try:
        await _remove(runtime, (open_office, closed_office))
        await set_platform_time(runtime.redis, START)
        now = await runtime.clock.now()
        await save_office_settings(
            runtime,
            open_office,
            # 1,000 numbers serve here: this office's PP-10 floor is lowered (the seed's is 50,000).
            OfficeSettings(opens_at="00:00", closes_at="23:59:59.999999", low_pool_threshold=0),
            superior="130000",
            name="e2e open office",
        )
        await save_office_settings(
            runtime,
            closed_office,
            OfficeSettings(opens_at="14:00", closes_at="15:00"),  # closed at 10:00
            superior="130000",
            name="e2e closed office",
        )
        for office in (open_office, closed_office):
            segment_id = await plan_segment(
                ctx,
                PlanSegment(
                    office_code=office,
                    prefix="冀A",
                    pattern="3####",
                    custom_patterns=["3####"],
                    opens_at=now - timedelta(days=3),
                    size=1_000,
                ),
                "e2e",
                now,
            )
            async with runtime.engine.begin() as conn:
                await conn.execute(
                    segments.update()
                    .where(segments.c.id == segment_id)
                    .values(state="published", approved_by="e2e", published_at=now)
                )
            await build_pool(ctx, segment_id)
        return now.date()
    finally:
        await runtime.aclose()


async def _remove(runtime: Runtime, offices: tuple[str, ...]) -> None:
    async with runtime.engine.begin() as conn:
        for table in (allocations, selections, segments):
            await conn.execute(delete(table).where(table.c.office_code.in_(offices)))


async def _cleanup(settings: PlatePoolSettings, offices: tuple[str, ...]) -> None:
    runtime = _runtime(settings)
    try:
        await _remove(runtime, offices)
        await runtime.redis.flushdb()  # db 12 is this module's alone
    finally:
        await runtime.aclose()


async def _sms_code(settings: PlatePoolSettings, phone: str) -> str | None:
    runtime = _runtime(settings)
    try:
        async with runtime.engine.connect() as conn:
            sent = await outbox_payloads(conn, "notify.sms.send.v1", newest_first=True, phone=phone)
            payload = sent[0] if sent else None
    finally:
        await runtime.aclose()
    return None if payload is None else str(payload["params"]["code"])


@pytest.fixture(scope="module")
def edge() -> Iterator[Edge]:
    if NGINX is None:
        pytest.skip("nginx is not installed")
    lock = _lock_db12()
    try:
        guard = _hold_test_database()
    except BaseException:
        lock.release()
        raise
    tokens = TokenFactory()
    _Jwks.body = json.dumps(tokens.jwks()).encode()
    jwks = ThreadingHTTPServer(("127.0.0.1", 0), _Jwks)
    threading.Thread(target=jwks.serve_forever, daemon=True).start()
    jwks_port = jwks.server_address[1]
    prefix_hot = f"ppe2e:{secrets.token_hex(4)}"
    settings = PlatePoolSettings(redis=RedisSettings(url=REDIS_URL), hot_prefix=prefix_hot, cache_ttl_s=0)
    offices = ("13" + f"{secrets.randbelow(10_000):04d}", "14" + f"{secrets.randbelow(10_000):04d}")
    today = asyncio.run(_prepare(settings, *offices))

    service_port, edge_port = free_port(), free_port()
    prefix = Path(tempfile.mkdtemp(prefix="tms-e2e-plates-"))
    prefix.chmod(0o755)
    (prefix / "tmp").mkdir()
    opts = NginxOptions(
        env=Environment.test, listen=f"127.0.0.1:{edge_port}", prefix=prefix, access_log="off"
    )
    (prefix / "nginx.conf").write_text(render(route_table({"plate-pool": f"127.0.0.1:{service_port}"}), opts))
    env = {
        **os.environ,
        "TMS_PLATE_POOL__TELEMETRY__LOG_LEVEL": "WARNING",
        "TMS_PLATE_POOL__HOT_PREFIX": prefix_hot,
        "TMS_PLATE_POOL__REDIS__URL": REDIS_URL,
        "TMS_PLATE_POOL__CACHE_TTL_S": "0",
        "TMS_PLATE_POOL__AUTH__JWKS_URL": f"http://127.0.0.1:{jwks_port}/jwks.json",
        "TMS_PLATE_POOL__AUTH__CLAIM_KEYS": tokens.claim_keys.spec(),  # ADR 0082: the factory seals
    }
    api = spawn(
        [
            sys.executable,
            "-m",
            "uvicorn",
            "--factory",
            "plate_pool_service.main:create_app",
            "--host",
            "127.0.0.1",
            "--port",
            str(service_port),
            "--no-access-log",
        ],
        "plate-pool",
        cwd=ROOT,
        env=env,
    )
    nginx = spawn([NGINX, "-c", str(prefix / "nginx.conf"), "-p", str(prefix), "-e", "stderr"], "nginx")
    try:
        wait_until_ok(f"http://127.0.0.1:{service_port}/healthz", api)
        # a public plate-pool route, so the wait is on nginx -> plate-pool (the gateway app is not started)
        wait_until_ok(f"http://127.0.0.1:{edge_port}/api/v1/plate-segments?office_code={offices[0]}", nginx)
        yield Edge(f"http://127.0.0.1:{edge_port}", tokens, settings, *offices, today)
    finally:
        api.send_signal(signal.SIGTERM)
        nginx.send_signal(signal.SIGQUIT)
        for process in (api, nginx):
            try:
                process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                process.kill()
        jwks.shutdown()
        shutil.rmtree(prefix, ignore_errors=True)
        asyncio.run(_cleanup(settings, offices))
        guard.close()
        lock.release()


def _vin() -> str:
    body = "LFV" + "".join(secrets.choice("ABCDEFGHJKLMNPRSTUVWXYZ0123456789") for _ in range(14))
    return body[:8] + vin_check_digit(body[:8] + "0" + body[9:]) + body[9:]


@dataclass
class Citizen:
    id_number: str
    phone: str
    vin: str
    headers: dict[str, str]


def _citizen(edge: Edge, office: str) -> Citizen:
    idn = new_resident_id(office)
    phone = new_phone()
    token = edge.tokens.citizen(f"person-{secrets.token_hex(6)}", id_number=idn, phone=phone, ttl_s=3600)
    return Citizen(idn, phone, _vin(), TokenFactory.headers(token))


def _start_body(who: Citizen, office: str, today: date) -> dict[str, Any]:
    return {
        "vin": who.vin,
        "vehicle_kind": "small_car",
        "invoice": {
            "number": "12345678",
            "code": "113001900111",
            "date": (today - timedelta(days=2)).isoformat(),
            "amount_fen": 15_800_000,
            "photo": JPEG,
        },
        "certificate_number": "WAC" + secrets.token_hex(6).upper(),
        "owner": {"id_kind": "resident_id", "id_number": who.id_number, "name": "张三"},
        "phone": who.phone,
        "office_code": office,
    }


def _code(edge: Edge, phone: str, timeout_s: float = 30) -> str:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        code = asyncio.run(_sms_code(edge.settings, phone))
        if code is not None:
            return code
        time.sleep(0.2)
    raise AssertionError(f"no SMS code for {phone} within {timeout_s:.0f} s")


def test_pp05_pp08_citizen_draws_chooses_confirms_by_sms_and_gets_the_certificate_through_the_gateway(
    edge: Edge,
) -> None:
    owner, stranger = _citizen(edge, edge.open_office), _citizen(edge, edge.open_office)
    with httpx.Client(base_url=edge.url, trust_env=False, timeout=30) as gw:
        r = gw.post(
            "/api/v1/plate-selections",
            json=_start_body(owner, edge.open_office, edge.today),
            headers=owner.headers,
        )
        assert r.status_code == 201, r.text
        selection = r.json()
        assert selection["state"] == "selecting"
        url = f"/api/v1/plate-selections/{selection['id']}"

        r = gw.post(f"{url}/random-draws", headers=owner.headers)
        assert r.status_code == 201, r.text
        drawn = r.json()
        assert len(drawn["numbers"]) == 5
        assert drawn["random_draws_left"] == selection["random_draws_left"] - 1
        view = gw.get(url, headers=owner.headers).json()
        assert sorted(view["held_numbers"]) == sorted(drawn["numbers"])

        # object-level authorisation: another citizen does not see the selection at all
        assert gw.get(url, headers=stranger.headers).status_code == 404
        assert gw.post(f"{url}/random-draws", headers=stranger.headers).status_code == 404

        number = drawn["numbers"][2]
        r = gw.post(f"{url}/choice", json={"number": number}, headers=owner.headers)
        assert r.status_code == 200, r.text
        assert r.json()["state"] == "awaiting_sms"
        r = gw.post(f"{url}/sms-code", headers=owner.headers)
        assert r.status_code == 202, r.text
        code = _code(edge, owner.phone)
        wrong = f"{(int(code) + 1) % 10 ** len(code):0{len(code)}d}"
        assert gw.post(f"{url}/confirmation", json={"code": wrong}, headers=owner.headers).status_code in (
            409,
            422,
        )
        r = gw.post(f"{url}/confirmation", json={"code": code}, headers=owner.headers)
        assert r.status_code == 200, r.text
        confirmed = r.json()
        assert confirmed["state"] == "selected"
        assert confirmed["plate_number"].endswith(number)
        assert confirmed["register_by"] is not None

        r = gw.get(f"{url}/certificate", headers=owner.headers)
        assert r.status_code == 200, r.text
        assert r.headers["content-type"].startswith("application/pdf")
        assert r.content.startswith(b"%PDF")
        assert gw.get(f"{url}/certificate", headers=stranger.headers).status_code == 404
        assert gw.get(url, headers=stranger.headers).status_code == 404


def test_pp04_outside_selection_hours_refused_through_the_gateway(edge: Edge) -> None:
    who = _citizen(edge, edge.closed_office)
    with httpx.Client(base_url=edge.url, trust_env=False, timeout=30) as gw:
        r = gw.post(
            "/api/v1/plate-selections",
            json=_start_body(who, edge.closed_office, edge.today),
            headers=who.headers,
        )
    assert r.status_code == 409, r.text
    assert r.headers["content-type"].startswith("application/problem+json")
    body = r.json()
    assert body["code"] == "OUTSIDE_SELECTION_HOURS"
    assert body["rule"] == "PP-04"
