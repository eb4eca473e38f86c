"""A platform behind its gateway, for the through-the-gateway tests: identity's api (it signs every token),
the named services' apis verifying those tokens against identity's JWKS, optionally their workers (outbox
relay, consumers, sweeps) as real processes, the gateway app and nginx with the configuration generated
from the gateway's route table; each on a free port, TMS_ENV=test. Accounts are made in identity's
database the way its demo data makes them."""

from __future__ import annotations

import asyncio
import os
import secrets
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from stdnum.cn import uscc

from gateway_service.nginx import NginxOptions, render
from gateway_service.routes import route_table
from identity_service.demo import ensure_account
from identity_service.domain import TOTP_STEP_S, totp_code_of_step, totp_step
from identity_service.service import SPEC as IDENTITY
from servicekit.clock import OFFSET_KEY, SHANGHAI
from servicekit.migrate import migrate
from servicekit.runtime import Runtime
from servicekit.service import load_spec
from servicekit.settings import Environment, ServiceSettings
from servicekit.testing import new_phone, new_resident_id
from servicekit.web.http import UVICORN_HTTP

from .processes import NGINX, free_port, spawn, wait_until_ok

ROOT = Path(__file__).resolve().parents[2]
PASSWORD = "Passw0rd2027"


def _uvicorn(name: str, factory: str, port: int, env: dict[str, str]) -> subprocess.Popen[bytes]:
    args = ["-m", "uvicorn", "--factory", factory, "--host", "127.0.0.1", "--port", str(port)]
    # The services decide the client's address from the gateway's header themselves (ADR 0083).
    return spawn(
        [sys.executable, *args, "--no-access-log", "--no-proxy-headers", "--http", UVICORN_HTTP],
        name,
        cwd=ROOT,
        env=env,
    )


def _stop(processes: Sequence[subprocess.Popen[bytes]]) -> None:
    for process in processes:
        process.send_signal(signal.SIGTERM)
    for process in processes:
        try:
            process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            process.kill()


@dataclass(frozen=True)
class Stack:
    """A running platform: the edge's base URL and each api's own (identity's and the services')."""

    edge: str
    apis: dict[str, str]


@contextmanager
def gateway_stack(
    services: Sequence[str],
    *,
    workers: Sequence[str] = (),
    web_root: Path | None = None,
    trusted_proxies: Sequence[str] = (),
    start_timeout_s: float = 120,
) -> Iterator[str]:
    """The edge's base URL while identity, `services` and the gateway run; `workers` names the services
    whose worker process runs too (identity's included when named); `web_root` (web/dist) makes the edge
    serve the built apps as well; `trusted_proxies` are the load balancers whose X-Forwarded-For the edge
    believes (none by default, as in NginxOptions); `start_timeout_s` is how long each process may take to
    answer."""
    with gateway_platform(
        services,
        workers=workers,
        web_root=web_root,
        trusted_proxies=trusted_proxies,
        start_timeout_s=start_timeout_s,
    ) as stack:
        yield stack.edge


