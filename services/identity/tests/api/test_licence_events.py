"""license's licence-record events (queue identity.project-licences, ADR 0050) on the real database: the
ID-03 projection with its phone, ID-07 conversions, ID-14 unbinding on a DL-13 cancellation, and the
record's version ordering them."""

from __future__ import annotations

import asyncio
import secrets
import uuid
from datetime import timedelta
from typing import TYPE_CHECKING, Any

import pytest
from sqlalchemy import select

from identity_service.records import RecordChange, apply_record
from identity_service.tables import person_records

if TYPE_CHECKING:
    from tests.api.conftest import Api

pytestmark = pytest.mark.integration


async def _bind(api: Api, phone: str, ref: str) -> Any:
    return await api.client.post(
        "/api/v1/users/me/bindings",
        json={"record_kind": "licence", "ref": ref},
        headers=await api.bearer(phone),
    )


async def _bindings(api: Api, phone: str) -> list[str]:
    items = (await api.client.get("/api/v1/users/me/bindings", headers=await api.bearer(phone))).json()[
        "items"
    ]
    return [b["ref"] for b in items]


async def _kind(api: Api, phone: str) -> str:
    me = await api.client.get("/api/v1/users/me", headers=await api.bearer(phone))
    kind: str = me.json()["kind"]
    return kind


async def _projected(api: Api, ref: str) -> Any:
    async with api.runtime.engine.connect() as conn:
        return (
            await conn.execute(
                select(person_records).where(
                    person_records.c.record_kind == "licence", person_records.c.ref == ref
                )
            )
        ).one()


async def test_id03_an_issued_licence_lets_its_holder_register_online_with_the_records_phone(
    api: Api,
) -> None:
    id_number, phone = await api.person("孙权"), api.new_phone()
    await api.licence(id_number, phone)
    wrong = await api.register("owner_driver", id_number, api.new_phone(), "孙权")
    assert (wrong.status_code, wrong.json()["code"]) == (409, "PHONE_MISMATCH")
    api.clock.advance(timedelta(minutes=2))  # NT-02: one code a minute
    assert (await api.register("owner_driver", id_number, phone, "孙权")).status_code == 201


async def test_id06_id03_a_phone_changed_on_the_licence_record_is_the_one_registration_compares(
    api: Api,
) -> None:
    id_number, old, new = await api.person("周瑜"), api.new_phone(), api.new_phone()
    licence = await api.licence(id_number, old)
    await api.licence(id_number, new, record_id=licence, version=2, change="phone")
    assert (await _projected(api, licence)).phone == new
    assert (await api.register("owner_driver", id_number, new, "周瑜")).status_code == 201


async def test_id07_a_learner_becomes_a_driver_user_when_the_first_licence_is_issued(api: Api) -> None:
    id_number, phone = await api.person(), api.new_phone()
    await api.record(
        "licence_application", "la-" + secrets.token_hex(5), id_number=id_number, state="accepted"
    )
    assert (await api.register("learner", id_number, phone)).status_code == 201
    assert await _kind(api, phone) == "learner"
    licence = await api.licence(id_number, phone)
    assert await _kind(api, phone) == "owner_driver"
    assert (await _bind(api, phone, licence)).status_code == 201  # ID-07: a driver user binds it


async def test_id07_a_new_car_owner_becomes_a_driver_user_at_a_first_licence(api: Api) -> None:
    id_number, phone = await api.person(), api.new_phone()
    assert (await api.register("new_car_owner", id_number, phone)).status_code == 201
    await api.licence(id_number, phone)
    assert await _kind(api, phone) == "owner_driver"


async def test_id07_a_revoked_licence_converts_no_one(api: Api) -> None:
    id_number, phone = await api.person(), api.new_phone()
    assert (await api.register("new_car_owner", id_number, phone)).status_code == 201
    await api.licence(id_number, phone, "revoked")
    assert await _kind(api, phone) == "new_car_owner"


async def test_id14_dl13_a_cancelled_licence_is_unbound_from_its_user(api: Api) -> None:
    id_number, phone = await api.owner_driver()
    licence = await api.licence(id_number, phone)
    assert (await _bind(api, phone, licence)).status_code == 201
    await api.licence(id_number, phone, "cancelled", record_id=licence, version=2, change="state")
    assert licence not in await _bindings(api, phone)
    assert (await _bind(api, phone, licence)).status_code == 404  # nothing live to bind any more


async def test_id14_a_revoked_licence_stays_bound_and_is_not_bound_anew(api: Api) -> None:
    """Seed §17 unbinds a cancelled licence only: a revoked one (吊销) stays with its user, who sees it
    revoked, until the office cancels it."""
    id_number, phone = await api.owner_driver()
    licence = await api.licence(id_number, phone)
    assert (await _bind(api, phone, licence)).status_code == 201
    await api.licence(id_number, phone, "revoked", record_id=licence, version=2, change="state")
    assert licence in await _bindings(api, phone)
    other_id, other_phone = await api.owner_driver()
    revoked = await api.licence(other_id, other_phone, "revoked")
    assert (await _bind(api, other_phone, revoked)).status_code == 404


async def test_id14_a_late_older_event_is_dropped(api: Api) -> None:
    """The cancellation (version 2) came first; the issue (version 1) arriving after it changes nothing:
    the licence stays cancelled and unbound, and the learner is not converted by it."""
    id_number, phone = await api.person(), api.new_phone()
    await api.record(
        "licence_application", "la-" + secrets.token_hex(5), id_number=id_number, state="accepted"
    )
    assert (await api.register("learner", id_number, phone)).status_code == 201
    licence = str(uuid.uuid4())
    await api.licence(id_number, phone, "cancelled", record_id=licence, version=2, change="state")
    await api.licence(id_number, phone, "valid", record_id=licence, version=1)
    row = await _projected(api, licence)
    assert (row.state, row.version) == ("cancelled", 2)
    assert await _kind(api, phone) == "learner"
    await api.licence(id_number, phone, "cancelled", record_id=licence, version=2, change="state")  # same
    assert (await _projected(api, licence)).version == 2


async def test_id14_two_first_events_of_a_licence_at_once_leave_the_newer(api: Api) -> None:
    """Two consumers take the issue and the cancellation of one licence at the same moment: whichever
    commits last, the projection ends at version 2, cancelled."""
    id_number = api.new_resident_id()
    for _ in range(5):
        ref = str(uuid.uuid4())

        async def apply(state: str, version: int, ref: str = ref) -> None:
            async with api.runtime.uow() as uow:
                await apply_record(
                    uow, RecordChange("licence", ref, id_number, state, version=version), uow.now
                )
                await uow.commit()

        await asyncio.gather(apply("valid", 1), apply("cancelled", 2))
        row = await _projected(api, ref)
        assert (row.state, row.version) == ("cancelled", 2)


async def test_id03_licences_left_the_system_feed(api: Api) -> None:
    """ADR 0050: license owns licence records; the old feed answers 410 and names license's API."""
    id_number = api.new_resident_id()
    r = await api.record("licence", id_number, id_number=id_number, phone=api.new_phone(), state="valid")
    assert r.status_code == 410
    assert r.json()["code"] == "LICENCE_RECORDS_ARE_LICENSES"
    assert "POST /api/v1/licences" in r.json()["detail"]
    async with api.runtime.engine.connect() as conn:
        assert (
            await conn.execute(select(person_records).where(person_records.c.ref == id_number))
        ).first() is None
