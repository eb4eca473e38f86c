"""DL-04: the driver's contact details, changed online by any personal user, at once, against the real
license_test database."""

from __future__ import annotations

import httpx
import pytest

from license_service import records
from servicekit.post import LOCAL_POST
from servicekit.runtime import Runtime
from servicekit.testing import new_phone
from servicekit.uow import SYSTEM_ACTOR

from .conftest import ADDRESS, Desk, applied, events_about, issue, load_record, step

pytestmark = pytest.mark.integration


async def test_dl04_an_online_registered_user_changes_phone_and_address_at_once(
    client: httpx.AsyncClient, desk: Desk, runtime: Runtime
) -> None:
    record = await issue(runtime, desk)
    phone = new_phone()
    r = await client.put(
        f"/api/v1/licences/{record['id']}/contact",
        json={"phone": phone, "address": ADDRESS},
        headers=desk.citizen(record["number"], "online"),
    )
    assert r.status_code == 200, r.text
    assert r.json() == {"phone": phone, "address": ADDRESS}
    after = await load_record(runtime, record["id"])
    assert (after["phone"], after["version"]) == (phone, record["version"] + 1)
    (routing_key, changed) = (await events_about(runtime, str(record["id"])))[-1]
    assert (routing_key, changed["change"], changed["phone"]) == ("license.record.changed.v1", "phone", phone)
    # The same again writes nothing; the address alone leaves the phone.
    r = await client.put(
        f"/api/v1/licences/{record['id']}/contact",
        json={"phone": phone},
        headers=desk.citizen(record["number"]),
    )
    assert r.json() == {"phone": phone, "address": ADDRESS}
    assert (await load_record(runtime, record["id"]))["version"] == record["version"] + 1
    r = await client.get(f"/api/v1/licences/{record['id']}/contact", headers=desk.citizen(record["number"]))
    assert r.json() == {"phone": phone, "address": ADDRESS}


async def test_dl04_the_address_on_file_is_where_a_mailed_licence_goes_and_the_phone_who_is_told(
    client: httpx.AsyncClient, desk: Desk, runtime: Runtime
) -> None:
    record = await issue(runtime, desk, phone=None)
    r = await client.post(
        "/api/v1/licence-applications",
        json={"kind": "reissue", "delivery": "mail"},
        headers=desk.citizen(record["number"]),
    )
    assert (r.status_code, r.json()["code"]) == (422, "CONTACT_PHONE_NEEDED")
    phone = new_phone()
    await client.put(
        f"/api/v1/licences/{record['id']}/contact",
        json={"phone": phone, "address": ADDRESS},
        headers=desk.citizen(record["number"]),
    )
    case = await applied(client, desk, record, address=None)
    assert case["phone"] == phone
    await step(client, desk.intake, case["id"], "intake", decision="accept")
    await step(client, desk.intake, case["id"], "production")
    mailed = await step(client, desk.intake, case["id"], "handoff")
    assert LOCAL_POST.parcels[mailed["tracking_number"]].address == ADDRESS


async def test_dl04_only_ones_own_licence_and_not_a_cancelled_one(
    client: httpx.AsyncClient, desk: Desk, runtime: Runtime
) -> None:
    mine, theirs = await issue(runtime, desk), await issue(runtime, desk)
    path = f"/api/v1/licences/{theirs['id']}/contact"
    r = await client.put(path, json={"phone": new_phone()}, headers=desk.citizen(mine["number"]))
    assert r.status_code == 404
    assert (await client.get(path, headers=desk.citizen(mine["number"]))).status_code == 404
    unit = desk.tokens.headers(desk.tokens.mint("unit-1", kind="unit", roles=("unit",)))
    assert (await client.put(path, json={"phone": new_phone()}, headers=unit)).status_code == 403
    r = await client.put(
        f"/api/v1/licences/{mine['id']}/contact", json={}, headers=desk.citizen(mine["number"])
    )
    assert r.status_code == 422
    async with runtime.uow() as uow:
        row = await records.load(uow, mine["id"], lock=True)
        assert row is not None
        await records.move(uow, SYSTEM_ACTOR, row, "cancel", "注销")
        await uow.commit()
    r = await client.put(
        f"/api/v1/licences/{mine['id']}/contact",
        json={"phone": new_phone()},
        headers=desk.citizen(mine["number"]),
    )
    assert (r.status_code, r.json()["code"], r.json()["rule"]) == (409, "LICENCE_STATE_BLOCKS", "DL-04")
