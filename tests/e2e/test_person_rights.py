"""The person's rights across all six services, over the real broker (PIPL art. 45, ADR 0093).

A data export: identity publishes `identity.data_export.requested.v1`; the workers of identity, vehicle,
license, plate-pool, violation and notify each answer with their part (`identity.data_export.add_part.v1`)
found by the person's keys; identity collects them and the document holds every service's rows about the
person, and none about anyone else.

De-identification (art. 47): the account cancelled; identity's sweep on a moved clock changes nothing a
day before the 180 days; after them `identity.account.deidentified.v1` reaches vehicle, plate-pool,
violation and notify, whose rows that are the account's then hold no name, identity number or phone;
the state's records (the vehicle, the licence) keep theirs.

Real PostgreSQL (each service's test database, migrated), RabbitMQ (this run's vhost); the six workers run
in this process with only the rights subscriptions (the others belong to their own tests) and no sweeps.
Rows about the person are written straight into each service's tables (how they get there is each
service's own tests' business), with fillers for the columns the test does not care about.
"""

from __future__ import annotations

import dataclasses
import secrets
import uuid
from collections.abc import AsyncIterator
from datetime import UTC, date, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import (
    JSON,
    Boolean,
    Date,
    DateTime,
    Integer,
    LargeBinary,
    SmallInteger,
    String,
    Table,
    select,
)
from sqlalchemy.dialects.postgresql import ARRAY, JSONB, UUID
from sqlalchemy.types import TypeDecorator

from identity_service import domain as identity_domain
from identity_service.data_exports import export_document, export_view, request_export
from identity_service.deidentify import sweep_deidentify
from identity_service.demo import ensure_account
from identity_service.lifecycle import cancel_account
from identity_service.service import SPEC as IDENTITY
from identity_service.subscriptions import EXPORTS
from identity_service.tables import accounts
from license_service import rights as license_rights
from license_service.service import SPEC as LICENSE
from license_service.tables import licence_records
from notify_service import rights as notify_rights
from notify_service.service import SPEC as NOTIFY
from notify_service.tables import sms_messages
from plate_pool_service import rights as plate_pool_rights
from plate_pool_service.service import SPEC as PLATE_POOL
from plate_pool_service.tables import selections
from servicekit.clock import SHANGHAI, FixedClock
from servicekit.crypto import blind_match
from servicekit.migrate import migrate
from servicekit.personal import DEIDENTIFIED
from servicekit.runtime import Runtime
from servicekit.service import ServiceSpec
from servicekit.testing import new_phone, new_resident_id
from servicekit.uow import SYSTEM_ACTOR
from servicekit.worker import Worker
from vehicle_service import rights as vehicle_rights
from vehicle_service.service import SPEC as VEHICLE
from vehicle_service.tables import (
    inspection_bookings,
    inspection_plans,
    inspection_slots,
    inspection_stations,
    vehicles,
)
from violation_service import rights as violation_rights
from violation_service.service import SPEC as VIOLATION
from violation_service.tables import bindings as violation_bindings

from .workers import eventually, running_workers

pytestmark = pytest.mark.integration

DEIDENTIFY_AFTER = timedelta(days=180)  # identity's default `deidentify_after_days`

SPECS = (IDENTITY, VEHICLE, LICENSE, PLATE_POOL, VIOLATION, NOTIFY)
RIGHTS = {
    "identity": EXPORTS,
    "vehicle": vehicle_rights.SUBSCRIPTIONS,
    "license": license_rights.SUBSCRIPTIONS,
    "plate-pool": plate_pool_rights.SUBSCRIPTIONS,
    "violation": violation_rights.SUBSCRIPTIONS,
    "notify": notify_rights.SUBSCRIPTIONS,
}


def rights_only(spec: ServiceSpec) -> ServiceSpec:
    return dataclasses.replace(spec, subscriptions=tuple(RIGHTS[spec.name]), sweeps=())


@pytest.fixture(scope="module")
def databases() -> None:
    for spec in SPECS:
        migrate(spec.name)


@pytest.fixture(scope="module")
async def workers(databases: None) -> AsyncIterator[dict[str, Worker]]:
    async with running_workers(*(rights_only(spec) for spec in SPECS)) as started:
        yield {w.spec.name: w for w in started}


