"""DL-09 medical certificates from hospitals and DL-10's periodic certificate and its reminder, against
the real license_test database."""

from __future__ import annotations

from datetime import date, datetime, timedelta

import httpx
import pytest
from sqlalchemy import select

from license_service.application_steps import sweep_medical_lapses
from license_service.medical import sweep_periodic_reminders
from license_service.tables import medical_reminders
from servicekit.clock import SHANGHAI, FixedClock
from servicekit.runtime import Runtime

from .conftest import TODAY, Desk, applied, certify, days, events_about, issue, load_record, step

pytestmark = pytest.mark.integration


async def test_dl09_only_a_hospital_submits_and_what_it_submits_is_checked(
    client: httpx.AsyncClient, desk: Desk, runtime: Runtime
) -> None:
    record = await issue(runtime, desk)
    body = {
        "id_number": record["number"],
        "name": record["name"],
        "purpose": "renewal",
        "conclusion": "fit",
        "examined_on": TODAY.isoformat(),
    }
    for headers in (desk.citizen(record["number"]), desk.intake):
        r = await client.post("/api/v1/medical-certificates", json=body, headers=headers)
        assert r.status_code == 403
    r = await certify(client, desk, record, name="李四")
    assert (r.status_code, r.json()["code"], r.json()["rule"]) == (422, "MEDICAL_NAME_MISMATCH", "DL-09")
    r = await certify(client, desk, record, examined_on=(TODAY - days(182)).isoformat())
    assert (r.status_code, r.json()["code"]) == (422, "MEDICAL_CERTIFICATE_EXPIRED")
    r = await certify(client, desk, record, examined_on=(TODAY + days(1)).isoformat())
    assert (r.status_code, r.json()["code"]) == (422, "EXAM_DATE_IN_FUTURE")
    r = await certify(client, desk, record, id_number="130102199003071234")
    assert r.status_code == 422  # not a valid identity number
    r = await certify(client, desk, record, examined_on=(TODAY - days(10)).isoformat())
    assert r.status_code == 201, r.text
    certificate = r.json()["certificate"]
    assert (certificate["valid_until"], certificate["hospital_code"], r.json()["applications"]) == (
        "2027-08-18",  # six months from 2027-02-19
        "12130100MA0HQ8PT3A",
        [],
    )
    [(routing_key, event)] = await events_about(runtime, certificate["id"])
    assert (routing_key, event["purpose"], event["conclusion"]) == (
        "license.medical_certificate.submitted.v1",
        "renewal",
        "fit",
    )


async def test_dl09_a_certificate_for_a_first_application_is_kept_without_a_record(
    client: httpx.AsyncClient, desk: Desk
) -> None:
    """DL-09's other occasions (first application, transfer-in, ...) have no record here yet: kept and
    published for the police systems that handle them."""
    r = await client.post(
        "/api/v1/medical-certificates",
        json={
            "id_number": "11010519491231002X",
            "name": "王五",
            "purpose": "first_application",
            "conclusion": "fit",
            "examined_on": TODAY.isoformat(),
        },
        headers=desk.hospital,
    )
    assert r.status_code == 201, r.text
    assert r.json()["certificate"]["record_id"] is None


async def test_dl09_who_sees_a_certificate(client: httpx.AsyncClient, desk: Desk, runtime: Runtime) -> None:
    record, other = await issue(runtime, desk), await issue(runtime, desk)
    certificate = (await certify(client, desk, record)).json()["certificate"]
    path = f"/api/v1/medical-certificates/{certificate['id']}"
    assert (await client.get(path, headers=desk.citizen(record["number"]))).status_code == 200
    assert (await client.get(path, headers=desk.citizen(other["number"]))).status_code == 404
    assert (await client.get(path, headers=desk.intake)).status_code == 200
    other_hospital = desk.tokens.headers(desk.tokens.mint("unit-x", kind="unit", roles=("unit", "hospital")))
    assert (await client.get(path, headers=other_hospital)).status_code == 404
    listed = (await client.get("/api/v1/medical-certificates", headers=desk.hospital)).json()
    assert [c["id"] for c in listed] == [certificate["id"]]
    assert listed[0]["id_number"] == f"{record['number'][:4]}**********{record['number'][-4:]}"
    mine = (await client.get("/api/v1/medical-certificates", headers=desk.citizen(record["number"]))).json()
    assert [c["id"] for c in mine] == [certificate["id"]]


async def test_dl09_an_unfit_certificate_ends_the_waiting_application_with_the_reason(
    client: httpx.AsyncClient, desk: Desk, runtime: Runtime
) -> None:
    record = await issue(runtime, desk)
    case = await applied(client, desk, record, kind="renew")
    r = await certify(client, desk, record, conclusion="unfit")
    assert r.status_code == 201
    (moved,) = r.json()["applications"]
    assert (moved["state"], moved["refusal_reason"]) == ("rejected", "医院出具的身体条件证明结论为不合格")
    (_, event) = (await events_about(runtime, case["id"]))[-1]
    assert (event["state"], event["reason"]) == ("rejected", "医院出具的身体条件证明结论为不合格")
    # An unfit certificate is not on file for the next application: it waits again.
    again = await applied(client, desk, record, kind="renew")
    assert again["state"] == "awaiting_medical"


