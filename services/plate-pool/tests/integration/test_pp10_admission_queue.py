"""PP-10: when a segment opens to more people than its free numbers can serve, draws wait in line in
arrival order instead of failing (ADR 0022); and PP-13 at a thin pool's end: draws stay uniform. The pools
here are 1,000-number segments with all but a few numbers standing for earlier allocations, so a handful
of people fill them."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest

from plate_pool_service.domain import OfficeSettings
from plate_pool_service.segments import save_office_settings

from .conftest import Applicant, Platform

pytestmark = pytest.mark.integration


async def _segment_with_free(p: Platform, free: int) -> str:
    segment = await p.open_segment(pattern="30###")  # 1,000 numbers
    await p.ctx.hot.build(segment, 1_000, list(range(free, 1_000)))
    return segment


async def _draw(p: Platform, who: Applicant, sel: dict[str, Any]) -> tuple[int, dict[str, Any]]:
    r = await p.draw(who, sel)
    return r.status_code, r.json()


async def _log_ops(p: Platform, op: str) -> list[dict[str, str]]:
    entries = await p.ctx.hot.redis.xrange(p.ctx.hot.log_key(await p.segment_id()))
    found = []
    for _, raw in entries:
        fields = {k.decode(): v.decode() for k, v in raw.items()}
        if fields.get("op") == op:
            found.append(fields)
    return found


async def test_pp10_a_draw_waits_in_line_when_the_pool_is_all_held(platform: Platform) -> None:
    p = platform
    segment = await _segment_with_free(p, 12)
    people = [await p.start() for _ in range(4)]
    (a, sa), (b, sb), (c, sc), (d, sd) = people
    assert (await _draw(p, a, sa))[0] == 201
    assert (await _draw(p, b, sb))[0] == 201  # 10 held, 2 free: too few for a draw of five

    r = await p.draw(c, sc)
    assert r.status_code == 202, r.text
    assert r.headers["Retry-After"] == "2"
    body = r.json()
    assert body["queued"] is True
    assert (body["queue_position"], body["queue_length"]) == (1, 1)
    assert body["random_draws_left"] == 10  # waiting spends no draw
    assert body["place_kept_s"] == 22  # from this answer: the 2 s told, then 20 s of grace
    status, body = await _draw(p, d, sd)
    assert (status, body["queue_position"], body["queue_length"]) == (202, 2, 2)
    status, body = await _draw(p, c, sc)  # asking again keeps the place
    assert (status, body["queue_position"], body["queue_length"]) == (202, 1, 2)

    counts = await p.ctx.hot.counts(segment)
    assert (counts.available, counts.held, counts.queued) == (2, 10, 2)
    r = await p.client.get("/api/v1/plate-segments", params={"office_code": p.office})
    assert r.json()["items"][0]["statistics"]["queued"] == 2
    assert [e["sel"] for e in await _log_ops(p, "queue")] == [sc["id"], sd["id"]]  # PP-13: the tickets


@pytest.mark.redis_cluster
async def test_pp10_the_line_is_served_in_arrival_order_and_newcomers_join_its_end(
    platform: Platform,
) -> None:
    p = platform
    await _segment_with_free(p, 12)
    (a, sa), (b, sb), (c, sc), (d, sd), (e, se) = [await p.start() for _ in range(5)]
    numbers_a = (await _draw(p, a, sa))[1]["numbers"]
    assert (await _draw(p, b, sb))[0] == 201
    assert (await _draw(p, c, sc))[0] == 202
    assert (await _draw(p, d, sd))[0] == 202

    r = await p.choose(a, sa, numbers_a[0])  # a's other four go back: 6 free, one draw's worth
    assert r.status_code == 200, r.text
    status, body = await _draw(p, e, se)  # a newcomer finds 6 free, but two are waiting before them
    assert (status, body["queue_position"]) == (202, 3)
    status, body = await _draw(p, d, sd)  # second in line: 6 free are the first's
    assert (status, body["queue_position"]) == (202, 2)
    status, body = await _draw(p, c, sc)  # first in line: served, the draw spent now
    assert status == 201, body
    assert len(body["numbers"]) == 5
    assert body["random_draws_left"] == 9
    status, body = await _draw(p, d, sd)
    assert (status, body["queue_position"], body["queue_length"]) == (202, 1, 2)

    r = await p.client.delete(p.url(sb), headers=b.headers)  # b walks away: five back
    assert r.status_code == 204
    status, body = await _draw(p, e, se)  # still behind d
    assert (status, body["queue_position"]) == (202, 2)
    status, body = await _draw(p, d, sd)
    assert status == 201, body
    admitted = await _log_ops(p, "draw")
    assert [x["ticket"] for x in admitted if x["ticket"]] == ["1", "2"]  # c's ticket, then d's


async def test_pp10_waiting_in_line_with_an_idempotency_key_asks_again_each_time(
    platform: Platform,
) -> None:
    """A queued answer is interim (Cache-Control: no-store): the same key asks again, and once admitted
    the draw's answer is the one a further repeat gets."""
    p = platform
    await _segment_with_free(p, 10)
    (a, sa), (b, sb), (c, sc) = [await p.start() for _ in range(3)]
    numbers_a = (await _draw(p, a, sa))[1]["numbers"]
    assert (await _draw(p, b, sb))[0] == 201
    headers = {**c.headers, "Idempotency-Key": "c-draw"}
    r = await p.client.post(p.url(sc, "/random-draws"), headers=headers)
    assert (r.status_code, r.headers["Cache-Control"]) == (202, "no-store")
    assert (await p.choose(a, sa, numbers_a[0])).status_code == 200  # four back
    assert (await p.client.delete(p.url(sb), headers=b.headers)).status_code == 204  # five back
    r = await p.client.post(p.url(sc, "/random-draws"), headers=headers)
    assert r.status_code == 201, r.text
    assert "Idempotent-Replayed" not in r.headers
    again = await p.client.post(p.url(sc, "/random-draws"), headers=headers)
    assert (again.status_code, again.json()) == (201, r.json())


