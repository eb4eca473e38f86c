"""DL-12 points against the real license_test database: violation's decision events through license's
handler (in a unit of work, as the consumer runs it), the roll-over sweep, the flag and the views."""

from __future__ import annotations

import asyncio
import secrets
import uuid
from datetime import date, datetime, timedelta
from typing import Any

import httpx
import pytest
from pydantic import ValidationError
from sqlalchemy import func, select

from license_service import points, records
from license_service import subscriptions as subs
from license_service.tables import point_entries
from servicekit.clock import SHANGHAI, FixedClock
from servicekit.runtime import Runtime
from servicekit.testing import new_resident_id
from servicekit.uow import SYSTEM_ACTOR

from .conftest import START, Actors, deliver, events_about, issue_record, record

pytestmark = pytest.mark.integration

ISSUED = "violation.decision.issued.v1"
REVOKED = "violation.decision.revoked.v1"
CHANGED = "license.record.changed.v1"


def decision(number: str, points: int = 3, decided_at: datetime = START, **more: Any) -> dict[str, Any]:
    """violation's `violation.decision.issued.v1` data for the driver `number`."""
    data = {
        "decision_id": str(uuid.uuid4()),
        "decision_number": "1301042027" + "".join(secrets.choice("0123456789") for _ in range(8)),
        "violation_id": str(uuid.uuid4()),
        "driver_id_number": number,
        "plate_number": "冀A12345",
        "violation_code": "1625",
        "violated_at": (decided_at - timedelta(days=5)).isoformat(),
        "place": "石家庄市中华大街与裕华路交叉口",
        "points": points,
        "fine_fen": 20000,
        "decided_at": decided_at.isoformat(),
    }
    return data | more


def revocation(issued: dict[str, Any], revoked_at: datetime = START) -> dict[str, Any]:
    return issued | {"ground": "administrative_review", "revoked_at": revoked_at.isoformat()}


async def give(runtime: Runtime, *decisions: dict[str, Any]) -> None:
    for data in decisions:
        await deliver(runtime, subs.POINTS, data, ISSUED)


async def revoke(runtime: Runtime, issued: dict[str, Any]) -> None:
    await deliver(runtime, subs.POINTS, revocation(issued), REVOKED)


async def changes(runtime: Runtime, record_id: uuid.UUID, what: str) -> list[dict[str, Any]]:
    return [
        payload
        for key, payload in await events_about(runtime, str(record_id))
        if key == CHANGED and payload["change"] == what
    ]


async def entry_count(runtime: Runtime, decision_id: str) -> int:
    async with runtime.engine.connect() as conn:
        return int(
            (
                await conn.execute(select(func.count()).where(point_entries.c.decision_id == decision_id))
            ).scalar_one()
        )


def at(text: str) -> datetime:
    return datetime.fromisoformat(text).astimezone(SHANGHAI)


async def test_dl12_a_decision_counts_on_the_licence_and_is_published(runtime: Runtime) -> None:
    row = await issue_record(runtime)
    await give(runtime, decision(row["number"], points=3))
    after = await record(runtime, row["id"])
    assert (after["points"], after["state"]) == (3, "valid")
    assert after["points_review_on"] == date(2027, 8, 20)  # the cycle's end: the roll-over looks again
    published = await changes(runtime, row["id"], "points")
    assert [(p["points"], p["version"]) for p in published] == [(3, after["version"])]


async def test_dl12_a_decision_counts_in_the_cycle_of_its_decision_day_at_the_anniversary(
    runtime: Runtime, client: httpx.AsyncClient, actors: Actors
) -> None:
    """First issued 1 March 2019: a cycle ends at the end of 28 February 2027 (Asia/Shanghai), and the
    next, running now, starts on 1 March."""
    row = await issue_record(runtime, first_issue=date(2019, 3, 1))
    old = decision(row["number"], points=6, decided_at=at("2027-02-28T23:59:59+08:00"))
    new = decision(row["number"], points=3, decided_at=at("2027-02-28T16:30:00+00:00"))  # 00:30 in Beijing
    await give(runtime, old, new)
    assert (await record(runtime, row["id"]))["points"] == 3
    r = await client.get(f"/api/v1/licences/{row['id']}/points", headers=actors.clerk)
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["cycle"] == {"start": "2027-03-01", "end": "2028-02-29"}
    assert (body["total"], [e["decision_id"] for e in body["entries"]]) == (3, [new["decision_id"]])
    r = await client.get(
        f"/api/v1/licences/{row['id']}/points", params={"on": "2027-02-28"}, headers=actors.clerk
    )
    body = r.json()
    assert body["cycle"] == {"start": "2026-03-01", "end": "2027-02-28"}
    assert (body["total"], [e["decision_id"] for e in body["entries"]]) == (6, [old["decision_id"]])


