"""identity's demo binds its owners' and units' demo vehicles once, publishing each binding (ADR 0044)."""

import uuid
from collections import Counter
from typing import TYPE_CHECKING

import pytest
from sqlalchemy import func, select

from identity_service import demo
from identity_service.tables import bindings
from servicekit.testing import outbox_payloads

if TYPE_CHECKING:
    from tests.api.conftest import Api

pytestmark = pytest.mark.integration

# 张三 and 赵六's vehicles, and the 3 of the logistics company and the hospital, as vehicle's demo has them.
DEMO_REFS = {
    demo.demo_vehicle_ref("130102199003071233", 0),
    demo.demo_vehicle_ref("130105197701010040", 0),
    demo.demo_vehicle_ref("91130100MA0CXXXX1M", 0),
    demo.demo_vehicle_ref("91130100MA0CXXXX1M", 1),
    demo.demo_vehicle_ref("12130100MA0HQ8PT3A", 0),
}


def test_vh13_demo_vehicle_refs_are_the_ids_vehicles_demo_gives() -> None:
    """vehicle's demo (`demo_vehicle_id`) gives its owners' vehicles the ids of this formula."""
    assert demo.demo_vehicle_ref("130102199003071233", 0) == str(
        uuid.uuid5(uuid.NAMESPACE_URL, "tms-demo/vehicle/130102199003071233/0")
    )


async def test_vh13_demo_binds_the_demo_vehicles_once_and_publishes_each_binding(api: "Api") -> None:
    for _ in range(2):  # make run loads it at every start
        async with api.runtime.uow() as uow:
            await demo.load(uow)
            await uow.commit()
    async with api.runtime.engine.connect() as conn:
        live = (
            await conn.execute(
                select(bindings.c.ref, func.count())
                .where(bindings.c.ref.in_(DEMO_REFS), bindings.c.unbound_at.is_(None))
                .group_by(bindings.c.ref)
            )
        ).all()
        payloads = await outbox_payloads(conn, "identity.binding.created.v1")
        assert {p["ref"] for p in payloads} & DEMO_REFS == DEMO_REFS
    assert dict(live) == dict.fromkeys(DEMO_REFS, 1)


async def test_id12_demo_records_and_binds_the_demo_licences_once(api: "Api") -> None:
    """license's demo issues these records under the same ids (ADR 0050); the holders with an account have
    them bound, 陈七 (no account) can register online with the licence's phone (ID-03)."""
    for _ in range(2):
        async with api.runtime.uow() as uow:
            await demo.load(uow)
            await uow.commit()
    refs = {demo.demo_licence_ref(number) for number, _ in demo.DEMO_LICENCES}
    assert demo.demo_licence_ref("130102199003071233") == str(
        uuid.uuid5(uuid.NAMESPACE_URL, "tms-demo/licence/130102199003071233")
    )
    async with api.runtime.engine.connect() as conn:
        live = (
            await conn.execute(
                select(bindings.c.ref, func.count())
                .where(bindings.c.ref.in_(refs), bindings.c.unbound_at.is_(None))
                .group_by(bindings.c.ref)
            )
        ).all()
    assert dict(live) == {
        demo.demo_licence_ref("130102199003071233"): 1,
        demo.demo_licence_ref("130105197701010040"): 1,
    }


async def _created(api: "Api") -> dict[str, int]:
    """How many `created` events the outbox holds per demo vehicle ref and demo licence number."""
    async with api.runtime.engine.connect() as conn:
        payloads = await outbox_payloads(
            conn, ("identity.binding.created.v1", "identity.licence_binding.created.v1")
        )
    wanted = {*DEMO_REFS, "130102199003071233", "130105197701010040"}
    keys = [p.get("licence_number") or p.get("ref") for p in payloads]
    return dict(Counter(key for key in keys if key in wanted))


async def test_vh13_demo_publishes_the_demo_accounts_live_bindings_again_at_every_run(api: "Api") -> None:
    """A projection that missed the first run's binding events (its queue bound later: vehicle's VH-13,
    violation's VI-02/VI-05) learns them at the next `make run`; where they arrived, nothing changes."""
    async with api.runtime.uow() as uow:
        await demo.load(uow)
        await uow.commit()
    before = await _created(api)
    async with api.runtime.uow() as uow:
        await demo.load(uow)
        await uow.commit()
    after = await _created(api)
    keys = DEMO_REFS | {"130102199003071233", "130105197701010040"}
    assert {key: after[key] - before[key] for key in keys} == dict.fromkeys(keys, 1)


async def test_demo_citizens_accounts_take_the_fixed_ids_other_demos_name(api: "Api") -> None:
    """violation's demo issues a decision to 张三's account before identity's events reach it (VI-03):
    a new demo account is made under `demo_account_id`; an id already held (a cancelled account) is not
    taken again."""
    from identity_service.demo import demo_account_id, ensure_account
    from identity_service.tables import accounts

    assert demo_account_id("130102199003071233") == uuid.uuid5(
        uuid.NAMESPACE_URL, "tms-demo/account/130102199003071233"
    )
    id_number, wanted = api.new_resident_id(), uuid.uuid4()
    made = {}
    for attempt in ("first", "after_cancel"):
        async with api.runtime.uow() as uow:
            made[attempt] = await ensure_account(
                uow.session,
                category="personal",
                kind="owner_driver",
                name="孙十",
                password="Passw0rd2027",
                roles=["citizen"],
                now=uow.now,
                id_number=id_number,
                phone=api.new_phone(),
                account_id=wanted,
            )
            await uow.session.execute(
                accounts.update().where(accounts.c.id == made[attempt]).values(status="cancelled")
            )
            await uow.commit()
    assert made["first"] == wanted
    assert made["after_cancel"] not in (None, wanted)


async def test_au01_the_demo_auditor_signs_in_reads_the_trail_and_nothing_else(api: "Api") -> None:
    """ADR 0090: the demo's auditor `S130100008`, with identity's own tokens, through identity's app."""
    async with api.runtime.uow() as uow:
        await demo.load(uow)
        await uow.commit()
    api.totp_secrets["S130100008"] = demo.DEMO_TOTP_SECRET  # enrolled by the demo, as its clerks are
    tokens = await api.login("S130100008", demo.DEMO_PASSWORD)
    headers = {"Authorization": f"Bearer {tokens['access_token']}"}
    who = await api.client.get("/api/v1/auth/whoami", headers=headers)
    assert (who.status_code, who.json()["roles"]) == (200, ["auditor"])
    trail = await api.client.get("/api/v1/audit/identity/entries", params={"limit": 5}, headers=headers)
    assert trail.status_code == 200, trail.text
    cases = await api.client.get("/api/v1/counter/registrations", headers=headers)
    assert (cases.status_code, cases.json()["code"]) == (403, "FORBIDDEN")
