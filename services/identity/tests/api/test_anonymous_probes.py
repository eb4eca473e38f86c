"""What an anonymous caller can learn or try (ID-02, ID-12, NT-02): reactivation and online registration
answer nothing about a password, an account or the population registry before the phone's SMS code is
proved, count their tries, and are limited per client address and per account, phone or identity number.
"""

from __future__ import annotations

import secrets
from datetime import timedelta
from typing import TYPE_CHECKING, Any

import httpx
import pytest
from sqlalchemy import text

if TYPE_CHECKING:
    from tests.api.conftest import Api

pytestmark = pytest.mark.integration

PASSWORD = "Passw0rd2027"


async def _code(api: Api, phone: str, purpose: str) -> str:
    """A fresh code for `phone` (NT-02 allows one a minute: the clock moves past it first)."""
    api.clock.advance(timedelta(minutes=2))
    r = await api.client.post("/api/v1/auth/sms-codes", json={"phone": phone, "purpose": purpose})
    assert r.status_code == 202, r.text
    return await api.last_code(phone)


def _wrong(code: str) -> str:
    return f"{(int(code) + 1) % 1_000_000:06d}"


async def _reactivate(
    api: Api, username: str, phone: str, password: str, code: str, **headers: str
) -> httpx.Response:
    return await api.client.post(
        "/api/v1/users/reactivation",
        json={"username": username, "phone": phone, "password": password, "sms_code": code},
        headers=headers,
    )


async def _suspended(api: Api) -> tuple[str, str]:
    id_number, phone = await api.owner_driver()
    r = await api.client.post(
        "/api/v1/users/me/suspension", json={"password": PASSWORD}, headers=await api.bearer(phone)
    )
    assert r.status_code == 204, r.text
    return id_number, phone


def _answer(r: httpx.Response) -> tuple[int, Any]:
    return r.status_code, r.json().get("code")


def _limits(api: Api, **limits: str) -> None:
    state = api.app.state.identity
    state.settings = state.settings.model_copy(update=limits)


# --- reactivation (ID-12) ----------------------------------------------------------------------------


async def test_id12_reactivation_checks_the_sms_code_before_the_password(api: Api) -> None:
    """Without the phone's code the answer is the code's refusal, whatever the password and whether the
    account exists or is suspended: no password can be guessed there."""
    id_number, phone = await api.owner_driver()  # active, not suspended
    code = await _code(api, phone, "reactivate")
    right = await _reactivate(api, id_number, phone, PASSWORD, _wrong(code))
    wrong = await _reactivate(api, id_number, phone, "Wrong12345", _wrong(code))
    unknown = await _reactivate(api, api.new_resident_id(), phone, PASSWORD, _wrong(code))
    assert _answer(right) == _answer(wrong) == _answer(unknown) == (422, "SMS_CODE_MISMATCH")
    # NT-02: the tries were counted on the phone's code like every other verification (5 at most)
    assert [right.json()["tries_left"], wrong.json()["tries_left"], unknown.json()["tries_left"]] == [4, 3, 2]
    none = await _reactivate(api, id_number, api.new_phone(), PASSWORD, "123456")
    assert _answer(none) == (422, "SMS_CODE_NOT_ISSUED")


async def test_id12_reactivation_answers_alike_until_code_and_password_are_proved(api: Api) -> None:
    """After the code: an unknown account, another's account and a wrong password answer the same; only
    code and password together learn that the account is not suspended."""
    id_number, phone = await api.owner_driver()
    other_id, _ = await api.owner_driver()
    answers = []
    for username, password in (
        (api.new_resident_id(), PASSWORD),
        (other_id, PASSWORD),
        (id_number, "Wrong12345"),
    ):
        r = await _reactivate(api, username, phone, password, await _code(api, phone, "reactivate"))
        answers.append(_answer(r))
    assert answers == [(401, "INVALID_CREDENTIALS")] * 3
    r = await _reactivate(api, id_number, phone, PASSWORD, await _code(api, phone, "reactivate"))
    assert _answer(r) == (409, "NOT_SUSPENDED")