async def test_dl12_a_licence_first_issued_on_a_leap_day_rolls_over_on_29_february(
    runtime: Runtime, clock: FixedClock, client: httpx.AsyncClient, actors: Actors
) -> None:
    row = await issue_record(runtime, first_issue=date(2016, 2, 29))
    clock.set(at("2028-02-28T12:00:00+08:00"))
    await give(runtime, decision(row["number"], points=3, decided_at=at("2028-02-28T10:00:00+08:00")))
    r = await client.get(f"/api/v1/licences/{row['id']}/points", headers=actors.clerk)
    assert (r.json()["cycle"], r.json()["total"]) == ({"start": "2027-02-28", "end": "2028-02-28"}, 3)
    assert (await record(runtime, row["id"]))["points_review_on"] == date(2028, 2, 29)
    clock.set(at("2028-02-29T00:00:01+08:00"))
    await points.roll_over(runtime)
    assert (await record(runtime, row["id"]))["points"] == 0
    r = await client.get(f"/api/v1/licences/{row['id']}/points", headers=actors.clerk)
    assert (r.json()["cycle"], r.json()["total"]) == ({"start": "2028-02-29", "end": "2029-02-27"}, 0)


async def test_dl12_a_redelivered_or_republished_decision_adds_nothing(runtime: Runtime) -> None:
    row = await issue_record(runtime)
    once = decision(row["number"], points=3)
    await give(runtime, once, once, once)  # three deliveries, each with its own message id
    after = await record(runtime, row["id"])
    assert after["points"] == 3
    assert await entry_count(runtime, once["decision_id"]) == 1
    assert len(await changes(runtime, row["id"], "points")) == 1


async def test_dl12_exactly_12_in_a_cycle_flags_the_licence(runtime: Runtime) -> None:
    row = await issue_record(runtime)
    await give(runtime, decision(row["number"], points=6))
    assert (await record(runtime, row["id"]))["state"] == "valid"
    await give(runtime, decision(row["number"], points=6))
    after = await record(runtime, row["id"])
    assert (after["points"], after["state"]) == (12, "full_points")
    assert [p["state"] for p in await changes(runtime, row["id"], "state")] == ["full_points"]


async def test_dl12_over_12_flags_once(runtime: Runtime) -> None:
    row = await issue_record(runtime)
    await give(runtime, decision(row["number"], points=9), decision(row["number"], points=6))
    await give(runtime, decision(row["number"], points=3))
    after = await record(runtime, row["id"])
    assert (after["points"], after["state"]) == (18, "full_points")
    assert len(await changes(runtime, row["id"], "state")) == 1


async def test_dl12_11_points_do_not_flag(runtime: Runtime) -> None:
    row = await issue_record(runtime)
    await give(runtime, decision(row["number"], points=9), decision(row["number"], points=1))
    await give(runtime, decision(row["number"], points=1))
    after = await record(runtime, row["id"])
    assert (after["points"], after["state"]) == (11, "valid")


async def test_dl12_decisions_for_one_licence_arriving_at_once_all_count(runtime: Runtime) -> None:
    """Six decisions of 2 points, each in its own transaction at the same moment: each counts on top of
    the others (the number's lock and the record's row lock serialise them), and the sixth flags."""
    row = await issue_record(runtime)
    await asyncio.gather(*(give(runtime, decision(row["number"], points=2)) for _ in range(6)))
    after = await record(runtime, row["id"])
    assert (after["points"], after["state"]) == (12, "full_points")
    assert sorted(p["points"] for p in await changes(runtime, row["id"], "points")) == [2, 4, 6, 8, 10, 12]
    assert len(await changes(runtime, row["id"], "state")) == 1


async def test_dl12_the_roll_over_clears_a_cycle_under_12_once_with_two_replicas(
    runtime: Runtime, clock: FixedClock
) -> None:
    row = await issue_record(runtime, first_issue=date(2019, 3, 2))  # this cycle ends at the end of 1 March
    await give(runtime, decision(row["number"], points=9))
    assert (await record(runtime, row["id"]))["points_review_on"] == date(2027, 3, 2)
    await points.roll_over(runtime)  # not yet
    assert (await record(runtime, row["id"]))["points"] == 9
    clock.set(at("2027-03-02T00:00:00+08:00"))
    await asyncio.gather(points.roll_over(runtime), points.roll_over(runtime))
    after = await record(runtime, row["id"])
    assert (after["points"], after["points_review_on"], after["state"]) == (0, None, "valid")
    assert [p["points"] for p in await changes(runtime, row["id"], "points")] == [9, 0]
    await points.roll_over(runtime)  # nothing left to do for it
    assert [p["points"] for p in await changes(runtime, row["id"], "points")] == [9, 0]