@contextmanager
def gateway_platform(
    services: Sequence[str],
    *,
    workers: Sequence[str] = (),
    web_root: Path | None = None,
    trusted_proxies: Sequence[str] = (),
    log_level: str = "WARNING",
    start_timeout_s: float = 120,
) -> Iterator[Stack]:
    """As `gateway_stack`, with each api's own address too (to call a service without the edge), the
    services' log level (every line also lands in the session's log folder, see `processes.spawn`)."""
    if NGINX is None:
        pytest.skip("nginx is not installed")
    for name in {"identity", *services, *workers}:
        migrate(name)
    ports = {name: free_port() for name in ("identity", *services, "gateway")}
    upstreams = {name: f"127.0.0.1:{port}" for name, port in ports.items()}
    edge_port = free_port()
    prefix = Path(tempfile.mkdtemp(prefix="tms-e2e-"))
    prefix.chmod(0o755)
    (prefix / "tmp").mkdir()
    opts = NginxOptions(
        env=Environment.test,
        listen=f"127.0.0.1:{edge_port}",
        prefix=prefix,
        access_log="off",
        web_root=web_root,
        trusted_proxies=tuple(trusted_proxies),
    )
    (prefix / "nginx.conf").write_text(render(route_table(upstreams), opts))
    jwks = f"http://127.0.0.1:{ports['identity']}/api/v1/auth/jwks.json"
    env = dict(os.environ)
    for name in ("identity", *services, *workers):
        service_prefix = ServiceSettings.env_prefix_for(name)
        env[service_prefix + "TELEMETRY__LOG_LEVEL"] = log_level
        if name != "identity":
            env[service_prefix + "AUTH__JWKS_URL"] = jwks
    if "violation" in services:
        # The local bank's checkout (an order's pay_url) and its notices go through this stack's edge, as
        # they go through `make run`'s (VI-04).
        edge = f"http://127.0.0.1:{edge_port}"
        env["TMS_VIOLATION__SIMULATOR_CHECKOUT_URL"] = f"{edge}/api/v1/_test/bank-checkout"
        env["TMS_VIOLATION__SIMULATOR_NOTICE_URL"] = f"{edge}/api/v1/payments/bank-notices/sim"
    for name in ("identity", *services):
        env[ServiceSettings.env_prefix_for("gateway") + "UPSTREAMS__" + name.upper().replace("-", "_")] = (
            upstreams[name]
        )
    apis = [
        _uvicorn(name, f"{load_spec(name).package}.main:create_app", ports[name], env)
        for name in ("identity", *services)
    ]
    apis.append(_uvicorn("gateway", "gateway_service.app:create_app", ports["gateway"], env))
    background = [
        spawn([sys.executable, "-m", f"{spec.package}.worker"], f"{name}-worker", cwd=ROOT, env=env)
        for name, spec in ((name, load_spec(name)) for name in workers)
    ]
    nginx = spawn([NGINX, "-c", str(prefix / "nginx.conf"), "-p", str(prefix), "-e", "stderr"], "nginx")
    try:
        for process, port in zip(apis, ports.values(), strict=True):
            wait_until_ok(f"http://127.0.0.1:{port}/healthz", process, start_timeout_s)
        wait_until_ok(f"http://127.0.0.1:{edge_port}/healthz", nginx, start_timeout_s)
        yield Stack(
            edge=f"http://127.0.0.1:{edge_port}",
            apis={name: f"http://{upstreams[name]}" for name in ("identity", *services)},
        )
    finally:
        _stop([*apis, *background])
        nginx.send_signal(signal.SIGQUIT)
        _stop([nginx])
        shutil.rmtree(prefix, ignore_errors=True)


@dataclass(frozen=True)
class Person:
    id_number: str
    phone: str
    kind: str = "owner_driver"  # identity's account kind (learner, driver, owner_driver, ...)
    channel: str = "counter"
    name: str = "沈十七"


def new_credit_code() -> str:
    """A valid unified social credit code (GB 32100) of an enterprise in Shijiazhuang."""
    while True:
        body = "91130100" + "".join(secrets.choice("0123456789") for _ in range(9))
        code = body + uscc.calc_check_digit(body)
        if uscc.is_valid(code):
            return code


def make_accounts(
    staff: dict[str, list[str]],
    people: Sequence[Person],
    *,
    system: bool = True,
    units: Sequence[str] = (),
    office: str = "130100",
) -> dict[str, str]:
    """Accounts in identity's database: staff of `office` by username prefix and roles, a system
    client (username under "system"), personal users signing in with their identity number and
    enterprises signing in with their credit code (`units`)."""

    async def make() -> dict[str, str]:
        runtime = Runtime.open(IDENTITY.settings(), IDENTITY.metadata)
        names = {post: "E2E" + post[:3].upper() + secrets.token_hex(4) for post in staff}
        try:
            async with runtime.uow() as uow:
                for post, roles in staff.items():
                    await ensure_account(
                        uow.session,
                        category="staff",
                        kind="staff",
                        name=f"{post} clerk",
                        password=PASSWORD,
                        roles=roles,
                        now=uow.now,
                        username=names[post],
                        office=office,
                    )
                if system:
                    names["system"] = "e2e-system-" + secrets.token_hex(4)
                    await ensure_account(
                        uow.session,
                        category="system",
                        kind="system",
                        name="e2e police system",
                        password=PASSWORD,
                        roles=["system"],
                        now=uow.now,
                        username=names["system"],
                    )
                for person in people:
                    await ensure_account(
                        uow.session,
                        category="personal",
                        kind=person.kind,
                        name=person.name,
                        password=PASSWORD,
                        roles=["citizen"],
                        now=uow.now,
                        channel=person.channel,
                        id_number=person.id_number,
                        phone=person.phone,
                    )
                for credit_code in units:
                    await ensure_account(
                        uow.session,
                        category="unit",
                        kind="enterprise",
                        name="石家庄某物流有限公司",
                        password=PASSWORD,
                        roles=["unit"],
                        now=uow.now,
                        credit_code=credit_code,
                        id_number=new_resident_id(),
                        phone=new_phone(),
                    )
                await uow.commit()
        finally:
            await runtime.aclose()
        return names

    return asyncio.run(make())


