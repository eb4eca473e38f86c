"""Account life: ID-05 new-car-owner deadlines (sweep), ID-12 changes and suspension, ID-16 cancellation."""

import secrets
import uuid
from datetime import timedelta
from typing import TYPE_CHECKING, Any

import pytest
from sqlalchemy import select, text

from identity_service.lifecycle import sweep_new_car_owners
from identity_service.subscriptions import (
    SelectionConfirmed,
    SelectionRegistered,
    start_register_deadline,
    stop_register_deadline,
)
from identity_service.tables import accounts
from servicekit.testing import outbox_payloads
from servicekit.workdays import WorkdayCalendar

if TYPE_CHECKING:
    from tests.api.conftest import Api

pytestmark = pytest.mark.integration


async def _new_car_owner(api: "Api") -> tuple[str, str]:
    id_number = await api.person()
    phone = api.new_phone()
    r = await api.register("new_car_owner", id_number, phone)
    assert r.status_code == 201, r.text
    return r.json()["id"], phone


async def _status(api: "Api", account_id: str) -> Any:
    async with api.runtime.engine.connect() as conn:
        return (
            await conn.execute(
                select(accounts.c.status, accounts.c.cancel_reason).where(
                    accounts.c.id == uuid.UUID(account_id)
                )
            )
        ).one()


async def _cancelled_events(api: "Api", account_id: str) -> list[Any]:
    async with api.runtime.engine.connect() as conn:
        return await outbox_payloads(conn, "identity.account.cancelled.v1", subject=account_id)


async def test_id05_new_car_owner_without_preselection_within_24_hours_is_cancelled(api: "Api") -> None:
    account_id, phone = await _new_car_owner(api)
    api.clock.advance(timedelta(hours=23, minutes=59))
    await sweep_new_car_owners(api.runtime)
    assert (await _status(api, account_id)).status == "active"
    api.clock.advance(timedelta(minutes=2))
    await sweep_new_car_owners(api.runtime)
    row = await _status(api, account_id)
    assert (row.status, row.cancel_reason) == ("cancelled", "no_preselection_within_24h")
    (event,) = await _cancelled_events(api, account_id)
    assert event["reason"] == "no_preselection_within_24h"
    r = await api.client.post("/api/v1/auth/login", json={"username": phone, "password": "Passw0rd2027"})
    assert r.status_code == 401
    await sweep_new_car_owners(api.runtime)  # a second pass changes nothing
    assert len(await _cancelled_events(api, account_id)) == 1


async def _preselect(api: "Api", account_id: str) -> None:
    now = await api.clock.now()
    register_by = WorkdayCalendar().deadline_end_of_working_day(now, 3)
    async with api.runtime.uow() as uow:
        event = SelectionConfirmed(
            selection_id="s-" + secrets.token_hex(4),
            account_id=account_id,
            confirmed_at=now,
            register_by=register_by,
        )
        await start_register_deadline(uow, event, None)  # type: ignore[arg-type]
        await uow.commit()


async def test_id05_preselected_but_not_registered_within_3_working_days_is_cancelled(api: "Api") -> None:
    account_id, _ = await _new_car_owner(api)
    api.clock.advance(timedelta(hours=2))
    await _preselect(api, account_id)  # Monday 2027-03-01 → register by the end of Thursday 03-04
    api.clock.advance(timedelta(days=3, hours=12))  # Thursday 23:00
    await sweep_new_car_owners(api.runtime)
    assert (await _status(api, account_id)).status == "active"
    api.clock.advance(timedelta(hours=2))  # Friday 01:00
    await sweep_new_car_owners(api.runtime)
    assert (await _status(api, account_id)).cancel_reason == "not_registered_within_3_working_days"


async def test_id05_registered_in_time_is_not_cancelled(api: "Api") -> None:
    account_id, _ = await _new_car_owner(api)
    await _preselect(api, account_id)
    async with api.runtime.uow() as uow:
        await stop_register_deadline(uow, SelectionRegistered(selection_id="s", account_id=account_id), None)  # type: ignore[arg-type]
        await uow.commit()
    api.clock.advance(timedelta(days=10))
    await sweep_new_car_owners(api.runtime)
    assert (await _status(api, account_id)).status == "active"


