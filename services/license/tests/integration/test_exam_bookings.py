"""DL-11 through the API against the real license_test database: learners, requests and their place, the
cut-off that seats an oversubscribed slot in the published order, one open booking per subject under
concurrent requests, withdrawal and counter cancellation, and object-level access."""

from __future__ import annotations

import asyncio
import random
from collections import Counter
from datetime import datetime, timedelta

import httpx
import pytest
from sqlalchemy import func, select

from license_service.tables import exam_bookings
from servicekit.clock import FixedClock
from servicekit.crypto import blind_match
from servicekit.runtime import Runtime
from servicekit.testing import new_resident_id

from .conftest import START, Actors, add_learner, add_site, add_slot, book, decide, events_about, result

pytestmark = pytest.mark.integration


def at(value: str) -> datetime:
    return datetime.fromisoformat(value)


async def test_dl11_an_accepted_application_makes_a_learner_once_and_is_published(
    client: httpx.AsyncClient, actors: Actors, runtime: Runtime
) -> None:
    """DL-11, ID-04: the licence-application system's accepted application makes a learner, published for
    identity; the same application again answers the same learner; a second open application of the
    person, or another person's application number, is refused."""
    idn = new_resident_id()
    body = {
        "application_number": "1301002027000777" + idn[-4:],
        "id_number": idn,
        "name": "王五",
        "phone": "13912345678",
        "classes": ["C1"],
        "office_code": actors.office,
        "accepted_at": (START - timedelta(days=3)).isoformat(),
    }
    r = await client.post("/api/v1/exams/learners", json=body, headers=actors.system)
    assert r.status_code == 201, r.text
    learner = r.json()
    assert (learner["state"], learner["next_subject"], learner["passed"]) == ("learning", 1, [])
    assert learner["id_number"] != idn
    assert learner["id_number"].endswith(idn[-4:])
    events = await events_about(runtime, learner["id"])
    assert [key for key, _ in events] == ["license.learner.accepted.v1"]
    assert events[0][1]["id_number"] == idn
    assert events[0][1]["classes"] == ["C1"]

    again = await client.post("/api/v1/exams/learners", json=body, headers=actors.system)
    assert (again.status_code, again.json()["id"]) == (200, learner["id"])
    other = {**body, "application_number": body["application_number"] + "9"}
    r = await client.post("/api/v1/exams/learners", json=other, headers=actors.system)
    assert (r.status_code, r.json()["code"], r.json()["rule"]) == (409, "LEARNER_EXISTS", "DL-11")
    stolen = {**body, "id_number": new_resident_id()}
    r = await client.post("/api/v1/exams/learners", json=stolen, headers=actors.system)
    assert (r.status_code, r.json()["code"]) == (409, "LEARNER_EXISTS")
    r = await client.post("/api/v1/exams/learners", json=body, headers=actors.citizen(idn))
    assert r.status_code == 403
    mine = await client.get("/api/v1/exams/learners/me", headers=actors.citizen(idn))
    assert (mine.status_code, mine.json()["id"]) == (200, learner["id"])
    nobody = await client.get("/api/v1/exams/learners/me", headers=actors.citizen(new_resident_id()))
    assert nobody.status_code == 404
    bad = {**body, "application_number": "1301009", "id_number": new_resident_id(), "name": "王\x00五"}
    assert (await client.post("/api/v1/exams/learners", json=bad, headers=actors.system)).status_code == 422
    bad = {**body, "application_number": "1301008", "id_number": "130102199003071234"}  # check digit
    r = await client.post("/api/v1/exams/learners", json=bad, headers=actors.system)
    assert r.status_code == 422


