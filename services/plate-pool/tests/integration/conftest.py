"""plate-pool against its real `plate_pool_test` database and Redis db 15 (TMS_ENV=test, root conftest).

Every test gets its own office code (so segments, ledger rows and settings never meet another test's),
its own hot-state key prefix, its own VINs, identity numbers and phones, and a FixedClock it moves.

The hot state (ADR 0097) is on one Redis, and, for the tests marked `redis_cluster` (CI's representative
set) or every test when TMS_TEST_HOT_CLUSTER=all (`make test-cluster`), also on a Redis Cluster of three
masters this session starts on private ports (`hot_backend`; stopped at the session's end).
"""

from __future__ import annotations

import base64
import os
import secrets
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

import httpx
import pytest
from sqlalchemy import delete, update
from stdnum.cn import uscc

from plate_pool_service.context import PlateContext
from plate_pool_service.domain import OfficeSettings
from plate_pool_service.main import create_app
from plate_pool_service.segments import (
    PlanSegment,
    build_pool,
    plan_segment,
    save_office_settings,
)
from plate_pool_service.service import SPEC
from plate_pool_service.settings import PlatePoolSettings
from plate_pool_service.tables import allocations, segments, selections
from servicekit import testing
from servicekit.clock import SHANGHAI, FixedClock
from servicekit.migrate import migrate
from servicekit.testing import (
    TokenFactory,
    new_resident_id,
    outbox_payloads,
    service_client,
    set_test_calendar_years,
)
from servicekit.testservers import PrivateRedisCluster
from servicekit.validators import vin_check_digit

MONDAY_10AM = datetime(2027, 3, 1, 10, 0, tzinfo=SHANGHAI)
FIXTURE_YEARS = (2027, 2030)  # set in the test database as an admin would (WD-01)
TEST_SETTINGS = OfficeSettings(low_pool_threshold=0)
JPEG = base64.b64encode(b"\xff\xd8\xff\xe0" + b"0" * 64).decode()


@pytest.fixture(scope="session")
def plate_pool_database() -> str:
    settings = SPEC.settings()
    assert settings.env.value == "test", "the tests run with TMS_ENV=test (root conftest.py)"
    migrate("plate-pool")
    # The tests live in 2027 (the replica-crash test in 2030), years the calendar package does not carry:
    # plate-pool's copy of the office calendar holds them (WD-01), as identity's event would. A test
    # fixture, not the State Council's notice: weekends only. 2031 stays unset (test_wd01_...).
    set_test_calendar_years(settings.database.url, *FIXTURE_YEARS)
    return settings.database.url


async def drain(sweep: Any, runtime: Any) -> int:
    """Run a sweep until it finds nothing more (the shared test database holds other tests' rows too)."""
    total = 0
    while done := await sweep(runtime):
        total += done
    return total


def new_vin() -> str:
    alphabet = "0123456789ABCDEFGHJKLMNPRSTUVWXYZ"
    body = "LFV" + "".join(secrets.choice(alphabet) for _ in range(14))
    return body[:8] + vin_check_digit(body[:8] + "0" + body[9:]) + body[9:]


def new_uscc(region: str) -> str:
    """A unified social credit code of `region` (a company, 91...) that passes every check digit."""
    while True:
        body = "91" + region + "".join(secrets.choice("0123456789") for _ in range(9))
        code = body + uscc.calc_check_digit(body)
        if uscc.is_valid(code):
            return code


_PHONES: set[str] = set()


def new_phone() -> str:
    """A phone no other applicant of this session has: one open selection per phone (PP-13), and 300
    random ones of 10^8 meet about once in 2,000 runs of the race test (a 409 PHONE_QUOTA)."""
    while (phone := testing.new_phone("139")) in _PHONES:
        pass
    _PHONES.add(phone)
    return phone


@dataclass
class Applicant:
    subject: str
    id_number: str
    phone: str
    vin: str
    token: str

    @property
    def headers(self) -> dict[str, str]:
        return TokenFactory.headers(self.token)


