"""The selection flow PP-01..PP-08 through the API, against the real Postgres and Redis."""

from __future__ import annotations

import uuid
from datetime import datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import select

from plate_pool_service import sweeps
from plate_pool_service.tables import allocations, selections
from servicekit.db import new_metadata

from .conftest import JPEG, Platform, drain, new_uscc, new_vin

pytestmark = pytest.mark.integration


async def events(p: Platform, routing_key: str) -> list[dict[str, Any]]:
    outbox = new_metadata().tables["outbox"]
    async with p.ctx.runtime.engine.connect() as conn:
        rows = (
            await conn.execute(
                select(outbox.c.payload).where(outbox.c.routing_key == routing_key).order_by(outbox.c.id)
            )
        ).scalars()
        return [dict(r) for r in rows]


@pytest.mark.redis_cluster
async def test_pp06_pp07_pp08_draw_choose_confirm_allocates_and_publishes(
    platform: Platform,
) -> None:
    p = platform
    await p.open_segment()
    who, sel = await p.start()
    assert sel["state"] == "selecting"
    assert (sel["custom_attempts_left"], sel["random_draws_left"]) == (20, 10)
    assert sel["session_expires_at"] == "2027-03-01T11:00:00+08:00"
    r = await p.draw(who, sel)
    assert r.status_code == 201, r.text
    draw: dict[str, Any] = r.json()
    assert len(set(draw["numbers"])) == 5
    assert all(n.startswith("冀A3") for n in draw["numbers"])
    assert draw["random_draws_left"] == 9
    assert draw["held_until"] == "2027-03-01T10:03:00+08:00"
    chosen = draw["numbers"][2]
    r = await p.choose(who, sel, chosen)
    assert r.status_code == 200, r.text
    assert r.json()["state"] == "awaiting_sms"
    assert r.json()["sms_deadline"] == "2027-03-01T10:30:00+08:00"
    # The four others went back (PP-06): 10,000 minus the one still held.
    segment = await p.segment_id()
    counts = await p.ctx.hot.counts(segment)
    assert (counts.available, counts.held) == (9_999, 1)
    r = await p.confirm(who, sel)
    assert r.status_code == 200, r.text
    done = r.json()
    assert done["state"] == "selected"
    assert done["plate_number"] == chosen
    assert done["register_by"] == "2027-03-04T23:59:59.999999+08:00"  # 3 working days (PP-08)
    counts = await p.ctx.hot.counts(segment)
    assert (counts.available, counts.held, counts.allocated) == (9_999, 0, 1)
    async with p.ctx.runtime.engine.connect() as conn:
        ledger = (
            (
                await conn.execute(
                    select(allocations.c.plate_number).where(allocations.c.office_code == p.office)
                )
            )
            .scalars()
            .all()
        )
    assert ledger == [chosen]
    confirmed = [
        e for e in await events(p, "plate-pool.selection.confirmed.v1") if e["selection_id"] == sel["id"]
    ]
    assert len(confirmed) == 1
    assert confirmed[0]["plate_number"] == chosen
    assert confirmed[0]["owner"]["id_number"] == who.id_number


async def test_pp06_a_new_draw_releases_the_previous_five_and_costs_one(platform: Platform) -> None:
    p = platform
    await p.open_segment()
    who, sel = await p.start()
    first = (await p.draw(who, sel)).json()
    second = (await p.draw(who, sel)).json()
    assert second["random_draws_left"] == 8
    counts = await p.ctx.hot.counts(await p.segment_id())
    assert counts.held == 5
    # The first five are no longer this user's: choosing one of them is refused.
    stale = next(n for n in first["numbers"] if n not in second["numbers"])
    r = await p.choose(who, sel, stale)
    assert (r.status_code, r.json()["code"], r.json()["rule"]) == (409, "NUMBER_NOT_HELD", "PP-06")


