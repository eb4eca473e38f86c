"""WD-01: the office calendar is data an admin sets over HTTP; the calendar consults it first, then the
package, and refuses a year nobody set. Real PostgreSQL (a database of its own per test)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any, ClassVar

import httpx
import pytest
from fastapi import APIRouter, Request
from pydantic import SecretStr
from sqlalchemy import select

from servicekit.clock import SHANGHAI, FixedClock
from servicekit.db import add_workday_tables, new_metadata
from servicekit.runtime import Runtime
from servicekit.settings import (
    BrokerSettings,
    DatabaseSettings,
    RedisSettings,
    ServiceSettings,
    settings_config,
)
from servicekit.testing import TokenFactory, service_client
from servicekit.web import create_service_app
from servicekit.web.workdays import office_calendar_router
from servicekit.workdays import CalendarYearNotSet, OfficeCalendar, OfficeDay

from .messaging_kit import create_tables

pytestmark = pytest.mark.integration

NOW = datetime(2026, 11, 20, 10, 0, tzinfo=SHANGHAI)
YEAR_2027 = {
    "source": "国务院办公厅关于2027年部分节假日安排的通知 (test fixture)",
    "days": [
        {"date": "2027-01-01", "working": False, "name": "元旦"},
        {"date": "2027-02-20", "working": True, "name": "春节调休"},
    ],
}


class CalSettings(ServiceSettings):
    service_name: ClassVar[str] = "calendar-demo"
    model_config = settings_config("calendar-demo")


@dataclass
class Env:
    client: httpx.AsyncClient
    runtime: Runtime
    office: OfficeCalendar
    ticks: list[float]
    admin: dict[str, str]
    clerk: dict[str, str]


@pytest.fixture
async def env(pg_database: str, redis_url: str, amqp_url: str, tokens: TokenFactory) -> AsyncIterator[Env]:
    metadata = new_metadata()
    add_workday_tables(metadata)
    create_tables(pg_database, metadata)
    ticks = [0.0]
    office = OfficeCalendar(metadata, max_age_s=60, monotonic=lambda: ticks[0])
    settings = CalSettings(
        secret_key=SecretStr("test-secret"),
        database=DatabaseSettings(url=pg_database, pool_size=2),
        redis=RedisSettings(url=redis_url),
        broker=BrokerSettings(url=SecretStr(amqp_url)),
    )
    deadline_router = APIRouter()

    @deadline_router.get("/api/v1/demo/deadline")
    async def deadline(request: Request, at: datetime, n: int) -> dict[str, Any]:
        runtime: Runtime = request.app.state.runtime
        async with runtime.engine.connect() as conn:
            cal = await office.calendar(conn)
        return {"deadline": cal.deadline_end_of_working_day(at, n).isoformat()}

    app = create_service_app(
        settings,
        title="calendar",
        routers=[office_calendar_router(lambda request: office), deadline_router],
        runtime_factory=lambda: Runtime.open(settings, metadata, clock=FixedClock(NOW)),
    )
    app.state.verifier = tokens.verifier()
    async with service_client(app) as client:
        yield Env(
            client=client,
            runtime=app.state.runtime,
            office=office,
            ticks=ticks,
            admin=tokens.headers(tokens.clerk("admin-1", roles=("clerk.admin",))),
            clerk=tokens.headers(tokens.clerk("clerk-1", roles=("clerk.review",))),
        )


async def test_wd01_unset_year_answers_503_until_the_admin_sets_it(env: Env) -> None:
    params = {"at": "2026-12-30T10:00:00+08:00", "n": 3}
    refused = await env.client.get("/api/v1/demo/deadline", params=params)
    assert refused.status_code == 503
    assert (refused.json()["code"], refused.json()["rule"], refused.json()["year"]) == (
        "WORKDAY_CALENDAR_NOT_SET",
        "WD-01",
        2027,
    )
    r = await env.client.put("/api/v1/workdays/2027", json=YEAR_2027, headers=env.admin)
    assert r.status_code == 200, r.text
    body = r.json()
    assert (body["set"], body["known_by_package"], body["set_by"]) == (True, False, "admin-1")
    assert [d["date"] for d in body["days"]] == ["2027-01-01", "2027-02-20"]
    # The process that set the year sees it at once: Thu 31 Dec, (1 Jan off), Mon 4, Tue 5 Jan.
    ok = await env.client.get("/api/v1/demo/deadline", params=params)
    assert ok.status_code == 200, ok.text
    assert ok.json()["deadline"].startswith("2027-01-05T23:59:59")
    listed = await env.client.get("/api/v1/workdays/2027", headers=env.admin)
    assert listed.json() == body
    async with env.runtime.engine.connect() as conn:
        audit = (await conn.execute(select(env.runtime.metadata.tables["audit_log"]))).one()
    assert (audit.actor, audit.role, audit.action, audit.target) == (
        "admin-1",
        "clerk.admin",
        "office_calendar_year_set",
        "office_calendar:2027",
    )


async def test_wd01_only_an_admin_sets_or_lists_the_calendar(env: Env) -> None:
    assert (
        await env.client.put("/api/v1/workdays/2027", json=YEAR_2027, headers=env.clerk)
    ).status_code == 403
    assert (await env.client.get("/api/v1/workdays/2027", headers=env.clerk)).status_code == 403
    assert (await env.client.get("/api/v1/workdays/2027")).status_code == 401
    unset = await env.client.get("/api/v1/workdays/2027", headers=env.admin)
    assert (unset.json()["set"], unset.json()["days"]) == (False, [])


async def test_wd01_days_outside_the_year_or_twice_are_refused(env: Env) -> None:
    wrong_year = {"source": "x", "days": [{"date": "2028-01-01", "working": False}]}
    r = await env.client.put("/api/v1/workdays/2027", json=wrong_year, headers=env.admin)
    assert r.status_code == 422
    assert (r.json()["code"], r.json()["rule"]) == ("CALENDAR_DAY_INVALID", "WD-01")
    twice = {"source": "x", "days": [{"date": "2027-01-01", "working": False}] * 2}
    assert (await env.client.put("/api/v1/workdays/2027", json=twice, headers=env.admin)).status_code == 422
    assert (await env.client.get("/api/v1/workdays/2027", headers=env.admin)).json()["set"] is False


async def test_wd01_table_overrides_the_package_and_another_replica_sees_it_after_max_age(env: Env) -> None:
    other = OfficeCalendar(env.runtime.metadata, max_age_s=60, monotonic=lambda: env.ticks[0])
    async with env.runtime.engine.connect() as conn:
        assert (await other.calendar(conn)).is_working_day(date(2026, 10, 9))  # a Friday at work
    async with env.runtime.uow() as uow:
        await env.office.set_year(
            uow.session,
            2026,
            [OfficeDay(date(2026, 10, 9), working=False, name="local closure")],
            source="office notice",
            set_by="admin-1",
            now=uow.now,
        )
        await uow.commit()
    async with env.runtime.engine.connect() as conn:
        assert not (await env.office.calendar(conn)).is_working_day(date(2026, 10, 9))
        assert (await other.calendar(conn)).is_working_day(date(2026, 10, 9))  # cached, not yet stale
        env.ticks[0] += 61
        cal = await other.calendar(conn)
        assert not cal.is_working_day(date(2026, 10, 9))
        assert not cal.is_working_day(date(2026, 10, 1))  # the rest of 2026 still from the package
        with pytest.raises(CalendarYearNotSet):
            cal.is_working_day(date(2027, 3, 1))
    # Setting a year again replaces it whole.
    async with env.runtime.uow() as uow:
        await env.office.set_year(uow.session, 2026, [], source="withdrawn", set_by="admin-1", now=uow.now)
        await uow.commit()
    async with env.runtime.engine.connect() as conn:
        assert (await env.office.calendar(conn)).is_working_day(date(2026, 10, 9))


async def test_wd01_a_consumers_copy_is_replaced_whole_and_an_older_setting_never_wins(env: Env) -> None:
    first = datetime(2026, 11, 21, 9, 0, tzinfo=SHANGHAI)
    later = datetime(2026, 11, 25, 9, 0, tzinfo=SHANGHAI)
    holiday, extra = OfficeDay(date(2027, 1, 1), False, "元旦"), OfficeDay(date(2027, 1, 4), False, "closure")
    async with env.runtime.uow() as uow:
        assert await env.office.keep_year(
            uow.session, 2027, [holiday, extra], source="v1", set_by="identity", set_at=first
        )
        await uow.commit()
    async with env.runtime.uow() as uow:  # a repeat, then the later setting without the closure
        assert await env.office.keep_year(
            uow.session, 2027, [holiday, extra], source="v1", set_by="identity", set_at=first
        )
        assert await env.office.keep_year(
            uow.session, 2027, [holiday], source="v2", set_by="identity", set_at=later
        )
        await uow.commit()
    async with env.runtime.uow() as uow:  # the first setting, delivered late, changes nothing
        assert not await env.office.keep_year(
            uow.session, 2027, [holiday, extra], source="v1", set_by="identity", set_at=first
        )
        await uow.commit()
    async with env.runtime.engine.connect() as conn:
        held = await env.office.year(conn, 2027)
        cal = await env.office.calendar(conn)
    assert held is not None
    assert (held.source, held.days) == ("v2", (holiday,))
    assert cal.is_working_day(date(2027, 1, 4))
    assert not cal.is_working_day(date(2027, 1, 1))
