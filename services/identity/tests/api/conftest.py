"""identity's API against its real `identity_test` database and Redis db 15 (TMS_ENV=test, root conftest).

Every test makes its own people: identity numbers, phones and IPs are random, so tests never share an
account, an SMS limit or a rate-limit window, and reruns never collide.
"""

from __future__ import annotations

import secrets
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import Any

import httpx
import psycopg
import pytest

from identity_service.main import create_app
from identity_service.service import SPEC
from identity_service.settings import IdentitySettings
from servicekit.clock import SHANGHAI, FixedClock
from servicekit.db import psycopg_dsn
from servicekit.migrate import migrate
from servicekit.runtime import Runtime
from servicekit.testing import TokenFactory, new_phone, new_resident_id, outbox_payloads, service_client

pytestmark = pytest.mark.integration

START = datetime(2027, 3, 1, 9, 0, tzinfo=SHANGHAI)  # a Monday
# Scans as intake stores them (AR-01): the bytes decide the type, so these are a real JPEG and PDF header.
JPEG = b"\xff\xd8\xff\xe0\x00\x10JFIF\x00" + bytes(range(256)) * 4 + b"\xff\xd9"
PDF = b"%PDF-1.7\n1 0 obj<<>>endobj\ntrailer<<>>\n%%EOF\n"
# ID-09: a person's on-site photo and scans; ID-13 / seed §19: a change binding another's vehicle's
PERSONAL_SCANS = ("onsite_photo", "registration_form", "identity_document")
CHANGE_SCANS = (*PERSONAL_SCANS, "owner_identity_document", "vehicle_licence")


def scan_bytes(kind: str) -> bytes:
    """The on-site photo as a JPEG, the other scans as PDFs."""
    return JPEG if kind == "onsite_photo" else PDF


@pytest.fixture(scope="session")
def identity_database() -> str:
    settings = SPEC.settings()
    assert settings.env.value == "test", "the tests run with TMS_ENV=test (root conftest.py)"
    migrate("identity")
    # The tests live in 2027, a year the calendar package does not carry: the office calendar holds it
    # (WD-01), as an admin would set it. A test fixture, not the State Council's notice: weekends only.
    with psycopg.connect(psycopg_dsn(settings.database.url), autocommit=True) as conn:
        conn.execute(
            "INSERT INTO office_calendar_years (year, source, set_by, set_at) "
            "VALUES (2027, 'test fixture: weekends only', 'tests', now()) ON CONFLICT DO NOTHING"
        )
    return settings.database.url


def new_ip() -> str:
    return f"10.{secrets.randbelow(256)}.{secrets.randbelow(256)}.{secrets.randbelow(254) + 1}"