def sign_in_post(gw: httpx.Client, path: str, body: dict[str, Any], tries: int = 4) -> httpx.Response:
    """A sign-in as a well-behaved client makes it: every test signs in from 127.0.0.1, whose per-address
    budget (identity's login_rate_per_ip, real time) a busy run can spend, so a 429 is waited out as its
    Retry-After says, a few times."""
    r = gw.post(path, json=body)
    for _ in range(tries - 1):
        if r.status_code != 429:
            break
        time.sleep(min(float(r.headers.get("Retry-After", "1")), 60.0))
        r = gw.post(path, json=body)
    return r


# ADR 0091: staff pass a TOTP second factor. The secret of each account comes from its enrolment answer
# (or the console's enrolment page); a code works once, so the last step used is kept per account. One
# process runs a test session, so every helper that signs staff in shares these.
_TOTP_SECRETS: dict[str, str] = {}
_TOTP_LAST_STEP: dict[str, int] = {}


def platform_now() -> datetime:
    """The platform clock of dev and test (real time plus the offset in Redis), as identity reads it."""
    import redis

    client = redis.Redis.from_url(IDENTITY.settings().redis.url)
    try:
        raw = client.get(OFFSET_KEY)
    finally:
        client.close()
    offset = timedelta(microseconds=int(raw)) if raw else timedelta(0)  # type: ignore[arg-type]
    return datetime.now(SHANGHAI) + offset


def remember_totp_secret(username: str, secret: str) -> None:
    _TOTP_SECRETS[username] = secret
    _TOTP_LAST_STEP.pop(username, None)


def totp_code(username: str) -> str:
    """The account's code of the earliest step identity still takes (±1 step of now, after the last used);
    when this process has spent those, the next step is waited for (real time, at most 30 s)."""
    while True:
        current = totp_step(platform_now())
        step = max(current - 1, _TOTP_LAST_STEP.get(username, -1) + 1)
        if step <= current + 1:
            _TOTP_LAST_STEP[username] = step
            return totp_code_of_step(_TOTP_SECRETS[username], step)
        time.sleep(TOTP_STEP_S - time.time() % TOTP_STEP_S + 0.05)


def finish_sign_in(gw: httpx.Client, username: str, r: httpx.Response) -> httpx.Response:
    """A sign-in's answer with its staff steps passed: the second factor (enrolling at the first sign-in,
    the secret from the answer). Any other answer (tokens, a refusal, a new-password step) is returned."""
    while r.status_code == 200 and r.json().get("step") in ("enrol", "second_factor"):
        step = r.json()
        if step["step"] == "enrol":
            remember_totp_secret(username, step["enrolment"]["secret"])
        body = {"challenge": step["challenge"], "code": totp_code(username)}
        r = sign_in_post(gw, "/api/v1/auth/login/second-factor", body)
    return r


def login(gw: httpx.Client, username: str) -> dict[str, str]:
    r = sign_in_post(gw, "/api/v1/auth/login", {"username": username, "password": PASSWORD})
    r = finish_sign_in(gw, username, r)
    assert r.status_code == 200, r.text
    return {"Authorization": f"Bearer {r.json()['access_token']}"}


def system_login(gw: httpx.Client, client_id: str) -> dict[str, str]:
    body: dict[str, Any] = {
        "grant_type": "client_credentials",
        "client_id": client_id,
        "client_secret": PASSWORD,
    }
    r = sign_in_post(gw, "/api/v1/auth/token", body)
    assert r.status_code == 200, r.text
    return {"Authorization": f"Bearer {r.json()['access_token']}"}
