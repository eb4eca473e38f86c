"""PP-12 after Redis lost everything (a restart: it keeps nothing on disk, architecture.md traps), found by
the store-fault proof (tests/proof/faults/test_redis_restart.py, ADR 0088).

Redis's hot state is rebuilt from PostgreSQL: the pool from the segment minus the ledger, each selection's
hash from its row. Two things the rebuild must not get wrong:
- a draw made before the worker's sweep rebuilt the pool is not told the pool is exhausted (PP-10's
  POOL_EXHAUSTED, "the office opens its next segment"): the draw rebuilds it and goes on;
- a number chosen by someone awaiting their SMS code (PP-07) stays theirs: held for them again until their
  window ends, not put back in the pool for the next person, and their confirmation goes through.
"""

from __future__ import annotations

import pytest

from .conftest import Platform

pytestmark = pytest.mark.integration


async def _redis_restarts(p: Platform) -> None:
    """Everything this test's platform keeps in Redis is gone, as after a restart."""
    redis = p.ctx.hot.redis
    keys = [k async for k in redis.scan_iter(match=f"{p.ctx.hot.prefix}:*", count=1000)]
    assert keys
    await redis.delete(*keys)


async def test_pp12_a_draw_after_redis_lost_the_pool_rebuilds_it(platform: Platform) -> None:
    p = platform
    segment = await p.open_segment()
    await _redis_restarts(p)
    who, selection = await p.start()
    r = await p.draw(who, selection)
    assert r.status_code == 201, r.text  # not 409 POOL_EXHAUSTED
    assert len(r.json()["numbers"]) == 5
    counts = await p.ctx.hot.counts(segment)
    assert counts.held == 5


@pytest.mark.redis_cluster
async def test_pp12_a_number_awaiting_its_sms_code_stays_held_across_a_redis_restart(
    platform: Platform,
) -> None:
    p = platform
    segment = await p.open_segment()
    who, selection = await p.start()
    r = await p.draw(who, selection)
    assert r.status_code == 201, r.text
    number = r.json()["numbers"][0]
    r = await p.choose(who, selection, number)
    assert r.status_code == 200, r.text
    seg = await p.ctx.catalog.segment(segment)
    assert seg is not None
    index = seg.space.index(number)
    assert index is not None

    await _redis_restarts(p)
    other, other_selection = await p.start()  # someone else draws first: the pool is rebuilt
    r = await p.draw(other, other_selection)
    assert r.status_code == 201, r.text
    assert number not in r.json()["numbers"]
    assert await p.ctx.hot.holder(segment, index) == selection["id"]  # held for the first person again
    counts = await p.ctx.hot.counts(segment)
    assert counts.held == 6  # theirs, and the five just drawn

    view = await p.get(who, selection)
    assert (view["state"], view["plate_number"]) == ("awaiting_sms", number)
    r = await p.confirm(who, selection)  # a new SMS code (the first one was in Redis too), then confirmed
    assert r.status_code == 200, r.text
    assert r.json()["plate_number"] == number
    counts = await p.ctx.hot.counts(segment)
    assert (counts.held, counts.allocated) == (5, 1)
