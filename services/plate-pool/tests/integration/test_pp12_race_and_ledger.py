"""PP-12: many selections fighting over few numbers: none held by two, none allocated twice, none leaked;
the ledger refuses a double allocation even when Redis is wrong; Redis loss is rebuilt from the ledger."""

from __future__ import annotations

import asyncio
from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import func, select

from plate_pool_service import sweeps
from plate_pool_service.tables import allocations

from .conftest import Applicant, Platform

pytestmark = pytest.mark.integration

CONTENDERS = 300
FREE = 100


async def accounting(p: Platform, segment: str, size: int) -> dict[str, int]:
    redis = p.ctx.hot.redis
    bits = await redis.bitcount(p.ctx.hot.seg_key(segment, "bits"))
    counts = await p.ctx.hot.counts(segment)
    async with p.ctx.runtime.engine.connect() as conn:
        ledger = (
            await conn.execute(
                select(func.count(), func.count(func.distinct(allocations.c.plate_number)))
                .where(allocations.c.segment_id == segment)
                .where(allocations.c.released_at.is_(None))
            )
        ).one()
    return {
        "bits": bits,
        "available": counts.available,
        "held": counts.held,
        "allocated": counts.allocated,
        "ledger": ledger[0],
        "ledger_distinct": ledger[1],
        "leaked": size - bits - counts.held - counts.allocated,
    }


@pytest.mark.redis_cluster
async def test_pp12_concurrent_selections_over_few_numbers_never_double_allocate_nor_leak(
    platform: Platform,
) -> None:
    p = platform
    segment = await p.open_segment(pattern="30###")  # 1,000 numbers
    # Leave FREE of them: the rest were allocated before (ledger rows of an earlier selection round).
    await p.ctx.hot.build(segment, 1_000, list(range(FREE, 1_000)))
    # At most 64 requests in flight, as through the gateway's 64 connections of the benchmark.
    gate = asyncio.Semaphore(64)

    async def start() -> tuple[Applicant, dict[str, Any]]:
        async with gate:
            return await p.start()

    applicants = list(await asyncio.gather(*(start() for _ in range(CONTENDERS))))

    async def contend(who: Applicant, sel: dict[str, Any]) -> str | None:
        async with gate:
            return await contend_once(who, sel)

    async def contend_once(who: Applicant, sel: dict[str, Any]) -> str | None:
        for _ in range(3):
            r = await p.draw(who, sel)
            while r.status_code == 202:  # in line (PP-10): ask again to keep the place
                await asyncio.sleep(0.01)
                r = await p.draw(who, sel)
            if r.status_code != 201:
                assert r.json()["code"] == "POOL_EXHAUSTED", r.text
                await asyncio.sleep(0)
                continue
            for number in r.json()["numbers"]:
                c = await p.choose(who, sel, number)
                if c.status_code == 200:
                    done = await p.confirm(who, sel)
                    assert done.status_code in (200, 409), done.text
                    return str(done.json().get("plate_number")) if done.status_code == 200 else None
        return None

    results = await asyncio.gather(*(contend(who, sel) for who, sel in applicants))
    won = [n for n in results if n is not None]
    assert len(won) == len(set(won))  # never the same number twice
    assert 0 < len(won) <= FREE
    state = await accounting(p, segment, 1_000)
    assert state["leaked"] == 0
    assert state["ledger"] == state["ledger_distinct"] == len(won)
    assert state["allocated"] == (1_000 - FREE) + len(won)
    assert state["bits"] == state["available"]
    # Once every hold has lapsed, the numbers nobody confirmed are all available again.
    p.clock.advance(timedelta(minutes=31))
    while await sweeps.lapse_holds(p.ctx.runtime):
        pass
    state = await accounting(p, segment, 1_000)
    assert (state["held"], state["leaked"], state["available"]) == (0, 0, FREE - len(won))


async def test_pp12_the_ledger_refuses_a_double_allocation_even_if_redis_is_wrong(platform: Platform) -> None:
    p = platform
    segment = await p.open_segment()
    first, sel1 = await p.start()
    assert (await p.verify(first, sel1, "冀A35555")).status_code == 201
    await p.choose(first, sel1, "冀A35555")
    assert (await p.confirm(first, sel1)).status_code == 200
    # Redis forgets (a bad rebuild): the number looks available again.
    await p.ctx.hot.build(segment, 10_000, [])
    second, sel2 = await p.start()
    assert (await p.verify(second, sel2, "冀A35555")).status_code == 201
    await p.choose(second, sel2, "冀A35555")
    r = await p.confirm(second, sel2)
    assert (r.status_code, r.json()["code"], r.json()["rule"]) == (409, "NUMBER_ALREADY_ALLOCATED", "PP-12")
    async with p.ctx.runtime.engine.connect() as conn:
        owners = (
            (
                await conn.execute(
                    select(allocations.c.selection_id)
                    .where(allocations.c.office_code == p.office)
                    .where(allocations.c.plate_number == "冀A35555")
                )
            )
            .scalars()
            .all()
        )
    assert [str(o) for o in owners] == [sel1["id"]]
    # The second user is back at selecting, and the number stays out of the pool.
    assert (await p.get(second, sel2))["state"] == "selecting"
    assert (await p.ctx.hot.counts(segment)).available == 9_999


@pytest.mark.redis_cluster
async def test_pp12_redis_loss_is_rebuilt_from_the_ledger(platform: Platform) -> None:
    p = platform
    segment = await p.open_segment()
    who, sel = await p.start()
    drawn = (await p.draw(who, sel)).json()
    await p.choose(who, sel, drawn["numbers"][0])
    await p.confirm(who, sel)
    other, sel2 = await p.start()
    await p.draw(other, sel2)
    # Redis restarts empty: every hot key of this test is gone.
    redis = p.ctx.hot.redis
    keys = [k async for k in redis.scan_iter(match=f"{p.ctx.hot.prefix}:*")]
    await redis.delete(*keys)
    assert await sweeps.pools(p.ctx.runtime) >= 1
    counts = await p.ctx.hot.counts(segment)
    assert (counts.available, counts.held, counts.allocated) == (9_999, 0, 1)
    bit = await redis.getbit(
        p.ctx.hot.seg_key(segment, "bits"),
        p.ctx.catalog._segments[segment].space.index(drawn["numbers"][0]) or 0,
    )
    assert bit == 0
    # The selection's hash is rebuilt from Postgres on its next request; its chances are the ledger's.
    r = await p.draw(other, sel2)
    assert r.status_code == 201, r.text
    assert r.json()["random_draws_left"] <= 9