async def test_pp06_ten_draws_then_no_more(platform: Platform) -> None:
    p = platform
    await p.open_segment()
    who, sel = await p.start()
    for left in range(9, -1, -1):
        r = await p.draw(who, sel)
        assert r.json()["random_draws_left"] == left
    r = await p.draw(who, sel)
    assert (r.status_code, r.json()["code"], r.json()["rule"]) == (
        409,
        "RANDOM_DRAWS_EXHAUSTED",
        "PP-06",
    )


@pytest.mark.redis_cluster
async def test_pp06_a_hold_lapses_after_180_seconds(platform: Platform) -> None:
    p = platform
    await p.open_segment()
    who, sel = await p.start()
    drawn = (await p.draw(who, sel)).json()
    p.clock.advance(timedelta(seconds=180))
    assert await sweeps.lapse_holds(p.ctx.runtime) == 5
    counts = await p.ctx.hot.counts(await p.segment_id())
    assert (counts.available, counts.held) == (10_000, 0)
    r = await p.choose(who, sel, drawn["numbers"][0])
    assert (r.status_code, r.json()["code"]) == (409, "NUMBER_NOT_HELD")


async def test_pp05_failed_verify_costs_one_attempt(platform: Platform) -> None:
    p = platform
    await p.open_segment()
    holder, held_sel = await p.start()
    taken = "冀A31234"
    assert (await p.verify(holder, held_sel, taken)).status_code == 201
    who, sel = await p.start()
    r = await p.verify(who, sel, taken)
    assert r.status_code == 409
    body = r.json()
    assert (body["code"], body["rule"], body["custom_attempts_left"], body["reason"]) == (
        "CUSTOM_NUMBER_UNAVAILABLE",
        "PP-05",
        19,
        "taken",
    )
    # Not one of the segment's numbers, or not of a custom pattern it publishes: also one attempt.
    r = await p.verify(who, sel, "冀A41234")
    assert (r.json()["custom_attempts_left"], r.json()["reason"]) == (18, "not_allowed")
    r = await p.verify(who, sel, "冀A3K234")  # 3*### is published, but the segment is 3####
    assert r.json()["custom_attempts_left"] == 17
    r = await p.verify(who, sel, "冀AIO000")  # letters I and O never appear
    assert r.json()["custom_attempts_left"] == 16


@pytest.mark.redis_cluster
async def test_pp05_successful_verify_sets_attempts_to_zero_and_holds_180_seconds(
    platform: Platform,
) -> None:
    p = platform
    await p.open_segment()
    who, sel = await p.start()
    r = await p.verify(who, sel, "冀A37777")
    assert r.status_code == 201, r.text
    assert r.json() == {
        "selection_id": sel["id"],
        "number": "冀A37777",
        "held_until": "2027-03-01T10:03:00+08:00",
        "custom_attempts_left": 0,
    }
    r = await p.verify(who, sel, "冀A37778")
    assert (r.status_code, r.json()["code"]) == (409, "CUSTOM_ATTEMPTS_EXHAUSTED")
    # Not confirmed within 180 s: the number goes back and only random selection remains.
    p.clock.advance(timedelta(seconds=181))
    r = await p.choose(who, sel, "冀A37777")
    assert (r.status_code, r.json()["code"]) == (409, "NUMBER_NOT_HELD")
    assert (await p.draw(who, sel)).status_code == 201


async def test_pp05_a_repeated_verify_of_the_held_number_answers_the_same(platform: Platform) -> None:
    """Its answer lost on the way, the person asks again for the number they now hold: the same answer,
    not "no custom attempts left" (the attempt was spent on the success)."""
    p = platform
    await p.open_segment()
    who, sel = await p.start()
    first = await p.verify(who, sel, "冀A37777")
    assert first.status_code == 201, first.text
    p.clock.advance(timedelta(seconds=5))
    again = await p.verify(who, sel, "冀A37777")
    assert again.status_code == 201, again.text
    assert again.json() == first.json()  # held until the first answer's time, not 5 s later


