"""Bindings (ID-07, ID-08, ID-12 to ID-14) and kind conversions (ID-07), through the system feed."""

import secrets
from typing import TYPE_CHECKING, Any

import pytest

if TYPE_CHECKING:
    from tests.api.conftest import Api

pytestmark = pytest.mark.integration


# The members of a binding as the API answers it; a listing of one's own adds its record's plate and state.
BINDING_KEYS = {"id", "record_kind", "ref", "owned", "channel", "unit_account_id", "created_at"}


def _ref() -> str:
    return "veh-" + secrets.token_hex(6)


async def _bind(api: "Api", headers: dict[str, str], kind: str, ref: str) -> Any:
    return await api.client.post(
        "/api/v1/users/me/bindings", json={"record_kind": kind, "ref": ref}, headers=headers
    )


async def test_id12_owner_binds_and_unbinds_own_vehicle_and_licence(api: "Api") -> None:
    id_number, phone = await api.owner_driver()
    vehicle = _ref()
    await api.record(
        "vehicle", vehicle, id_number=id_number, phone=phone, state="registered", plate_number="冀A1B2C3"
    )
    licence = await api.licence(id_number, phone)
    me = await api.bearer(phone)
    r = await _bind(api, me, "vehicle", vehicle)
    assert r.status_code == 201, r.text
    assert r.json()["owned"] is True
    assert (await _bind(api, me, "licence", licence)).status_code == 201
    assert (await _bind(api, me, "vehicle", vehicle)).status_code == 409  # already bound
    listed = (await api.client.get("/api/v1/users/me/bindings", headers=me)).json()["items"]
    assert {b["ref"] for b in listed} == {vehicle, licence}
    binding = next(b for b in listed if b["ref"] == vehicle)
    assert binding["plate_number"] == "冀A1B2C3"
    assert set(binding) == {*BINDING_KEYS, "plate_number", "state"}
    assert binding["state"] == "registered"
    assert (
        await api.client.delete(f"/api/v1/users/me/bindings/{binding['id']}", headers=me)
    ).status_code == 204
    listed = (await api.client.get("/api/v1/users/me/bindings", headers=me)).json()["items"]
    assert {b["ref"] for b in listed} == {licence}


async def test_id12_another_persons_vehicle_and_binding_answer_404(api: "Api") -> None:
    _, alice_phone = await api.owner_driver("甲")
    bob_id, bob_phone = await api.owner_driver("乙")
    bob_vehicle = _ref()
    await api.record("vehicle", bob_vehicle, id_number=bob_id, phone=bob_phone, state="registered")
    alice, bob = await api.bearer(alice_phone), await api.bearer(bob_phone)
    assert (await _bind(api, alice, "vehicle", bob_vehicle)).status_code == 404
    assert (await _bind(api, alice, "vehicle", "no-such-vehicle")).status_code == 404
    bob_binding = (await _bind(api, bob, "vehicle", bob_vehicle)).json()
    assert (
        await api.client.delete(f"/api/v1/users/me/bindings/{bob_binding['id']}", headers=alice)
    ).status_code == 404
    bob_items = (await api.client.get("/api/v1/users/me/bindings", headers=bob)).json()["items"]
    alice_items = (await api.client.get("/api/v1/users/me/bindings", headers=alice)).json()["items"]
    assert bob_binding["id"] in {b["id"] for b in bob_items}
    assert bob_binding["id"] not in {b["id"] for b in alice_items}


async def test_id07_new_car_owner_may_not_bind_vehicles_online(api: "Api") -> None:
    id_number = await api.person()
    phone = api.new_phone()
    assert (await api.register("new_car_owner", id_number, phone)).status_code == 201
    r = await _bind(api, await api.bearer(phone), "licence", id_number)
    assert r.status_code == 409
    assert (r.json()["code"], r.json()["rule"]) == ("NOT_ALLOWED_FOR_ACCOUNT_KIND", "ID-07")


async def _counter_bound(api: "Api", account_id: str, ref: str) -> None:
    await api.counter_bind(account_id, ref)


@pytest.mark.parametrize(
    ("change", "unbinds_owner"),
    [
        ({"change": "transferred", "new_owner": True}, True),
        ({"change": "deregistered", "state": "deregistered"}, False),
        ({"change": "use_changed", "use": "non_commercial", "from_use": "commercial"}, False),
    ],
)
async def test_id14_vehicle_change_unbinds_everyone_but_its_owner(
    api: "Api", change: dict[str, Any], unbinds_owner: bool
) -> None:
    owner_id, owner_phone = await api.owner_driver("车主")
    _, friend_phone = await api.owner_driver("朋友")
    vehicle = _ref()
    await api.record(
        "vehicle", vehicle, id_number=owner_id, phone=owner_phone, state="registered", use="commercial"
    )
    owner, friend = await api.bearer(owner_phone), await api.bearer(friend_phone)
    assert (await _bind(api, owner, "vehicle", vehicle)).status_code == 201
    friend_id = (await api.client.get("/api/v1/users/me", headers=friend)).json()["id"]
    await _counter_bound(api, friend_id, vehicle)
    new_owner = api.new_resident_id() if change.get("new_owner") else owner_id
    r = await api.record(
        "vehicle",
        vehicle,
        id_number=new_owner,
        state=change.get("state", "registered"),
        use=change.get("use", "commercial"),
        change=change["change"],
    )
    assert r.status_code == 200, r.text
    friend_refs = {
        b["ref"] for b in (await api.client.get("/api/v1/users/me/bindings", headers=friend)).json()["items"]
    }
    owner_refs = {
        b["ref"] for b in (await api.client.get("/api/v1/users/me/bindings", headers=owner)).json()["items"]
    }
    assert vehicle not in friend_refs
    assert (vehicle not in owner_refs) is unbinds_owner