async def test_id12_reactivation_wrong_password_counts_toward_the_sign_in_lockout(api: Api) -> None:
    id_number, phone = await _suspended(api)
    for _ in range(5):
        r = await _reactivate(api, id_number, phone, "Wrong12345", await _code(api, phone, "reactivate"))
        assert _answer(r) == (401, "INVALID_CREDENTIALS")
    r = await api.client.post("/api/v1/auth/login", json={"username": id_number, "password": PASSWORD})
    assert _answer(r) == (409, "ACCOUNT_LOCKED")
    r = await _reactivate(api, id_number, phone, PASSWORD, await _code(api, phone, "reactivate"))
    assert _answer(r) == (409, "ACCOUNT_LOCKED")
    api.clock.advance(timedelta(minutes=16))
    r = await _reactivate(api, id_number, phone, PASSWORD, await _code(api, phone, "reactivate"))
    assert r.status_code == 200, r.text
    assert r.json()["status"] == "active"
    async with api.runtime.engine.connect() as conn:  # AU-01: each wrong password is in the audit trail
        failed = (
            await conn.execute(
                text("SELECT count(*) FROM audit_log WHERE target = :t AND action = 'reactivation_failed'"),
                {"t": f"account:{r.json()['id']}"},
            )
        ).scalar_one()
    assert failed == 5


async def test_id12_reactivation_is_limited_per_client_address(api: Api) -> None:
    _limits(api, reactivation_rate_per_ip="3/minute")
    ip = api.new_ip()
    codes = [
        (
            await _reactivate(
                api, api.new_resident_id(), api.new_phone(), PASSWORD, "123456", **{"X-Forwarded-For": ip}
            )
        ).status_code
        for _ in range(4)
    ]
    assert codes == [422, 422, 422, 429]


async def test_id12_reactivation_is_limited_per_account(api: Api) -> None:
    _limits(api, reactivation_rate_per_account="3/hour")
    id_number, phone = await api.owner_driver()
    codes = [
        (
            await _reactivate(api, id_number, phone, PASSWORD, "123456", **{"X-Forwarded-For": api.new_ip()})
        ).status_code
        for _ in range(4)
    ]
    assert codes == [422, 422, 422, 429]
    # the same account named by its phone shares the count
    r = await _reactivate(api, phone, phone, PASSWORD, "123456", **{"X-Forwarded-For": api.new_ip()})
    assert r.status_code == 429


# --- online registration (ID-02 to ID-05) -------------------------------------------------------------


async def _register(
    api: Api, id_number: str, phone: str, code: str, name: str = "张三", **headers: str
) -> httpx.Response:
    body = {
        "kind": "new_car_owner",
        "id_kind": "resident_id",
        "id_number": id_number,
        "name": name,
        "phone": phone,
        "password": PASSWORD,
        "sms_code": code,
    }
    return await api.client.post("/api/v1/users", json=body, headers=headers)


async def test_id02_registration_tells_nothing_of_the_registry_or_accounts_before_the_sms_code(
    api: Api,
) -> None:
    registered, _ = await api.owner_driver("张三")
    known = await api.person("王五")
    phone = api.new_phone()
    code = await _code(api, phone, "register")
    answers = [
        _answer(await _register(api, id_number, phone, _wrong(code), name))
        for id_number, name in (
            (api.new_resident_id(), "张三"),  # not in the registry
            (known, "王六"),  # the name does not match
            (registered, "张三"),  # an account exists
            (known, "王五"),  # all right
        )
    ]
    assert answers == [(422, "SMS_CODE_MISMATCH")] * 4
    without = [
        _answer(await _register(api, id_number, api.new_phone(), "123456", name))
        for id_number, name in ((api.new_resident_id(), "张三"), (registered, "张三"))
    ]
    assert without == [(422, "SMS_CODE_NOT_ISSUED")] * 2


async def test_id02_registration_refusals_come_after_the_phone_is_proved(api: Api) -> None:
    registered, _ = await api.owner_driver("张三")
    phone = api.new_phone()
    r = await _register(api, api.new_resident_id(), phone, await _code(api, phone, "register"))
    assert _answer(r) == (422, "IDENTITY_NOT_VERIFIED")
    r = await _register(api, registered, phone, await _code(api, phone, "register"))
    assert _answer(r) == (409, "ACCOUNT_EXISTS")