async def test_dl12_full_points_outlive_the_cycle_until_the_study_and_exam_clear_them(
    runtime: Runtime, clock: FixedClock, client: httpx.AsyncClient, actors: Actors
) -> None:
    row = await issue_record(runtime, first_issue=date(2019, 3, 2))
    await give(runtime, decision(row["number"], points=6), decision(row["number"], points=6))
    clock.set(at("2027-03-02T08:00:00+08:00"))
    await points.roll_over(runtime)
    after = await record(runtime, row["id"])
    assert (after["points"], after["state"]) == (0, "full_points")  # a new cycle; the flag stays
    later = decision(row["number"], points=3, decided_at=at("2027-03-02T09:00:00+08:00"))
    await give(runtime, later)
    url = f"/api/v1/licences/{row['id']}/points/clear"
    r = await client.post(url, json={"reason": "满分学习考试合格"}, headers=actors.clerk)
    assert r.status_code == 403
    r = await client.post(url, json={"reason": "合格\x00"}, headers=actors.system)
    assert r.status_code == 422
    r = await client.post(url, json={"reason": "满分学习考试合格"}, headers=actors.system)
    assert r.status_code == 200, r.text
    assert (r.json()["state"], r.json()["total"]) == ("valid", 3)  # this cycle's 3 are not cleared
    after = await record(runtime, row["id"])
    assert (after["points"], after["state"]) == (3, "valid")
    r = await client.get(
        f"/api/v1/licences/{row['id']}/points", params={"on": "2027-03-01"}, headers=actors.clerk
    )
    assert r.json()["total"] == 0
    assert [e["status"] for e in r.json()["entries"]] == ["cleared", "cleared"]
    r = await client.post(url, json={"reason": "满分学习考试合格"}, headers=actors.system)
    assert r.status_code == 409
    assert (r.json()["code"], r.json()["rule"]) == ("LICENCE_NOT_FULL_POINTS", "DL-12")


async def test_dl12_a_revoked_decision_comes_off_and_lifts_the_flag(
    runtime: Runtime, client: httpx.AsyncClient, actors: Actors
) -> None:
    row = await issue_record(runtime)
    wrong = decision(row["number"], points=6)
    await give(runtime, wrong, decision(row["number"], points=6))
    assert (await record(runtime, row["id"]))["state"] == "full_points"
    await revoke(runtime, wrong)
    await revoke(runtime, wrong)  # redelivered: nothing more
    after = await record(runtime, row["id"])
    assert (after["points"], after["state"]) == (6, "valid")
    assert [p["state"] for p in await changes(runtime, row["id"], "state")] == ["full_points", "valid"]
    r = await client.get(f"/api/v1/licences/{row['id']}/points", headers=actors.clerk)
    statuses = {e["decision_id"]: e["status"] for e in r.json()["entries"]}
    assert statuses[wrong["decision_id"]] == "revoked"
    assert r.json()["total"] == 6


async def test_dl12_a_revocation_that_overtakes_its_decision_leaves_nothing_to_count(
    runtime: Runtime,
) -> None:
    row = await issue_record(runtime)
    overtaken = decision(row["number"], points=6)
    await revoke(runtime, overtaken)
    await give(runtime, overtaken)
    after = await record(runtime, row["id"])
    assert (after["points"], after["state"]) == (0, "valid")
    assert await changes(runtime, row["id"], "points") == []


async def test_dl12_a_decision_before_the_record_waits_and_counts_when_it_is_issued(runtime: Runtime) -> None:
    number = new_resident_id()
    await give(runtime, decision(number, points=6), decision(number, points=6))
    row = await issue_record(runtime, number=number)
    assert (row["points"], row["state"]) == (12, "full_points")  # issue answers the record as it now is
    keys = [(k, p.get("change")) for k, p in await events_about(runtime, str(row["id"]))]
    assert keys == [("license.record.issued.v1", None), (CHANGED, "points"), (CHANGED, "state")]