async def test_dl09_a_certificate_serves_one_application(
    client: httpx.AsyncClient, desk: Desk, runtime: Runtime
) -> None:
    record = await issue(runtime, desk)
    assert (await certify(client, desk, record)).status_code == 201
    first = await applied(client, desk, record, kind="renew")
    assert first["state"] == "submitted"
    await step(client, desk.intake, first["id"], "intake", decision="reject", reason="照片与本人不符")
    second = await applied(client, desk, record, kind="renew")
    assert second["state"] == "awaiting_medical"


async def test_dl09_an_application_whose_certificate_never_comes_lapses_after_30_days(
    client: httpx.AsyncClient, desk: Desk, runtime: Runtime, clock: FixedClock
) -> None:
    record = await issue(runtime, desk)
    case = await applied(client, desk, record, kind="renew")
    clock.set(datetime.fromisoformat(case["medical_wait_until"]))
    await sweep_medical_lapses(runtime)
    r = await client.get(f"/api/v1/licence-applications/{case['id']}", headers=desk.intake)
    assert r.json()["state"] == "awaiting_medical"
    clock.advance(timedelta(seconds=1))
    assert await sweep_medical_lapses(runtime) >= 1
    r = await client.get(f"/api/v1/licence-applications/{case['id']}", headers=desk.citizen(record["number"]))
    assert (r.json()["state"], r.json()["refusal_reason"]) == (
        "rejected",
        "30日内未收到医院提交的身体条件证明",
    )
    # A certificate that comes late finds nothing waiting, and is on file for the next application.
    assert (await certify(client, desk, record)).json()["applications"] == []
    assert (await applied(client, desk, record, kind="renew"))["state"] == "submitted"


async def test_dl10_holders_at_60_or_with_c5_are_told_once_per_review_date(
    client: httpx.AsyncClient, desk: Desk, runtime: Runtime, clock: FixedClock
) -> None:
    sixty = await issue(runtime, desk, born=date(1966, 5, 1), review_due=TODAY)
    c5 = await issue(runtime, desk, born=date(1990, 5, 1), classes=("C5",), review_due=TODAY - days(3))
    young = await issue(runtime, desk, born=date(1990, 5, 1), review_due=TODAY - days(3))
    not_yet = await issue(runtime, desk, born=date(1966, 5, 1), review_due=TODAY + days(1))
    await sweep_periodic_reminders(runtime)
    await sweep_periodic_reminders(runtime)  # a rerun (or a second worker) tells nobody twice

    async def told(record_id: object) -> list[dict[str, object]]:
        return [
            p
            for t, p in await events_about(runtime, str(record_id))
            if t == "license.periodic_medical.due.v1"
        ]

    (reminder,) = await told(sixty["id"])
    assert (reminder["review_due"], reminder["submit_by"], reminder["reason"], reminder["phone"]) == (
        TODAY.isoformat(),
        (TODAY + days(30)).isoformat(),
        "age_60",
        sixty["phone"],
    )
    assert [r["reason"] for r in await told(c5["id"])] == ["c5"]
    assert await told(young["id"]) == []
    assert await told(not_yet["id"]) == []
    clock.advance(days(1))
    await sweep_periodic_reminders(runtime)
    assert len(await told(not_yet["id"])) == 1
    assert len(await told(sixty["id"])) == 1


async def test_dl10_a_fit_periodic_certificate_moves_the_review_date_a_period_on(
    client: httpx.AsyncClient, desk: Desk, runtime: Runtime, clock: FixedClock
) -> None:
    early = await issue(runtime, desk, born=date(1966, 5, 1), review_due=TODAY + days(5))
    r = await certify(client, desk, early, purpose="periodic")
    assert (r.status_code, r.json()["code"], r.json()["rule"]) == (409, "PERIODIC_MEDICAL_NOT_DUE", "DL-10")
    young = await issue(runtime, desk, born=date(1990, 5, 1), review_due=TODAY)
    r = await certify(client, desk, young, purpose="periodic")
    assert (r.status_code, r.json()["code"]) == (409, "PERIODIC_MEDICAL_NOT_DUE")

    c5 = await issue(runtime, desk, born=date(1990, 5, 1), classes=("C5",), review_due=TODAY)
    await sweep_periodic_reminders(runtime)
    r = await certify(client, desk, c5, purpose="periodic")
    assert r.status_code == 201, r.text
    after = await load_record(runtime, c5["id"])
    assert (after["review_due"], after["medical_due"]) == (date(2030, 3, 1), date(2030, 3, 31))
    async with runtime.engine.connect() as conn:
        reminder = (
            await conn.execute(select(medical_reminders).where(medical_reminders.c.record_id == c5["id"]))
        ).one()
    assert (reminder.review_due, str(reminder.satisfied_by)) == (TODAY, r.json()["certificate"]["id"])
    clock.set(datetime(2030, 3, 1, 9, 0, tzinfo=SHANGHAI))  # the next review date: told again
    await sweep_periodic_reminders(runtime)
    reminders = [
        p for t, p in await events_about(runtime, str(c5["id"])) if t == "license.periodic_medical.due.v1"
    ]
    assert [r["review_due"] for r in reminders] == ["2027-03-01", "2030-03-01"]