async def test_id16_self_service_cancellation_ends_sessions_and_publishes(api: "Api") -> None:
    id_number, phone = await api.owner_driver()
    tokens = await api.login(phone)
    headers = {"Authorization": f"Bearer {tokens['access_token']}"}
    account_id = (await api.client.get("/api/v1/users/me", headers=headers)).json()["id"]
    wrong = await api.client.post(
        "/api/v1/users/me/cancellation", json={"password": "nope1234x"}, headers=headers
    )
    assert wrong.status_code == 422
    r = await api.client.post(
        "/api/v1/users/me/cancellation", json={"password": "Passw0rd2027"}, headers=headers
    )
    assert r.status_code == 204
    assert (await _status(api, account_id)).cancel_reason == "self_service"
    assert len(await _cancelled_events(api, account_id)) == 1
    assert (
        await api.client.post("/api/v1/auth/refresh", json={"refresh_token": tokens["refresh_token"]})
    ).status_code == 401
    assert (await api.client.get("/api/v1/users/me", headers=headers)).status_code == 401  # ADR 0082
    # the person may register again afterwards
    api.clock.advance(timedelta(minutes=2))
    assert (await api.register("owner_driver", id_number, phone)).status_code == 201


async def test_id16_forced_cancellation_of_a_dead_person_by_a_system_client(api: "Api") -> None:
    _, phone = await api.owner_driver()
    citizen = await api.bearer(phone)
    account_id = (await api.client.get("/api/v1/users/me", headers=citizen)).json()["id"]
    other_citizen = await api.bearer((await api.owner_driver())[1])
    r = await api.client.post(
        f"/api/v1/users/{account_id}/cancellation", json={"reason": "deceased"}, headers=other_citizen
    )
    assert r.status_code == 403
    r = await api.client.post(
        f"/api/v1/users/{account_id}/cancellation",
        json={"reason": "deceased"},
        headers={"Authorization": f"Bearer {api.system_token}"},
    )
    assert r.status_code == 204
    assert (await _status(api, account_id)).cancel_reason == "deceased"


async def test_id12_change_password_revokes_other_sessions(api: "Api") -> None:
    _, phone = await api.owner_driver()
    tokens = await api.login(phone)
    headers = {"Authorization": f"Bearer {tokens['access_token']}"}
    weak = await api.client.put(
        "/api/v1/users/me/password",
        json={"old_password": "Passw0rd2027", "new_password": "x"},
        headers=headers,
    )
    assert weak.status_code == 422
    r = await api.client.put(
        "/api/v1/users/me/password",
        json={"old_password": "Passw0rd2027", "new_password": "NewPass2028"},
        headers=headers,
    )
    assert r.status_code == 204
    assert (
        await api.client.post("/api/v1/auth/refresh", json={"refresh_token": tokens["refresh_token"]})
    ).status_code == 401
    assert (await api.login(phone, "NewPass2028"))["access_token"]


async def test_id12_change_phone_needs_a_code_sent_to_the_new_phone(api: "Api") -> None:
    _, phone = await api.owner_driver()
    headers = await api.bearer(phone)
    new_phone = api.new_phone()
    r = await api.client.patch("/api/v1/users/me", json={"phone": new_phone}, headers=headers)
    assert r.status_code == 422
    assert (r.json()["code"], r.json()["rule"]) == ("SMS_CODE_REQUIRED", "ID-12")
    await api.client.post("/api/v1/auth/sms-codes", json={"phone": new_phone, "purpose": "change_phone"})
    r = await api.client.patch(
        "/api/v1/users/me",
        json={"phone": new_phone, "sms_code": await api.last_code(new_phone), "email": "a@example.cn"},
        headers=headers,
    )
    assert r.status_code == 200, r.text
    assert r.json()["phone"] == new_phone[:3] + "****" + new_phone[-4:]
    assert r.json()["email"] == "a@example.cn"