async def test_pp06_a_draw_repeated_with_its_idempotency_key_answers_the_first_draw(
    platform: Platform,
) -> None:
    """api.md: a POST with an Idempotency-Key answers a repeat with the first answer. A lost answer to a
    draw then costs no second draw, and the five numbers it holds stay held."""
    p = platform
    await p.open_segment()
    who, sel = await p.start()
    headers = {**who.headers, "Idempotency-Key": "draw-1"}
    first = await p.client.post(p.url(sel, "/random-draws"), headers=headers)
    assert first.status_code == 201, first.text
    again = await p.client.post(p.url(sel, "/random-draws"), headers=headers)
    assert (again.status_code, again.headers["Idempotent-Replayed"]) == (201, "true")
    assert again.json() == first.json()
    view = await p.get(who, sel)
    assert (view["random_draws_left"], view["held_numbers"]) == (9, first.json()["numbers"])
    other = await p.client.post(
        p.url(sel, "/random-draws"), headers={**who.headers, "Idempotency-Key": "draw-2"}
    )
    assert other.json()["random_draws_left"] == 8  # a new key is a new draw


async def test_pp01_a_start_repeated_with_its_idempotency_key_answers_the_first_start(
    platform: Platform,
) -> None:
    """A start answered too late (the gateway's 504) is asked again with the same key: the first start's
    answer, not a second start (which would answer 200, the vehicle's selection resumed)."""
    p = platform
    await p.open_segment()
    who = p.applicant()
    body = p.start_body(who)
    headers = {**who.headers, "Idempotency-Key": "start-1"}
    first = await p.client.post("/api/v1/plate-selections", json=body, headers=headers)
    assert first.status_code == 201, first.text
    again = await p.client.post("/api/v1/plate-selections", json=body, headers=headers)
    assert (again.status_code, again.headers["Idempotent-Replayed"]) == (201, "true")
    assert again.json() == first.json()
    fresh = await p.client.post(
        "/api/v1/plate-selections", json=body, headers={**who.headers, "Idempotency-Key": "start-2"}
    )
    assert (fresh.status_code, fresh.json()["id"]) == (200, first.json()["id"])  # a new key: resumed


async def test_pp05_twenty_failed_verifies_leave_only_random(platform: Platform) -> None:
    p = platform
    await p.open_segment()
    who, sel = await p.start()
    for left in range(19, -1, -1):
        r = await p.verify(who, sel, "冀A41234")
        assert r.json()["custom_attempts_left"] == left
    r = await p.verify(who, sel, "冀A31234")
    assert (r.status_code, r.json()["code"], r.json()["rule"]) == (
        409,
        "CUSTOM_ATTEMPTS_EXHAUSTED",
        "PP-05",
    )


async def test_pp04_outside_08_to_23_is_refused(platform: Platform) -> None:
    p = platform
    await p.open_segment()
    p.clock.set(p.clock._now.replace(hour=23, minute=0))
    who = p.applicant()
    r = await p.client.post("/api/v1/plate-selections", json=p.start_body(who), headers=who.headers)
    assert (r.status_code, r.json()["code"], r.json()["rule"]) == (
        409,
        "OUTSIDE_SELECTION_HOURS",
        "PP-04",
    )
    p.clock.set(p.clock._now.replace(hour=7, minute=59))
    r = await p.client.post("/api/v1/plate-selections", json=p.start_body(who), headers=who.headers)
    assert r.json()["code"] == "OUTSIDE_SELECTION_HOURS"
    p.clock.set(p.clock._now.replace(hour=8, minute=0))
    r = await p.client.post("/api/v1/plate-selections", json=p.start_body(who), headers=who.headers)
    assert r.status_code == 201


