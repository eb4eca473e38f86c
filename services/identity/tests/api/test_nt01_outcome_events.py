"""NT-01: the outcomes identity decides reach the person by SMS: each is published, in the unit of work
that makes the change, with the registered phone notify tells (ID-13, ID-15, ID-16)."""

import secrets
import uuid
from typing import TYPE_CHECKING, Any

import pytest
from stdnum.cn import uscc

from identity_service.published import AccountCancelled, CounterChangeApproved, LicencePhotoRejected
from servicekit.testing import outbox_payloads

if TYPE_CHECKING:
    from tests.api.conftest import Api

pytestmark = pytest.mark.integration


async def _payloads(api: "Api", routing_key: str, subject: str) -> list[dict[str, Any]]:
    async with api.runtime.engine.connect() as conn:
        return await outbox_payloads(conn, routing_key, subject=subject)


async def _me(api: "Api", phone: str) -> tuple[str, dict[str, str]]:
    headers = await api.bearer(phone)
    account_id: str = (await api.client.get("/api/v1/users/me", headers=headers)).json()["id"]
    return account_id, headers


async def test_nt01_id16_a_self_service_cancellation_publishes_the_registered_phone(api: "Api") -> None:
    _, phone = await api.owner_driver()
    account_id, me = await _me(api, phone)
    r = await api.client.post("/api/v1/users/me/cancellation", json={"password": "Passw0rd2027"}, headers=me)
    assert r.status_code == 204
    (event,) = await _payloads(api, AccountCancelled.message_type, account_id)
    assert (event["reason"], event["phone"], event["username"]) == ("self_service", phone, phone)


async def test_nt01_id16_a_units_forced_cancellation_names_its_credit_code(api: "Api") -> None:
    from identity_service.demo import ensure_account

    base = "91130100MA" + secrets.token_hex(4).upper()[:7]
    credit_code, phone = base + uscc.calc_check_digit(base), api.new_phone()
    async with api.runtime.uow() as uow:
        unit_id = await ensure_account(
            uow.session,
            category="unit",
            kind="enterprise",
            name="已注销公司",
            password="Passw0rd2027",
            roles=["unit"],
            now=uow.now,
            credit_code=credit_code,
            phone=phone,
        )
        await uow.commit()
    r = await api.client.post(
        f"/api/v1/users/{unit_id}/cancellation",
        json={"reason": "unit_dissolved"},
        headers=await api.staff("clerk.admin"),
    )
    assert r.status_code == 204
    (event,) = await _payloads(api, AccountCancelled.message_type, str(unit_id))
    assert (event["reason"], event["phone"], event["username"]) == ("unit_dissolved", phone, credit_code)


async def _counter_citizen(api: "Api") -> tuple[str, str, dict[str, str]]:
    """A counter-registered person, signed in: (account id, phone, headers)."""
    intake, review = await api.staff("clerk.intake"), await api.staff("clerk.review")
    id_number, phone = await api.person("观音"), api.new_phone()
    body = {
        "id_number": id_number,
        "name": "观音",
        "phone": phone,
        "password": "Passw0rd2027",
    }
    r = await api.counter_case(body, intake)
    assert r.status_code == 200, r.text
    r = await api.client.post(f"/api/v1/counter/registrations/{r.json()['id']}/approve", headers=review)
    assert r.status_code == 200, r.text
    account_id, headers = await _me(api, phone)
    return account_id, phone, headers


async def _photo(api: "Api", citizen: dict[str, str]) -> str:
    jpeg = (
        b"\xff\xd8\xff\xe0\x00\x10JFIF\x00" + bytes(range(256)) + b"\xff\xd9"
    )  # the bytes are stored (AR-01)
    r = await api.client.post(
        "/api/v1/users/me/licence-photos", content=jpeg, headers={**citizen, "Content-Type": "image/jpeg"}
    )
    assert r.status_code == 201, r.text
    photo_id: str = r.json()["id"]
    return photo_id


async def test_nt01_id15_an_approved_photo_is_published_with_the_registered_phone(api: "Api") -> None:
    account_id, phone, citizen = await _counter_citizen(api)
    photo_id = await _photo(api, citizen)
    r = await api.client.post(
        f"/api/v1/users/licence-photos/{photo_id}/approve",
        json={"clear": True, "valid_format": True, "matches_registration_photo": True},
        headers=await api.staff("clerk.review"),
    )
    assert r.status_code == 200, r.text
    (event,) = await _payloads(api, "identity.licence_photo.approved.v1", photo_id)
    assert (event["account_id"], event["phone"]) == (account_id, phone)


async def test_nt01_id15_a_rejected_photo_is_published_with_the_reason_and_the_phone(api: "Api") -> None:
    account_id, phone, citizen = await _counter_citizen(api)
    photo_id = await _photo(api, citizen)
    r = await api.client.post(
        f"/api/v1/users/licence-photos/{photo_id}/reject",
        json={"reason": "照片模糊，无法辨认"},
        headers=await api.staff("clerk.review"),
    )
    assert r.status_code == 200, r.text
    (event,) = await _payloads(api, LicencePhotoRejected.message_type, photo_id)
    assert event | {"rejected_at": None} == {
        "photo_id": photo_id,
        "account_id": account_id,
        "phone": phone,
        "reason": "照片模糊，无法辨认",
        "rejected_at": None,
    }


async def test_nt01_id13_a_counter_binding_publishes_the_change_approved_with_its_item(api: "Api") -> None:
    _, phone = await api.owner_driver("李四")
    account_id, _ = await _me(api, phone)
    ref = "veh-" + secrets.token_hex(6)
    await api.record(
        "vehicle", ref, id_number=api.new_resident_id(), phone=api.new_phone(), state="registered",
        plate_number="冀A12345",
    )  # fmt: skip
    change = await api.counter_bind(account_id, ref)  # intake, then approved at the review post (seed §19)
    (event,) = await _payloads(api, CounterChangeApproved.message_type, change["id"])
    assert event | {"approved_at": None} == {
        "change_id": change["id"],
        "account_id": account_id,
        "change_kind": "bind_vehicle",
        "items": "绑定非本人机动车冀A12345",
        "name": "李四",
        "phone": phone,
        "approved_at": None,
    }


async def test_nt01_id13_a_unit_change_publishes_the_change_approved_to_the_new_phone(api: "Api") -> None:
    from identity_service.demo import ensure_account

    base = "91130100MA" + secrets.token_hex(4).upper()[:7]
    async with api.runtime.uow() as uow:
        unit_id = await ensure_account(
            uow.session,
            category="unit",
            kind="enterprise",
            name="旧名称公司",
            password="Passw0rd2027",
            roles=["unit"],
            now=uow.now,
            credit_code=base + uscc.calc_check_digit(base),
            phone=api.new_phone(),
        )
        await uow.commit()
    new_phone = api.new_phone()
    r = await api.client.patch(
        f"/api/v1/units/{unit_id}",
        json={"unit_name": "新名称公司", "phone": new_phone},
        headers=await api.staff("clerk.intake"),
    )
    assert r.status_code == 200, r.text
    async with api.runtime.engine.connect() as conn:
        (event,) = await outbox_payloads(conn, CounterChangeApproved.message_type, account_id=str(unit_id))
    uuid.UUID(event["change_id"])
    assert (event["change_kind"], event["name"], event["phone"], event["items"]) == (
        "details",
        "新名称公司",
        new_phone,
        "单位名称、手机号码",
    )
