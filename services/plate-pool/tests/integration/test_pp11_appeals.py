"""PP-11: a user appeals an outcome; a clerk decides and can restore the chances or the number."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

import pytest

from plate_pool_service import sweeps
from servicekit.clock import SHANGHAI

from .conftest import Platform, drain

pytestmark = pytest.mark.integration


async def cancelled_for_lateness(p: Platform) -> tuple[Any, dict[str, Any], str]:
    who, sel = await p.start()
    drawn = (await p.draw(who, sel)).json()
    await p.choose(who, sel, drawn["numbers"][0])
    assert (await p.confirm(who, sel)).status_code == 200
    p.clock.set(datetime(2027, 3, 5, 9, 0, tzinfo=SHANGHAI))
    await drain(sweeps.register_deadlines, p.ctx.runtime)
    assert (await p.get(who, sel))["state"] == "cancelled"
    return who, sel, drawn["numbers"][0]


def reviewer(p: Platform) -> dict[str, str]:
    return p.tokens.headers(p.tokens.clerk(roles=("clerk.review",), office=p.office))


@pytest.mark.redis_cluster
async def test_pp11_an_upheld_appeal_restores_the_number_and_lifts_the_ban(
    platform: Platform,
) -> None:
    p = platform
    segment = await p.open_segment()
    who, sel, number = await cancelled_for_lateness(p)
    r = await p.client.post(p.url(sel, "/appeals"), json={"reason": "住院无法按期办理"}, headers=who.headers)
    assert r.status_code == 201, r.text
    appeal = r.json()
    assert appeal["state"] == "filed"
    again = await p.client.post(p.url(sel, "/appeals"), json={"reason": "again"}, headers=who.headers)
    assert (again.status_code, again.json()["code"]) == (409, "APPEAL_PENDING")
    r = await p.client.post(
        p.url(sel, f"/appeals/{appeal['id']}/decision"),
        json={"decision": "upheld", "remedy": "restore_number", "note": "出具住院证明"},
        headers=reviewer(p),
    )
    assert r.status_code == 200, r.text
    assert (r.json()["state"], r.json()["remedy"]) == ("upheld", "restore_number")
    view = await p.get(who, sel)
    assert (view["state"], view["plate_number"]) == ("selected", number)
    assert view["register_by"] == "2027-03-10T23:59:59.999999+08:00"
    assert (await p.ctx.hot.counts(segment)).allocated == 1
    # The ban is lifted: the same person may pre-select for another car once this one is registered.


async def test_pp11_an_upheld_appeal_can_restore_the_chances(platform: Platform) -> None:
    p = platform
    await p.open_segment()
    who, sel, _ = await cancelled_for_lateness(p)
    appeal = (
        await p.client.post(p.url(sel, "/appeals"), json={"reason": "系统故障"}, headers=who.headers)
    ).json()
    r = await p.client.post(
        p.url(sel, f"/appeals/{appeal['id']}/decision"),
        json={"decision": "upheld", "remedy": "restore_chances"},
        headers=reviewer(p),
    )
    assert r.status_code == 200, r.text
    r = await p.client.post("/api/v1/plate-selections", json=p.start_body(who), headers=who.headers)
    assert r.status_code == 200, r.text
    assert (r.json()["state"], r.json()["random_draws_left"], r.json()["custom_attempts_left"]) == (
        "selecting",
        10,
        20,
    )


async def test_pp11_a_rejected_appeal_changes_nothing_and_only_clerks_decide(
    platform: Platform,
) -> None:
    p = platform
    await p.open_segment()
    who, sel, _ = await cancelled_for_lateness(p)
    appeal = (
        await p.client.post(p.url(sel, "/appeals"), json={"reason": "忘了"}, headers=who.headers)
    ).json()
    r = await p.client.post(
        p.url(sel, f"/appeals/{appeal['id']}/decision"),
        json={"decision": "rejected"},
        headers=who.headers,
    )
    assert r.status_code == 403
    r = await p.client.post(
        p.url(sel, f"/appeals/{appeal['id']}/decision"),
        json={"decision": "rejected"},
        headers=reviewer(p),
    )
    assert r.json()["state"] == "rejected"
    assert (await p.get(who, sel))["state"] == "cancelled"
    p.clock.advance(timedelta(hours=1))
    listed = (await p.client.get(p.url(sel, "/appeals"), headers=who.headers)).json()
    assert [a["state"] for a in listed["items"]] == ["rejected"]


async def test_pp11_nothing_to_appeal_while_selecting(platform: Platform) -> None:
    p = platform
    await p.open_segment()
    who, sel = await p.start()
    r = await p.client.post(p.url(sel, "/appeals"), json={"reason": "why"}, headers=who.headers)
    assert (r.status_code, r.json()["code"], r.json()["rule"]) == (
        409,
        "NOTHING_TO_APPEAL",
        "PP-11",
    )


async def test_pp11_the_office_queue_lists_open_appeals_with_their_selection(platform: Platform) -> None:
    """The deciding clerk's queue: the appeals of the clerk's own office, with what the decision needs of
    the selection (the phone masked); a decided appeal leaves the `filed` queue."""
    p = platform
    await p.open_segment()
    who, sel, number = await cancelled_for_lateness(p)
    body = {"reason": "住院无法按期办理"}
    appeal = (await p.client.post(p.url(sel, "/appeals"), json=body, headers=who.headers)).json()
    # The answer's shape, as before the response model: ids and times as strings, Beijing time.
    assert set(appeal) == {
        "id",
        "selection_id",
        "state",
        "reason",
        "remedy",
        "decision_note",
        "created_at",
        "decided_at",
    }
    assert (appeal["selection_id"], appeal["remedy"], appeal["decided_at"]) == (sel["id"], None, None)
    assert appeal["created_at"] == "2027-03-05T09:00:00+08:00"
    queue = "/api/v1/plate-selections/appeals"
    r = await p.client.get(queue, params={"state": "filed"}, headers=reviewer(p))
    assert r.status_code == 200, r.text
    (item,) = r.json()["items"]
    assert {k: item[k] for k in appeal} == appeal
    assert (item["vin"], item["plate_number"], item["selection_state"], item["office_code"]) == (
        sel["vin"],
        number,
        "cancelled",
        p.office,
    )
    assert item["phone"] == f"{who.phone[:3]}****{who.phone[-4:]}"
    elsewhere = p.tokens.headers(p.tokens.clerk(roles=("clerk.review",), office="120000"))
    r = await p.client.get(queue, headers=elsewhere)
    assert appeal["id"] not in [a["id"] for a in r.json()["items"]]
    r = await p.client.get(queue, headers=who.headers)
    assert r.status_code == 403
    await p.client.post(
        p.url(sel, f"/appeals/{appeal['id']}/decision"),
        json={"decision": "rejected", "note": "无正当理由"},
        headers=reviewer(p),
    )
    r = await p.client.get(queue, params={"state": "filed"}, headers=reviewer(p))
    assert r.json()["items"] == []
    r = await p.client.get(queue, params={"state": "rejected"}, headers=reviewer(p))
    assert [(a["id"], a["decision_note"]) for a in r.json()["items"]] == [(appeal["id"], "无正当理由")]
