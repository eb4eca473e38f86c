"""ID-09 end to end through the gateway: clerks take a counter registration from intake through review to
archive, then the citizen signs in through nginx and sees the capabilities of a counter-registered user
(ID-07); another citizen reaches neither the case nor the account (404).

Real processes: identity's api (uvicorn, TMS_ENV=test, `identity_test`) and nginx with the configuration
generated from the gateway's route table, each on a free port. Clerks are made in the database the way the
demo data makes them; people are new on every run.
"""

from __future__ import annotations

import asyncio
import os
import secrets
import shutil
import signal
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from gateway_service.nginx import NginxOptions, render
from gateway_service.routes import route_table
from identity_service.demo import ensure_account
from identity_service.service import SPEC
from servicekit.migrate import migrate
from servicekit.runtime import Runtime
from servicekit.settings import Environment
from servicekit.testing import new_phone, new_resident_id, outbox_payloads

from .processes import NGINX, free_port, spawn, wait_until_ok
from .stack import finish_sign_in, sign_in_post

pytestmark = pytest.mark.integration

ROOT = Path(__file__).resolve().parents[2]
PASSWORD = "Passw0rd2027"


@pytest.fixture(scope="module")
def edge() -> Iterator[tuple[str, str]]:
    """(gateway URL, identity's own URL): identity behind nginx, both started for this module."""
    if NGINX is None:
        pytest.skip("nginx is not installed")
    migrate("identity")
    service_port, edge_port, app_port = free_port(), free_port(), free_port()
    prefix = Path(tempfile.mkdtemp(prefix="tms-e2e-identity-"))
    prefix.chmod(0o755)
    (prefix / "tmp").mkdir()
    opts = NginxOptions(
        env=Environment.test, listen=f"127.0.0.1:{edge_port}", prefix=prefix, access_log="off"
    )
    upstreams = {"identity": f"127.0.0.1:{service_port}", "gateway": f"127.0.0.1:{app_port}"}
    (prefix / "nginx.conf").write_text(render(route_table(upstreams), opts))
    env = {
        **os.environ,
        "TMS_IDENTITY__TELEMETRY__LOG_LEVEL": "WARNING",
        "TMS_GATEWAY__UPSTREAMS__IDENTITY": upstreams["identity"],
    }
    identity = spawn(
        [
            sys.executable,
            "-m",
            "uvicorn",
            "--factory",
            "identity_service.main:create_app",
            "--host",
            "127.0.0.1",
            "--port",
            str(service_port),
            "--no-access-log",
        ],
        "identity",
        cwd=ROOT,
        env=env,
    )
    # the gateway app: /api/v1/_test/population is forwarded through it to identity
    edge_app = spawn(
        [
            sys.executable,
            "-m",
            "uvicorn",
            "--factory",
            "gateway_service.app:create_app",
            "--host",
            "127.0.0.1",
            "--port",
            str(app_port),
            "--no-access-log",
        ],
        "gateway",
        cwd=ROOT,
        env=env,
    )
    nginx = spawn([NGINX, "-c", str(prefix / "nginx.conf"), "-p", str(prefix), "-e", "stderr"], "nginx")
    try:
        wait_until_ok(f"http://127.0.0.1:{service_port}/healthz", identity)
        wait_until_ok(f"http://127.0.0.1:{edge_port}/healthz", nginx)
        wait_until_ok(f"http://127.0.0.1:{app_port}/healthz", edge_app)
        yield f"http://127.0.0.1:{edge_port}", f"http://127.0.0.1:{service_port}"
    finally:
        identity.send_signal(signal.SIGTERM)
        edge_app.send_signal(signal.SIGTERM)
        nginx.send_signal(signal.SIGQUIT)
        for process in (identity, edge_app, nginx):
            try:
                process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                process.kill()
        shutil.rmtree(prefix, ignore_errors=True)


def _make_clerks(posts: tuple[str, ...] = ("intake", "review", "archive")) -> dict[str, str]:
    """One clerk per post, made in identity's database as the demo data makes them."""

    async def make() -> dict[str, str]:
        settings = SPEC.settings()
        runtime = Runtime.open(settings, SPEC.metadata)
        staff = {post: "E2E" + secrets.token_hex(4) for post in posts}
        try:
            async with runtime.uow() as uow:
                for post, staff_no in staff.items():
                    await ensure_account(
                        uow.session,
                        category="staff",
                        kind="staff",
                        name=f"{post} clerk",
                        password=PASSWORD,
                        roles=[f"clerk.{post}"],
                        now=uow.now,
                        username=staff_no,
                    )
                await uow.commit()
        finally:
            await runtime.aclose()
        return staff

    return asyncio.run(make())