@dataclass
class Api:
    client: httpx.AsyncClient
    clock: FixedClock
    app: Any
    system_token: str
    tokens: TokenFactory
    # ADR 0091: staff sign in with a TOTP code; the secret comes from the enrolment answer, and each code
    # works once, so the helper remembers the last step it used per account.
    totp_secrets: dict[str, str] = field(default_factory=dict)
    totp_steps: dict[str, int] = field(default_factory=dict)

    @property
    def runtime(self) -> Runtime:
        runtime: Runtime = self.app.state.runtime
        return runtime

    async def last_code(self, phone: str) -> str:
        """The code identity asked notify to send (the command in identity's outbox)."""
        async with self.runtime.engine.connect() as conn:
            sent = await outbox_payloads(conn, "notify.sms.send.v1", newest_first=True, phone=phone)
        assert sent, "no SMS code was sent"
        return str(sent[0]["params"]["code"])

    @staticmethod
    def new_ip() -> str:
        return new_ip()

    @staticmethod
    def new_phone() -> str:
        return new_phone()

    @staticmethod
    def new_resident_id(birth: date | None = None) -> str:
        return new_resident_id(born=birth)

    async def person(self, name: str = "张三", **extra: Any) -> str:
        id_number = extra.pop("id_number", None) or new_resident_id()
        r = await self.client.post(
            "/api/v1/_test/population", json={"id_number": id_number, "name": name, **extra}
        )
        assert r.status_code == 201, r.text
        return id_number

    async def record(self, record_kind: str, ref: str, **body: Any) -> httpx.Response:
        return await self.client.put(
            f"/api/v1/users/person-records/{record_kind}/{ref}",
            json=body,
            headers=TokenFactory.headers(self.system_token),
        )

    async def licence(
        self,
        id_number: str,
        phone: str | None = None,
        state: str = "valid",
        *,
        record_id: str | None = None,
        version: int = 1,
        change: str | None = None,
    ) -> str:
        """A licence record as license tells identity (ADR 0050): one `license.record.issued.v1` (or, with
        `change`, `license.record.changed.v1`) through the handler of queue identity.project-licences.
        Returns the record's id, the ref a licence binding names."""
        from identity_service.subscriptions import LicenceRecord, project_licence

        record_id = record_id or str(uuid.uuid4())
        data: dict[str, Any] = {
            "record_id": record_id,
            "number": id_number,
            "name": "张三",
            "classes": ["C1"],
            "state": state,
            "valid_until": "2033-03-01",
            "phone": phone,
            "version": version,
        }
        if change is not None:
            data |= {"change": change, "points": 0, "reason": None}
        async with self.runtime.uow() as uow:
            await project_licence(uow, LicenceRecord.model_validate(data), None)  # type: ignore[arg-type]
            await uow.commit()
        return record_id

    async def register(
        self, kind: str, id_number: str, phone: str, name: str = "张三", **over: Any
    ) -> httpx.Response:
        r = await self.client.post("/api/v1/auth/sms-codes", json={"phone": phone, "purpose": "register"})
        assert r.status_code == 202, r.text
        body = {
            "kind": kind,
            "id_kind": "resident_id",
            "id_number": id_number,
            "name": name,
            "phone": phone,
            "password": "Passw0rd2027",
            "sms_code": await self.last_code(phone),
            **over,
        }
        return await self.client.post("/api/v1/users", json=body)

    async def owner_driver(self, name: str = "张三") -> tuple[str, str]:
        """A registered owner/driver with a vehicle: returns (identity number, phone)."""
        id_number = await self.person(name)
        phone = new_phone()
        r = await self.record(
            "vehicle", "veh-" + secrets.token_hex(6), id_number=id_number, phone=phone, state="registered"
        )
        assert r.status_code == 200, r.text
        r = await self.register("owner_driver", id_number, phone, name)
        assert r.status_code == 201, r.text
        return id_number, phone

    async def login(self, username: str, password: str = "Passw0rd2027") -> dict[str, Any]:
        """Signed in: the tokens. A staff member passes the second factor too (enrolling at the first
        sign-in, the secret from the enrolment answer)."""
        r = await self.client.post("/api/v1/auth/login", json={"username": username, "password": password})
        assert r.status_code == 200, r.text
        result: dict[str, Any] = r.json()
        if "step" in result:
            r = await self.second_factor(username, result)
            assert r.status_code == 200, r.text
            result = r.json()
            assert "access_token" in result, result
        return result

    async def second_factor(self, username: str, step: dict[str, Any]) -> httpx.Response:
        """Answer a sign-in's `enrol` or `second_factor` step with the account's next unused code."""
        if step["step"] == "enrol":
            self.totp_secrets[username] = step["enrolment"]["secret"]
            self.totp_steps.pop(username, None)
        body = {"challenge": step["challenge"], "code": await self.totp(username)}
        return await self.client.post("/api/v1/auth/login/second-factor", json=body)

    async def totp(self, username: str) -> str:
        """The code of the earliest step identity still takes from this account (within ±1 step of now
        and after the last one used); the clock moves on a step when those are spent."""
        from identity_service.domain import TOTP_STEP_S, totp_code_of_step, totp_step

        while True:
            current = totp_step(await self.clock.now())
            step = max(current - 1, self.totp_steps.get(username, -1) + 1)
            if step <= current + 1:
                break
            self.clock.advance(timedelta(seconds=TOTP_STEP_S))
        self.totp_steps[username] = step
        return totp_code_of_step(self.totp_secrets[username], step)

    async def staff(self, *roles: str, office: str = "130100") -> dict[str, str]:
        """A clerk of this test alone, signed in (enrolled in the second factor): the Authorization header."""
        return await self.bearer(await self.new_staff(*roles, office=office))

    async def new_staff(self, *roles: str, office: str = "130100") -> str:
        """A clerk of this test alone, never signed in: the staff number."""
        from identity_service.demo import ensure_account

        staff_no = "S" + secrets.token_hex(5)
        async with self.runtime.uow() as uow:
            await ensure_account(
                uow.session,
                category="staff",
                kind="staff",
                username=staff_no,
                name="clerk",
                password="Passw0rd2027",
                roles=list(roles),
                now=uow.now,
                office=office,
            )
            await uow.commit()
        return staff_no

    async def bearer(self, username: str, password: str = "Passw0rd2027") -> dict[str, str]:
        return TokenFactory.headers((await self.login(username, password))["access_token"])

    async def store_scans(self, case_path: str, kinds: Any, headers: dict[str, str]) -> list[dict[str, Any]]:
        """AR-01: intake stores each scan with its case (the body is the file itself)."""
        stored = []
        for kind in kinds:
            r = await self.client.put(f"{case_path}/scans/{kind}", content=scan_bytes(kind), headers=headers)
            assert r.status_code == 201, r.text
            stored.append(r.json())
        return stored

    async def counter_case(
        self, body: dict[str, Any], intake: dict[str, str], kinds: Any = PERSONAL_SCANS
    ) -> httpx.Response:
        """ID-09 / ID-11: intake opens a registration, stores its scans with it and submits it; the
        submission's answer, or the opening's when that is refused."""
        r = await self.client.post("/api/v1/counter/registrations", json=body, headers=intake)
        if r.status_code != 201:
            return r
        path = f"/api/v1/counter/registrations/{r.json()['id']}"
        await self.store_scans(path, kinds, intake)
        return await self.client.post(f"{path}/submission", headers=intake)

    async def change_intake(
        self,
        account_id: str,
        ref: str,
        intake: dict[str, str],
        kinds: Any = CHANGE_SCANS,
        owner_documents_checked: bool = True,
        **over: Any,
    ) -> httpx.Response:
        """ID-13: intake enters a counter change binding a vehicle, stores its scans (the owner's documents
        among them) and submits it; the submission's answer, or the opening's when that is refused."""
        body = {"account_id": account_id, "kind": "bind_vehicle", "ref": ref, **over}
        r = await self.client.post("/api/v1/users/counter-changes", json=body, headers=intake)
        if r.status_code != 201:
            return r
        path = f"/api/v1/users/counter-changes/{r.json()['id']}"
        await self.store_scans(path, kinds, intake)
        return await self.client.post(
            f"{path}/submission", json={"owner_documents_checked": owner_documents_checked}, headers=intake
        )

    async def counter_bind(self, account_id: str, ref: str) -> dict[str, Any]:
        """ID-13: a counter binding through intake and review; the approved change."""
        r = await self.change_intake(account_id, ref, await self.staff("clerk.intake"))
        assert r.status_code == 200, r.text
        review = await self.staff("clerk.review")
        r = await self.client.post(f"/api/v1/users/counter-changes/{r.json()['id']}/approve", headers=review)
        assert r.status_code == 200, r.text
        result: dict[str, Any] = r.json()
        return result