async def test_id02_registration_is_limited_per_client_address(api: Api) -> None:
    _limits(api, registration_rate_per_ip="3/minute")
    ip = api.new_ip()
    codes = [
        (
            await _register(api, api.new_resident_id(), api.new_phone(), "123456", **{"X-Forwarded-For": ip})
        ).status_code
        for _ in range(4)
    ]
    assert codes == [422, 422, 422, 429]


async def test_id02_registration_is_limited_per_phone_and_per_identity_number(api: Api) -> None:
    _limits(api, registration_rate_per_phone="3/hour", registration_rate_per_id_number="3/hour")
    phone, id_number = api.new_phone(), api.new_resident_id()
    by_phone = [
        (
            await _register(api, api.new_resident_id(), phone, "123456", **{"X-Forwarded-For": api.new_ip()})
        ).status_code
        for _ in range(4)
    ]
    by_id = [
        (
            await _register(api, id_number, api.new_phone(), "123456", **{"X-Forwarded-For": api.new_ip()})
        ).status_code
        for _ in range(4)
    ]
    assert by_phone == by_id == [422, 422, 422, 429]


# --- forced cancellation (ID-16) ---------------------------------------------------------------------


async def _staff_account(api: Api, category: str, office: str = "130100") -> str:
    from identity_service.demo import ensure_account

    async with api.runtime.uow() as uow:
        account_id = await ensure_account(
            uow.session,
            category=category,
            kind=category,
            username=("S" if category == "staff" else "sys-") + secrets.token_hex(5),
            name="target",
            password=PASSWORD,
            roles=["clerk.review"] if category == "staff" else ["system"],
            now=uow.now,
            office=office if category == "staff" else None,
        )
        await uow.commit()
    return str(account_id)


async def _account_status(api: Api, account_id: str) -> str:
    from uuid import UUID

    from sqlalchemy import select

    from identity_service.tables import accounts

    async with api.runtime.engine.connect() as conn:
        status: str = (
            await conn.execute(select(accounts.c.status).where(accounts.c.id == UUID(account_id)))
        ).scalar_one()
    return status


async def test_id16_forced_cancellation_never_targets_staff_or_system_clients(api: Api) -> None:
    """ID-16 names persons and units: a staff account or a system client is not a target of this endpoint
    for anyone (ADR 0080), answered as if absent (404), and stays active."""
    from servicekit.testing import TokenFactory

    admin, intake = await api.staff("clerk.admin"), await api.staff("clerk.intake", office="310100")
    system = TokenFactory.headers(api.system_token)
    targets = [
        await _staff_account(api, "staff"),
        await _staff_account(api, "staff", office="310100"),
        await _staff_account(api, "system"),
    ]
    for target in targets:
        for headers, reason in (
            (admin, "false_registration_data"),
            (system, "deceased"),
            (intake, "counter_request"),
        ):
            r = await api.client.post(
                f"/api/v1/users/{target}/cancellation", json={"reason": reason}, headers=headers
            )
            assert _answer(r) == (404, "NOT_FOUND"), (target, reason, r.text)
        assert await _account_status(api, target) == "active"
    me = (await api.client.get("/api/v1/users/me", headers=admin)).json()["id"]
    r = await api.client.post(
        f"/api/v1/users/{me}/cancellation", json={"reason": "false_registration_data"}, headers=admin
    )
    assert r.status_code == 404
    assert await _account_status(api, me) == "active"


async def test_id16_a_citizen_account_is_cancelled_by_a_clerk_of_any_office(api: Api) -> None:
    """Seed §21: any traffic management department forces a cancellation and any designated window takes a
    request; a citizen's account is the platform's, not an office's (ADR 0080)."""
    _, phone = await api.owner_driver()
    person_id = (await api.client.get("/api/v1/users/me", headers=await api.bearer(phone))).json()["id"]
    admin = await api.staff("clerk.admin", office="310100")  # not the office the account names
    r = await api.client.post(
        f"/api/v1/users/{person_id}/cancellation", json={"reason": "deceased"}, headers=admin
    )
    assert r.status_code == 204, r.text
    assert await _account_status(api, person_id) == "cancelled"
