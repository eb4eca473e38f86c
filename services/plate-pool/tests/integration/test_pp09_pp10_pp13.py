"""PP-09 deadlines and bans, PP-10 segments and pool statistics, PP-13 the fairness log."""

from __future__ import annotations

import asyncio
from datetime import datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import func, select, text
from sqlalchemy.exc import DBAPIError

from plate_pool_service import sweeps
from plate_pool_service.domain import OfficeSettings
from plate_pool_service.segments import save_office_settings
from plate_pool_service.tables import fairness_log, selections
from servicekit.clock import SHANGHAI
from servicekit.db import new_metadata

from .conftest import Platform, drain

pytestmark = pytest.mark.integration


async def selected(p: Platform) -> tuple[Any, dict[str, Any], str]:
    who, sel = await p.start()
    drawn = (await p.draw(who, sel)).json()
    await p.choose(who, sel, drawn["numbers"][0])
    r = await p.confirm(who, sel)
    assert r.status_code == 200, r.text
    return who, sel, drawn["numbers"][0]


async def test_pp09_not_registered_within_3_working_days_cancels_and_bans_2_years(platform: Platform) -> None:
    p = platform
    segment = await p.open_segment()
    who, sel, number = await selected(p)
    p.clock.set(datetime(2027, 3, 4, 23, 59, tzinfo=SHANGHAI))
    await drain(sweeps.register_deadlines, p.ctx.runtime)
    assert (await p.get(who, sel))["state"] == "selected"  # still Thursday: within the deadline
    p.clock.advance(timedelta(hours=1))  # Friday 00:59
    assert await drain(sweeps.register_deadlines, p.ctx.runtime) >= 1
    view = await p.get(who, sel)
    assert (view["state"], view["cancel_reason"]) == ("cancelled", "not_registered_in_time")
    # The number goes back to the pool; the ledger row is released.
    assert (await p.ctx.hot.counts(segment)).allocated == 0
    outbox = new_metadata().tables["outbox"]
    async with p.ctx.runtime.engine.connect() as conn:
        payloads = (
            await conn.execute(
                select(outbox.c.payload).where(outbox.c.routing_key == "plate-pool.selection.cancelled.v1")
            )
        ).scalars()
        mine = [x for x in payloads if x["selection_id"] == sel["id"]]
    assert [(x["reason"], x["plate_number"], x["ban_until"]) for x in mine] == [
        ("not_registered_in_time", number, "2029-03-05")
    ]
    # The ban: no online pre-selection for this owner for 2 years (another car, same person).
    p.clock.advance(timedelta(hours=9))
    again = p.applicant()
    again.id_number, again.token, again.subject = who.id_number, who.token, who.subject
    again.phone = who.phone  # the same person: the same registered phone (PP-07)
    r = await p.client.post("/api/v1/plate-selections", json=p.start_body(again), headers=again.headers)
    assert (r.status_code, r.json()["code"], r.json()["rule"], r.json()["ban_until"]) == (
        409,
        "PRESELECTION_BANNED",
        "PP-09",
        "2029-03-05",
    )


@pytest.mark.redis_cluster
async def test_pp13_every_draw_verify_hold_and_confirmation_is_logged_append_only(platform: Platform) -> None:
    p = platform
    await p.open_segment()
    who, sel = await p.start()
    await p.verify(who, sel, "冀A41234")  # refused: not allowed
    first = (await p.draw(who, sel)).json()
    second = (await p.draw(who, sel)).json()
    await p.choose(who, sel, second["numbers"][1])
    await p.confirm(who, sel)
    while await sweeps.drain_fairness_log(p.ctx.runtime):
        pass
    async with p.ctx.runtime.engine.connect() as conn:
        rows = (
            await conn.execute(
                select(fairness_log)
                .where(fairness_log.c.selection_id == sel["id"])
                .order_by(fairness_log.c.id)
            )
        ).all()
    # The ledger's own row, written in the confirmation's transaction; then the stream's, in order.
    assert [(r.op, r.held) for r in rows if r.stream_id is None] == [("allocate", [second["numbers"][1]])]
    streamed = sorted(
        (r for r in rows if r.stream_id is not None),
        key=lambda r: tuple(int(x) for x in r.stream_id.split("-")),
    )
    rows = streamed
    ops = [(r.op, r.held, r.released) for r in rows]
    assert ops[0][0] == "verify"
    assert rows[0].detail["refused"] == "not_allowed"
    assert ops[1] == ("draw", first["numbers"], [])
    assert ops[2] == ("draw", second["numbers"], first["numbers"])
    assert ops[3] == (
        "choose",
        [second["numbers"][1]],
        [n for n in second["numbers"] if n != second["numbers"][1]],
    )
    assert ops[4:] == [("confirm", [second["numbers"][1]], [])]
    async with p.ctx.runtime.engine.connect() as conn:
        with pytest.raises(DBAPIError, match="append-only"):
            await conn.execute(text("DELETE FROM fairness_log WHERE selection_id = :s"), {"s": sel["id"]})


