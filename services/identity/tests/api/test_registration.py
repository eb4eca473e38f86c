"""Online registration (ID-01 to ID-05), the population registry adapter, SMS codes (NT-02)."""

from __future__ import annotations

import secrets
from typing import TYPE_CHECKING

import pytest
from argon2 import PasswordHasher
from sqlalchemy import select

from identity_service.tables import accounts
from servicekit.crypto import blind_match

if TYPE_CHECKING:
    from tests.api.conftest import Api

pytestmark = pytest.mark.integration


async def test_id03_owner_with_vehicle_and_matching_phone_registers(api: Api) -> None:
    id_number = await api.person("张三")
    phone = api.new_phone()
    await api.record(
        "vehicle", "veh-" + secrets.token_hex(6), id_number=id_number, phone=phone, state="registered"
    )
    r = await api.register("owner_driver", id_number, phone)
    assert r.status_code == 201, r.text
    body = r.json()
    assert body["kind"] == "owner_driver"
    assert body["channel"] == "online"
    assert body["id_number"] == id_number[:4] + "**********" + id_number[-4:]
    assert "bind_own_vehicle" in body["capabilities"]


async def test_id03_driver_with_licence_registers(api: Api) -> None:
    id_number = await api.person("李四")
    phone = api.new_phone()
    await api.licence(id_number, phone)  # license's event (ADR 0050)
    r = await api.register("owner_driver", id_number, phone, "李四")
    assert r.status_code == 201, r.text


async def test_id03_no_vehicle_or_licence_is_refused_naming_the_counter(api: Api) -> None:
    id_number = await api.person()
    r = await api.register("owner_driver", id_number, api.new_phone())
    assert r.status_code == 409
    body = r.json()
    assert (body["code"], body["rule"]) == ("NO_VEHICLE_OR_LICENCE", "ID-03")
    assert "counter" in body["detail"]


async def test_id03_phone_differing_from_the_vehicle_record_is_refused(api: Api) -> None:
    id_number = await api.person()
    await api.record(
        "vehicle",
        "veh-" + secrets.token_hex(6),
        id_number=id_number,
        phone=api.new_phone(),
        state="registered",
    )
    r = await api.register("owner_driver", id_number, api.new_phone())
    assert r.status_code == 409
    assert (r.json()["code"], r.json()["rule"]) == ("PHONE_MISMATCH", "ID-03")


async def test_id03_deregistered_vehicle_does_not_qualify(api: Api) -> None:
    id_number = await api.person()
    phone = api.new_phone()
    await api.record(
        "vehicle", "veh-" + secrets.token_hex(6), id_number=id_number, phone=phone, state="deregistered"
    )
    r = await api.register("owner_driver", id_number, phone)
    assert r.status_code == 409
    assert r.json()["code"] == "NO_VEHICLE_OR_LICENCE"


async def test_id04_learner_needs_an_accepted_licence_application(api: Api) -> None:
    id_number = await api.person()
    phone = api.new_phone()
    r = await api.register("learner", id_number, phone)
    assert r.status_code == 409
    assert (r.json()["code"], r.json()["rule"]) == ("NO_ACCEPTED_LICENCE_APPLICATION", "ID-04")
    await api.record(
        "licence_application", "la-" + secrets.token_hex(6), id_number=id_number, state="accepted"
    )
    api.clock.advance(__import__("datetime").timedelta(minutes=2))  # NT-02: one code a minute
    r = await api.register("learner", id_number, phone)
    assert r.status_code == 201, r.text
    assert sorted(r.json()["capabilities"]) == sorted(
        [
            "exam_appointment",
            "plate_preselection",
            "change_password",
            "change_details",
            "suspend_account",
            "cancel_account",
        ]
    )


async def test_id05_new_car_owner_registers_online_with_preselection_only(api: Api) -> None:
    id_number = await api.person()
    r = await api.register("new_car_owner", id_number, api.new_phone())
    assert r.status_code == 201, r.text
    caps = r.json()["capabilities"]
    assert "plate_preselection" in caps
    assert "bind_own_vehicle" not in caps