@dataclass
class Platform:
    """One test's world: its office, its clock, its app and a client through it."""

    office: str
    clock: FixedClock
    tokens: TokenFactory
    client: httpx.AsyncClient
    ctx: PlateContext
    applicants: list[Applicant] = field(default_factory=list)

    def applicant(self, *, local: bool = True, phone: str | None = None) -> Applicant:
        """A citizen whose token carries their identity number and registered phone (PP-07)."""
        region = self.office if local else "110101"
        idn = new_resident_id(region)
        subject = f"person-{secrets.token_hex(6)}"
        phone = phone or new_phone()
        token = self.tokens.citizen(subject, id_number=idn, phone=phone, ttl_s=7200)
        return Applicant(subject, idn, phone, new_vin(), token)

    def start_body(self, who: Applicant, **overrides: Any) -> dict[str, Any]:
        body: dict[str, Any] = {
            "vin": who.vin,
            "vehicle_kind": "small_car",
            "invoice": {
                "number": "12345678",
                "code": "113001900111",
                "date": "2027-02-27",
                "amount_fen": 15_800_000,
                "photo": JPEG,
            },
            "certificate_number": "WAC" + secrets.token_hex(6).upper(),
            "owner": {"id_kind": "resident_id", "id_number": who.id_number, "name": "张三"},
            "phone": who.phone,
            "office_code": self.office,
        }
        body.update(overrides)
        return body

    async def start(self, who: Applicant | None = None) -> tuple[Applicant, dict[str, Any]]:
        who = who or self.applicant()
        r = await self.client.post("/api/v1/plate-selections", json=self.start_body(who), headers=who.headers)
        assert r.status_code == 201, r.text
        return who, r.json()

    def url(self, selection: dict[str, Any], tail: str = "") -> str:
        return f"/api/v1/plate-selections/{selection['id']}{tail}"

    async def draw(self, who: Applicant, selection: dict[str, Any]) -> httpx.Response:
        return await self.client.post(self.url(selection, "/random-draws"), headers=who.headers)

    async def verify(self, who: Applicant, selection: dict[str, Any], number: str) -> httpx.Response:
        return await self.client.post(
            self.url(selection, "/custom-verifications"), json={"number": number}, headers=who.headers
        )

    async def choose(self, who: Applicant, selection: dict[str, Any], number: str) -> httpx.Response:
        return await self.client.post(
            self.url(selection, "/choice"), json={"number": number}, headers=who.headers
        )

    async def sms_code(self, phone: str) -> str:
        async with self.ctx.runtime.engine.connect() as conn:
            payloads = await outbox_payloads(conn, "notify.sms.send.v1", newest_first=True, phone=phone)
            for payload in payloads[:1]:
                return str(payload["params"]["code"])
        raise AssertionError("no code sent")

    async def confirm(self, who: Applicant, selection: dict[str, Any]) -> httpx.Response:
        r = await self.client.post(self.url(selection, "/sms-code"), headers=who.headers)
        assert r.status_code == 202, r.text
        code = await self.sms_code(who.phone)
        return await self.client.post(
            self.url(selection, "/confirmation"), json={"code": code}, headers=who.headers
        )

    async def get(self, who: Applicant, selection: dict[str, Any]) -> dict[str, Any]:
        r = await self.client.get(self.url(selection), headers=who.headers)
        assert r.status_code == 200, r.text
        body: dict[str, Any] = r.json()
        return body

    async def segment_id(self) -> str:
        return (await self.ctx.catalog.open_segments(self.office, await self.clock.now()))[0].id

    async def open_segment(
        self,
        pattern: str = "3####",
        custom: tuple[str, ...] = ("#####", "3*###"),
        prefix: str = "冀A",
    ) -> str:
        now = await self.clock.now()
        segment_id = await plan_segment(
            self.ctx,
            PlanSegment(
                office_code=self.office,
                prefix=prefix,
                pattern=pattern,
                custom_patterns=list(custom),
                opens_at=now - timedelta(days=1),
            ),
            "test",
            now,
        )
        async with self.ctx.runtime.uow() as uow:
            await uow.session.execute(
                update(segments)
                .where(segments.c.id == segment_id)
                .values(state="published", published_at=now)
            )
            await uow.commit()
        await build_pool(self.ctx, segment_id)
        return segment_id


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    """Every test with a hot state runs on one Redis; the representative set (and all of them under
    `make test-cluster`) on the Redis Cluster as well."""
    if "hot_backend" not in metafunc.fixturenames:
        return
    both = os.environ.get("TMS_TEST_HOT_CLUSTER") == "all" or any(
        m.name == "redis_cluster" for m in metafunc.definition.iter_markers()
    )
    metafunc.parametrize("hot_backend", ["redis", "cluster"] if both else ["redis"], indirect=True)


@pytest.fixture(scope="session")
def redis_cluster() -> Iterator[PrivateRedisCluster]:
    cluster = PrivateRedisCluster(masters=3)
    cluster.start()
    try:
        yield cluster
    finally:
        cluster.stop()


@pytest.fixture
def hot_backend(request: pytest.FixtureRequest) -> str:
    """The hot state's `hot_redis_url`: '' for the service's Redis, or the session's Redis Cluster."""
    if request.param == "cluster":
        cluster: PrivateRedisCluster = request.getfixturevalue("redis_cluster")
        return cluster.url
    return ""


@pytest.fixture
def office() -> str:
    return "13" + f"{secrets.randbelow(10_000):04d}"


@pytest.fixture
async def platform(plate_pool_database: str, office: str, hot_backend: str) -> AsyncIterator[Platform]:
    clock = FixedClock(MONDAY_10AM)
    tokens = TokenFactory()
    settings = PlatePoolSettings(
        hot_prefix=f"pptest:{secrets.token_hex(4)}", hot_redis_url=hot_backend, cache_ttl_s=0
    )
    app = create_app(settings, clock=clock)
    app.state.verifier = tokens.verifier()
    async with service_client(app) as client:
        ctx = app.state.plate
        # Office codes are six digits, so an earlier run may have used this one: start it empty.
        async with ctx.runtime.engine.begin() as conn:
            for table in (allocations, selections, segments):
                await conn.execute(delete(table).where(table.c.office_code == office))
        # Test pools are small (1,000 to 10,000 numbers): test offices serve under the PP-10 floor (set
        # here directly; the admin API refuses it), except where a test of the floor sets the seed's.
        await save_office_settings(ctx.runtime, office, TEST_SETTINGS, superior="130000", name="test office")
        yield Platform(office, clock, tokens, client, ctx)
        # Leave nothing for the next test's sweeps to walk through (they scan the whole database).
        async with ctx.runtime.engine.begin() as conn:
            for table in (allocations, selections, segments):
                await conn.execute(delete(table).where(table.c.office_code == office))
        redis = ctx.hot.redis
        keys = [k async for k in redis.scan_iter(match=f"{settings.hot_prefix}:*", count=1000)]
        if keys:
            await redis.delete(*keys)