async def test_pp10_a_place_not_asked_for_within_20_s_past_its_retry_after_is_given_up(
    platform: Platform,
) -> None:
    p = platform
    segment = await _segment_with_free(p, 10)
    (a, sa), (b, sb), (c, sc), (d, sd) = [await p.start() for _ in range(4)]
    assert (await _draw(p, a, sa))[0] == 201
    assert (await _draw(p, b, sb))[0] == 201
    assert (await _draw(p, c, sc))[0] == 202  # told to ask again after 2 s
    p.clock.advance(timedelta(seconds=10))
    assert (await _draw(p, d, sd))[1]["queue_position"] == 2
    p.clock.advance(timedelta(seconds=13))  # c: 23 s without asking, 21 s past its 2 s; d: 13 s
    status, body = await _draw(p, d, sd)
    assert (status, body["queue_position"], body["queue_length"]) == (202, 1, 1)
    assert [x["dropped"] for x in await _log_ops(p, "unqueue")] == [sc["id"]]
    status, body = await _draw(p, c, sc)  # c comes back: a new place, at the end
    assert (status, body["queue_position"], body["queue_length"]) == (202, 2, 2)
    assert (await p.ctx.hot.counts(segment)).queued == 2


@pytest.mark.redis_cluster
async def test_pp10_a_line_whose_answers_come_late_under_load_keeps_its_places_and_moves(
    platform: Platform,
) -> None:
    """Under load every answer, and so every ask, comes late: a place asked for 19 s past its Retry-After
    is kept (it was lost at 20 s since the last ask, so a line whose asks took over 20 s to come round
    dropped everyone before their turn and never moved, numbers free and nobody admitted)."""
    p = platform
    await _segment_with_free(p, 10)
    (a, sa), (b, sb), (c, sc), (d, sd) = [await p.start() for _ in range(4)]
    numbers_a = (await _draw(p, a, sa))[1]["numbers"]
    assert (await _draw(p, b, sb))[0] == 201
    told = []
    for who, sel in ((c, sc), (d, sd)):
        status, body = await _draw(p, who, sel)
        assert status == 202, body
        told.append(body["retry_after_s"])
    assert (await p.choose(a, sa, numbers_a[0])).status_code == 200  # four back
    assert (await p.client.delete(p.url(sb), headers=b.headers)).status_code == 204  # five back: 9 free
    p.clock.advance(timedelta(seconds=max(told) + 19))  # both asks come 19 s late
    status, body = await _draw(p, d, sd)
    assert (status, body["queue_position"]) == (202, 2), body  # behind c, who kept the place
    status, body = await _draw(p, c, sc)
    assert status == 201, body  # first in line, admitted
    assert await _log_ops(p, "unqueue") == []