async def test_id12_suspended_account_cannot_sign_in_until_reactivated(api: "Api") -> None:
    id_number, phone = await api.owner_driver()
    headers = await api.bearer(phone)
    assert (
        await api.client.post(
            "/api/v1/users/me/suspension", json={"password": "Passw0rd2027"}, headers=headers
        )
    ).status_code == 204
    r = await api.client.post("/api/v1/auth/login", json={"username": phone, "password": "Passw0rd2027"})
    assert r.status_code == 409
    assert r.json()["code"] == "ACCOUNT_SUSPENDED"
    api.clock.advance(timedelta(minutes=2))
    await api.client.post("/api/v1/auth/sms-codes", json={"phone": phone, "purpose": "reactivate"})
    r = await api.client.post(
        "/api/v1/users/reactivation",
        json={
            "username": id_number,
            "phone": phone,
            "password": "Passw0rd2027",
            "sms_code": await api.last_code(phone),
        },
    )
    assert r.status_code == 200, r.text
    assert r.json()["status"] == "active"
    assert (await api.login(phone))["access_token"]


async def test_au01_changes_are_written_to_the_audit_trail(api: "Api") -> None:
    _, phone = await api.owner_driver()
    headers = await api.bearer(phone)
    account_id = (await api.client.get("/api/v1/users/me", headers=headers)).json()["id"]
    await api.client.post("/api/v1/users/me/suspension", json={"password": "Passw0rd2027"}, headers=headers)
    async with api.runtime.engine.connect() as conn:
        rows = (
            await conn.execute(
                text("SELECT actor, role, action, source_ip FROM audit_log WHERE target = :t ORDER BY at"),
                {"t": f"account:{account_id}"},
            )
        ).all()
    actions = [r.action for r in rows]
    assert "register_online" in actions
    assert "login" in actions
    suspended = next(r for r in rows if r.action == "suspended")
    assert (suspended.actor, suspended.role) == (account_id, "citizen")
    assert suspended.source_ip is not None


async def test_id16_dissolved_unit_is_cancelled_by_clerk_admin_and_counter_request_by_intake(
    api: "Api",
) -> None:
    from stdnum.cn import uscc

    from identity_service.demo import ensure_account

    base = "91130100MA" + secrets.token_hex(4).upper()[:7]
    async with api.runtime.uow() as uow:
        unit_id = await ensure_account(
            uow.session,
            category="unit",
            kind="enterprise",
            name="已注销公司",
            password="Passw0rd2027",
            roles=["unit"],
            now=uow.now,
            credit_code=base + uscc.calc_check_digit(base),
            phone=api.new_phone(),
        )
        await uow.commit()
    admin, intake = await api.staff("clerk.admin"), await api.staff("clerk.intake")
    r = await api.client.post(
        f"/api/v1/users/{unit_id}/cancellation", json={"reason": "unit_dissolved"}, headers=intake
    )
    assert r.status_code == 403  # forced cancellation is not the intake post's
    r = await api.client.post(
        f"/api/v1/users/{unit_id}/cancellation", json={"reason": "unit_dissolved"}, headers=admin
    )
    assert r.status_code == 204
    assert (await _status(api, str(unit_id))).cancel_reason == "unit_dissolved"
    _, phone = await api.owner_driver()
    person_id = (await api.client.get("/api/v1/users/me", headers=await api.bearer(phone))).json()["id"]
    r = await api.client.post(
        f"/api/v1/users/{person_id}/cancellation", json={"reason": "counter_request"}, headers=intake
    )
    assert r.status_code == 204
    assert (await _status(api, person_id)).cancel_reason == "counter_request"
    again = await api.client.post(
        f"/api/v1/users/{person_id}/cancellation", json={"reason": "counter_request"}, headers=intake
    )
    assert again.status_code == 404


async def test_id01_registration_with_an_idempotency_key_answers_a_repeat_with_the_first_answer(
    api: "Api",
) -> None:
    id_number, phone = await api.person(), api.new_phone()
    await api.client.post("/api/v1/auth/sms-codes", json={"phone": phone, "purpose": "register"})
    body = {
        "kind": "new_car_owner",
        "id_number": id_number,
        "name": "张三",
        "phone": phone,
        "password": "Passw0rd2027",
        "sms_code": await api.last_code(phone),
    }
    key = {"Idempotency-Key": "reg-" + secrets.token_hex(8)}
    first = await api.client.post("/api/v1/users", json=body, headers=key)
    again = await api.client.post("/api/v1/users", json=body, headers=key)
    assert first.status_code == again.status_code == 201
    assert again.json()["id"] == first.json()["id"]
    assert again.headers["Idempotent-Replayed"] == "true"
