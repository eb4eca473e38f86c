"""WD-01 (ADR 0004): plate-pool keeps a copy of the office calendar identity owns, from
`identity.workday_calendar.year_set.v1`, and PP-08's register-by counts its working days; a register-by
that reaches a year nobody set is refused (503) before anything irreversible. The handler runs as the
consumer runs it (inside a unit of work, then commit)."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Any

import pytest
from sqlalchemy import delete, select

from plate_pool_service.subscriptions import calendar_subscriptions
from plate_pool_service.tables import metadata, selections
from servicekit.clock import SHANGHAI
from servicekit.envelope import Envelope

from .conftest import Platform

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


async def deliver(p: Platform, data: dict[str, Any]) -> None:
    (subscription,) = calendar_subscriptions(lambda uow: p.ctx)
    (model,) = subscription.handles.values()
    envelope = Envelope(
        id=uuid.uuid4(),
        type=next(iter(subscription.handles)),
        source="/identity",
        time=datetime.now(UTC),
        subject=str(data["year"]),
        data=data,
        trace_headers={},
    )
    async with p.ctx.runtime.uow() as uow:
        await subscription.handler(uow, model.model_validate(data), envelope)
        await uow.commit()


async def held(p: Platform, year: int) -> tuple[Any, list[tuple[str, bool, str]]]:
    async with p.ctx.runtime.engine.connect() as conn:
        head = (await conn.execute(select(YEARS).where(YEARS.c.year == year))).first()
        days = (
            await conn.execute(
                select(DAYS.c.day, DAYS.c.working, DAYS.c.name)
                .where(DAYS.c.year == year)
                .order_by(DAYS.c.day)
            )
        ).all()
    return head, [(d.day.isoformat(), d.working, d.name) for d in days]


async def test_wd01_year_set_event_sets_the_year_and_a_repeat_or_replacement_is_idempotent(
    platform: Platform,
) -> None:
    p = platform
    year = 2040  # this test's own year: start it unset
    async with p.ctx.runtime.engine.begin() as conn:
        await conn.execute(delete(DAYS).where(DAYS.c.year == year))
        await conn.execute(delete(YEARS).where(YEARS.c.year == year))
    first = {
        "year": year,
        "source": "notice 1",
        "days": [
            {"date": "2040-01-01", "working": False, "name": "元旦"},
            {"date": "2040-01-02", "working": False, "name": "元旦"},
        ],
        "set_at": "2039-11-20T10:00:00+08:00",
    }
    await deliver(p, first)
    await deliver(p, first)  # a repeat (another message id: the inbox did not absorb it) changes nothing
    head, days = await held(p, year)
    assert (head.source, head.set_by, head.set_at) == (
        "notice 1",
        "identity",
        datetime(2039, 11, 20, 10, 0, tzinfo=SHANGHAI),
    )
    assert days == [("2040-01-01", False, "元旦"), ("2040-01-02", False, "元旦")]
    # A later setting replaces the year whole: 2 January is a working day again, 4 February a 调休.
    second = {
        "year": year,
        "source": "notice 2",
        "days": [
            {"date": "2040-01-01", "working": False, "name": "元旦"},
            {"date": "2040-02-04", "working": True, "name": "春节调休"},
        ],
        "set_at": "2039-11-25T10:00:00+08:00",
    }
    await deliver(p, second)
    await deliver(p, first)  # the first setting delivered late again: the later one stands
    head, days = await held(p, year)
    assert head.source == "notice 2"
    assert days == [("2040-01-01", False, "元旦"), ("2040-02-04", True, "春节调休")]
    calendar = await p.ctx.office_calendar.refresh_if_stale(p.ctx.runtime.engine)
    assert calendar.is_working_day(datetime(2040, 1, 2).date())
    assert calendar.is_working_day(datetime(2040, 2, 4).date())  # a Saturday, worked


async def _awaiting_sms(p: Platform, at: datetime) -> tuple[Any, dict[str, Any]]:
    p.clock.set(at)
    await p.open_segment()
    who, sel = await p.start()
    drawn = (await p.draw(who, sel)).json()
    r = await p.choose(who, sel, drawn["numbers"][0])
    assert r.status_code == 200, r.text
    return who, sel


async def test_wd01_pp08_register_by_crossing_into_a_set_year_counts_its_holiday(platform: Platform) -> None:
    p = platform
    await deliver(p, YEAR_2028)
    # Thursday 30 December 2027: Fri 31 (1), Mon 3 January off, Tue 4 (2), Wed 5 (3).
    who, sel = await _awaiting_sms(p, datetime(2027, 12, 30, 10, 0, tzinfo=SHANGHAI))
    r = await p.confirm(who, sel)
    assert r.status_code == 200, r.text
    assert r.json()["state"] == "selected"
    assert r.json()["register_by"] == "2028-01-05T23:59:59.999999+08:00"  # weekends only would say the 4th


async def test_wd01_pp08_register_by_reaching_a_year_nobody_set_is_refused_and_nothing_is_lost(
    platform: Platform,
) -> None:
    p = platform
    # Friday 27 December 2030 (2030 set by the fixture): Mon 30 (1), Tue 31 (2), then 2031, set by nobody.
    who, sel = await _awaiting_sms(p, datetime(2030, 12, 27, 10, 0, tzinfo=SHANGHAI))
    r = await p.client.post(p.url(sel, "/sms-code"), headers=who.headers)
    assert r.status_code == 202, r.text
    code = await p.sms_code(who.phone)
    confirm = {"json": {"code": code}, "headers": who.headers}
    refused = await p.client.post(p.url(sel, "/confirmation"), **confirm)
    assert refused.status_code == 503, refused.text
    body = refused.json()
    assert (body["code"], body["rule"], body["year"]) == ("WORKDAY_CALENDAR_NOT_SET", "WD-01", 2031)
    # Refused before anything irreversible: the number is still held for this selection, the code unspent,
    # no ledger row, no register-by guessed from the weekends.
    view = await p.get(who, sel)
    assert (view["state"], view["register_by"]) == ("awaiting_sms", None)
    async with p.ctx.runtime.engine.connect() as conn:
        state = (
            await conn.execute(select(selections.c.state).where(selections.c.id == uuid.UUID(sel["id"])))
        ).scalar()
    assert state == "awaiting_sms"
    hot = await p.ctx.hot.selection(sel["id"], await p.segment_id())
    assert hot is not None
    assert (hot.state, hot.chosen_allocated) == ("awaiting_sms", False)
    # The admin sets 2031 at identity (1 January off); within the SMS window the same code confirms.
    await deliver(
        p,
        {
            "year": 2031,
            "source": "test fixture: 2031",
            "days": [{"date": "2031-01-01", "working": False, "name": "元旦"}],
            "set_at": "2030-12-27T10:05:00+08:00",
        },
    )
    try:
        done = await p.client.post(p.url(sel, "/confirmation"), **confirm)
        assert done.status_code == 200, done.text
        assert done.json()["plate_number"] == view["plate_number"]
        assert done.json()["register_by"] == "2031-01-02T23:59:59.999999+08:00"
    finally:  # 2031 stays a year nobody set, for the next run
        async with p.ctx.runtime.engine.begin() as conn:
            await conn.execute(delete(DAYS).where(DAYS.c.year == 2031))
            await conn.execute(delete(YEARS).where(YEARS.c.year == 2031))
        p.ctx.office_calendar.invalidate()
