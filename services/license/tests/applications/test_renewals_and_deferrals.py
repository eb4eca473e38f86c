"""DL-06 deferrals, DL-07 renewal on expiry and DL-08 over-age exchange, each through to what it writes on
the licence record, against the real license_test database."""

from __future__ import annotations

import uuid
from datetime import date, datetime
from typing import Any

import httpx
import pytest

from license_service import points
from license_service.points import Decision
from servicekit.clock import SHANGHAI, FixedClock
from servicekit.runtime import Runtime
from servicekit.uow import SYSTEM_ACTOR

from .conftest import TODAY, Desk, applied, apply, certify, days, events_about, issue, load_record, step

pytestmark = pytest.mark.integration

DEFER = {"delivery": None, "address": None, "deferral_reason": "abroad"}


async def test_dl06_a_review_deferral_at_least_a_month_ahead_moves_the_review_date(
    client: httpx.AsyncClient, desk: Desk, runtime: Runtime
) -> None:
    late = await issue(runtime, desk, review_due=date(2027, 3, 31))
    r = await apply(client, desk, late, kind="defer_review", months=6, **DEFER)
    assert (r.status_code, r.json()["code"], r.json()["rule"]) == (409, "DEFERRAL_TOO_LATE", "DL-06")
    assert r.json()["last_day"] == "2027-02-28"
    record = await issue(runtime, desk, review_due=date(2027, 4, 1))  # 1 March is the last day
    case = await applied(client, desk, record, kind="defer_review", months=6, **DEFER)
    assert (case["deferral_due"], case["deferred_to"], case["delivery"]) == ("2027-04-01", "2027-10-01", None)
    approved = await step(client, desk.intake, case["id"], "intake", decision="accept")
    assert approved["state"] == "approved"
    after = await load_record(runtime, record["id"])
    assert (after["review_due"], after["valid_until"]) == (date(2027, 10, 1), record["valid_until"])
    (_, changed) = (await events_about(runtime, str(record["id"])))[-1]
    assert (changed["change"], changed["review_due"], changed["reason"]) == (
        "validity",
        "2027-10-01",
        "延期审验至2027-10-01",
    )
    (_, event) = (await events_about(runtime, case["id"]))[-1]
    assert (event["state"], event["deferred_to"]) == ("approved", "2027-10-01")
    r = await client.post(f"/api/v1/licence-applications/{case['id']}/production", headers=desk.intake)
    assert (r.status_code, r.json()["code"], r.json()["rule"]) == (
        409,
        "APPLICATION_STATE_DOES_NOT_ALLOW",
        "DL-06",
    )


async def test_dl06_a_deferred_date_may_be_deferred_again_within_three_years_of_the_first(
    client: httpx.AsyncClient, desk: Desk, runtime: Runtime, clock: FixedClock
) -> None:
    record = await issue(runtime, desk, medical_due=date(2027, 6, 1))
    first = await applied(client, desk, record, kind="defer_medical", months=24, **DEFER)
    await step(client, desk.intake, first["id"], "intake", decision="accept")
    assert (await load_record(runtime, record["id"]))["medical_due"] == date(2029, 6, 1)
    clock.set(datetime(2029, 1, 10, 9, 0, tzinfo=SHANGHAI))
    r = await apply(client, desk, record, kind="defer_medical", months=13, **DEFER)
    assert (r.status_code, r.json()["code"], r.json()["latest"]) == (422, "DEFERRAL_TOO_LONG", "2030-06-01")
    second = await applied(client, desk, record, kind="defer_medical", months=12, **DEFER)
    assert second["deferred_to"] == "2030-06-01"


async def test_dl06_nothing_to_defer_and_a_deferral_needs_its_months_and_reason(
    client: httpx.AsyncClient, desk: Desk, runtime: Runtime
) -> None:
    record = await issue(runtime, desk)  # no review date, no medical due date
    r = await apply(client, desk, record, kind="defer_review", months=6, **DEFER)
    assert (r.status_code, r.json()["code"]) == (409, "NOTHING_TO_DEFER")
    r = await apply(client, desk, record, kind="defer_renewal", delivery=None, address=None)
    assert r.status_code == 422
    r = await apply(client, desk, record, kind="defer_renewal", months=37, **DEFER)
    assert r.status_code == 422


