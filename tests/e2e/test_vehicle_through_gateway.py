"""VH-02..VH-10 end to end through the gateway: a clerk registers a car for a counter-registered citizen
(VH-15), the citizen applies for a plate reissue by mail, the intake clerk works the queue (intake,
production, hand-off to the post), the post's bridge reports the delivery as a system client, the citizen
sees the plate delivered and the archive files the case; another citizen reaches neither car nor case.

Real processes: identity's api (it signs every token: clerks, citizens and the system client sign in
through nginx), vehicle's api (verifying those tokens against identity's JWKS), the gateway app and nginx
with the configuration generated from the gateway's route table, each on a free port, TMS_ENV=test.
Accounts are made in identity's database the way its demo data makes them; everything is new per run.
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
import uuid
from collections.abc import Iterator
from datetime import date
from pathlib import Path

import httpx
import pytest
from stdnum.cn import ric

from gateway_service.nginx import NginxOptions, render
from gateway_service.routes import route_table
from identity_service.demo import ensure_account
from identity_service.service import SPEC as IDENTITY
from servicekit.migrate import migrate
from servicekit.runtime import Runtime
from servicekit.settings import Environment
from servicekit.testing import set_test_calendar_years
from servicekit.validators import PROVINCES, vin_check_digit
from vehicle_service import records as vehicle_records
from vehicle_service.service import SPEC as VEHICLE

from .processes import NGINX, free_port, wait_until_ok

pytestmark = pytest.mark.integration

ROOT = Path(__file__).resolve().parents[2]
PASSWORD = "Passw0rd2027"


def _uvicorn(factory: str, port: int, env: dict[str, str]) -> subprocess.Popen[bytes]:
    return subprocess.Popen(
        [
            sys.executable,
            "-m",
            "uvicorn",
            "--factory",
            factory,
            "--host",
            "127.0.0.1",
            "--port",
            str(port),
            "--no-access-log",
        ],
        cwd=ROOT,
        env=env,
    )


@pytest.fixture(scope="module")
def gateway() -> Iterator[str]:
    if NGINX is None:
        pytest.skip("nginx is not installed")
    migrate("identity")
    migrate("vehicle")
    # WD-01: an application's intake due date may reach 2027 (the real clock, December 2026): test fixture
    set_test_calendar_years(VEHICLE.settings().database.url, 2027)
    identity_port, vehicle_port, edge_port, app_port = (free_port() for _ in range(4))
    prefix = Path(tempfile.mkdtemp(prefix="tms-e2e-vehicle-"))
    prefix.chmod(0o755)
    (prefix / "tmp").mkdir()
    opts = NginxOptions(
        env=Environment.test, listen=f"127.0.0.1:{edge_port}", prefix=prefix, access_log="off"
    )
    upstreams = {
        "identity": f"127.0.0.1:{identity_port}",
        "vehicle": f"127.0.0.1:{vehicle_port}",
        "gateway": f"127.0.0.1:{app_port}",
    }
    (prefix / "nginx.conf").write_text(render(route_table(upstreams), opts))
    env = {
        **os.environ,
        "TMS_IDENTITY__TELEMETRY__LOG_LEVEL": "WARNING",
        "TMS_VEHICLE__TELEMETRY__LOG_LEVEL": "WARNING",
        "TMS_VEHICLE__AUTH__JWKS_URL": f"http://127.0.0.1:{identity_port}/api/v1/auth/jwks.json",
        "TMS_GATEWAY__UPSTREAMS__IDENTITY": upstreams["identity"],
        "TMS_GATEWAY__UPSTREAMS__VEHICLE": upstreams["vehicle"],
    }
    processes = [
        _uvicorn("identity_service.main:create_app", identity_port, env),
        _uvicorn("vehicle_service.main:create_app", vehicle_port, env),
        _uvicorn("gateway_service.app:create_app", app_port, env),
    ]
    nginx = subprocess.Popen(
        [NGINX, "-c", str(prefix / "nginx.conf"), "-p", str(prefix), "-e", "stderr"],
        stdout=subprocess.DEVNULL,
    )
    try:
        for process, port in zip(processes, (identity_port, vehicle_port, app_port), strict=True):
            wait_until_ok(f"http://127.0.0.1:{port}/healthz", process)
        wait_until_ok(f"http://127.0.0.1:{edge_port}/healthz", nginx)
        yield f"http://127.0.0.1:{edge_port}"
    finally:
        for process in processes:
            process.send_signal(signal.SIGTERM)
        nginx.send_signal(signal.SIGQUIT)
        for process in (*processes, nginx):
            try:
                process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                process.kill()
        shutil.rmtree(prefix, ignore_errors=True)


def _id_number() -> str:
    body = f"130102{date(1980 + secrets.randbelow(20), 5, 5):%Y%m%d}{secrets.randbelow(1000):03d}"
    return body + ric.calc_check_digit(body + "0")


def _phone() -> str:
    return "137" + "".join(secrets.choice("0123456789") for _ in range(8))


def _vin() -> str:
    body = "L" + "".join(secrets.choice("ABCDEFGHJKLMNPRSTUVWXYZ0123456789") for _ in range(16))
    return body[:8] + vin_check_digit(body[:8] + "0" + body[9:]) + body[9:]


def _plate() -> str:
    letters = "ABCDEFGHJKLMNPQRSTUVWXYZ"
    return (
        secrets.choice(PROVINCES)
        + secrets.choice(letters)
        + "".join(secrets.choice(letters + "0123456789") for _ in range(5))
    )


def _accounts(citizens: list[tuple[str, str]]) -> dict[str, str]:
    """Clerks of office 130100 (intake, archive), counter-registered citizens and a system client."""

    async def make() -> dict[str, str]:
        runtime = Runtime.open(IDENTITY.settings(), IDENTITY.metadata)
        names = {post: "E2EV" + secrets.token_hex(4) for post in ("intake", "archive")}
        names["system"] = "e2e-vehicle-" + secrets.token_hex(4)
        try:
            async with runtime.uow() as uow:
                for post in ("intake", "archive"):
                    await ensure_account(
                        uow.session,
                        category="staff",
                        kind="staff",
                        name=f"{post} clerk",
                        password=PASSWORD,
                        roles=[f"clerk.{post}"],
                        now=uow.now,
                        username=names[post],
                        office="130100",
                    )
                await ensure_account(
                    uow.session,
                    category="system",
                    kind="system",
                    name="e2e post bridge",
                    password=PASSWORD,
                    roles=["system"],
                    now=uow.now,
                    username=names["system"],
                )
                for id_number, phone in citizens:
                    await ensure_account(
                        uow.session,
                        category="personal",
                        kind="owner_driver",
                        name="沈十七",
                        password=PASSWORD,
                        roles=["citizen"],
                        now=uow.now,
                        channel="counter",
                        id_number=id_number,
                        phone=phone,
                    )
                await uow.commit()
        finally:
            await runtime.aclose()
        return names

    return asyncio.run(make())


def _bind(headers: dict[str, str], vehicle_id: str) -> None:
    """The account signed in with `headers` has bound the vehicle: what vehicle's worker does with identity's
    `identity.binding.created.v1` (the account id is the token's `sub`)."""
    token = headers["Authorization"].removeprefix("Bearer ").split(".")[1]
    subject = json.loads(base64.urlsafe_b64decode(token + "=" * (-len(token) % 4)))["sub"]

    async def run() -> None:
        runtime = Runtime.open(VEHICLE.settings(), VEHICLE.metadata)
        try:
            async with runtime.uow() as uow:
                await vehicle_records.project_binding(
                    uow,
                    binding_id=str(uuid.uuid4()),
                    account_id=subject,
                    vehicle_ref=vehicle_id,
                    owned=True,
                    bound_at=uow.now,
                )
                await uow.commit()
        finally:
            await runtime.aclose()

    asyncio.run(run())


def _login(gw: httpx.Client, username: str) -> dict[str, str]:
    r = gw.post("/api/v1/auth/login", json={"username": username, "password": PASSWORD})
    assert r.status_code == 200, r.text
    return {"Authorization": f"Bearer {r.json()['access_token']}"}


def test_vh09_citizen_to_delivered_plate_with_clerks_working_the_queue_through_the_gateway(
    gateway: str,
) -> None:
    owner_id, owner_phone = _id_number(), _phone()
    stranger_id = _id_number()
    names = _accounts([(owner_id, owner_phone), (stranger_id, _phone())])
    with httpx.Client(base_url=gateway, trust_env=False, timeout=30) as gw:
        intake, archive = _login(gw, names["intake"]), _login(gw, names["archive"])
        r = gw.post(
            "/api/v1/auth/token",
            json={
                "grant_type": "client_credentials",
                "client_id": names["system"],
                "client_secret": PASSWORD,
            },
        )
        assert r.status_code == 200, r.text
        system = {"Authorization": f"Bearer {r.json()['access_token']}"}
        citizen, stranger = _login(gw, owner_id), _login(gw, stranger_id)

        r = gw.post(
            "/api/v1/vehicles",
            headers=intake,
            json={
                "plate_number": _plate(),
                "vin": _vin(),
                "owner": {"id_kind": "resident_id", "id_number": owner_id, "name": "沈十七"},
                "phone": owner_phone,
            },
        )
        assert r.status_code == 201, r.text
        vehicle = r.json()
        assert gw.get(f"/api/v1/vehicles/{vehicle['id']}", headers=citizen).status_code == 200
        assert gw.get(f"/api/v1/vehicles/{vehicle['id']}", headers=stranger).status_code == 404
        # VH-02: reissue serves vehicles bound in the applicant's name (ADR 0044); identity's
        # `identity.binding.created.v1` reaches vehicle's projection (no broker in this test).
        _bind(citizen, vehicle["id"])

        r = gw.post(
            "/api/v1/vehicle-applications",
            headers=citizen | {"Idempotency-Key": secrets.token_hex(8)},
            json={
                "vehicle_id": vehicle["id"],
                "item": "plate",
                "kind": "reissue",
                "delivery": "mail",
                "address": "河北省石家庄市长安区建设北大街1号",
            },
        )
        assert r.status_code == 201, r.text
        case = r.json()
        assert gw.get(f"/api/v1/vehicle-applications/{case['id']}", headers=stranger).status_code == 404

        queue = gw.get(
            "/api/v1/vehicle-applications", params={"state": "submitted", "limit": 200}, headers=intake
        )
        assert case["id"] in [c["id"] for c in queue.json()]
        for step, body in (("intake", {"decision": "accept"}), ("production", None), ("handoff", None)):
            r = gw.post(f"/api/v1/vehicle-applications/{case['id']}/{step}", headers=intake, json=body)
            assert r.status_code == 200, r.text
        mailed = r.json()
        assert mailed["state"] == "mailed"

        r = gw.post(
            "/api/v1/vehicle-applications/post-events",
            headers=system,
            json={"tracking_number": mailed["tracking_number"], "event": "delivered"},
        )
        assert r.status_code == 200, r.text
        r = gw.get(f"/api/v1/vehicle-applications/{case['id']}", headers=citizen)
        assert r.json()["state"] == "delivered"
        r = gw.post(
            f"/api/v1/vehicle-applications/{case['id']}/archive", headers=archive, json={"action": "file"}
        )
        assert r.status_code == 200, r.text
        assert r.json()["archived"] is True
        r = gw.get(f"/api/v1/vehicles/{vehicle['id']}", headers=citizen)
        assert r.json()["plate_reissue_count"] == 1