@pytest.mark.redis_cluster
async def test_pp13_one_drain_run_copies_a_burst_of_draws_and_keeps_the_last_counters(
    platform: Platform,
) -> None:
    """A segment's opening writes thousands of entries a second; one run of the drain (it runs every
    second) copies more than one batch, so the stream does not grow toward its cap and lose entries."""
    p = platform
    segment = await p.open_segment()
    _, sel = await p.start()
    burst = sweeps.DRAIN_BATCH * 2 + 7
    redis = p.ctx.hot.redis
    async with redis.pipeline(transaction=False) as pipe:
        for i in range(burst):
            fields = {"op": "draw", "at": "1", "seg": segment, "sel": sel["id"], "held": "", "dl": burst - i}
            pipe.xadd(p.ctx.hot.log_key(segment), fields)  # type: ignore[arg-type]
        await pipe.execute()
    assert await sweeps.drain_fairness_log(p.ctx.runtime) == burst
    assert await redis.xlen(p.ctx.hot.log_key(segment)) == 0
    async with p.ctx.runtime.engine.connect() as conn:
        copied = (
            await conn.execute(
                select(func.count())
                .select_from(fairness_log)
                .where(fairness_log.c.selection_id == sel["id"])
                .where(fairness_log.c.op == "draw")
            )
        ).scalar()
        left = (
            await conn.execute(select(selections.c.draws_left).where(selections.c.id == sel["id"]))
        ).scalar()
    assert copied == burst
    assert left == 1  # the last entry's word


async def test_pp10_segments_are_planned_approved_by_the_superior_and_published_3_working_days_ahead(
    platform: Platform,
) -> None:
    p = platform
    admin = p.tokens.headers(p.tokens.clerk(roles=("clerk.admin",), office=p.office))
    superior = p.tokens.headers(p.tokens.clerk(roles=("clerk.admin",), office="130000"))
    body = {
        "office_code": p.office,
        "prefix": "冀A",
        "pattern": "5####",
        "custom_patterns": ["#####"],
        "opens_at": "2027-03-04T08:00:00+08:00",
    }
    r = await p.client.post("/api/v1/plate-segments", json={**body, "pattern": "512##"}, headers=admin)
    assert (r.status_code, r.json()["code"], r.json()["rule"]) == (422, "SEGMENT_TOO_SMALL", "PP-10")
    r = await p.client.post("/api/v1/plate-segments", json={**body, "pattern": "5I###"}, headers=admin)
    assert (r.status_code, r.json()["code"]) == (422, "SEGMENT_INVALID")
    r = await p.client.post("/api/v1/plate-segments", json=body, headers=admin)
    assert r.status_code == 201, r.text
    segment = r.json()
    assert (segment["size"], segment["first_number"], segment["last_number"]) == (
        10_000,
        "冀A50000",
        "冀A59999",
    )
    r = await p.client.post(f"/api/v1/plate-segments/{segment['id']}/publication", headers=admin)
    assert (r.status_code, r.json()["code"]) == (409, "SEGMENT_NOT_APPROVED")
    r = await p.client.post(f"/api/v1/plate-segments/{segment['id']}/approval", headers=admin)
    assert r.json()["code"] == "NOT_SUPERIOR_OFFICE"
    r = await p.client.post(f"/api/v1/plate-segments/{segment['id']}/approval", headers=superior)
    assert r.json()["state"] == "approved"
    # Monday: opening on Thursday is 3 working days ahead... but the 3rd working day after Monday is Thursday.
    r = await p.client.post(f"/api/v1/plate-segments/{segment['id']}/publication", headers=admin)
    assert r.status_code == 200, r.text
    assert r.json()["statistics"] == {"available": 10_000, "held": 0, "allocated": 0, "queued": 0}
    listed = (await p.client.get("/api/v1/plate-segments", params={"office_code": p.office})).json()
    assert [s["id"] for s in listed["items"]] == [segment["id"]]