@pytest.mark.redis_cluster
async def test_pp04_a_session_ends_at_60_minutes_and_resumes_with_the_chances_left(
    platform: Platform,
) -> None:
    p = platform
    await p.open_segment()
    who, sel = await p.start()
    await p.draw(who, sel)
    p.clock.advance(timedelta(minutes=60))
    r = await p.draw(who, sel)
    assert (r.status_code, r.json()["code"], r.json()["rule"]) == (409, "SESSION_EXPIRED", "PP-04")
    assert await drain(sweeps.end_sessions, p.ctx.runtime) >= 1
    assert (await p.get(who, sel))["state"] == "session_expired"
    counts = await p.ctx.hot.counts(await p.segment_id())
    assert counts.held == 0
    r = await p.client.post("/api/v1/plate-selections", json=p.start_body(who), headers=who.headers)
    assert r.status_code == 200, r.text
    again = r.json()
    assert again["id"] == sel["id"]
    assert (again["state"], again["random_draws_left"], again["custom_attempts_left"]) == (
        "selecting",
        9,
        20,
    )
    assert (await p.draw(who, sel)).json()["random_draws_left"] == 8


async def test_pp04_a_session_never_runs_past_23_00(platform: Platform) -> None:
    p = platform
    await p.open_segment()
    p.clock.set(p.clock._now.replace(hour=22, minute=30))
    _, sel = await p.start()
    assert sel["session_expires_at"] == "2027-03-01T23:00:00+08:00"


async def test_pp07_sms_not_confirmed_in_30_minutes_goes_back_to_selecting(
    platform: Platform,
) -> None:
    p = platform
    await p.open_segment()
    who, sel = await p.start()
    drawn = (await p.draw(who, sel)).json()
    await p.choose(who, sel, drawn["numbers"][0])
    p.clock.advance(timedelta(minutes=30))
    r = await p.client.post(p.url(sel, "/sms-code"), headers=who.headers)
    assert (r.status_code, r.json()["code"], r.json()["rule"]) == (409, "SMS_WINDOW_OVER", "PP-07")
    assert await drain(sweeps.sms_windows, p.ctx.runtime) >= 1
    view = await p.get(who, sel)
    assert (view["state"], view["plate_number"], view["random_draws_left"]) == (
        "selecting",
        None,
        9,
    )
    counts = await p.ctx.hot.counts(await p.segment_id())
    assert (counts.available, counts.held) == (10_000, 0)
    assert (await p.draw(who, sel)).status_code == 201


async def test_pp07_with_no_chances_left_the_user_goes_to_the_office(platform: Platform) -> None:
    p = platform
    await p.open_segment()
    await p.client.put(
        f"/api/v1/plate-segments/offices/{p.office}/settings",
        json={"random_draws": 1, "custom_attempts": 0},
        headers=p.tokens.headers(p.tokens.clerk(roles=("clerk.admin",), office=p.office)),
    )
    who, sel = await p.start()
    assert (sel["custom_attempts_left"], sel["random_draws_left"]) == (0, 1)
    drawn = (await p.draw(who, sel)).json()
    await p.choose(who, sel, drawn["numbers"][0])
    p.clock.advance(timedelta(minutes=31))
    await drain(sweeps.sms_windows, p.ctx.runtime)
    assert (await p.get(who, sel))["state"] == "exhausted"


async def test_pp07_a_wrong_code_is_refused_and_the_number_stays_held(platform: Platform) -> None:
    p = platform
    await p.open_segment()
    who, sel = await p.start()
    drawn = (await p.draw(who, sel)).json()
    await p.choose(who, sel, drawn["numbers"][0])
    await p.client.post(p.url(sel, "/sms-code"), headers=who.headers)
    code = await p.sms_code(who.phone)
    wrong = f"{(int(code) + 1) % 1_000_000:06d}"
    r = await p.client.post(p.url(sel, "/confirmation"), json={"code": wrong}, headers=who.headers)
    assert (r.status_code, r.json()["code"]) == (422, "SMS_CODE_MISMATCH")
    r = await p.client.post(p.url(sel, "/confirmation"), json={"code": code}, headers=who.headers)
    assert r.json()["state"] == "selected"