JPEG = b"\xff\xd8\xff\xe0\x00\x10JFIF\x00" + bytes(range(256)) * 4 + b"\xff\xd9"
PDF = b"%PDF-1.7\n1 0 obj<<>>endobj\ntrailer<<>>\n%%EOF\n"


def _counter_case(gw: httpx.Client, intake: dict[str, str], body: dict[str, str]) -> httpx.Response:
    """Intake opens the case, stores its on-site photo and scans with it (AR-01: the body of each upload
    is the file) and submits it; the submission's answer."""
    r = gw.post("/api/v1/counter/registrations", headers=intake, json=body)
    assert r.status_code == 201, r.text
    path = f"/api/v1/counter/registrations/{r.json()['id']}"
    for kind in ("onsite_photo", "registration_form", "identity_document"):
        stored = gw.put(
            f"{path}/scans/{kind}", headers=intake, content=JPEG if kind == "onsite_photo" else PDF
        )
        assert stored.status_code == 201, stored.text
    return gw.post(f"{path}/submission", headers=intake)


def _bearer(client: httpx.Client, username: str) -> dict[str, str]:
    r = sign_in_post(client, "/api/v1/auth/login", {"username": username, "password": PASSWORD})
    r = finish_sign_in(client, username, r)
    assert r.status_code == 200, r.text
    return {"Authorization": f"Bearer {r.json()['access_token']}"}


def test_id09_counter_registration_intake_review_archive_then_login_through_the_gateway(
    edge: tuple[str, str],
) -> None:
    gateway_url, identity_url = edge
    staff = _make_clerks()
    id_number, phone = new_resident_id(), new_phone()
    with httpx.Client(base_url=identity_url, trust_env=False, timeout=30) as direct:
        r = direct.post("/api/v1/_test/population", json={"id_number": id_number, "name": "沙悟净"})
        assert r.status_code == 201, r.text
    with httpx.Client(base_url=gateway_url, trust_env=False, timeout=30) as gw:
        intake, review, archive = (_bearer(gw, staff[p]) for p in ("intake", "review", "archive"))
        r = _counter_case(
            gw, intake, {"id_number": id_number, "name": "沙悟净", "phone": phone, "password": PASSWORD}
        )
        assert r.status_code == 200, r.text
        case_id = r.json()["id"]
        assert r.headers["x-request-id"]
        # each post sees the case only while it is theirs, its stored scans too (AR-01)
        assert gw.get(f"/api/v1/counter/registrations/{case_id}", headers=archive).status_code == 404
        photo = gw.get(f"/api/v1/counter/registrations/{case_id}/scans/onsite_photo", headers=review)
        assert (photo.status_code, photo.content, photo.headers["content-type"]) == (200, JPEG, "image/jpeg")
        assert (
            gw.get(f"/api/v1/counter/registrations/{case_id}/scans/onsite_photo", headers=archive).status_code
            == 404
        )
        assert gw.post(f"/api/v1/counter/registrations/{case_id}/approve", headers=review).status_code == 200
        r = gw.post(
            f"/api/v1/counter/registrations/{case_id}/archive",
            headers=archive,
            json={"filed": ["registration_form_original", "identity_document_copy"]},
        )
        assert r.status_code == 200, r.text
        assert r.json()["stage"] == "filed"

        citizen = _bearer(gw, phone)
        me = gw.get("/api/v1/users/me", headers=citizen)
        assert me.status_code == 200, me.text
        assert me.json()["channel"] == "counter"
        assert {"reissue_replace_driving_licence", "licence_photo_submission", "deferrals"} <= set(
            me.json()["capabilities"]
        )
        # another citizen reaches neither the case nor anything of this account
        stranger_id, stranger_phone = new_resident_id(), new_phone()
        with httpx.Client(base_url=identity_url, trust_env=False, timeout=30) as direct:
            direct.post("/api/v1/_test/population", json={"id_number": stranger_id, "name": "白龙马"})
        r = _counter_case(
            gw,
            intake,
            {"id_number": stranger_id, "name": "白龙马", "phone": stranger_phone, "password": PASSWORD},
        )
        other_case = r.json()["id"]
        assert gw.get(f"/api/v1/counter/registrations/{other_case}", headers=citizen).status_code == 404
        assert (
            gw.get(
                f"/api/v1/counter/registrations/{other_case}/scans/onsite_photo", headers=citizen
            ).status_code
            == 404
        )
        assert (
            gw.get(f"/api/v1/counter/registrations/{case_id}", headers=citizen).status_code == 200
        )  # own case
        assert gw.get("/api/v1/counter/registrations?queue=review", headers=citizen).status_code == 403