async def test_pp10_publication_less_than_3_working_days_ahead_is_refused(platform: Platform) -> None:
    p = platform
    admin = p.tokens.headers(p.tokens.clerk(roles=("clerk.admin",), office=p.office))
    superior = p.tokens.headers(p.tokens.clerk(roles=("clerk.admin",), office="130000"))
    body = {
        "office_code": p.office,
        "prefix": "冀A",
        "pattern": "6####",
        "custom_patterns": ["#####"],
        "opens_at": "2027-03-03T08:00:00+08:00",
    }
    segment = (await p.client.post("/api/v1/plate-segments", json=body, headers=admin)).json()
    await p.client.post(f"/api/v1/plate-segments/{segment['id']}/approval", headers=superior)
    r = await p.client.post(f"/api/v1/plate-segments/{segment['id']}/publication", headers=admin)
    assert (r.status_code, r.json()["code"], r.json()["earliest_opening"]) == (
        409,
        "PUBLICATION_TOO_LATE",
        "2027-03-04",
    )


async def test_pp10_an_office_under_50000_available_raises_an_alert(platform: Platform) -> None:
    p = platform
    await save_office_settings(p.ctx.runtime, p.office, OfficeSettings())  # the seed's floor, 50,000
    p.ctx.catalog.forget_settings(p.office)
    await p.open_segment()  # 10,000 numbers: under the floor
    async with p.ctx.runtime.engine.connect() as conn:
        since = (await conn.execute(text("SELECT now()"))).scalar_one()
    await sweeps.pools(p.ctx.runtime)
    await sweeps.pools(p.ctx.runtime)  # once an hour at most
    outbox = new_metadata().tables["outbox"]
    async with p.ctx.runtime.engine.connect() as conn:
        alerts = [
            x
            for x in (
                await conn.execute(
                    select(outbox.c.payload)
                    .where(outbox.c.routing_key == "plate-pool.pool.low.v1")
                    .where(outbox.c.created_at >= since)
                )
            ).scalars()
            if x["office_code"] == p.office
        ]
    assert [(a["available"], a["threshold"]) for a in alerts] == [(10_000, 50_000)]


async def test_pp13_the_public_segment_list_pages_with_a_cursor(platform: Platform) -> None:
    """api.md: lists page with `limit` and `cursor`; none is cut short without a cursor to the rest."""
    p = platform
    opened = {await p.open_segment(pattern=pattern) for pattern in ("31###", "32###", "33###")}
    params: dict[str, Any] = {"office_code": p.office, "limit": 2}
    first = (await p.client.get("/api/v1/plate-segments", params=params)).json()
    assert len(first["items"]) == 2
    assert first["next_cursor"] is not None
    second = (
        await p.client.get("/api/v1/plate-segments", params={**params, "cursor": first["next_cursor"]})
    ).json()
    assert second["next_cursor"] is None
    assert {s["id"] for s in first["items"] + second["items"]} == opened
    r = await p.client.get("/api/v1/plate-segments", params={**params, "cursor": "not-a-cursor"})
    assert (r.status_code, r.json()["code"]) == (422, "INVALID_CURSOR")


async def test_pp10_a_segment_approved_or_published_twice_at_once_moves_once(platform: Platform) -> None:
    """Two admins pressing at once: one approval, one publication, one pool built; the other answers 409."""
    p = platform
    admin = p.tokens.headers(p.tokens.clerk(roles=("clerk.admin",), office=p.office))
    superior = p.tokens.headers(p.tokens.clerk(roles=("clerk.admin",), office="130000"))
    body = {
        "office_code": p.office,
        "prefix": "冀A",
        "pattern": "7####",
        "custom_patterns": ["#####"],
        "opens_at": "2027-03-04T08:00:00+08:00",
    }
    segment = (await p.client.post("/api/v1/plate-segments", json=body, headers=admin)).json()
    url = f"/api/v1/plate-segments/{segment['id']}"
    approvals = await asyncio.gather(*(p.client.post(f"{url}/approval", headers=superior) for _ in range(4)))
    assert sorted(r.status_code for r in approvals) == [200, 409, 409, 409]
    published = await asyncio.gather(*(p.client.post(f"{url}/publication", headers=admin) for _ in range(4)))
    assert sorted(r.status_code for r in published) == [200, 409, 409, 409]
    assert {r.json()["code"] for r in published if r.status_code == 409} == {"SEGMENT_NOT_APPROVED"}
    statistics = (await p.client.get("/api/v1/plate-segments", params={"office_code": p.office})).json()
    (mine,) = [s for s in statistics["items"] if s["id"] == segment["id"]]
    assert mine["statistics"]["available"] == 10_000