async def test_dl06_a_renewal_deferral_keeps_the_expiry_and_opens_renewal_later(
    client: httpx.AsyncClient, desk: Desk, runtime: Runtime, clock: FixedClock
) -> None:
    record = await issue(runtime, desk, valid_until=date(2027, 6, 30), photo_valid_until=date(2031, 1, 1))
    case = await applied(client, desk, record, kind="defer_renewal", months=24, **DEFER)
    await step(client, desk.intake, case["id"], "intake", decision="accept")
    assert (await load_record(runtime, record["id"]))["valid_until"] == date(2027, 6, 30)
    # 11 months after the expiry the window would have closed; the deferral counts them from 2029-06-30.
    clock.set(datetime(2030, 5, 29, 9, 0, tzinfo=SHANGHAI))
    await applied(client, desk, record, kind="renew", delivery="pickup", address=None)


async def test_dl07_renewal_opens_90_days_before_expiry_and_closes_11_months_after(
    client: httpx.AsyncClient, desk: Desk, runtime: Runtime, clock: FixedClock
) -> None:
    record = await issue(runtime, desk, valid_until=TODAY + days(91))
    r = await apply(client, desk, record, kind="renew")
    assert (r.status_code, r.json()["code"], r.json()["rule"]) == (409, "OUTSIDE_RENEWAL_WINDOW", "DL-07")
    assert r.json()["opens"] == (TODAY + days(1)).isoformat()
    expired = await issue(runtime, desk, valid_until=date(2026, 4, 1))  # closes 2027-02-28
    r = await apply(client, desk, expired, kind="renew")
    assert (r.status_code, r.json()["closes"]) == (409, "2027-02-28")
    clock.set(datetime(2027, 3, 2, 9, 0, tzinfo=SHANGHAI))
    await applied(client, desk, record, kind="renew")


async def test_dl07_a_renewal_waits_for_the_medical_certificate_then_renews_for_ten_years(
    client: httpx.AsyncClient, desk: Desk, runtime: Runtime
) -> None:
    record = await issue(runtime, desk, valid_from=date(2021, 5, 6), valid_until=date(2027, 5, 6))
    case = await applied(client, desk, record, kind="renew")
    assert (case["state"], case["rule"]) == ("awaiting_medical", "DL-07")
    assert datetime.fromisoformat(case["medical_wait_until"]) == datetime(2027, 3, 31, 9, 0, tzinfo=SHANGHAI)
    r = await certify(client, desk, record)
    assert r.status_code == 201, r.text
    (moved,) = r.json()["applications"]
    assert (moved["id"], moved["state"]) == (case["id"], "submitted")
    await step(client, desk.intake, case["id"], "intake", decision="accept")
    produced = await step(client, desk.intake, case["id"], "production")
    assert produced["state"] == "produced"
    after = await load_record(runtime, record["id"])
    assert (after["valid_from"], after["valid_until"]) == (date(2027, 5, 6), date(2037, 5, 6))
    (routing_key, changed) = (await events_about(runtime, str(record["id"])))[-1]
    assert (routing_key, changed["change"], changed["valid_until"]) == (
        "license.record.changed.v1",
        "validity",
        "2037-05-06",
    )


def _decision(number: str, points: int) -> Decision:
    decided = datetime(2023, 6, 1, 10, 0, tzinfo=SHANGHAI)  # in the term that began on 6 May 2021
    return Decision(
        decision_id=uuid.uuid4().hex,
        decision_number=None,
        violation_id=uuid.uuid4().hex,
        number=number,
        plate_number=None,
        violation_code="1625",
        violated_at=decided,
        place=None,
        points=points,
        fine_fen=20_000,
        decided_at=decided,
    )


async def _renewed_until(
    client: httpx.AsyncClient, desk: Desk, runtime: Runtime, record: dict[str, Any]
) -> date:
    assert (await certify(client, desk, record)).status_code == 201  # on file before applying
    case = await applied(client, desk, record, kind="renew", delivery="pickup", address=None)
    assert case["state"] == "submitted"
    assert case["medical_certificate_id"] is not None
    await step(client, desk.intake, case["id"], "intake", decision="accept")
    await step(client, desk.intake, case["id"], "production")
    after = await load_record(runtime, record["id"])
    assert after["valid_from"] == date(2027, 5, 6)
    valid_until: date = after["valid_until"]
    return valid_until