async def test_pp10_further_back_in_line_asks_less_often(platform: Platform) -> None:
    """Everyone in a line of thousands asking every 2 s is more than the replicas serve (and late asks
    lose places): position p is told to ask again after p / queue_line_asks_per_s seconds, 2 s to 30 s."""
    p = platform
    p.ctx.hot.line_asks_per_s = 1.0  # a small line shows the slope: position p asks after p s
    await _segment_with_free(p, 10)
    people = [await p.start() for _ in range(6)]
    for who, sel in people[:2]:
        assert (await _draw(p, who, sel))[0] == 201
    told = []
    for who, sel in people[2:]:
        r = await p.draw(who, sel)
        assert r.status_code == 202, r.text
        body = r.json()
        assert r.headers["Retry-After"] == str(body["retry_after_s"])
        assert body["place_kept_s"] == body["retry_after_s"] + 20
        told.append((body["queue_position"], body["retry_after_s"]))
    assert told == [(1, 2), (2, 2), (3, 3), (4, 4)]
    p.ctx.hot.retry_after_max_s = 3
    status, body = await _draw(p, *people[5])
    assert (status, body["queue_position"], body["retry_after_s"]) == (202, 4, 3)  # never past the most


async def test_pp10_holds_lapsing_at_180_s_serve_the_line(platform: Platform) -> None:
    p = platform
    await _segment_with_free(p, 10)
    (a, sa), (b, sb), (c, sc) = [await p.start() for _ in range(3)]
    assert (await _draw(p, a, sa))[0] == 201
    assert (await _draw(p, b, sb))[0] == 201
    started = await p.clock.now()
    positions = []
    for _ in range(100):  # c keeps asking every 2 s, as told, until a's and b's holds lapse
        status, body = await _draw(p, c, sc)
        if status == 201:
            break
        positions.append(body["queue_position"])
        p.clock.advance(timedelta(seconds=2))
    assert status == 201, body
    assert len(body["numbers"]) == 5
    assert await p.clock.now() - started >= timedelta(seconds=180)
    assert set(positions) == {1}  # the place was kept all along


async def test_pp10_leaving_a_selection_leaves_the_line(platform: Platform) -> None:
    p = platform
    segment = await _segment_with_free(p, 10)
    (a, sa), (b, sb), (c, sc) = [await p.start() for _ in range(3)]
    assert (await _draw(p, a, sa))[0] == 201
    assert (await _draw(p, b, sb))[0] == 201
    assert (await _draw(p, c, sc))[0] == 202
    r = await p.client.delete(p.url(sc), headers=c.headers)
    assert r.status_code == 204
    assert (await p.ctx.hot.counts(segment)).queued == 0


async def test_pp10_with_nothing_free_and_nothing_held_a_draw_is_refused_not_queued(
    platform: Platform,
) -> None:
    """Nothing will come back (every number allocated): waiting would be for nothing, so the answer is
    409 POOL_EXHAUSTED; with a few numbers left and nothing held, the first in line takes them."""
    p = platform
    segment = await _segment_with_free(p, 3)
    (a, sa), (b, sb) = [await p.start() for _ in range(2)]
    status, body = await _draw(p, a, sa)
    assert status == 201
    assert len(body["numbers"]) == 3
    status, body = await _draw(p, b, sb)
    assert (status, body["queue_position"]) == (202, 1)  # a's three come back within a hold
    r = await p.client.delete(p.url(sa), headers=a.headers)
    assert r.status_code == 204
    status, body = await _draw(p, b, sb)
    assert status == 201
    assert len(body["numbers"]) == 3
    r = await p.client.delete(p.url(sb), headers=b.headers)
    assert r.status_code == 204
    await p.ctx.hot.build(segment, 1_000, list(range(1_000)))  # every number allocated, none held
    c, sc = await p.start()
    status, body = await _draw(p, c, sc)
    assert (status, body["code"], body["rule"]) == (409, "POOL_EXHAUSTED", "PP-10")
    assert (await p.ctx.hot.counts(segment)).queued == 0