async def test_id14_non_commercial_to_commercial_keeps_bindings(api: "Api") -> None:
    owner_id, owner_phone = await api.owner_driver()
    _, friend_phone = await api.owner_driver()
    vehicle = _ref()
    await api.record(
        "vehicle", vehicle, id_number=owner_id, phone=owner_phone, state="registered", use="non_commercial"
    )
    friend = await api.bearer(friend_phone)
    friend_id = (await api.client.get("/api/v1/users/me", headers=friend)).json()["id"]
    await _counter_bound(api, friend_id, vehicle)
    await api.record(
        "vehicle",
        vehicle,
        id_number=owner_id,
        state="registered",
        use="commercial",
        change="use_changed",
        from_use="non_commercial",
    )
    assert vehicle in {
        b["ref"] for b in (await api.client.get("/api/v1/users/me/bindings", headers=friend)).json()["items"]
    }


async def test_id14_cancelled_licence_is_unbound_from_its_user(api: "Api") -> None:
    id_number, phone = await api.owner_driver()
    licence = await api.licence(id_number, phone)
    me = await api.bearer(phone)
    assert (await _bind(api, me, "licence", licence)).status_code == 201
    await api.licence(id_number, phone, "cancelled", record_id=licence, version=2, change="state")
    assert (await api.client.get("/api/v1/users/me/bindings", headers=me)).json()["items"] == []


async def test_id07_learner_becomes_owner_driver_when_the_first_licence_is_issued(api: "Api") -> None:
    id_number = await api.person()
    phone = api.new_phone()
    await api.record(
        "licence_application", "la-" + secrets.token_hex(5), id_number=id_number, state="accepted"
    )
    assert (await api.register("learner", id_number, phone)).status_code == 201
    await api.licence(id_number, phone)
    me = (await api.client.get("/api/v1/users/me", headers=await api.bearer(phone))).json()
    assert me["kind"] == "owner_driver"
    assert "bind_own_licence" in me["capabilities"]


async def test_id07_new_car_owner_becomes_owner_driver_when_the_car_is_registered(api: "Api") -> None:
    id_number = await api.person()
    phone = api.new_phone()
    assert (await api.register("new_car_owner", id_number, phone)).status_code == 201
    await api.record(
        "vehicle", _ref(), id_number=id_number, phone=phone, state="registered", change="registered"
    )
    me = (await api.client.get("/api/v1/users/me", headers=await api.bearer(phone))).json()
    assert me["kind"] == "owner_driver"


async def test_id07_licence_bound_to_a_unit_and_unbound(api: "Api") -> None:
    from stdnum.cn import uscc

    from identity_service.demo import ensure_account

    base = "91130100MA" + secrets.token_hex(4).upper()[:7]
    credit_code = base + uscc.calc_check_digit(base)
    async with api.runtime.uow() as uow:
        await ensure_account(
            uow.session,
            category="unit",
            kind="enterprise",
            name="某运输公司",
            password="Passw0rd2027",
            roles=["unit"],
            now=uow.now,
            credit_code=credit_code,
            phone=api.new_phone(),
        )
        await uow.commit()
    id_number, phone = await api.owner_driver()
    licence = await api.licence(id_number, phone)
    me = await api.bearer(phone)
    binding = (await _bind(api, me, "licence", licence)).json()
    r = await api.client.put(
        f"/api/v1/users/me/bindings/{binding['id']}/unit", json={"credit_code": credit_code}, headers=me
    )
    assert r.status_code == 200, r.text
    assert set(r.json()) == BINDING_KEYS
    unit = await api.bearer(credit_code)
    items = (await api.client.get("/api/v1/units/me/licences", headers=unit)).json()["items"]
    assert [b["ref"] for b in items] == [licence]  # ID-08: the unit queries licences bound to it
    assert set(items[0]) == BINDING_KEYS
    assert (
        await api.client.delete(f"/api/v1/users/me/bindings/{binding['id']}/unit", headers=me)
    ).status_code == 204
    assert (await api.client.get("/api/v1/units/me/licences", headers=unit)).json()["items"] == []


async def test_id03_projection_feed_needs_the_system_role(api: "Api") -> None:
    _, phone = await api.owner_driver()
    r = await api.client.put(
        "/api/v1/users/person-records/vehicle/x1",
        json={"id_number": "130102199003071233", "state": "registered"},
        headers=await api.bearer(phone),
    )
    assert r.status_code == 403