async def test_dl11_a_request_shows_the_time_it_ranks_by_why_and_its_place_so_far(
    client: httpx.AsyncClient, actors: Actors
) -> None:
    site = await add_site(client, actors)
    slot = await add_slot(client, actors, site, START, capacity=1)
    late = await add_learner(client, actors, START - timedelta(days=2))
    early = await add_learner(client, actors, START - timedelta(days=9))
    first = await book(client, late, slot)
    assert first.status_code == 201, first.text
    assert first.json()["place"] == 1
    second = await book(client, early, slot)
    data = second.json()
    assert data["state"] == "requested"
    assert data["place_final"] is False
    assert data["ranking"]["basis"] == "accepted"
    assert at(data["ranking"]["priority_at"]) == at(early.data["accepted_at"])
    assert data["ranking"]["why"].startswith("首次预约科目一，按受理时间排序")
    assert data["place"] == 1  # the earlier acceptance ranks first
    mine = await client.get("/api/v1/exams/bookings/mine", headers=late.headers)
    assert [(b["id"], b["place"]) for b in mine.json()] == [(first.json()["id"], 2)]
    # A repeated request with the same Idempotency-Key answers the first booking, and makes no other.
    keyed = await add_learner(client, actors, START - timedelta(days=1))
    headers = {**keyed.headers, "Idempotency-Key": "exam-" + keyed.id_number}
    one = await client.post("/api/v1/exams/bookings", json={"slot_id": slot["id"]}, headers=headers)
    two = await client.post("/api/v1/exams/bookings", json={"slot_id": slot["id"]}, headers=headers)
    assert (one.status_code, two.status_code, two.json()["id"]) == (201, 201, one.json()["id"])
    one = await client.get(f"/api/v1/exams/slots/{slot['id']}", headers=late.headers)
    assert (one.json()["requests"], one.json()["state"]) == (3, "open")
    listed = await client.get(
        "/api/v1/exams/slots",
        params={"site_id": site, "subject": "1", "day_from": "2027-03-06"},
        headers=late.headers,
    )
    assert [s["id"] for s in listed.json()] == [slot["id"]]
    none = await client.get(
        "/api/v1/exams/slots", params={"site_id": site, "subject": "2"}, headers=late.headers
    )
    assert none.json() == []


async def test_dl11_an_oversubscribed_slot_seats_exactly_its_capacity_in_the_published_order(
    client: httpx.AsyncClient, actors: Actors, clock: FixedClock, runtime: Runtime
) -> None:
    """DL-11: 40 learners ask at once for a 10-seat slot; at the cut-off exactly the 10 that rank first
    are seated, every request has its place in the published order, and each is told by event."""
    site = await add_site(client, actors)
    slot = await add_slot(client, actors, site, START, capacity=10)
    days = list(range(1, 41))
    random.shuffle(days)
    learners = [await add_learner(client, actors, START - timedelta(days=d, minutes=d)) for d in days]
    responses = await asyncio.gather(*(book(client, learner, slot) for learner in learners))
    assert Counter(r.status_code for r in responses) == {201: 40}
    made = await decide(client, actors, clock, slot)
    assert (made["requests"], made["seated"]) == (40, 10)

    expected = sorted(learners, key=lambda learner: learner.data["accepted_at"])
    by_learner = {}
    for learner in learners:
        mine = (await client.get("/api/v1/exams/bookings/mine", headers=learner.headers)).json()
        by_learner[learner.id_number] = mine[0]
    places = [by_learner[learner.id_number]["place"] for learner in expected]
    assert places == list(range(1, 41))
    states = [by_learner[learner.id_number]["state"] for learner in expected]
    assert states == ["seated"] * 10 + ["not_seated"] * 30
    assert all(by_learner[x.id_number]["place_final"] for x in learners)

    seated_event = await events_about(runtime, by_learner[expected[0].id_number]["id"])
    assert seated_event[-1][0] == "license.exam_booking.decided.v1"
    payload = seated_event[-1][1]
    assert (payload["outcome"], payload["place"], payload["capacity"], payload["requests"]) == (
        "seated",
        1,
        10,
        40,
    )
    assert payload["priority_basis"] == "accepted"
    assert payload["phone"]
    last = await events_about(runtime, by_learner[expected[-1].id_number]["id"])
    assert (last[-1][1]["outcome"], last[-1][1]["place"]) == ("not_seated", 40)
    again = await decide(client, actors, clock, slot)  # decided once: the same decision
    assert (again["requests"], again["seated"]) == (40, 10)
    assert len(await events_about(runtime, by_learner[expected[0].id_number]["id"])) == 1
    # Not seated: told, and free to ask for another slot.
    other = await add_slot(client, actors, site, await clock.now(), capacity=10)
    r = await book(client, expected[-1], other)
    assert (r.status_code, r.json()["ranking"]["basis"]) == (201, "accepted")