async def test_id02_units_register_only_at_a_counter(api: Api) -> None:
    id_number = await api.person()
    r = await api.register("enterprise", id_number, api.new_phone())
    assert r.status_code == 422
    assert (r.json()["code"], r.json()["rule"]) == ("UNIT_REGISTERS_AT_COUNTER", "ID-02")


async def test_id01_unknown_kind_is_refused(api: Api) -> None:
    r = await api.register("pilot", await api.person(), api.new_phone())
    assert r.status_code == 422
    assert r.json()["rule"] == "ID-01"


async def test_id02_identity_not_in_the_population_registry_is_refused(api: Api) -> None:
    r = await api.register("new_car_owner", api.new_resident_id(), api.new_phone())
    assert r.status_code == 422
    assert (r.json()["code"], r.json()["rule"]) == ("IDENTITY_NOT_VERIFIED", "ID-02")


async def test_id02_name_not_matching_the_registry_is_refused(api: Api) -> None:
    id_number = await api.person("王五")
    r = await api.register("new_car_owner", id_number, api.new_phone(), name="王六")
    assert r.status_code == 422
    assert r.json()["code"] == "IDENTITY_NOT_VERIFIED"


async def test_id16_deceased_person_cannot_register(api: Api) -> None:
    id_number = await api.person("王五", status="deceased")
    r = await api.register("new_car_owner", id_number, api.new_phone(), name="王五")
    assert r.status_code == 409
    assert r.json()["code"] == "PERSON_DECEASED"


async def test_id01_one_account_per_person(api: Api) -> None:
    id_number = await api.person()
    assert (await api.register("new_car_owner", id_number, api.new_phone())).status_code == 201
    r = await api.register("new_car_owner", id_number, api.new_phone())
    assert r.status_code == 409
    assert r.json()["code"] == "ACCOUNT_EXISTS"


async def test_nt02_wrong_sms_code_is_refused_and_creates_nothing(api: Api) -> None:
    id_number = await api.person()
    phone = api.new_phone()
    code = None
    r = await api.client.post("/api/v1/auth/sms-codes", json={"phone": phone, "purpose": "register"})
    assert r.status_code == 202
    code = await api.last_code(phone)
    wrong = f"{(int(code) + 1) % 1_000_000:06d}"
    r = await api.client.post(
        "/api/v1/users",
        json={
            "kind": "new_car_owner",
            "id_number": id_number,
            "name": "张三",
            "phone": phone,
            "password": "Passw0rd2027",
            "sms_code": wrong,
        },
    )
    assert r.status_code == 422
    assert r.json()["code"] == "SMS_CODE_MISMATCH"
    async with api.runtime.engine.connect() as conn:
        query = select(accounts.c.id).where(blind_match(accounts.c.id_number, id_number))
        found = (await conn.execute(query)).first()
    assert found is None


async def test_id12_weak_password_is_refused(api: Api) -> None:
    r = await api.register("new_car_owner", await api.person(), api.new_phone(), password="short")
    assert r.status_code == 422
    assert r.json()["code"] == "WEAK_PASSWORD"


async def test_passwords_are_stored_as_argon2_hashes(api: Api) -> None:
    id_number = await api.person()
    assert (await api.register("new_car_owner", id_number, api.new_phone())).status_code == 201
    async with api.runtime.engine.connect() as conn:
        stored = (
            await conn.execute(
                select(accounts.c.password_hash).where(blind_match(accounts.c.id_number, id_number))
            )
        ).scalar_one()
    assert stored.startswith("$argon2id$")
    assert "Passw0rd2027" not in stored
    assert PasswordHasher().verify(stored, "Passw0rd2027")


async def test_sms_code_is_sent_with_the_notify_command(api: Api) -> None:
    phone = api.new_phone()
    r = await api.client.post("/api/v1/auth/sms-codes", json={"phone": phone, "purpose": "register"})
    assert r.status_code == 202
    assert len(await api.last_code(phone)) == 6
    again = await api.client.post("/api/v1/auth/sms-codes", json={"phone": phone, "purpose": "register"})
    assert again.status_code == 429
    assert again.headers["Retry-After"]