async def test_pp02_another_selection_only_after_the_previous_is_registered(
    platform: Platform,
) -> None:
    p = platform
    await p.open_segment()
    who, _ = await p.start()
    second_car = p.applicant()
    second_car.id_number, second_car.token, second_car.subject = (
        who.id_number,
        who.token,
        who.subject,
    )
    second_car.phone = who.phone  # the same person: the same registered phone (PP-07)
    body = p.start_body(second_car)
    r = await p.client.post("/api/v1/plate-selections", json=body, headers=who.headers)
    assert (r.status_code, r.json()["code"], r.json()["rule"]) == (
        409,
        "PREVIOUS_SELECTION_NOT_REGISTERED",
        "PP-02",
    )


async def test_pp13_one_open_selection_per_phone(platform: Platform) -> None:
    p = platform
    await p.open_segment()
    first, _ = await p.start()
    other = p.applicant(phone=first.phone)
    r = await p.client.post("/api/v1/plate-selections", json=p.start_body(other), headers=other.headers)
    assert (r.status_code, r.json()["code"], r.json()["rule"]) == (409, "PHONE_QUOTA", "PP-13")


async def test_pp02_a_vehicle_is_selected_once(platform: Platform) -> None:
    p = platform
    await p.open_segment()
    first, _ = await p.start()
    other = p.applicant()
    other.vin = first.vin
    r = await p.client.post("/api/v1/plate-selections", json=p.start_body(other), headers=other.headers)
    assert (r.status_code, r.json()["code"]) == (409, "VEHICLE_ALREADY_SELECTED")


async def test_pp01_only_small_cars_and_the_callers_own(platform: Platform) -> None:
    p = platform
    await p.open_segment()
    who = p.applicant()
    r = await p.client.post(
        "/api/v1/plate-selections",
        json=p.start_body(who, vehicle_kind="large_bus"),
        headers=who.headers,
    )
    assert (r.status_code, r.json()["code"], r.json()["rule"]) == (
        422,
        "VEHICLE_NOT_ELIGIBLE",
        "PP-01",
    )
    someone = p.applicant()
    body = p.start_body(who)
    body["owner"]["id_number"] = someone.id_number
    r = await p.client.post("/api/v1/plate-selections", json=body, headers=who.headers)
    assert (r.status_code, r.json()["code"], r.json()["rule"]) == (422, "OWNER_NOT_CALLER", "PP-01")


async def test_pp01_a_unit_pre_selects_only_for_a_car_the_unit_owns(platform: Platform) -> None:
    p = platform
    await p.open_segment()
    code = new_uscc(p.office)
    who = p.applicant()
    token = p.tokens.mint(f"unit-{code}", kind="unit", roles=("unit",), id_number=code, phone=who.phone)
    headers = p.tokens.headers(token)

    def body_owned_by(kind: str, number: str) -> dict[str, Any]:
        body = p.start_body(who)
        body["owner"] = {"id_kind": kind, "id_number": number, "name": "石家庄某某科技有限公司"}
        return body

    for kind, number in (
        ("uscc", new_uscc(p.office)),  # another unit's car
        ("resident_id", who.id_number),  # a person's car
    ):
        r = await p.client.post("/api/v1/plate-selections", json=body_owned_by(kind, number), headers=headers)
        assert (r.status_code, r.json()["code"], r.json()["rule"]) == (422, "OWNER_NOT_CALLER", "PP-01")
    r = await p.client.post("/api/v1/plate-selections", json=body_owned_by("uscc", code), headers=headers)
    assert r.status_code == 201, r.text
    assert await stored_kind(p, r.json()["id"]) == "uscc"
    # and a person cannot pre-select for a unit's car, even naming the unit's code
    r = await p.client.post(
        "/api/v1/plate-selections",
        json=body_owned_by("uscc", code) | {"vin": new_vin()},
        headers=who.headers,
    )
    assert (r.status_code, r.json()["code"]) == (422, "OWNER_NOT_CALLER")