async def test_pp10_at_a_pools_end_the_line_does_not_wait_for_numbers_chosen_at_the_sms_step(
    platform: Platform,
) -> None:
    """ADR 0022 "A pool's end": a number chosen and awaiting its SMS code has up to 30 minutes and is
    nearly always confirmed, so with fewer than five free the first in line takes what is free instead of
    waiting for it; with none free the draw is refused, not queued, until the chosen number's window ends
    within one hold (180 s), when it may come back and the line waits for it."""
    p = platform
    segment = await _segment_with_free(p, 3)
    (a, sa), (b, sb), (c, sc) = [await p.start() for _ in range(3)]
    status, body = await _draw(p, a, sa)
    assert status == 201
    r = await p.choose(a, sa, body["numbers"][0])
    assert r.status_code == 200, r.text  # two back, one chosen for the SMS step
    status, body = await _draw(p, b, sb)
    assert status == 201, body  # not a place in line behind a's chosen number
    assert len(body["numbers"]) == 2
    r = await p.choose(b, sb, body["numbers"][0])
    assert r.status_code == 200, r.text  # one back
    status, body = await _draw(p, c, sc)
    assert status == 201, body
    assert len(body["numbers"]) == 1
    r = await p.client.delete(p.url(sc), headers=c.headers)
    assert r.status_code == 204  # its one comes back: 1 free, 2 chosen
    d, sd = await p.start()
    status, body = await _draw(p, d, sd)
    assert status == 201
    assert len(body["numbers"]) == 1
    r = await p.choose(d, sd, body["numbers"][0])
    assert r.status_code == 200, r.text  # none free, three chosen with 30 minutes each
    e, se = await p.start()
    status, body = await _draw(p, e, se)
    assert (status, body["code"]) == (409, "POOL_EXHAUSTED")
    counts = await p.ctx.hot.counts(segment)
    assert (counts.available, counts.held, counts.queued) == (0, 3, 0)

    p.clock.advance(timedelta(minutes=30) - timedelta(seconds=120))  # a's, b's, d's windows end within 180 s
    f, sf = await p.start()
    status, body = await _draw(p, f, sf)
    assert (status, body["queue_position"]) == (202, 1)  # they may come back now: wait for them
    assert (await p.confirm(a, sa)).status_code == 200
    assert (await p.confirm(b, sb)).status_code == 200
    p.clock.advance(timedelta(seconds=121))  # d never confirmed: its window is over
    status, body = await _draw(p, f, sf)
    assert status == 201, body
    assert len(body["numbers"]) == 1


async def test_pp05_a_verify_naming_a_number_held_by_a_random_draw_is_no_repeat(platform: Platform) -> None:
    """Only a custom hold makes a verify's repeat: a number held from a (one-number) random draw counts
    as taken, one attempt spent, as PP-05 says for a number not available."""
    p = platform
    await _segment_with_free(p, 1)
    who, sel = await p.start()
    status, body = await _draw(p, who, sel)
    assert (status, len(body["numbers"])) == (201, 1)  # nothing held, one left: the first takes it
    r = await p.verify(who, sel, body["numbers"][0])
    assert (r.status_code, r.json()["code"]) == (409, "CUSTOM_NUMBER_UNAVAILABLE")
    assert r.json()["custom_attempts_left"] == 19


async def test_pp13_draws_from_a_thin_pool_stay_uniform(platform: Platform) -> None:
    """PP-13: with 10 numbers free, one alone at the start of the segment and nine bunched at its end, a
    draw that took "the next free numbers after a random point" would almost never give the lone one
    (only when the point fell in the last tenth). Drawn uniformly, five of ten include it half the time."""
    p = platform
    await save_office_settings(
        p.ctx.runtime,
        p.office,
        OfficeSettings(random_draws=10_000, low_pool_threshold=0),
        superior="130000",
        name="test office",
    )
    segment = await p.open_segment(pattern="30###")  # 1,000 numbers
    free = [0, *range(900, 909)]
    await p.ctx.hot.build(segment, 1_000, [i for i in range(1_000) if i not in free])
    who, sel = await p.start()
    lone = 0
    for _ in range(200):  # each draw gives back the previous five, so ten stay free to draw from
        status, body = await _draw(p, who, sel)
        assert status == 201, body
        lone += "冀A30000" in body["numbers"]
    assert 60 <= lone <= 140, lone  # uniform: 100 expected (sd 7); the old fallback gave about 20
