"""DL-11 results through the API against the real license_test database: examiners record a seated
booking's outcome once; the waiting rules that follow (the learner permit, ten days after a failed road
test, the ranking after an absence, the fifth failure); and the last pass issuing the first licence
(its record, and `license.record.issued.v1` with source `exam` in the outbox, ID-07)."""

from __future__ import annotations

import asyncio
from collections import Counter
from datetime import date, datetime, time, timedelta

import httpx
import pytest
from sqlalchemy import select, update

from license_service.tables import exam_learners, licence_records
from servicekit.clock import SHANGHAI, FixedClock
from servicekit.runtime import Runtime

from .conftest import (
    START,
    Actors,
    add_learner,
    add_site,
    add_slot,
    book,
    decide,
    events_about,
    result,
    sit,
)

pytestmark = pytest.mark.integration


def at(value: str) -> datetime:
    return datetime.fromisoformat(value)


async def to_day(clock: FixedClock, day: object) -> None:
    """The clock to 09:00 of `day` (an ISO date), if that is later."""
    moment = datetime.combine(date.fromisoformat(str(day)), time(9), SHANGHAI)
    if await clock.now() < moment:
        clock.set(moment)


async def test_dl11_passing_the_last_subject_issues_the_first_licence(
    client: httpx.AsyncClient, actors: Actors, clock: FixedClock, runtime: Runtime
) -> None:
    """DL-11, ID-07: subjects 1, 2, 3 and the safe-driving test passed in order, with the learner permit's
    waits between them; the fourth pass issues the first licence in the classes applied for, valid six
    years from the day of the pass, in the same unit of work: its record and its issued event (source
    `exam`, which identity turns into a driver account)."""
    site = await add_site(client, actors)
    learner = await add_learner(client, actors, START - timedelta(days=4), classes=("C1",))
    first = await sit(client, actors, clock, site, learner, 1, "passed")
    exam_day = datetime.fromisoformat(first["booking"]["starts_at"]).astimezone(SHANGHAI).date()
    progress = first["learner"]
    assert (progress["passed"], progress["next_subject"]) == ([1], 2)
    assert progress["permit_issued_on"] == exam_day.isoformat()
    assert progress["permit_valid_until"] == exam_day.replace(year=exam_day.year + 3).isoformat()
    assert (progress["book_from"], progress["book_from_reason"]) == (
        (exam_day + timedelta(days=10)).isoformat(),
        "permit",
    )
    early = await add_slot(client, actors, site, await clock.now(), subject=2)
    r = await book(client, learner, early)
    assert (r.status_code, r.json()["code"], r.json()["reason"]) == (409, "TOO_EARLY_TO_BOOK", "permit")

    await to_day(clock, progress["book_from"])
    second = await sit(client, actors, clock, site, learner, 2, "passed")
    assert second["learner"]["book_from"] == (exam_day + timedelta(days=30)).isoformat()  # C1: 30 days
    await to_day(clock, second["learner"]["book_from"])
    third = await sit(client, actors, clock, site, learner, 3, "passed")
    assert third["learner"]["next_subject"] == 4
    assert third["licence_record_id"] is None
    fourth = await sit(client, actors, clock, site, learner, 4, "passed")
    assert fourth["learner"]["state"] == "licensed"
    record_id = fourth["licence_record_id"]
    assert record_id is not None
    last_day = datetime.fromisoformat(fourth["booking"]["starts_at"]).astimezone(SHANGHAI).date()

    async with runtime.engine.connect() as conn:
        record = (
            (await conn.execute(select(licence_records).where(licence_records.c.id == record_id)))
            .mappings()
            .one()
        )
    assert record["number"] == learner.id_number
    assert (list(record["classes"]), record["state"]) == (["C1"], "valid")
    assert (record["first_issue"], record["valid_from"]) == (last_day, last_day)
    assert record["valid_until"] == last_day.replace(year=last_day.year + 6)
    issued = await events_about(runtime, record_id)
    assert [key for key, _ in issued] == ["license.record.issued.v1"]
    assert (issued[0][1]["source"], issued[0][1]["number"], issued[0][1]["classes"]) == (
        "exam",
        learner.id_number,
        ["C1"],
    )
    told = await events_about(runtime, fourth["booking"]["id"])
    assert told[-1][0] == "license.exam_result.recorded.v1"
    assert (told[-1][1]["learner_state"], told[-1][1]["licence_record_id"]) == ("licensed", record_id)

    another = await add_slot(client, actors, site, await clock.now(), subject=1)
    r = await book(client, learner, another)
    assert (r.status_code, r.json()["code"]) == (409, "LEARNER_NOT_LEARNING")