async def test_pp01_a_units_old_kind_spelling_is_read_as_uscc(platform: Platform) -> None:
    """ADR 0045: one vocabulary of identity kinds; a client still sending `social_credit_code` is understood,
    and the selection (and its events) say `uscc`."""
    p = platform
    await p.open_segment()
    code = new_uscc(p.office)
    agent = p.applicant()
    token = p.tokens.mint(f"unit-{code}", kind="unit", roles=("unit",), id_number=code, phone=agent.phone)
    body = p.start_body(agent)
    body["owner"] = {"id_kind": "social_credit_code", "id_number": code, "name": "石家庄某某科技有限公司"}
    r = await p.client.post("/api/v1/plate-selections", json=body, headers=p.tokens.headers(token))
    assert r.status_code == 201, r.text
    assert await stored_kind(p, r.json()["id"]) == "uscc"


async def stored_kind(p: Platform, selection_id: str) -> str:
    async with p.ctx.runtime.engine.connect() as conn:
        return str(
            (
                await conn.execute(
                    select(selections.c.owner_id_kind).where(selections.c.id == uuid.UUID(selection_id))
                )
            ).scalar_one()
        )


async def test_clerks_see_their_own_offices_selections_only(platform: Platform) -> None:
    """Object-level authorisation: a clerk of another office is told the selection is not there."""
    p = platform
    await p.open_segment()
    _, sel = await p.start()
    ours = p.tokens.headers(p.tokens.clerk(roles=("clerk.review",), office=p.office))
    theirs = p.tokens.headers(p.tokens.clerk(roles=("clerk.review",), office="139999"))
    r = await p.client.get(p.url(sel), headers=ours)
    assert r.status_code == 200, r.text
    r = await p.client.get(p.url(sel), headers=theirs)
    assert r.status_code == 404, r.text
    r = await p.client.get(p.url(sel, "/appeals"), headers=theirs)
    assert r.status_code == 404, r.text


@pytest.mark.parametrize(
    ("change", "code"),
    [
        ({"vin": "LFV2A21K8A3043117"}, "VIN_INVALID"),
        ({"phone": "010-12345678"}, "PHONE_INVALID"),
        (
            {
                "invoice": {
                    "number": "1",
                    "code": "1",
                    "date": "2027-02-27",
                    "amount_fen": 1,
                    "photo": "aGVsbG8=",
                }
            },
            "INVOICE_PHOTO_INVALID",
        ),
        (
            {
                "invoice": {
                    "number": "1",
                    "code": "1",
                    "date": "2027-03-09",
                    "amount_fen": 1,
                    "photo": JPEG,
                }
            },
            "INVOICE_DATE_INVALID",
        ),
    ],
)
async def test_pp03_the_entries_are_checked(platform: Platform, change: dict[str, Any], code: str) -> None:
    p = platform
    await p.open_segment()
    who = p.applicant()
    r = await p.client.post("/api/v1/plate-selections", json=p.start_body(who, **change), headers=who.headers)
    assert (r.status_code, r.json()["code"], r.json()["rule"]) == (422, code, "PP-03")


async def test_pp03_a_non_local_owner_needs_a_valid_residence_permit(platform: Platform) -> None:
    p = platform
    await p.open_segment()
    who = p.applicant(local=False)
    r = await p.client.post("/api/v1/plate-selections", json=p.start_body(who), headers=who.headers)
    assert (r.status_code, r.json()["code"], r.json()["rule"]) == (
        422,
        "RESIDENCE_PERMIT_REQUIRED",
        "PP-03",
    )
    expired = {"number": "R123", "valid_until": "2027-02-28"}
    r = await p.client.post(
        "/api/v1/plate-selections",
        json=p.start_body(who, residence_permit=expired),
        headers=who.headers,
    )
    assert r.json()["code"] == "RESIDENCE_PERMIT_EXPIRED"
    valid = {"number": "R123", "valid_until": "2028-02-28"}
    r = await p.client.post(
        "/api/v1/plate-selections",
        json=p.start_body(who, residence_permit=valid),
        headers=who.headers,
    )
    assert r.status_code == 201, r.text


async def test_someone_elses_selection_is_not_found(platform: Platform) -> None:
    p = platform
    await p.open_segment()
    _, sel = await p.start()
    stranger = p.applicant()
    r = await p.client.get(p.url(sel), headers=stranger.headers)
    assert r.status_code == 404
    r = await p.draw(stranger, sel)
    assert r.status_code == 404


