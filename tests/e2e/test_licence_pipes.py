"""license and identity over the real broker (DL-01, DL-13, ID-06, ID-07, ID-14; ADR 0050):

- a police system issues a licence through license's API; `license.record.issued.v1` leaves license's
  outbox and identity's worker turns the holder's learner account into a driver user (ID-07);
- the police system cancels it (DL-13); `license.record.changed.v1` makes identity unbind it from its
  user (ID-14);
- a counter registration's `identity.person.phone_changed.v1` reaches the licence record in license
  (ID-06), whose change comes back to identity's projection (ID-03's phone).

Real PostgreSQL (`identity_test`, `license_test`) and RabbitMQ (vhost tms-test); license's API in this
process, both workers (consumers and relays, no sweeps) too, stopped by the fixture. People are new on
every run.
"""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from datetime import datetime
from typing import Any

import httpx
import pytest
from sqlalchemy import select

from identity_service import bindings as identity_bindings
from identity_service import domain as identity_domain
from identity_service.demo import ensure_account
from identity_service.published import PersonPhoneChanged
from identity_service.service import SPEC as IDENTITY
from identity_service.tables import accounts, bindings, person_records
from license_service.api import router as license_router
from license_service.service import SPEC as LICENSE
from license_service.tables import licence_records
from servicekit.clock import SHANGHAI
from servicekit.crypto import blind_match
from servicekit.migrate import migrate
from servicekit.runtime import Runtime
from servicekit.testing import TokenFactory, new_phone, new_resident_id, service_client
from servicekit.uow import Actor
from servicekit.web import create_service_app
from servicekit.worker import Worker

from .workers import eventually, running_workers, without_sweeps

pytestmark = pytest.mark.integration


def licence_body(number: str, phone: str) -> dict[str, Any]:
    return {
        "number": number,
        "name": "沙悟净",
        "classes": ["C1"],
        "first_issue": "2024-03-01",
        "valid_from": "2024-03-01",
        "valid_until": "2030-03-01",
        "office_code": "130100",
        "phone": phone,
    }


@pytest.fixture(scope="module")
def databases() -> None:
    for spec in (IDENTITY, LICENSE):
        migrate(spec.name)


@pytest.fixture(scope="module")
async def platform(databases: None) -> AsyncIterator[dict[str, Any]]:
    tokens = TokenFactory()
    settings = LICENSE.settings()
    app = create_service_app(
        settings,
        title="license",
        routers=[license_router],
        runtime_factory=lambda: Runtime.open(settings, LICENSE.metadata),
    )
    app.state.verifier = tokens.verifier()
    async with (
        running_workers(without_sweeps(IDENTITY), without_sweeps(LICENSE)) as (identity, license_worker),
        service_client(app) as client,
    ):
        yield {
            "identity": identity,
            "license": license_worker,
            "client": client,
            "system": tokens.headers(tokens.system(subject="e2e-police-system")),
        }


async def personal_account(identity: Worker, kind: str, id_number: str, phone: str) -> uuid.UUID:
    """An online personal account of this kind, as registration makes it (the registration itself is
    identity's own tests' business)."""
    async with identity.runtime.uow() as uow:
        account_id = await ensure_account(
            uow.session,
            category="personal",
            kind=kind,
            name="沙悟净",
            password="Passw0rd2027",
            roles=identity_domain.roles_for("personal"),
            now=uow.now,
            channel="online",
            id_number=id_number,
            phone=phone,
        )
        await uow.commit()
    return account_id


async def account_kind(identity: Worker, account_id: uuid.UUID) -> str:
    async with identity.runtime.engine.connect() as conn:
        kind: str = (
            await conn.execute(select(accounts.c.kind).where(accounts.c.id == account_id))
        ).scalar_one()
    return kind


async def issued(platform: dict[str, Any], number: str, phone: str) -> dict[str, Any]:
    client: httpx.AsyncClient = platform["client"]
    r = await client.post("/api/v1/licences", json=licence_body(number, phone), headers=platform["system"])
    assert r.status_code == 201, r.text
    made: dict[str, Any] = r.json()
    return made


async def projected(identity: Worker, ref: str) -> Any:
    async with identity.runtime.engine.connect() as conn:
        return (
            await conn.execute(
                select(person_records).where(
                    person_records.c.record_kind == "licence", person_records.c.ref == ref
                )
            )
        ).first()


async def test_id07_dl01_a_licence_issued_by_a_police_system_turns_the_learner_into_a_driver_user(
    platform: dict[str, Any],
) -> None:
    identity: Worker = platform["identity"]
    number, phone = new_resident_id(), new_phone()
    learner = await personal_account(identity, "learner", number, phone)
    made = await issued(platform, number, phone)

    async def converted() -> bool:
        return await account_kind(identity, learner) == "owner_driver"

    await eventually(converted, "identity turned the learner into a driver user")
    row = await projected(identity, made["id"])
    assert (row.id_number, row.phone, row.state, row.version) == (number, phone, "valid", 1)


async def test_id14_dl13_a_licence_cancelled_by_a_police_system_is_unbound_from_its_user(
    platform: dict[str, Any],
) -> None:
    identity: Worker = platform["identity"]
    client: httpx.AsyncClient = platform["client"]
    number, phone = new_resident_id(), new_phone()
    driver = await personal_account(identity, "owner_driver", number, phone)
    made = await issued(platform, number, phone)

    async def recorded() -> bool:
        return await projected(identity, made["id"]) is not None

    await eventually(recorded, "identity projected the issued licence")
    binding, _ = await identity_bindings.bind_own(
        identity.runtime.uow(), Actor(id=str(driver), role="citizen"), driver, "licence", made["id"]
    )
    r = await client.post(
        f"/api/v1/licences/{made['id']}/state-changes",
        json={"action": "cancel", "reason": "本人申请注销"},
        headers=platform["system"],
    )
    assert r.status_code == 200, r.text

    async def unbound() -> bool:
        async with identity.runtime.engine.connect() as conn:
            row = (
                await conn.execute(
                    select(bindings.c.unbound_at, bindings.c.unbind_reason).where(bindings.c.id == binding.id)
                )
            ).one()
        return row.unbound_at is not None and row.unbind_reason == "licence_cancelled"

    await eventually(unbound, "identity unbound the cancelled licence")
    row = await projected(identity, made["id"])
    assert (row.state, row.version) == ("cancelled", 2)


async def test_id06_a_counter_registrations_phone_reaches_the_licence_record_and_comes_back_to_identity(
    platform: dict[str, Any],
) -> None:
    identity: Worker = platform["identity"]
    license_worker: Worker = platform["license"]
    number, old, new = new_resident_id(), new_phone(), new_phone()
    made = await issued(platform, number, old)
    async with identity.runtime.uow() as uow:
        uow.emit(
            PersonPhoneChanged(
                id_kind="resident_id",
                id_number=number,
                name="沙悟净",
                phone=new,
                registration_id=str(uuid.uuid4()),
                changed_at=datetime.now(SHANGHAI),
            )
        )
        await uow.commit()

    async def on_the_record() -> bool:
        async with license_worker.runtime.engine.connect() as conn:
            phone = (
                await conn.execute(
                    select(licence_records.c.phone).where(blind_match(licence_records.c.number, number))
                )
            ).scalar_one()
        return bool(phone == new)

    await eventually(on_the_record, "license replaced the phone on the licence record")

    async def back_in_identity() -> bool:
        row = await projected(identity, made["id"])
        return row is not None and row.phone == new and row.version == 2

    await eventually(back_in_identity, "identity's projection holds the new phone")