async def test_dl11_a_failed_road_test_is_booked_again_ten_days_later(
    client: httpx.AsyncClient, actors: Actors, clock: FixedClock, runtime: Runtime
) -> None:
    site = await add_site(client, actors)
    learner = await add_learner(client, actors, START - timedelta(days=4))
    first = await sit(client, actors, clock, site, learner, 1, "passed")
    await to_day(clock, first["learner"]["book_from"])
    failed = await sit(client, actors, clock, site, learner, 2, "failed")
    exam_day = datetime.fromisoformat(failed["booking"]["starts_at"]).astimezone(SHANGHAI).date()
    progress = failed["learner"]
    assert (progress["next_subject"], progress["book_from"], progress["book_from_reason"]) == (
        2,
        (exam_day + timedelta(days=10)).isoformat(),
        "retry",
    )
    assert progress["road_bookings_left"] == {"2": 4, "3": 5}
    told = (await events_about(runtime, failed["booking"]["id"]))[-1][1]
    assert (told["outcome"], told["book_from"], told["road_bookings_left"]) == (
        "failed",
        progress["book_from"],
        4,
    )
    slot = await add_slot(client, actors, site, await clock.now(), subject=2)
    r = await book(client, learner, slot)
    assert (r.status_code, r.json()["code"], r.json()["from"]) == (
        409,
        "TOO_EARLY_TO_BOOK",
        progress["book_from"],
    )
    await to_day(clock, progress["book_from"])
    slot = await add_slot(client, actors, site, await clock.now(), subject=2)
    r = await book(client, learner, slot)
    assert r.status_code == 201, r.text
    assert r.json()["ranking"]["basis"] == "last_exam"
    assert at(r.json()["ranking"]["priority_at"]) == at(failed["booking"]["starts_at"])


async def test_dl11_an_absence_is_a_failed_exam_and_ranks_the_next_booking_by_its_time(
    client: httpx.AsyncClient, actors: Actors, clock: FixedClock
) -> None:
    site = await add_site(client, actors)
    learner = await add_learner(client, actors, START - timedelta(days=4))
    absent = await sit(client, actors, clock, site, learner, 1, "absent")
    assert absent["booking"]["state"] == "absent"
    assert absent["learner"]["book_from"] is None  # subject 1: no wait
    slot = await add_slot(client, actors, site, await clock.now(), subject=1)
    r = await book(client, learner, slot)
    assert r.json()["ranking"]["basis"] == "absent"
    assert at(r.json()["ranking"]["priority_at"]) == at(absent["booking"]["starts_at"])
    assert r.json()["ranking"]["why"].startswith("按缺考时间排序")


async def test_dl11_the_fifth_failed_road_test_ends_the_exams_and_voids_the_subjects_passed(
    client: httpx.AsyncClient, actors: Actors, clock: FixedClock, runtime: Runtime
) -> None:
    site = await add_site(client, actors)
    learner = await add_learner(client, actors, START - timedelta(days=4))
    first = await sit(client, actors, clock, site, learner, 1, "passed")
    async with runtime.engine.begin() as conn:  # four road tests of subject 2 failed before this one
        await conn.execute(
            update(exam_learners)
            .where(exam_learners.c.id == first["learner"]["id"])
            .values(road_bookings_2=4)
        )
    await to_day(clock, first["learner"]["book_from"])
    fifth = await sit(client, actors, clock, site, learner, 2, "failed")
    assert (fifth["learner"]["state"], fifth["learner"]["ended_reason"], fifth["learner"]["passed"]) == (
        "ended",
        "fifth_failure",
        [],
    )
    told = (await events_about(runtime, fifth["booking"]["id"]))[-1][1]
    assert (told["voided"], told["road_bookings_left"], told["next_subject"]) == (True, 0, None)
    ended = await events_about(runtime, first["learner"]["id"])
    assert ended[-1][0] == "license.learner.ended.v1"
    assert ended[-1][1]["reason"] == "fifth_failure"
    slot = await add_slot(client, actors, site, await clock.now(), subject=1)
    r = await book(client, learner, slot)
    assert (r.status_code, r.json()["code"], r.json()["learner_state"]) == (
        409,
        "LEARNER_NOT_LEARNING",
        "ended",
    )


async def test_dl11_results_are_recorded_for_seated_bookings_once_each_after_the_exam_begins(
    client: httpx.AsyncClient, actors: Actors, clock: FixedClock
) -> None:
    site = await add_site(client, actors)
    slot = await add_slot(client, actors, site, START, capacity=1)
    seated_learner = await add_learner(client, actors, START - timedelta(days=9))
    other = await add_learner(client, actors, START - timedelta(days=2))
    seated = (await book(client, seated_learner, slot)).json()
    not_seated = (await book(client, other, slot)).json()
    url = "/api/v1/exams/bookings/{}/result"
    r = await client.post(url.format(seated["id"]), json={"outcome": "passed"}, headers=actors.examiner)
    assert (r.status_code, r.json()["code"], r.json()["state"]) == (
        409,
        "BOOKING_STATE_DOES_NOT_ALLOW",
        "requested",
    )
    await decide(client, actors, clock, slot)
    r = await client.post(url.format(seated["id"]), json={"outcome": "passed"}, headers=actors.examiner)
    assert (r.status_code, r.json()["code"]) == (409, "EXAM_NOT_STARTED")
    r = await result(client, actors, clock, not_seated, "passed")
    assert (r.status_code, r.json()["state"]) == (409, "not_seated")
    answers = await asyncio.gather(
        *(
            client.post(url.format(seated["id"]), json={"outcome": outcome}, headers=actors.examiner)
            for outcome in ("passed", "failed", "passed", "absent")
        )
    )
    assert Counter((a.status_code, a.json().get("code")) for a in answers) == {
        (200, None): 1,
        (409, "BOOKING_STATE_DOES_NOT_ALLOW"): 3,
    }
    system = await client.post(url.format(seated["id"]), json={"outcome": "passed"}, headers=actors.system)
    assert system.status_code == 409  # the exam system meets the recorded result too
    r = await client.post(url.format(seated["id"]), json={"outcome": "maybe"}, headers=actors.examiner)
    assert r.status_code == 422