def test_settings(**over: Any) -> IdentitySettings:
    values: dict[str, Any] = {
        "login_rate_per_ip": "100000/minute",
        "sms_rate_per_ip": "100000/minute",
        "reactivation_rate_per_ip": "100000/minute",
        "registration_rate_per_ip": "100000/minute",
        **over,
    }
    return IdentitySettings(**values)


@pytest.fixture
async def api(identity_database: str) -> AsyncIterator[Api]:
    clock = FixedClock(START)
    settings = test_settings()
    app = create_app(settings, runtime_factory=lambda: Runtime.open(settings, SPEC.metadata, clock=clock))
    tokens = TokenFactory()
    async with service_client(app) as client:
        client.headers["X-Forwarded-For"] = new_ip()
        system_token = await _system_token(app, client)
        yield Api(client=client, clock=clock, app=app, system_token=system_token, tokens=tokens)


async def _system_token(app: Any, client: httpx.AsyncClient) -> str:
    """A `system` client made for this test, signed in with client credentials."""
    from identity_service.demo import ensure_account

    client_id = "sys-" + secrets.token_hex(4)
    async with app.state.runtime.uow() as uow:
        await ensure_account(
            uow.session,
            category="system",
            kind="system",
            username=client_id,
            name="test system",
            password="s3cret-client-" + client_id,
            roles=["system"],
            now=await app.state.runtime.clock.now(),
        )
        await uow.commit()
    r = await client.post(
        "/api/v1/auth/token",
        json={
            "grant_type": "client_credentials",
            "client_id": client_id,
            "client_secret": "s3cret-client-" + client_id,
        },
    )
    assert r.status_code == 200, r.text
    token: str = r.json()["access_token"]
    return token