@pytest.mark.redis_cluster
async def test_abandon_returns_the_held_numbers_and_publishes(platform: Platform) -> None:
    p = platform
    await p.open_segment()
    who, sel = await p.start()
    await p.draw(who, sel)
    r = await p.client.delete(p.url(sel), headers=who.headers)
    assert r.status_code == 204
    assert (await p.get(who, sel))["state"] == "abandoned"
    counts = await p.ctx.hot.counts(await p.segment_id())
    assert (counts.available, counts.held) == (10_000, 0)
    cancelled = [
        e for e in await events(p, "plate-pool.selection.cancelled.v1") if e["selection_id"] == sel["id"]
    ]
    assert [(e["reason"], e["plate_number"], e["ban_until"]) for e in cancelled] == [
        ("abandoned", None, None)
    ]


async def test_pp12_the_draw_fast_path_checks_the_token_and_the_role(platform: Platform) -> None:
    p = platform
    await p.open_segment()
    who, sel = await p.start()
    r = await p.client.post(p.url(sel, "/random-draws"))
    assert (r.status_code, r.json()["code"]) == (401, "UNAUTHENTICATED")
    assert r.headers["www-authenticate"] == "Bearer"
    r = await p.client.post(p.url(sel, "/random-draws"), headers={"Authorization": "Bearer not-a-jwt"})
    assert (r.status_code, r.json()["code"]) == (401, "UNAUTHENTICATED")
    clerk = p.tokens.headers(p.tokens.clerk(roles=("clerk.intake",), office=p.office))
    r = await p.client.post(p.url(sel, "/random-draws"), headers=clerk)
    assert (r.status_code, r.json()["code"]) == (403, "FORBIDDEN")
    r = await p.client.post("/api/v1/plate-selections/not-a-uuid/random-draws", headers=who.headers)
    assert r.status_code == 404
    r = await p.client.post(
        p.url({"id": "0190c9a2-6b7e-7d1a-9f3e-5c2b8a4d1e70"}, "/random-draws"), headers=who.headers
    )
    assert r.status_code == 404
    assert (await p.draw(who, sel)).status_code == 201


async def test_pp08_the_certificate_is_a_pdf_whose_qr_code_the_counter_checks(
    platform: Platform,
) -> None:
    from plate_pool_service.certificate import qr_payload

    p = platform
    await p.open_segment()
    who, sel = await p.start()
    r = await p.client.get(p.url(sel, "/certificate"), headers=who.headers)
    assert (r.status_code, r.json()["code"], r.json()["rule"]) == (409, "NO_CERTIFICATE", "PP-08")
    drawn = (await p.draw(who, sel)).json()
    await p.choose(who, sel, drawn["numbers"][0])
    done = (await p.confirm(who, sel)).json()
    r = await p.client.get(p.url(sel, "/certificate"), headers=who.headers)
    assert r.status_code == 200
    assert r.headers["content-type"] == "application/pdf"
    assert r.content.startswith(b"%PDF")
    secret = p.ctx.runtime.settings.secret_key.get_secret_value().encode()
    register_by = datetime.fromisoformat(done["register_by"])
    code = qr_payload(secret, sel["id"], done["plate_number"], who.vin, register_by)
    clerk = p.tokens.headers(p.tokens.clerk(roles=("clerk.intake",), office=p.office))
    r = await p.client.get(
        "/api/v1/plate-selections/certificate-checks", params={"code": code}, headers=clerk
    )
    assert r.status_code == 200, r.text
    assert (r.json()["genuine"], r.json()["usable"]) == (True, True)
    forged = code.replace(done["plate_number"], "冀A88888")
    r = await p.client.get(
        "/api/v1/plate-selections/certificate-checks", params={"code": forged}, headers=clerk
    )
    assert (r.status_code, r.json()["code"]) == (422, "CERTIFICATE_INVALID")