async def test_dl11_one_open_booking_per_subject_under_concurrent_requests(
    client: httpx.AsyncClient, actors: Actors, runtime: Runtime
) -> None:
    """DL-11: a learner asking for six slots of subject 1 at once holds one request; the others are
    refused with the one held."""
    site = await add_site(client, actors)
    slots = [await add_slot(client, actors, site, START, exam_in=timedelta(days=5 + i)) for i in range(6)]
    learner = await add_learner(client, actors, START - timedelta(days=4))
    responses = await asyncio.gather(*(book(client, learner, slot) for slot in slots))
    codes = Counter((r.status_code, r.json().get("code")) for r in responses)
    assert codes == {(201, None): 1, (409, "ALREADY_BOOKED"): 5}
    held = next(r.json()["id"] for r in responses if r.status_code == 201)
    assert {r.json()["booking_id"] for r in responses if r.status_code == 409} <= {held}
    async with runtime.engine.connect() as conn:
        count = (
            await conn.execute(
                select(func.count()).where(
                    blind_match(exam_bookings.c.id_number, learner.id_number),
                    exam_bookings.c.state == "requested",
                )
            )
        ).scalar_one()
    assert count == 1


async def test_dl11_requests_are_taken_in_the_booking_window_and_seats_decided_from_the_cutoff(
    client: httpx.AsyncClient, actors: Actors, clock: FixedClock
) -> None:
    site = await add_site(client, actors)
    later = await add_slot(client, actors, site, START + timedelta(days=2))  # opens in 2 days less an hour
    learner = await add_learner(client, actors, START - timedelta(days=4))
    r = await book(client, learner, later)
    assert (r.status_code, r.json()["code"], r.json()["rule"]) == (409, "BOOKING_CLOSED", "DL-11")
    slot = await add_slot(client, actors, site, START)
    r = await client.post(f"/api/v1/exams/slots/{slot['id']}/decision", headers=actors.admin)
    assert (r.status_code, r.json()["code"]) == (409, "CUTOFF_NOT_REACHED")
    clock.set(START + timedelta(days=2))  # the slot's cut-off
    r = await book(client, learner, slot)
    assert (r.status_code, r.json()["code"]) == (409, "BOOKING_CLOSED")
    r = await client.post(f"/api/v1/exams/slots/{slot['id']}/decision", headers=actors.elsewhere)
    assert r.status_code == 403  # not the office's administrator
    other_admin = actors.tokens.headers(actors.tokens.clerk("a2", roles=("clerk.admin",), office="130200"))
    r = await client.post(f"/api/v1/exams/slots/{slot['id']}/decision", headers=other_admin)
    assert r.status_code == 404


async def test_dl11_subjects_are_booked_in_order_and_in_a_class_applied_for(
    client: httpx.AsyncClient, actors: Actors
) -> None:
    site = await add_site(client, actors)
    learner = await add_learner(client, actors, START - timedelta(days=4))
    second = await add_slot(client, actors, site, START, subject=2)
    r = await book(client, learner, second)
    assert (r.status_code, r.json()["code"], r.json()["next_subject"]) == (409, "SUBJECT_OUT_OF_ORDER", 1)
    trucks = await add_slot(client, actors, site, START, classes=("B2",))
    r = await book(client, learner, trucks)
    assert (r.status_code, r.json()["code"]) == (422, "SLOT_NOT_FOR_CLASSES")
    theory_only = await add_site(client, actors, subjects=(1, 4))
    r = await client.post(
        f"/api/v1/exams/sites/{theory_only}/slots",
        json={
            "subject": 2,
            "classes": ["C1"],
            "starts_at": (START + timedelta(days=5)).isoformat(),
            "capacity": 5,
            "booking_opens_at": START.isoformat(),
            "cutoff_at": (START + timedelta(days=2)).isoformat(),
        },
        headers=actors.admin,
    )
    assert (r.status_code, r.json()["code"]) == (422, "SUBJECT_NOT_EXAMINED_AT_SITE")
    r = await client.post(
        f"/api/v1/exams/sites/{theory_only}/slots",
        json={
            "subject": 1,
            "classes": ["C1"],
            "starts_at": (START + timedelta(days=1)).isoformat(),
            "capacity": 5,
            "booking_opens_at": START.isoformat(),
            "cutoff_at": (START + timedelta(days=2)).isoformat(),
        },
        headers=actors.admin,
    )
    assert r.status_code == 422  # the cut-off after the exam