def _filler(table: Table, column_name: str) -> Any:
    """A value for a NOT NULL column the test does not care about, fitting its type."""
    kind = table.c[column_name].type
    if isinstance(kind, TypeDecorator):  # a sealed column (ADR 0095): a value of what it stores
        kind = kind.impl_instance
    if isinstance(kind, UUID):
        return uuid.uuid4()
    if isinstance(kind, String):
        return secrets.token_hex(8)[: kind.length or 16]
    if isinstance(kind, Integer | SmallInteger):
        return 1
    if isinstance(kind, Boolean):
        return False
    if isinstance(kind, DateTime):
        return datetime.now(UTC)
    if isinstance(kind, Date):
        return date(2027, 3, 1)
    if isinstance(kind, JSONB | JSON):
        return {}
    if isinstance(kind, LargeBinary):
        return b""
    if isinstance(kind, ARRAY):
        return []
    raise AssertionError(f"no filler for {table.name}.{column_name} ({kind})")


async def insert(worker: Worker, table: Table, **values: Any) -> dict[str, Any]:
    """One row with these values, the other required columns filled in."""
    for column in table.c:
        if column.name in values or column.nullable or column.server_default is not None or column.default:
            continue
        values[column.name] = _filler(table, column.name)
    async with worker.runtime.uow() as uow:
        await uow.session.execute(table.insert().values(**values))
        await uow.commit()
    return values


@dataclasses.dataclass
class Person:
    account_id: uuid.UUID
    id_number: str
    phone: str
    name: str


async def person_everywhere(workers: dict[str, Worker], name: str) -> Person:
    """An account at identity and a row about its person in each other service."""
    id_number, phone = new_resident_id(), new_phone()
    identity = workers["identity"]
    async with identity.runtime.uow() as uow:
        account_id = await ensure_account(
            uow.session,
            category="personal",
            kind="owner_driver",
            name=name,
            password="Passw0rd2027",
            roles=identity_domain.roles_for("personal"),
            now=uow.now,
            channel="online",
            id_number=id_number,
            phone=phone,
        )
        await uow.commit()
    account = str(account_id)
    who = {"owner_id_number": id_number, "owner_name": name, "phone": phone}
    vehicle = await insert(workers["vehicle"], vehicles, **who, use="commercial")
    station = await insert(workers["vehicle"], inspection_stations, vehicle_kinds=[])
    plan = await insert(workers["vehicle"], inspection_plans, station_id=station["id"])
    slot = await insert(workers["vehicle"], inspection_slots, station_id=station["id"], plan_id=plan["id"])
    await insert(
        workers["vehicle"],
        inspection_bookings,
        slot_id=slot["id"],
        station_id=station["id"],
        vehicle_id=vehicle["id"],
        holder_id_number=id_number,
        holder_subject=str(account_id),
        phone=phone,
        state="cancelled",
    )
    await insert(workers["license"], licence_records, number=id_number, name=name, phone=phone, state="valid")
    await insert(workers["plate-pool"], selections, account_id=account, **who, state="cancelled")
    await insert(workers["violation"], violation_bindings, account_id=account, holder_name=name)
    sms = {"account_id": account, "phone": phone, "body": f"{name}，您好！", "state": "delivered"}
    await insert(workers["notify"], sms_messages, **sms)
    return Person(account_id, id_number, phone, name)