async def test_pp10_admins_see_the_plans_of_their_office_and_those_they_approve(platform: Platform) -> None:
    """A planned segment is not public; its office's admin and the superior office's admin see it (the one to
    publish it, the other to approve it) with the superior named; an admin of another office does not."""
    p = platform
    admin = p.tokens.headers(p.tokens.clerk(roles=("clerk.admin",), office=p.office))
    superior = p.tokens.headers(p.tokens.clerk(roles=("clerk.admin",), office="130000"))
    stranger = p.tokens.headers(p.tokens.clerk(roles=("clerk.admin",), office="120000"))
    reviewer = p.tokens.headers(p.tokens.clerk(roles=("clerk.review",), office=p.office))
    body = {
        "office_code": p.office,
        "prefix": "冀A",
        "pattern": "8####",
        "custom_patterns": ["#####"],
        "opens_at": "2027-03-04T08:00:00+08:00",
    }
    segment = (await p.client.post("/api/v1/plate-segments", json=body, headers=admin)).json()
    # The answer's shape, as before the response model.
    assert segment == {
        "id": segment["id"],
        "office_code": p.office,
        "prefix": "冀A",
        "pattern": "8####",
        "first_number": "冀A80000",
        "last_number": "冀A89999",
        "size": 10_000,
        "custom_patterns": ["#####"],
        "opens_at": "2027-03-04T08:00:00+08:00",
        "state": "planned",
        "published_at": None,
        "statistics": None,
    }
    public = (await p.client.get("/api/v1/plate-segments", params={"office_code": p.office})).json()
    assert public["items"] == []
    r = await p.client.get("/api/v1/plate-segments/plans", headers=admin)
    assert r.status_code == 200, r.text
    (mine,) = r.json()["items"]
    assert {k: mine[k] for k in segment} == segment
    assert (mine["superior_office_code"], mine["planned_at"], mine["approved_at"]) == (
        "130000",
        "2027-03-01T10:00:00+08:00",
        None,
    )
    planned = (
        await p.client.get("/api/v1/plate-segments/plans", params={"state": "planned"}, headers=superior)
    ).json()
    assert segment["id"] in [s["id"] for s in planned["items"]]
    assert all(s["state"] == "planned" for s in planned["items"])
    others = (await p.client.get("/api/v1/plate-segments/plans", headers=stranger)).json()
    assert segment["id"] not in [s["id"] for s in others["items"]]
    assert (await p.client.get("/api/v1/plate-segments/plans", headers=reviewer)).status_code == 403
    await p.client.post(f"/api/v1/plate-segments/{segment['id']}/approval", headers=superior)
    (mine,) = (await p.client.get("/api/v1/plate-segments/plans", headers=admin)).json()["items"]
    assert (mine["state"], mine["approved_at"]) == ("approved", "2027-03-01T10:00:00+08:00")


async def test_pp06a_office_settings_answer_every_count_and_window(platform: Platform) -> None:
    p = platform
    admin = p.tokens.headers(p.tokens.clerk(roles=("clerk.admin",), office=p.office))
    url = f"/api/v1/plate-segments/offices/{p.office}/settings"
    assert (await p.client.get(url)).json() == TEST_SETTINGS_JSON
    r = await p.client.put(url, json={"random_draws": 5, "closes_at": "22:00"}, headers=admin)
    assert r.status_code == 200, r.text
    assert r.json() == {**TEST_SETTINGS_JSON, "random_draws": 5, "closes_at": "22:00"}
    r = await p.client.put(url, json={"draws": 5}, headers=admin)
    assert (r.status_code, r.json()["code"], r.json()["rule"]) == (422, "INVALID_SETTINGS", "PP-06a")


TEST_SETTINGS_JSON = {
    "custom_attempts": 20,
    "random_draws": 10,
    "draw_size": 5,
    "hold_seconds": 180,
    "session_minutes": 60,
    "opens_at": "08:00",
    "closes_at": "23:00",
    "sms_minutes": 30,
    "register_working_days": 3,
    "ban_years": 2,
    "low_pool_threshold": 0,
}