async def test_dl11_a_request_is_withdrawn_online_and_a_seated_booking_cancelled_at_the_counter(
    client: httpx.AsyncClient, actors: Actors, clock: FixedClock, runtime: Runtime
) -> None:
    """DL-11: withdrawing a request before the cut-off costs nothing (the next request still ranks by the
    acceptance); a seated booking is not cancelled online but at the counter by the day before the exam,
    and the next booking then ranks by the cancellation time."""
    site = await add_site(client, actors)
    learner = await add_learner(client, actors, START - timedelta(days=4))
    slot = await add_slot(client, actors, site, START)
    first = (await book(client, learner, slot)).json()
    r = await client.post(f"/api/v1/exams/bookings/{first['id']}/cancellation", headers=learner.headers)
    assert (r.status_code, r.json()["state"]) == (200, "withdrawn")
    again = await book(client, learner, slot)
    assert again.json()["ranking"]["basis"] == "accepted"
    await decide(client, actors, clock, slot)
    seated = again.json()
    r = await client.post(f"/api/v1/exams/bookings/{seated['id']}/cancellation", headers=learner.headers)
    assert (r.status_code, r.json()["code"]) == (409, "CANCEL_AT_COUNTER")
    r = await client.post(f"/api/v1/exams/bookings/{seated['id']}/cancellation", headers=actors.elsewhere)
    assert r.status_code == 404  # another office's clerk
    cancelled_at = await clock.now()
    r = await client.post(f"/api/v1/exams/bookings/{seated['id']}/cancellation", headers=actors.counter)
    assert (r.status_code, r.json()["state"]) == (200, "cancelled")
    events = await events_about(runtime, seated["id"])
    assert events[-1][0] == "license.exam_booking.cancelled.v1"
    assert (events[-1][1]["by"], events[-1][1]["state"]) == ("counter", "cancelled")

    nxt = await add_slot(client, actors, site, await clock.now())
    r = await book(client, learner, nxt)
    assert r.json()["ranking"]["basis"] == "cancelled"
    assert at(r.json()["ranking"]["priority_at"]) == cancelled_at
    await decide(client, actors, clock, nxt)
    clock.set(clock_day(r.json()["starts_at"]))  # the exam day itself: too late to cancel
    late = await client.post(f"/api/v1/exams/bookings/{r.json()['id']}/cancellation", headers=actors.counter)
    assert (late.status_code, late.json()["code"]) == (409, "CANCEL_TOO_LATE")


def clock_day(starts_at: str) -> datetime:
    """07:00 on the exam's day, in Shanghai."""
    return datetime.fromisoformat(starts_at).astimezone(START.tzinfo).replace(hour=7, minute=0)


async def test_dl11_another_learners_booking_answers_404(
    client: httpx.AsyncClient, actors: Actors, clock: FixedClock
) -> None:
    site = await add_site(client, actors)
    slot = await add_slot(client, actors, site, START)
    owner = await add_learner(client, actors, START - timedelta(days=4))
    other = await add_learner(client, actors, START - timedelta(days=5))
    booking = (await book(client, owner, slot)).json()
    own = await client.get(f"/api/v1/exams/bookings/{booking['id']}", headers=owner.headers)
    assert own.status_code == 200
    for call in (
        client.get(f"/api/v1/exams/bookings/{booking['id']}", headers=other.headers),
        client.post(f"/api/v1/exams/bookings/{booking['id']}/cancellation", headers=other.headers),
        client.get(f"/api/v1/exams/bookings/{booking['id']}", headers=actors.elsewhere),
    ):
        r = await call
        assert r.status_code == 404, r.text
    assert (await client.get("/api/v1/exams/bookings/mine", headers=other.headers)).json() == []
    await decide(client, actors, clock, slot)
    r = await result(client, actors, clock, booking, "passed")
    assert r.status_code == 200
    r = await client.post(
        f"/api/v1/exams/bookings/{booking['id']}/result",
        json={"outcome": "passed"},
        headers=actors.elsewhere,
    )
    assert r.status_code == 404  # an examiner of another office
    r = await client.post(
        f"/api/v1/exams/bookings/{booking['id']}/result", json={"outcome": "passed"}, headers=owner.headers
    )
    assert r.status_code == 403  # a learner records no result
    roster = await client.get(f"/api/v1/exams/slots/{slot['id']}/roster", headers=actors.examiner)
    assert [e["id_number"][-4:] for e in roster.json()] == [owner.id_number[-4:]]
    assert "*" in roster.json()[0]["id_number"]
