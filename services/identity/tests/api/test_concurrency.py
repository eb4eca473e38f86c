"""Limits that must hold however concurrent requests interleave (ID-13, one account per person): the
requests are sent at once with asyncio.gather against the real database."""

import asyncio
import secrets
from typing import TYPE_CHECKING

import pytest

if TYPE_CHECKING:
    from tests.api.conftest import Api

pytestmark = pytest.mark.integration


async def _vehicle_of_someone_else(api: "Api") -> str:
    ref = "veh-" + secrets.token_hex(6)
    r = await api.record(
        "vehicle", ref, id_number=api.new_resident_id(), phone=api.new_phone(), state="registered"
    )
    assert r.status_code == 200, r.text
    return ref


async def _account(api: "Api") -> tuple[str, dict[str, str]]:
    _, phone = await api.owner_driver()
    me = await api.bearer(phone)
    return (await api.client.get("/api/v1/users/me", headers=me)).json()["id"], me


async def _non_owned(api: "Api", me: dict[str, str]) -> list[str]:
    items = (await api.client.get("/api/v1/users/me/bindings", headers=me)).json()["items"]
    return [b["ref"] for b in items if not b["owned"]]


async def test_id13_concurrent_counter_bindings_never_pass_three_non_owned_vehicles(api: "Api") -> None:
    account_id, me = await _account(api)
    for _ in range(2):
        await api.counter_bind(account_id, await _vehicle_of_someone_else(api))
    intake = await api.staff("clerk.intake")
    refs = [await _vehicle_of_someone_else(api) for _ in range(4)]
    answers = await asyncio.gather(*(api.change_intake(account_id, ref, intake) for ref in refs))
    assert sorted(r.status_code for r in answers) == [200, 409, 409, 409], [r.text for r in answers]
    assert all(r.json()["code"] == "NON_OWNED_VEHICLE_LIMIT" for r in answers if r.status_code == 409)
    review = await api.staff("clerk.review")
    (opened,) = [r.json()["id"] for r in answers if r.status_code == 200]
    r = await api.client.post(f"/api/v1/users/counter-changes/{opened}/approve", headers=review)
    assert r.status_code == 200, r.text
    assert len(await _non_owned(api, me)) == 3


async def test_id13_concurrent_approvals_never_pass_three_non_owned_vehicles(api: "Api") -> None:
    """Two changes opened while a slot was free, approved at once after a third binding took it: the
    approvals count under the person's lock too, and one is refused."""
    account_id, me = await _account(api)
    await api.counter_bind(account_id, await _vehicle_of_someone_else(api))
    intake = await api.staff("clerk.intake")
    review = await api.staff("clerk.review")
    opened = []
    for _ in range(2):
        r = await api.change_intake(account_id, await _vehicle_of_someone_else(api), intake)
        assert r.status_code == 200, r.text
        opened.append(r.json()["id"])
    # the third slot taken behind intake's back (a unit of work of this test: the limit must still hold)
    from sqlalchemy import text

    async with api.runtime.engine.begin() as conn:
        await conn.execute(
            text(
                "INSERT INTO bindings (id, account_id, record_kind, ref, owned, channel, created_at) "
                "VALUES (gen_random_uuid(), :a, 'vehicle', :r, false, 'counter', now())"
            ),
            {"a": account_id, "r": await _vehicle_of_someone_else(api)},
        )
    answers = await asyncio.gather(
        *(api.client.post(f"/api/v1/users/counter-changes/{c}/approve", headers=review) for c in opened)
    )
    assert sorted(r.status_code for r in answers) == [200, 409], [r.text for r in answers]
    assert len(await _non_owned(api, me)) == 3


async def test_id13_the_same_vehicle_asked_for_at_once_is_entered_once(api: "Api") -> None:
    account_id, _ = await _account(api)
    intake = await api.staff("clerk.intake")
    ref = await _vehicle_of_someone_else(api)
    answers = await asyncio.gather(*(api.change_intake(account_id, ref, intake) for _ in range(3)))
    assert sorted(r.status_code for r in answers) == [200, 409, 409], [r.text for r in answers]
    assert {r.json()["code"] for r in answers if r.status_code == 409} == {"CHANGE_ALREADY_OPEN"}


async def test_id01_id09_two_counter_cases_of_one_person_approved_at_once_make_one_account(
    api: "Api",
) -> None:
    intake = await api.staff("clerk.intake")
    review = await api.staff("clerk.review")
    id_number = await api.person("孙悟空")
    cases = []
    for _ in range(2):
        body = {
            "id_number": id_number,
            "name": "孙悟空",
            "phone": api.new_phone(),
            "password": "Passw0rd2027",
        }
        r = await api.counter_case(body, intake)
        assert r.status_code == 200, r.text
        cases.append(r.json()["id"])
    answers = await asyncio.gather(
        *(api.client.post(f"/api/v1/counter/registrations/{c}/approve", headers=review) for c in cases)
    )
    assert sorted(r.status_code for r in answers) == [200, 409], [r.text for r in answers]
    loser = next(r for r in answers if r.status_code == 409)
    assert (loser.json()["code"], loser.json()["rule"]) == ("ACCOUNT_EXISTS", "ID-01")
    stages = [
        (await api.client.get(f"/api/v1/counter/registrations/{c}", headers=review)).json().get("stage")
        for c in cases
    ]
    assert sorted(s for s in stages if s) == ["review"]  # the approved one moved on to archive (404 here)


async def test_id01_one_person_registering_online_twice_at_once_gets_one_account(api: "Api") -> None:
    """Two phones of one person (each on one of their vehicles, ID-03), registrations sent at once."""
    id_number = await api.person()
    bodies = []
    for _ in range(2):
        phone = api.new_phone()
        await api.record(
            "vehicle", "veh-" + secrets.token_hex(6), id_number=id_number, phone=phone, state="registered"
        )
        r = await api.client.post("/api/v1/auth/sms-codes", json={"phone": phone, "purpose": "register"})
        assert r.status_code == 202, r.text
        bodies.append(
            {
                "kind": "owner_driver",
                "id_kind": "resident_id",
                "id_number": id_number,
                "name": "张三",
                "phone": phone,
                "password": "Passw0rd2027",
                "sms_code": await api.last_code(phone),
            }
        )
    answers = await asyncio.gather(*(api.client.post("/api/v1/users", json=b) for b in bodies))
    assert sorted(r.status_code for r in answers) == [201, 409], [r.text for r in answers]
    loser = next(r for r in answers if r.status_code == 409)
    assert (loser.json()["code"], loser.json()["rule"]) == ("ACCOUNT_EXISTS", "ID-01")


async def test_id12_wrong_passwords_sent_at_once_still_lock_the_account(api: "Api") -> None:
    """The failure count is read and written under the account row's lock: five wrong passwords at once
    count five, and the right one is then refused while the lock lasts."""
    _, phone = await api.owner_driver()
    wrong = {"username": phone, "password": "Wr0ngPassw0rd"}
    answers = await asyncio.gather(*(api.client.post("/api/v1/auth/login", json=wrong) for _ in range(5)))
    assert {r.status_code for r in answers} == {401}
    r = await api.client.post("/api/v1/auth/login", json={"username": phone, "password": "Passw0rd2027"})
    assert r.status_code == 409, r.text
    assert r.json()["code"] == "ACCOUNT_LOCKED"
