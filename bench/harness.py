"""What the benches share: the processes they start (uvicorn replicas, nginx rendered from the gateway's route
table), a tiny HTTP server of their own (the JWKS tokens are checked against, and for plate-pool the SMS
inbox), /proc CPU times, and plate-pool's fixtures: people, cars, offices, published segments.

Imported by bench/plates.py, bench/opening.py and bench/exams.py (each sets its service's environment
before it opens a Runtime or starts a replica).
"""

from __future__ import annotations

import asyncio
import json
import os
import secrets
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from contextlib import suppress
from datetime import datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import httpx
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncEngine

from servicekit.testing import new_phone, new_resident_id
from servicekit.validators import vin_check_digit
from servicekit.web.http import UVICORN_HTTP

ROOT = Path(__file__).resolve().parents[1]
JPEG = "/9j/4AAQSkZJRgABAQAAAQABAAD/2wBDAAMCAgICAgMCAgIDAwMDBAYEBAQEBAgGBgUGBwcH"


def logger(name: str) -> Callable[[str], None]:
    def log(message: str) -> None:
        print(f"[{name}] {message}", file=sys.stderr, flush=True)

    return log


# --- a tiny HTTP server: the JWKS, the SMS inbox -----------------------------------------------------

# path prefix -> (what follows the prefix) -> body, or None for 404
Routes = dict[str, Callable[[str], bytes | None]]


