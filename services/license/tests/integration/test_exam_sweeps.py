"""DL-11's sweeps as the worker runs them: the cut-off seats each due slot once, also with two replicas
sweeping at the same moment; a lapsed learner permit ends the exams."""

from __future__ import annotations

import asyncio
from collections import Counter
from datetime import timedelta

import httpx
import pytest
from sqlalchemy import select

from license_service.exam_slots import sweep_cutoffs
from license_service.exams import sweep_lapsed_permits
from license_service.service import SPEC
from license_service.tables import exam_slots, metadata
from servicekit.clock import FixedClock
from servicekit.runtime import Runtime
from servicekit.worker import run_sweep

from .conftest import START, Actors, add_learner, add_site, add_slot, book, decide, events_about, result, sit
from .test_exam_results import to_day

pytestmark = pytest.mark.integration


@pytest.mark.parametrize("sweep", SPEC.sweeps, ids=[s.name for s in SPEC.sweeps])
async def test_sweeps_run_under_the_worker_lock_and_report_a_count(runtime: Runtime, sweep: object) -> None:
    done = await run_sweep(runtime, sweep)  # type: ignore[arg-type]
    assert isinstance(done, int)
    assert done >= 0
    assert await run_sweep(runtime, sweep) == 0  # type: ignore[arg-type]


async def test_dl11_two_replicas_sweeping_the_cutoff_at_once_seat_each_slot_once(
    client: httpx.AsyncClient, actors: Actors, clock: FixedClock
) -> None:
    """DL-11: three slots past their cut-off, swept by two worker replicas at the same moment (straight
    into the use case, without the worker's advisory lock): each slot is decided once, each request told
    once, and the seats are the capacity."""
    site = await add_site(client, actors)
    slots = [
        await add_slot(client, actors, site, START, capacity=3, exam_in=timedelta(days=5)) for _ in range(3)
    ]
    bookings = []
    for i in range(12):
        learner = await add_learner(client, actors, START - timedelta(days=20 - i))
        r = await book(client, learner, slots[i % 3])
        assert r.status_code == 201, r.text
        bookings.append(r.json()["id"])
    at_cutoff = FixedClock(START + timedelta(days=2))
    replicas = [Runtime.open(SPEC.settings(), SPEC.metadata, clock=at_cutoff) for _ in range(2)]
    try:
        done = await asyncio.gather(*(sweep_cutoffs(rt) for rt in replicas))
        assert sum(done) >= 3  # other tests' due slots may be decided too
        outbox = metadata.tables["outbox"]
        async with replicas[0].engine.connect() as conn:
            rows = (
                await conn.execute(
                    select(exam_slots.c.state, exam_slots.c.requests, exam_slots.c.seated).where(
                        exam_slots.c.id.in_([s["id"] for s in slots])
                    )
                )
            ).all()
            told = (
                await conn.execute(
                    select(outbox.c.subject).where(
                        outbox.c.routing_key == "license.exam_booking.decided.v1",
                        outbox.c.subject.in_(bookings),
                    )
                )
            ).all()
        assert sorted(tuple(r) for r in rows) == [("decided", 4, 3)] * 3
        assert Counter(r.subject for r in told) == Counter(bookings)  # each exactly once
        assert await sweep_cutoffs(replicas[0]) == 0
    finally:
        for rt in replicas:
            await rt.aclose()


async def test_dl11_a_lapsed_learner_permit_ends_the_exams(
    client: httpx.AsyncClient, actors: Actors, clock: FixedClock, runtime: Runtime
) -> None:
    """DL-11: the learner permit is valid three years from the subject-1 pass; after it the subjects
    passed are void and the exams end (published)."""
    site = await add_site(client, actors)
    learner = await add_learner(client, actors, START - timedelta(days=4))
    first = await sit(client, actors, clock, site, learner, 1, "passed")
    until = first["learner"]["permit_valid_until"]
    # A seated subject-2 exam inside the permit, its result not yet in: the sweep waits for it.
    await to_day(clock, first["learner"]["book_from"])
    slot = await add_slot(client, actors, site, await clock.now(), subject=2)
    seated = (await book(client, learner, slot)).json()
    await decide(client, actors, clock, slot)
    lapse = FixedClock(START.replace(year=int(until[:4])) + timedelta(days=400))
    later = Runtime.open(SPEC.settings(), SPEC.metadata, clock=lapse)
    try:
        await sweep_lapsed_permits(later)
        r = await client.get("/api/v1/exams/learners/me", headers=learner.headers)
        assert r.json()["state"] == "learning"
        assert (await result(client, actors, clock, seated, "failed")).status_code == 200
        assert await sweep_lapsed_permits(later) >= 1
    finally:
        await later.aclose()
    r = await client.get("/api/v1/exams/learners/me", headers=learner.headers)
    assert (r.json()["state"], r.json()["ended_reason"], r.json()["passed"]) == (
        "ended",
        "permit_expired",
        [],
    )
    ended = await events_about(runtime, first["learner"]["id"])
    assert (ended[-1][0], ended[-1][1]["reason"]) == ("license.learner.ended.v1", "permit_expired")