async def test_dl07_dl12_a_term_with_a_full_points_cycle_is_renewed_for_the_same_six_years(
    client: httpx.AsyncClient, desk: Desk, runtime: Runtime
) -> None:
    record = await issue(runtime, desk, valid_from=date(2021, 5, 6), valid_until=date(2027, 5, 6))
    async with runtime.uow() as uow:  # DL-12: a cycle of this term reached 12, then the study cleared it
        await points.record_decision(uow, _decision(record["number"], 12))
        await uow.commit()
    async with runtime.uow() as uow:
        assert await points.clear_full_points(uow, SYSTEM_ACTOR, record["id"], "满分学习考试合格") is not None
        await uow.commit()
    assert await _renewed_until(client, desk, runtime, record) == date(2033, 5, 6)


async def test_dl07_dl12_a_revoked_decision_does_not_hold_the_ladder_back(
    client: httpx.AsyncClient, desk: Desk, runtime: Runtime
) -> None:
    record = await issue(runtime, desk, valid_from=date(2021, 5, 6), valid_until=date(2027, 5, 6))
    decision = _decision(record["number"], 12)
    async with runtime.uow() as uow:
        await points.record_decision(uow, decision)
        await uow.commit()
    async with runtime.uow() as uow:  # 撤销: administrative review set the decision aside
        await points.revoke_decision(uow, decision, "administrative_review", decision.decided_at)
        await uow.commit()
    assert await _renewed_until(client, desk, runtime, record) == date(2037, 5, 6)


async def test_dl08_over_age_exchange_maps_the_large_classes_to_the_one_asked_at_60(
    client: httpx.AsyncClient, desk: Desk, runtime: Runtime
) -> None:
    sixty = await issue(runtime, desk, born=date(1967, 3, 1), classes=("B2", "D"))
    r = await apply(client, desk, sixty, kind="over_age", target_class="C3")
    assert (r.status_code, r.json()["code"], r.json()["targets"]) == (
        422,
        "NOT_AN_OVER_AGE_TARGET",
        ["C1", "C2"],
    )
    young = await issue(runtime, desk, born=date(1967, 3, 2), classes=("B2",))
    r = await apply(client, desk, young, kind="over_age", target_class="C1")
    assert (r.status_code, r.json()["code"], r.json()["rule"]) == (409, "NO_OVER_AGE_EXCHANGE", "DL-08")
    r = await apply(client, desk, sixty, kind="over_age", target_class=None)
    assert r.status_code == 422
    case = await applied(client, desk, sixty, kind="over_age", target_class="C2")
    assert (case["state"], case["target_class"]) == ("awaiting_medical", "C2")
    assert (await certify(client, desk, sixty, purpose="over_age")).status_code == 201
    await step(client, desk.intake, case["id"], "intake", decision="accept")
    await step(client, desk.intake, case["id"], "production")
    after = await load_record(runtime, sixty["id"])
    assert (sorted(after["classes"]), after["valid_until"]) == (["C2", "D"], sixty["valid_until"])
    (_, changed) = (await events_about(runtime, str(sixty["id"])))[-1]
    assert (changed["change"], changed["classes"]) == ("classes", ["C2", "D"])


async def test_dl08_at_70_three_and_two_wheel_motorcycles_go_to_f(
    client: httpx.AsyncClient, desk: Desk, runtime: Runtime
) -> None:
    seventy = await issue(runtime, desk, born=date(1957, 2, 1), classes=("C1", "E"))
    case = await applied(
        client, desk, seventy, kind="over_age", target_class="F", delivery="pickup", address=None
    )
    assert (await certify(client, desk, seventy, purpose="over_age")).status_code == 201
    await step(client, desk.intake, case["id"], "intake", decision="accept")
    await step(client, desk.intake, case["id"], "production")
    assert sorted((await load_record(runtime, seventy["id"]))["classes"]) == ["C1", "F"]
