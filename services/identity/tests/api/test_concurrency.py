"""Limits that must hold however concurrent requests interleave (ID-13, one account per person): the
requests are sent at once with asyncio.gather against the real database."""

import asyncio
import secrets
from typing import TYPE_CHECKING, Any

import pytest

if TYPE_CHECKING:
    from tests.api.conftest import Api

pytestmark = pytest.mark.integration


def _ref() -> str:
    return "veh-" + secrets.token_hex(6)


async def _vehicle_of_someone_else(api: "Api") -> str:
    ref = _ref()
    r = await api.record(
        "vehicle", ref, id_number=api.new_id_number(), phone=api.new_phone(), state="registered"
    )
    assert r.status_code == 200, r.text
    return ref


async def _counter_bind(api: "Api", account_id: str, ref: str, intake: dict[str, str]) -> Any:
    return await api.client.post(
        f"/api/v1/users/{account_id}/bindings",
        json={"ref": ref, "owner_documents_checked": True},
        headers=intake,
    )


async def test_id13_concurrent_counter_bindings_never_pass_three_non_owned_vehicles(api: "Api") -> None:
    _, phone = await api.owner_driver()
    me = await api.bearer(phone)
    account_id = (await api.client.get("/api/v1/users/me", headers=me)).json()["id"]
    intake = await api.staff("clerk.intake")
    for _ in range(2):
        assert (
            await _counter_bind(api, account_id, await _vehicle_of_someone_else(api), intake)
        ).status_code == 201
    refs = [await _vehicle_of_someone_else(api) for _ in range(4)]
    answers = await asyncio.gather(*(_counter_bind(api, account_id, ref, intake) for ref in refs))
    codes = sorted(r.status_code for r in answers)
    assert codes == [201, 409, 409, 409], [r.text for r in answers]
    assert all(r.json()["code"] == "NON_OWNED_VEHICLE_LIMIT" for r in answers if r.status_code == 409)
    items = (await api.client.get("/api/v1/users/me/bindings", headers=me)).json()["items"]
    assert sum(1 for b in items if not b["owned"]) == 3


async def test_id13_the_same_vehicle_bound_at_once_is_bound_once(api: "Api") -> None:
    _, phone = await api.owner_driver()
    me = await api.bearer(phone)
    account_id = (await api.client.get("/api/v1/users/me", headers=me)).json()["id"]
    intake = await api.staff("clerk.intake")
    ref = await _vehicle_of_someone_else(api)
    answers = await asyncio.gather(*(_counter_bind(api, account_id, ref, intake) for _ in range(3)))
    assert sorted(r.status_code for r in answers) == [201, 409, 409], [r.text for r in answers]
    items = (await api.client.get("/api/v1/users/me/bindings", headers=me)).json()["items"]
    assert [b["ref"] for b in items if not b["owned"]] == [ref]


PERSONAL_SCANS = [
    {"kind": "onsite_photo", "ref": "scan://photo"},
    {"kind": "registration_form", "ref": "scan://form"},
    {"kind": "identity_document", "ref": "scan://id"},
]


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
            "scans": PERSONAL_SCANS,
        }
        r = await api.client.post("/api/v1/counter/registrations", json=body, headers=intake)
        assert r.status_code == 201, r.text
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