async def test_id13_counter_change_updates_the_unit_registration(api: "Api") -> None:
    from stdnum.cn import uscc

    from identity_service.demo import ensure_account

    base = "91130100MA" + secrets.token_hex(4).upper()[:7]
    credit_code = base + uscc.calc_check_digit(base)
    async with api.runtime.uow() as uow:
        unit_id = await ensure_account(
            uow.session,
            category="unit",
            kind="enterprise",
            name="旧名称公司",
            password="Passw0rd2027",
            roles=["unit"],
            now=uow.now,
            credit_code=credit_code,
            phone=api.new_phone(),
        )
        await uow.commit()
    intake = await api.staff("clerk.intake")
    new_phone = api.new_phone()
    r = await api.client.patch(
        f"/api/v1/units/{unit_id}",
        json={"unit_name": "新名称公司", "phone": new_phone, "agent_name": "新经办人"},
        headers=intake,
    )
    assert r.status_code == 200, r.text
    assert r.json()["name"] == "新名称公司"
    assert r.json()["phone"] == new_phone[:3] + "****" + new_phone[-4:]
    unit = await api.bearer(credit_code)
    assert (
        await api.client.patch(f"/api/v1/units/{unit_id}", json={"unit_name": "x"}, headers=unit)
    ).status_code == 403
    _, citizen_phone = await api.owner_driver()
    citizen_id = (await api.client.get("/api/v1/users/me", headers=await api.bearer(citizen_phone))).json()[
        "id"
    ]
    assert (
        await api.client.patch(f"/api/v1/units/{citizen_id}", json={"unit_name": "x"}, headers=intake)
    ).status_code == 404


async def test_per_user_write_limit_answers_429_with_retry_after(api: "Api") -> None:
    _, phone = await api.owner_driver()
    me = await api.bearer(phone)
    codes = [(await _bind(api, me, "vehicle", "nope")).status_code for _ in range(61)]
    assert codes[:60] == [404] * 60
    assert codes[60] == 429
    refused = await _bind(api, me, "vehicle", "nope")
    assert int(refused.headers["Retry-After"]) >= 1


async def test_id14_id08_a_units_own_vehicle_keeps_its_binding_when_it_leaves_commercial_use(
    api: "Api",
) -> None:
    """The owner a change spares is the unit by its credit code, not the person who is its agent."""
    code, vehicle = await _unit(api), _ref()
    r = await api.record("vehicle", vehicle, id_number=code, state="registered", use="commercial")
    assert r.status_code == 200, r.text
    unit = await api.bearer(code)
    assert (await _bind(api, unit, "vehicle", vehicle)).status_code == 201
    r = await api.record(
        "vehicle", vehicle, id_number=code, state="registered", use="non_commercial", change="use_changed"
    )
    assert r.status_code == 200, r.text
    assert r.json()["unbound_accounts"] == []
    listed = (await api.client.get("/api/v1/users/me/bindings", headers=unit)).json()["items"]
    assert [b["ref"] for b in listed] == [vehicle]


async def _unit(api: "Api") -> str:
    """A unit account of this test alone (its agent signs in with the credit code); returns the code."""
    from stdnum.cn import uscc

    from identity_service.demo import ensure_account

    base = "91130100MA" + secrets.token_hex(4).upper()[:7]
    credit_code = base + uscc.calc_check_digit(base)
    async with api.runtime.uow() as uow:
        await ensure_account(
            uow.session,
            category="unit",
            kind="enterprise",
            name="某物流公司",
            password="Passw0rd2027",
            roles=["unit"],
            now=uow.now,
            credit_code=credit_code,
            id_number=api.new_resident_id(),  # the agent
            phone=api.new_phone(),
        )
        await uow.commit()
    return credit_code


async def test_id08_unit_binds_queries_and_unbinds_its_own_vehicle_another_unit_gets_404(api: "Api") -> None:
    mine, other = await _unit(api), await _unit(api)
    vehicle = _ref()
    r = await api.record(
        "vehicle", vehicle, id_number=mine, phone=api.new_phone(), state="registered", plate_number="冀AU1234"
    )
    assert r.status_code in (200, 201), r.text
    me, them = await api.bearer(mine), await api.bearer(other)
    assert (await _bind(api, them, "vehicle", vehicle)).status_code == 404
    r = await _bind(api, me, "vehicle", vehicle)
    assert r.status_code == 201, r.text
    listed = (await api.client.get("/api/v1/users/me/bindings", headers=me)).json()["items"]
    assert [(b["ref"], b["plate_number"]) for b in listed] == [(vehicle, "冀AU1234")]
    assert (await api.client.get("/api/v1/users/me/bindings", headers=them)).json()["items"] == []
    binding = listed[0]["id"]
    assert (await api.client.delete(f"/api/v1/users/me/bindings/{binding}", headers=them)).status_code == 404
    assert (await api.client.delete(f"/api/v1/users/me/bindings/{binding}", headers=me)).status_code == 204
    assert (await api.client.get("/api/v1/users/me/bindings", headers=me)).json()["items"] == []
