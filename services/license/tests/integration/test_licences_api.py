"""The licence records' API (DL-01, DL-13): police systems issue, correct and move records; clerks search
them; the holder reads their own, and another person's answers 404."""

from __future__ import annotations

import asyncio
import uuid

import httpx
import pytest

from servicekit.runtime import Runtime
from servicekit.testing import new_phone, new_resident_id

from .conftest import Actors, audits_about, events_about, issue
from .factories import licence_body

pytestmark = pytest.mark.integration


async def test_dl01_a_police_system_issues_a_licence_and_reads_it(
    client: httpx.AsyncClient, actors: Actors, runtime: Runtime
) -> None:
    body = licence_body(classes=["C1", "E"], review_due="2027-06-01", medical_due="2027-06-01")
    r = await client.post("/api/v1/licences", json=body, headers=actors.system)
    assert r.status_code == 201, r.text
    made = r.json()
    assert (made["number"], made["state"], made["points"], made["classes"]) == (
        body["number"],
        "valid",
        0,
        ["C1", "E"],
    )
    assert made["birth_date"] == f"{body['number'][6:10]}-{body['number'][10:12]}-{body['number'][12:14]}"
    got = await client.get(f"/api/v1/licences/{made['id']}", headers=actors.system)
    assert got.status_code == 200
    assert got.json() == made
    ((kind, payload),) = await events_about(runtime, made["id"])
    assert (kind, payload["source"], payload["phone"]) == (
        "license.record.issued.v1",
        "police_system",
        body["phone"],
    )
    (audit,) = await audits_about(runtime, f"licence:{made['id']}")
    assert audit["role"] == "system"


async def test_dl01_issuing_a_number_already_here_is_refused_with_the_records_id(
    client: httpx.AsyncClient, actors: Actors
) -> None:
    made = await issue(client, actors)
    r = await client.post("/api/v1/licences", json=licence_body(number=made["number"]), headers=actors.system)
    assert r.status_code == 409
    problem = r.json()
    assert (problem["code"], problem["rule"], problem["record_id"]) == ("LICENCE_EXISTS", "DL-01", made["id"])


async def test_dl01_two_issues_of_one_number_at_once_land_once(
    client: httpx.AsyncClient, actors: Actors, runtime: Runtime
) -> None:
    number = new_resident_id()
    answers = await asyncio.gather(
        *(
            client.post("/api/v1/licences", json=licence_body(number=number), headers=actors.system)
            for _ in range(4)
        )
    )
    assert sorted(a.status_code for a in answers) == [201, 409, 409, 409], [a.text for a in answers]
    made = next(a.json() for a in answers if a.status_code == 201)
    assert {a.json()["record_id"] for a in answers if a.status_code == 409} == {made["id"]}
    assert len(await events_about(runtime, made["id"])) == 1


async def test_dl01_a_record_that_cannot_be_is_refused_naming_each_field(
    client: httpx.AsyncClient, actors: Actors
) -> None:
    body = licence_body(first_issue="2022-01-01", valid_from="2021-03-01", valid_until="2021-03-01")
    r = await client.post("/api/v1/licences", json=body, headers=actors.system)
    assert r.status_code == 422
    problem = r.json()
    assert (problem["code"], problem["rule"]) == ("INVALID_LICENCE_RECORD", "DL-01")
    assert {e["field"] for e in problem["errors"]} == {"first_issue", "valid_until"}


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("number", "130102199003071234"),  # wrong check digit
        ("classes", ["C1", "Z9"]),
        ("classes", []),
        ("phone", "12345"),
        ("office_code", "13010"),
        ("name", "张\x00三"),
        ("file_number", "12ab"),
    ],
)
async def test_dl01_bad_input_is_a_validation_problem_naming_the_field(
    client: httpx.AsyncClient, actors: Actors, field: str, value: object
) -> None:
    r = await client.post("/api/v1/licences", json=licence_body(**{field: value}), headers=actors.system)
    assert r.status_code == 422, r.text
    # A NUL is refused before the model, on every route (ADR 0084).
    assert r.json()["code"] == ("INVALID_CHARACTERS" if "\x00" in str(value) else "VALIDATION_FAILED")
    assert any(e["field"].startswith(f"body.{field}") for e in r.json()["errors"])


async def test_dl01_only_police_systems_issue_correct_and_move(
    client: httpx.AsyncClient, actors: Actors
) -> None:
    made = await issue(client, actors)
    holder = actors.citizen(made["number"])
    for headers in (holder, actors.clerk, actors.admin):
        assert (
            await client.post("/api/v1/licences", json=licence_body(), headers=headers)
        ).status_code == 403
        r = await client.put(f"/api/v1/licences/{made['id']}", json=licence_body(), headers=headers)
        assert r.status_code == 403
        r = await client.post(
            f"/api/v1/licences/{made['id']}/state-changes",
            json={"action": "cancel", "reason": "x"},
            headers=headers,
        )
        assert r.status_code == 403


async def test_dl01_a_correction_changes_the_facts_never_the_state(
    client: httpx.AsyncClient, actors: Actors, runtime: Runtime
) -> None:
    made = await issue(client, actors)
    r = await client.post(
        f"/api/v1/licences/{made['id']}/state-changes",
        json={"action": "suspend", "reason": "暂扣"},
        headers=actors.system,
    )
    assert r.status_code == 200, r.text
    body = licence_body(number=made["number"], file_number=made["file_number"], valid_until="2033-03-01")
    r = await client.put(f"/api/v1/licences/{made['id']}", json=body, headers=actors.system)
    assert r.status_code == 200, r.text
    assert (r.json()["valid_until"], r.json()["state"], r.json()["version"]) == ("2033-03-01", "suspended", 3)
    again = await client.put(f"/api/v1/licences/{made['id']}", json=body, headers=actors.system)
    assert again.json()["version"] == 3  # the same facts: nothing changed, nothing published
    assert len(await events_about(runtime, made["id"])) == 3
    missing = await client.put(f"/api/v1/licences/{uuid.uuid4()}", json=body, headers=actors.system)
    assert missing.status_code == 404