def serve(port: int, routes: Routes) -> ThreadingHTTPServer:
    """GET-only JSON answers on 127.0.0.1:`port`, in a daemon thread; `.shutdown()` stops it."""

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            body = next(
                (route(self.path[len(p) :]) for p, route in routes.items() if self.path.startswith(p)), None
            )
            self.send_response(200 if body is not None else 404)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body or b"")))
            self.end_headers()
            self.wfile.write(body or b"")

        def log_message(self, format: str, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", port), Handler)
    server.daemon_threads = True
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server


# --- processes --------------------------------------------------------------------------------------


def start_replica(
    port: int, app: str = "plate_pool_service.main:create_app", log_dir: Path | None = None
) -> subprocess.Popen[bytes]:
    """A uvicorn replica of `app`; its log (JSON lines on stdout) to `log_dir`/replica-<port>.log, or
    nowhere."""
    log_file: Any = subprocess.DEVNULL
    if log_dir is not None:
        log_dir.mkdir(parents=True, exist_ok=True)
        log_file = (log_dir / f"replica-{port}.log").open("ab")
    return subprocess.Popen(  # noqa: S603  (our own interpreter and module)
        [
            sys.executable,
            "-m",
            "uvicorn",
            "--factory",
            app,
            "--host",
            "127.0.0.1",
            "--port",
            str(port),
            "--no-access-log",
            # As the services run everywhere else (procfile, e2e stack, deploy/k8s; ADR 0083): the client's
            # address is servicekit's to decide, not uvicorn's X-Forwarded-For parsing on every request.
            "--no-proxy-headers",
            "--log-level",
            "warning",
            # Longer than the gateway's upstream keepalive_timeout (60 s): otherwise uvicorn (5 s by default)
            # may close an idle connection just as nginx sends a POST on it, which nginx cannot retry (502).
            "--timeout-keep-alive",
            "75",
            "--http",  # as everywhere (ADR 0102)
            UVICORN_HTTP,
        ],
        cwd=ROOT,
        stdout=log_file,
    )


def start_nginx(
    var: Path, edge_port: int, ports: tuple[int, ...], access_log: str = "off"
) -> subprocess.Popen[bytes]:
    """The edge, rendered from the gateway's route table with plate-pool's upstream on `ports`;
    `access_log` a file (JSON lines) or "off"."""
    var.mkdir(parents=True, exist_ok=True)
    conf = var / "nginx.conf"
    env = dict(os.environ, TMS_GATEWAY__UPSTREAMS__PLATE_POOL=",".join(f"127.0.0.1:{p}" for p in ports))
    subprocess.run(  # noqa: S603
        [
            sys.executable,
            "-m",
            "gateway_service.nginx",
            "--out",
            str(conf),
            "--prefix",
            str(var),
            "--listen",
            str(edge_port),
            "--access-log",
            access_log,
            "--env",
            "dev",
        ],
        check=True,
        env=env,
        cwd=ROOT,
        stderr=subprocess.DEVNULL,
    )
    nginx = ["/usr/sbin/nginx", "-c", str(conf), "-p", str(var), "-e", "stderr"]
    return subprocess.Popen(nginx, cwd=ROOT)  # noqa: S603


def stop(proc: subprocess.Popen[bytes] | None) -> None:
    if proc is None or proc.poll() is not None:
        return
    proc.send_signal(signal.SIGTERM)
    try:
        proc.wait(timeout=10)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()


def wait_ready(url: str, timeout_s: float = 90.0) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        with suppress(httpx.HTTPError):
            if httpx.get(url, timeout=1.0, trust_env=False).status_code == 200:
                return
        time.sleep(0.2)
    raise RuntimeError(f"{url} not ready after {timeout_s} s")


def cpu_ms(pid: int) -> float:
    """A process's own CPU time so far (utime + stime from /proc, all its threads)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) * 1000 / os.sysconf("SC_CLK_TCK")


def with_children(pid: int) -> list[int]:
    """`pid` and its direct children (nginx's master and its workers)."""
    found = [pid]
    for task in Path(f"/proc/{pid}/task").iterdir():
        with suppress(OSError):
            found += [int(c) for c in (task / "children").read_text().split()]
    return found


def load_average_1m() -> float:
    return round(os.getloadavg()[0], 2)


# --- plate-pool: people, cars, offices, segments -----------------------------------------------------


def new_vin() -> str:
    alphabet = "0123456789ABCDEFGHJKLMNPRSTUVWXYZ"
    body = "LFV" + "".join(secrets.choice(alphabet) for _ in range(14))
    return body[:8] + vin_check_digit(body[:8] + "0" + body[9:]) + body[9:]


def distinct_people(region: str, count: int) -> list[tuple[str, str]]:
    """(identity number, phone) of `count` people. One open selection per identity number and per phone
    (PP-13): random ones of thousands of people collide now and then (a birthday problem over 18 million
    identity numbers), so they are drawn distinct."""
    ids: set[str] = set()
    phones: set[str] = set()
    while len(ids) < count:
        ids.add(new_resident_id(region))
    while len(phones) < count:
        phones.add(new_phone())
    return list(zip(ids, phones, strict=True))


def start_body(office: str, idn: str, phone: str) -> dict[str, Any]:
    """POST /api/v1/plate-selections for a new car of its own."""
    return {
        "vin": new_vin(),
        "vehicle_kind": "small_car",
        "invoice": {
            "number": "1",
            "code": "1",
            "date": "2026-01-05",
            "amount_fen": 10_000_000,
            "photo": JPEG,
        },
        "certificate_number": "WAC" + secrets.token_hex(6).upper(),
        "owner": {"id_kind": "resident_id", "id_number": idn, "name": "张三"},
        "phone": phone,
        "office_code": office,
    }


def plate_pool_env(db_url: str, redis_url: str, prefix: str, jwks_port: int, log_level: str) -> None:
    """The environment the bench's own Runtime and its replicas (which inherit it) read their settings
    from."""
    os.environ.update(
        {
            "TMS_ENV": "dev",
            "TMS_PLATE_POOL__DATABASE__URL": db_url,
            "TMS_PLATE_POOL__REDIS__URL": redis_url,
            "TMS_PLATE_POOL__HOT_PREFIX": prefix,
            "TMS_PLATE_POOL__AUTH__JWKS_URL": f"http://127.0.0.1:{jwks_port}/jwks.json",
            "TMS_PLATE_POOL__TELEMETRY__LOG_LEVEL": log_level,
        }
    )


def plate_pool_keys(tokens: Any) -> None:
    """ADR 0082: the replicas open the sealed claims with the key the bench's tokens are sealed with.
    ADR 0095: one ring of data keys for the bench and its replicas (the outbox and the owners are
    sealed)."""
    from servicekit.crypto import DataKeys

    os.environ["TMS_PLATE_POOL__AUTH__CLAIM_KEYS"] = tokens.claim_keys.spec()
    keys = DataKeys.generate("bench")
    os.environ["TMS_PLATE_POOL__CRYPTO__DATA_KEYS"] = keys.data.spec()
    os.environ["TMS_PLATE_POOL__CRYPTO__INDEX_KEYS"] = keys.index.spec()


async def clear_offices(runtime: Any, offices: list[str]) -> None:
    """Earlier bench rows of these offices go (their segments, selections and allocations)."""
    from sqlalchemy import delete

    from plate_pool_service.tables import allocations, segments, selections

    async with runtime.engine.begin() as conn:
        for table in (allocations, selections, segments):
            await conn.execute(delete(table).where(table.c.office_code.in_(offices)))


async def published_segment(
    runtime: Any, ctx: Any, office: str, pattern: str, size: int, now: datetime, name: str
) -> str:
    """An office open all day with unlimited draws per vehicle (office settings, PP-06a: a bench runs at
    any hour and is not cut short by the 10-draw rule, every other rule applies; no PP-10 floor, so a small
    pool serves to its last number) and a published segment of `size` numbers, its pool built."""
    from plate_pool_service.domain import OfficeSettings
    from plate_pool_service.segments import PlanSegment, build_pool, plan_segment, save_office_settings
    from plate_pool_service.tables import segments

    settings = OfficeSettings(
        opens_at="00:00", closes_at="23:59:59.999999", random_draws=10**9, low_pool_threshold=0
    )
    await save_office_settings(runtime, office, settings, superior="130000", name=name)
    segment_id: str = await plan_segment(
        ctx,
        PlanSegment(
            office_code=office,
            prefix="冀A",
            pattern=pattern,
            custom_patterns=[pattern],
            opens_at=now - timedelta(days=3),
            size=size,
        ),
        "bench",
        now,
    )
    async with runtime.engine.begin() as conn:
        await conn.execute(
            segments.update()
            .where(segments.c.id == segment_id)
            .values(state="published", approved_by="bench", published_at=now)
        )
    await build_pool(ctx, segment_id)
    return segment_id


async def cleanup_redis(redis_url: str, prefix: str) -> None:
    """Every key under the bench's own prefix (nothing else in Redis is touched)."""
    from redis.asyncio import Redis

    redis = Redis.from_url(redis_url)
    try:
        keys = [k async for k in redis.scan_iter(match=f"{prefix}:*", count=1000)]
        for i in range(0, len(keys), 1000):
            await redis.delete(*keys[i : i + 1000])
    finally:
        await redis.aclose()


class SmsInbox:
    """The simulated people's phones: the SMS codes plate-pool's outbox asks notify to send, by phone
    (the newest), read as they are written. Served by `serve` at /sms/<phone> (404 until it has come).

    The payloads are sealed (ADR 0095): SQL cannot filter them by phone, so the inbox opens each SMS row
    once, when it first sees it (not the whole outbox per code asked for)."""

    ROUTING_KEY = "notify.sms.send.v1"

    def __init__(self) -> None:
        self.codes: dict[str, list[tuple[Any, str]]] = {}  # phone -> (outbox id, code) of each SMS
        self._seen: set[Any] = set()

    def route(self, phone: str) -> bytes | None:
        """The phone's codes, newest first (by UUIDv7: when each send was written)."""
        found = sorted(self.codes.get(phone, []), reverse=True)
        return json.dumps({"codes": [code for _, code in found]}).encode() if found else None

    async def follow(self, engine: AsyncEngine, since: datetime, every_s: float = 0.1) -> None:
        """Read the SMS rows written from `since` on (earlier runs' are sealed with other keys)."""
        from servicekit.db import new_metadata

        outbox = new_metadata().tables["outbox"]
        floor = since
        while True:
            # created_at is the writing transaction's start: one that commits later than a newer one is
            # still found within this margin
            after = max(floor, since - timedelta(seconds=30))
            query = select(outbox.c.id, outbox.c.created_at).where(
                outbox.c.routing_key == self.ROUTING_KEY, outbox.c.created_at >= after
            )
            async with engine.connect() as conn:
                rows = (await conn.execute(query)).all()
                new = [r.id for r in rows if r.id not in self._seen]
                if new:
                    found = await conn.execute(
                        select(outbox.c.id, outbox.c.payload).where(outbox.c.id.in_(new))
                    )
                    for row in found:
                        code = str(row.payload["params"]["code"])
                        self.codes.setdefault(row.payload["phone"], []).append((row.id, code))
                    self._seen.update(new)
            if rows:
                since = max(r.created_at for r in rows)
            await asyncio.sleep(every_s)