def test_id03_online_registration_and_sign_in_through_the_gateway(edge: tuple[str, str]) -> None:
    """The population seeded through the edge app's /_test/ forwarder, the ID-03 record (a vehicle) fed by a
    system client, then SMS code, registration, sign-in, /users/me and refresh, all through nginx."""
    gateway_url, _ = edge
    id_number, phone = new_resident_id(), new_phone()

    async def system_client() -> tuple[str, str]:
        runtime = Runtime.open(SPEC.settings(), SPEC.metadata)
        client_id, secret = "e2e-" + secrets.token_hex(4), "secret-" + secrets.token_hex(8)
        try:
            async with runtime.uow() as uow:
                await ensure_account(
                    uow.session,
                    category="system",
                    kind="system",
                    name="e2e system",
                    password=secret,
                    roles=["system"],
                    now=uow.now,
                    username=client_id,
                )
                await uow.commit()
        finally:
            await runtime.aclose()
        return client_id, secret

    client_id, secret = asyncio.run(system_client())
    with httpx.Client(base_url=gateway_url, trust_env=False, timeout=30) as gw:
        r = gw.post("/api/v1/_test/population", json={"id_number": id_number, "name": "唐三藏"})
        assert r.status_code == 201, r.text
        r = gw.post(
            "/api/v1/auth/token",
            json={"grant_type": "client_credentials", "client_id": client_id, "client_secret": secret},
        )
        assert r.status_code == 200, r.text
        system = {"Authorization": f"Bearer {r.json()['access_token']}"}
        # ID-03's record: a vehicle (licences come from license's events since ADR 0050; the licence path
        # through the broker is tests/e2e/test_licence_pipes.py)
        r = gw.put(
            f"/api/v1/users/person-records/vehicle/e2e-{secrets.token_hex(6)}",
            headers=system,
            json={"id_number": id_number, "phone": phone, "state": "registered"},
        )
        assert r.status_code == 200, r.text

        # the SMS code travels as a notify command through identity's outbox; read it there
        assert (
            gw.post("/api/v1/auth/sms-codes", json={"phone": phone, "purpose": "register"}).status_code == 202
        )

        async def last_code() -> str:

            runtime = Runtime.open(SPEC.settings(), SPEC.metadata)
            try:
                async with runtime.engine.connect() as conn:
                    sent = await outbox_payloads(conn, "notify.sms.send.v1", newest_first=True, phone=phone)
            finally:
                await runtime.aclose()
            return str(sent[0]["params"]["code"])

        r = gw.post(
            "/api/v1/users",
            json={
                "kind": "owner_driver",
                "id_kind": "resident_id",
                "id_number": id_number,
                "name": "唐三藏",
                "phone": phone,
                "password": PASSWORD,
                "sms_code": asyncio.run(last_code()),
            },
        )
        assert r.status_code == 201, r.text
        tokens = gw.post("/api/v1/auth/login", json={"username": id_number, "password": PASSWORD}).json()
        me = gw.get("/api/v1/users/me", headers={"Authorization": f"Bearer {tokens['access_token']}"})
        assert me.status_code == 200
        assert "bind_own_licence" in me.json()["capabilities"]
        assert me.json()["channel"] == "online"
        refreshed = gw.post("/api/v1/auth/refresh", json={"refresh_token": tokens["refresh_token"]})
        assert refreshed.status_code == 200
        assert gw.get("/api/v1/auth/jwks.json").json()["keys"]


def test_id02_id16_registration_and_forced_cancellation_tell_and_touch_nothing_they_may_not(
    edge: tuple[str, str],
) -> None:
    """Through nginx (ADR 0080, ADR 0081): an anonymous registration learns nothing of the population
    registry before the phone's code, and a clerk.admin cannot cancel a colleague's account (404)."""
    gateway_url, _ = edge
    staff = _make_clerks(("admin", "intake"))
    with httpx.Client(base_url=gateway_url, trust_env=False, timeout=30) as gw:
        phone = new_phone()
        assert (
            gw.post("/api/v1/auth/sms-codes", json={"phone": phone, "purpose": "register"}).status_code == 202
        )
        body = {
            "kind": "new_car_owner",
            "id_kind": "resident_id",
            "id_number": new_resident_id(),  # in no registry
            "name": "无名氏",
            "phone": phone,
            "password": PASSWORD,
            "sms_code": "0000000",  # 7 digits: never the 6-digit code that was sent
        }
        r = gw.post("/api/v1/users", json=body)
        assert (r.status_code, r.json()["code"]) == (422, "SMS_CODE_MISMATCH"), r.text

        admin, intake = _bearer(gw, staff["admin"]), _bearer(gw, staff["intake"])
        colleague = gw.get("/api/v1/users/me", headers=intake).json()["id"]
        r = gw.post(
            f"/api/v1/users/{colleague}/cancellation",
            headers=admin,
            json={"reason": "false_registration_data"},
        )
        assert (r.status_code, r.json()["code"]) == (404, "NOT_FOUND"), r.text
        assert gw.get("/api/v1/users/me", headers=intake).status_code == 200