async def test_dl01_a_correction_to_a_number_another_record_has_is_refused(
    client: httpx.AsyncClient, actors: Actors
) -> None:
    first, second = await issue(client, actors), await issue(client, actors)
    r = await client.put(
        f"/api/v1/licences/{second['id']}", json=licence_body(number=first["number"]), headers=actors.system
    )
    assert r.status_code == 409
    assert (r.json()["code"], r.json()["record_id"]) == ("LICENCE_EXISTS", first["id"])


async def test_dl13_a_police_system_cancels_a_licence_and_the_change_is_published(
    client: httpx.AsyncClient, actors: Actors, runtime: Runtime
) -> None:
    made = await issue(client, actors)
    r = await client.post(
        f"/api/v1/licences/{made['id']}/state-changes",
        json={"action": "cancel", "reason": "本人申请注销"},
        headers=actors.system,
    )
    assert r.status_code == 200, r.text
    assert (r.json()["state"], r.json()["version"]) == ("cancelled", 2)
    kind, payload = (await events_about(runtime, made["id"]))[-1]
    assert (kind, payload["change"], payload["state"], payload["reason"], payload["number"]) == (
        "license.record.changed.v1",
        "state",
        "cancelled",
        "本人申请注销",
        made["number"],
    )
    (audit,) = [
        a for a in await audits_about(runtime, f"licence:{made['id']}") if a["action"] == "licence.cancel"
    ]
    assert audit["after"] == {"state": "cancelled"}


async def test_dl01_a_move_the_state_does_not_allow_is_409_naming_the_state(
    client: httpx.AsyncClient, actors: Actors
) -> None:
    made = await issue(client, actors)
    r = await client.post(
        f"/api/v1/licences/{made['id']}/state-changes",
        json={"action": "restore", "reason": "发还"},
        headers=actors.system,
    )
    assert r.status_code == 409
    assert (r.json()["code"], r.json()["rule"], r.json()["state"]) == (
        "LICENCE_STATE_DOES_NOT_ALLOW",
        "DL-01",
        "valid",
    )
    r = await client.post(
        f"/api/v1/licences/{made['id']}/state-changes",
        json={"action": "reach_full_points", "reason": "x"},
        headers=actors.system,
    )
    assert r.status_code == 422  # full points follow the points (DL-12), never a police system's request


async def test_dl01_the_holder_reads_their_own_licence_and_another_persons_is_404(
    client: httpx.AsyncClient, actors: Actors
) -> None:
    mine, theirs = await issue(client, actors), await issue(client, actors)
    me = actors.citizen(mine["number"])
    r = await client.get("/api/v1/licences/mine", headers=me)
    assert r.status_code == 200
    assert (r.json()["id"], r.json()["number"], r.json()["phone"]) == (
        mine["id"],
        mine["number"],
        mine["phone"],
    )
    assert (await client.get(f"/api/v1/licences/{mine['id']}", headers=me)).status_code == 200
    assert (await client.get(f"/api/v1/licences/{theirs['id']}", headers=me)).status_code == 404
    assert (await client.get(f"/api/v1/licences/{uuid.uuid4()}", headers=me)).status_code == 404
    nobody = actors.citizen(new_resident_id())
    assert (await client.get("/api/v1/licences/mine", headers=nobody)).status_code == 404
    assert (await client.get("/api/v1/licences?number=" + mine["number"], headers=me)).status_code == 403


async def test_dl01_clerks_search_by_number_in_their_office_masked(
    client: httpx.AsyncClient, actors: Actors
) -> None:
    phone = new_phone()
    made = await issue(client, actors, phone=phone)
    r = await client.get("/api/v1/licences", params={"number": made["number"]}, headers=actors.clerk)
    assert r.status_code == 200, r.text
    (item,) = r.json()["items"]
    assert item["id"] == made["id"]
    assert item["number"] == made["number"][:4] + "*" * 10 + made["number"][-4:]
    assert item["phone"] == phone[:3] + "****" + phone[-4:]
    r = await client.get(
        "/api/v1/licences", params={"file_number": made["file_number"]}, headers=actors.admin
    )
    assert [i["id"] for i in r.json()["items"]] == [made["id"]]
    r = await client.get(
        "/api/v1/licences", params={"number": made["number"]}, headers=actors.other_office_clerk
    )
    assert r.json()["items"] == []
    assert (
        await client.get(f"/api/v1/licences/{made['id']}", headers=actors.other_office_clerk)
    ).status_code == 404
    assert (await client.get(f"/api/v1/licences/{made['id']}", headers=actors.clerk)).status_code == 200
    r = await client.get("/api/v1/licences", headers=actors.clerk)
    assert (r.status_code, r.json()["code"]) == (422, "SEARCH_NEEDS_A_KEY")


async def test_dl01_an_issue_repeated_with_its_idempotency_key_answers_the_first_answer(
    client: httpx.AsyncClient, actors: Actors, runtime: Runtime
) -> None:
    body = licence_body()
    headers = {**actors.system, "Idempotency-Key": str(uuid.uuid4())}
    first = await client.post("/api/v1/licences", json=body, headers=headers)
    second = await client.post("/api/v1/licences", json=body, headers=headers)
    assert (first.status_code, second.status_code) == (201, 201)
    assert second.headers["Idempotent-Replayed"] == "true"
    assert second.json() == first.json()
    assert len(await events_about(runtime, first.json()["id"])) == 1
