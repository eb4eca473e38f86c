"""WD-01 (ADR 0004): vehicle keeps a copy of the office calendar identity owns, from
`identity.workday_calendar.year_set.v1`, and VH-09's 1-working-day intake due date counts its working days;
one that reaches a year nobody set is refused (503) with nothing written."""

from __future__ import annotations

import secrets
from datetime import datetime
from typing import Any

import httpx
import pytest
from sqlalchemy import delete, func, select

from servicekit.clock import SHANGHAI, FixedClock
from servicekit.runtime import Runtime
from servicekit.testing import TokenFactory
from vehicle_service import subscriptions as subs
from vehicle_service.tables import applications, metadata
from vehicle_service.workdays import OFFICE_CALENDAR

from .conftest import Actors, deliver, register_bound

pytestmark = pytest.mark.integration

YEARS = metadata.tables["office_calendar_years"]
DAYS = metadata.tables["office_calendar_days"]
# A test fixture, not the State Council's notice: 2028 with 元旦 on Saturday and Monday 3 January off.
YEAR_2028 = {
    "year": 2028,
    "source": "test fixture: 2028 with 3 January off",
    "days": [
        {"date": "2028-01-01", "working": False, "name": "元旦"},
        {"date": "2028-01-03", "working": False, "name": "元旦补休"},
    ],
    "set_at": "2027-11-20T10:00:00+08:00",
    "something_identity_added": True,
}
LATER = "2031-06-30"


@pytest.fixture
def actors(tokens: TokenFactory) -> Actors:
    return Actors(tokens, office="13" + "".join(secrets.choice("0123456789") for _ in range(4)))


async def held(runtime: Runtime, year: int) -> tuple[Any, list[tuple[str, bool, str]]]:
    async with runtime.engine.connect() as conn:
        head = (await conn.execute(select(YEARS).where(YEARS.c.year == year))).first()
        days = (
            await conn.execute(
                select(DAYS.c.day, DAYS.c.working, DAYS.c.name)
                .where(DAYS.c.year == year)
                .order_by(DAYS.c.day)
            )
        ).all()
    return head, [(d.day.isoformat(), d.working, d.name) for d in days]


async def apply(client: httpx.AsyncClient, actors: Actors, vehicle: dict[str, Any]) -> httpx.Response:
    return await client.post(
        "/api/v1/vehicle-applications",
        json={"vehicle_id": vehicle["id"], "item": "plate", "kind": "reissue", "delivery": "pickup"},
        headers=actors.citizen(vehicle["owner_id_number"]),
    )


async def test_wd01_year_set_event_sets_the_year_and_a_repeat_or_replacement_is_idempotent(
    runtime: Runtime,
) -> None:
    year = 2040  # this test's own year: start it unset
    async with runtime.engine.begin() as conn:
        await conn.execute(delete(DAYS).where(DAYS.c.year == year))
        await conn.execute(delete(YEARS).where(YEARS.c.year == year))
    first = {
        "year": year,
        "source": "notice 1",
        "days": [{"date": "2040-01-02", "working": False, "name": "元旦"}],
        "set_at": "2039-11-20T10:00:00+08:00",
    }
    await deliver(runtime, subs.WORKDAY_CALENDAR, first)
    await deliver(runtime, subs.WORKDAY_CALENDAR, first)  # a repeat the inbox did not absorb
    head, days = await held(runtime, year)
    assert (head.source, head.set_by) == ("notice 1", "identity")
    assert days == [("2040-01-02", False, "元旦")]
    second = {
        "year": year,
        "source": "notice 2",
        "days": [{"date": "2040-02-04", "working": True, "name": "春节调休"}],
        "set_at": "2039-11-25T10:00:00+08:00",
    }
    await deliver(runtime, subs.WORKDAY_CALENDAR, second)
    await deliver(runtime, subs.WORKDAY_CALENDAR, first)  # the older setting, late: the later one stands
    head, days = await held(runtime, year)
    assert head.source == "notice 2"
    assert days == [("2040-02-04", True, "春节调休")]


async def test_wd01_vh09_intake_due_crossing_into_a_set_year_counts_its_holiday(
    client: httpx.AsyncClient, actors: Actors, runtime: Runtime, clock: FixedClock
) -> None:
    vehicle = await register_bound(
        client, actors, runtime, inspection_valid_until=LATER, insurance_valid_until=LATER
    )
    await deliver(runtime, subs.WORKDAY_CALENDAR, YEAR_2028)
    clock.set(datetime(2027, 12, 31, 10, 0, tzinfo=SHANGHAI))  # a Friday: Mon 3 January is off
    r = await apply(client, actors, vehicle)
    assert r.status_code == 201, r.text
    due = datetime.fromisoformat(r.json()["intake_due"]).astimezone(SHANGHAI)
    assert due.date().isoformat() == "2028-01-04"  # weekends only would say the 3rd


async def test_wd01_vh09_intake_due_reaching_a_year_nobody_set_is_refused(
    client: httpx.AsyncClient, actors: Actors, runtime: Runtime, clock: FixedClock
) -> None:
    vehicle = await register_bound(
        client, actors, runtime, inspection_valid_until=LATER, insurance_valid_until=LATER
    )
    async with runtime.engine.connect() as conn:
        assert await OFFICE_CALENDAR.year(conn, 2031) is None
    clock.set(datetime(2030, 12, 31, 10, 0, tzinfo=SHANGHAI))  # the next day is in 2031, set by nobody
    r = await apply(client, actors, vehicle)
    assert r.status_code == 503, r.text
    assert (r.json()["code"], r.json()["rule"], r.json()["year"]) == (
        "WORKDAY_CALENDAR_NOT_SET",
        "WD-01",
        2031,
    )
    async with runtime.engine.connect() as conn:
        count = (
            await conn.execute(
                select(func.count())
                .select_from(applications)
                .where(applications.c.vehicle_id == vehicle["id"])
            )
        ).scalar()
    assert count == 0