async def test_dl12_decisions_and_the_records_issue_at_once_lose_nothing(runtime: Runtime) -> None:
    numbers = [new_resident_id() for _ in range(5)]
    await asyncio.gather(
        *(issue_record(runtime, number=n) for n in numbers),
        *(give(runtime, decision(n, points=3)) for n in numbers),
    )
    async with runtime.uow() as uow:
        got = [await records.load_by_number(uow, n) for n in numbers]
    assert [r["points"] if r else None for r in got] == [3] * 5


async def test_dl12_a_suspended_licence_keeps_its_points_but_is_not_flagged(runtime: Runtime) -> None:
    row = await issue_record(runtime)
    async with runtime.uow() as uow:
        locked = await records.load(uow, row["id"], lock=True)
        assert locked is not None
        await records.move(uow, SYSTEM_ACTOR, locked, "suspend", "暂扣")
        await uow.commit()
    await give(runtime, decision(row["number"], points=12))
    after = await record(runtime, row["id"])
    assert (after["points"], after["state"]) == (12, "suspended")


async def test_dl12_a_decision_without_points_changes_nothing_and_bad_points_are_refused(
    runtime: Runtime,
) -> None:
    row = await issue_record(runtime)
    warning = decision(row["number"], points=0)
    await give(runtime, warning)
    assert await entry_count(runtime, warning["decision_id"]) == 0
    assert (await record(runtime, row["id"]))["version"] == row["version"]
    for bad in (13, -1):
        with pytest.raises(ValidationError):  # the consumer dead-letters it at once: seen, not lost
            subs.DecisionIn.model_validate(decision(row["number"], points=bad))
    refused: list[dict[str, Any]] = [
        {"decided_at": "2027-03-01T09:00:00"},  # without an offset it cannot be placed in a day
        {"decided_at": "9999-12-31T09:00:00+08:00"},  # beyond any cycle that can be counted
        {"place": "石家庄\x00"},  # PostgreSQL refuses a NUL: refused here, not retried
    ]
    for changed in refused:
        with pytest.raises(ValidationError):
            subs.DecisionIn.model_validate(decision(row["number"]) | changed)


async def test_dl12_the_holder_sees_their_own_cycle_and_entries_only(
    runtime: Runtime, client: httpx.AsyncClient, actors: Actors
) -> None:
    row = await issue_record(runtime)
    given = decision(row["number"], points=3)
    await give(runtime, given)
    r = await client.get("/api/v1/licences/mine/points", headers=actors.citizen(row["number"]))
    assert r.status_code == 200, r.text
    body = r.json()
    assert (body["record_id"], body["state"], body["full_points"]) == (str(row["id"]), "valid", False)
    assert body["cycle"] == {"start": "2026-08-20", "end": "2027-08-19"}
    assert body["total"] == 3
    [entry] = body["entries"]
    assert entry["decision_id"] == given["decision_id"]
    assert (entry["violation_code"], entry["points"], entry["status"]) == ("1625", 3, "counted")
    assert at(entry["violated_at"]) == at(given["violated_at"])
    # Someone else, without a licence of their own, sees nothing of this one.
    r = await client.get("/api/v1/licences/mine/points", headers=actors.citizen(new_resident_id()))
    assert r.status_code == 404
    r = await client.get(f"/api/v1/licences/{row['id']}/points", headers=actors.citizen(row["number"]))
    assert r.status_code == 403  # the record-id route is for clerks and police systems
    r = await client.get(f"/api/v1/licences/{uuid.uuid4()}/points", headers=actors.clerk)
    assert r.status_code == 404
    r = await client.get(
        f"/api/v1/licences/{row['id']}/points", params={"on": "9999-12-31"}, headers=actors.clerk
    )
    assert r.status_code == 422


async def test_dl12_a_clerk_of_another_office_is_told_a_licences_points_are_not_there(
    runtime: Runtime, client: httpx.AsyncClient, actors: Actors
) -> None:
    """api.md: the points of a licence are the record's, so they answer as the record does: 404 to a clerk
    of another office (the authorization matrix's cell, tests/proof/attack/test_authz.py)."""
    row = await issue_record(runtime)
    await give(runtime, decision(row["number"], points=3))
    path = f"/api/v1/licences/{row['id']}/points"
    assert (
        await client.get(f"/api/v1/licences/{row['id']}", headers=actors.other_office_clerk)
    ).status_code == 404
    r = await client.get(path, headers=actors.other_office_clerk)
    assert (r.status_code, r.json()["code"]) == (404, "NOT_FOUND")
    r = await client.get(path, headers=actors.clerk)
    assert (r.status_code, r.json()["total"]) == (200, 3)
    assert (await client.get(path, headers=actors.system)).status_code == 200