async def test_every_service_answers_a_data_export_with_its_part(workers: dict[str, Worker]) -> None:
    me = await person_everywhere(workers, "孙悟空")
    someone_else = await person_everywhere(workers, "猪八戒")
    identity = workers["identity"]
    async with identity.runtime.uow() as uow:
        row = (await uow.session.execute(accounts.select().where(accounts.c.id == me.account_id))).one()
        export_id = await request_export(uow, row, SYSTEM_ACTOR)
        await uow.commit()

    async def complete() -> bool:
        async with identity.runtime.uow() as uow:
            view = await export_view(uow.session, export_id, me.account_id, uow.now)
        assert view is not None
        return view.status.state == "ready"

    await eventually(complete, "every service answered the export")
    async with identity.runtime.uow() as uow:
        view = await export_view(uow.session, export_id, me.account_id, uow.now)
        assert view is not None
        document = await export_document(uow.session, view)
    assert document["missing"] == []
    parts = document["parts"]
    assert list(parts) == [spec.name for spec in SPECS]
    assert [a["name"] for a in parts["identity"]["账户"]] == ["孙悟空"]
    assert [v["owner_id_number"] for v in parts["vehicle"]["机动车"]] == [me.id_number]
    assert [r["number"] for r in parts["license"]["驾驶证"]] == [me.id_number]
    (selection,) = parts["plate-pool"]["号牌预选"]
    assert (selection["owner_name"], "invoice_photo" in selection) == ("孙悟空", False)
    assert [b["holder_name"] for b in parts["violation"]["绑定关系"]] == ["孙悟空"]
    assert [m["phone"] for m in parts["notify"]["短信和站内消息"]] == [me.phone]
    text = repr(document)
    assert all(theirs not in text for theirs in (someone_else.id_number, someone_else.phone, "猪八戒"))


# What each consumer must no longer hold of the person once the account is de-identified: its tables that
# are the account's, and the columns that held the name, identity number and phone.
ERASED: dict[str, list[tuple[Table, str, tuple[str, ...]]]] = {
    "vehicle": [(inspection_bookings, "holder_subject", ("holder_id_number", "phone"))],
    "plate-pool": [(selections, "account_id", ("owner_id_number", "owner_name", "phone"))],
    "violation": [(violation_bindings, "account_id", ("holder_name",))],
    "notify": [(sms_messages, "account_id", ("phone", "body"))],
}


async def held(workers: dict[str, Worker], person: Person) -> dict[str, list[str]]:
    """Per consumer, the values in the account's rows that still name the person."""
    found: dict[str, list[str]] = {}
    for service, tables in ERASED.items():
        values: list[str] = []
        async with workers[service].runtime.engine.connect() as conn:
            for table, account_column, columns in tables:
                rows = await conn.execute(
                    select(*(table.c[c] for c in columns)).where(
                        table.c[account_column] == str(person.account_id)
                    )
                )
                values += [v for row in rows for v in row if v is not None]
        found[service] = [
            v for v in values if any(k in v for k in (person.id_number, person.phone, person.name))
        ]
    return found


async def test_a_cancelled_account_is_de_identified_everywhere_after_its_retention(
    workers: dict[str, Worker],
) -> None:
    me = await person_everywhere(workers, "唐三藏")
    clock = FixedClock(datetime.now(SHANGHAI))
    identity = Runtime.open(IDENTITY.settings(), IDENTITY.metadata, clock=clock)
    try:
        async with identity.uow() as uow:
            assert await cancel_account(uow, me.account_id, "self_service", SYSTEM_ACTOR)
            await uow.commit()
        before = await held(workers, me)
        assert all(before.values()), before  # the test's rows do name the person

        clock.advance(DEIDENTIFY_AFTER - timedelta(days=1))
        await sweep_deidentify(identity)
        async with identity.engine.connect() as conn:
            kept = (await conn.execute(select(accounts).where(accounts.c.id == me.account_id))).one()
        assert (kept.name, kept.deidentified_at) == ("唐三藏", None)

        clock.advance(timedelta(days=1))
        assert await sweep_deidentify(identity) >= 1
    finally:
        await identity.aclose()

    async def nothing_held() -> bool:
        return not any((await held(workers, me)).values())

    await eventually(nothing_held, "every consumer de-identified the account's rows")
    async with workers["identity"].runtime.engine.connect() as conn:
        gone = (await conn.execute(select(accounts).where(accounts.c.id == me.account_id))).one()
    assert (gone.name, gone.id_number, gone.phone) == (DEIDENTIFIED, None, None)
    # The state's records keep whose they are.
    async with workers["vehicle"].runtime.engine.connect() as conn:
        mine = select(vehicles.c.owner_name, vehicles.c.phone).where(
            blind_match(vehicles.c.owner_id_number, me.id_number)
        )
        owners = (await conn.execute(mine)).all()
    assert [tuple(owner) for owner in owners] == [("唐三藏", me.phone)]
