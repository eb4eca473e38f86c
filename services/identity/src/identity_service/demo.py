"""Demo data for `make run` (dev only): `python -m identity_service.demo`. Idempotent: run at every start.

Demo passwords are documented in the service README; they exist only in the dev database.
"""

from __future__ import annotations

import asyncio
import sys
import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession

from identity_service import domain
from identity_service.binding_events import bind_record, emit_created
from identity_service.records import RecordChange, apply_record
from identity_service.tables import accounts, bindings, person_records, population
from identity_service.tokens import hash_password
from servicekit.crypto import blind_in, blind_match
from servicekit.ids import demo_id, new_id
from servicekit.runtime import Runtime
from servicekit.uow import UnitOfWork
from servicekit.validators import birth_date_of, sex_of
from servicekit.vocabulary import AUDITOR

DEMO_PASSWORD = "Demo2027pass"  # noqa: S105 (dev demo data, documented in the README)
DEMO_CLIENT_SECRET = "demo-system-secret-2027"  # noqa: S105 (dev demo data)
# ADR 0091: the demo staff's TOTP secret, dev only, the same for each of them, so that `make run` can be
# signed in at once: `uv run python -m identity_service.demo totp` prints the current code (README).
DEMO_TOTP_SECRET = "JBSWY3DPEHPK3PXPJBSWY3DPEHPK3PXP"  # noqa: S105 (dev demo data, documented)


async def ensure_account(
    session: AsyncSession,
    *,
    category: str,
    kind: str,
    name: str,
    password: str,
    roles: list[str],
    now: datetime,
    channel: str = "counter",
    username: str | None = None,
    id_number: str | None = None,
    phone: str | None = None,
    credit_code: str | None = None,
    office: str | None = "130100",
    details: dict[str, Any] | None = None,
    account_id: uuid.UUID | None = None,
    totp_secret: str | None = None,
) -> uuid.UUID:
    """The live account with this username / identity number / credit code, made if missing (under
    `account_id` when given and free: a cancelled account may hold it)."""
    live = accounts.c.status != "cancelled"
    if username is not None:
        where = (accounts.c.username == username) & live
    elif category == "unit":
        where = (accounts.c.credit_code == credit_code) & (accounts.c.category == "unit") & live
    else:
        where = (
            blind_match(accounts.c.id_number, id_number or "") & (accounts.c.category == "personal") & live
        )
    found = (await session.execute(select(accounts.c.id).where(where))).first()
    if found is not None:
        return uuid.UUID(str(found.id))
    taken = (
        account_id is not None
        and (await session.execute(select(accounts.c.id).where(accounts.c.id == account_id))).first()
    )
    if account_id is None or taken:
        account_id = new_id()
    await session.execute(
        accounts.insert().values(
            id=account_id,
            category=category,
            kind=kind,
            channel=channel,
            id_kind="resident_id" if id_number else None,
            id_number=id_number,
            credit_code=credit_code,
            username=username,
            name=name,
            phone=phone,
            password_hash=hash_password(password),
            password_changed_at=now,
            totp_secret=totp_secret,
            totp_enrolled_at=now if totp_secret else None,
            roles=roles,
            office=office,
            status="active",
            details=details or {},
            created_at=now,
            updated_at=now,
        )
    )
    return account_id


async def ensure_person(session: AsyncSession, id_number: str, name: str, status: str = "normal") -> None:
    await session.execute(
        insert(population)
        .values(
            id_number=id_number,
            name=name,
            sex=sex_of(id_number),
            birth_date=birth_date_of(id_number),
            status=status,
            disqualifications=[],
        )
        .on_conflict_do_nothing(index_elements=[population.c.id_number_bidx])
    )


# (identity number, name, phone, kind): valid GB 11643 numbers, 石家庄 address codes, made up.
DEMO_CITIZENS = [
    ("130102199003071233", "张三", "13800138000", "owner_driver"),
    ("130102199512120021", "李四", "13800138001", "learner"),
    ("130104198806060042", "王五", "13800138002", "new_car_owner"),
    ("130105197701010040", "赵六", "13800138003", "owner_driver"),  # counter-registered
]
DEMO_UNPLACED = [("130102200001010029", "陈七"), ("130102198001010037", "周八")]  # registry only
# Who holds a licence, with its phone: license's demo issues their records under `demo_licence_ref`
# (ADR 0050). 陈七 has no account: registering online as a driver with that phone can be tried (ID-03).
DEMO_LICENCES = [
    ("130102199003071233", "13800138000"),
    ("130105197701010040", "13800138003"),
    ("130102200001010029", "13800138004"),
]
DEMO_UNITS = [
    # (credit code, name, unit kind, delegated roles, agent identity number, vehicles in vehicle's demo)
    ("91130100MA0CXXXX1K", "石家庄示例物流有限公司", "enterprise", [], "130105197701010040", 2),
    (
        "91130100MA0DEALE7Q",
        "石家庄示例汽车销售服务有限公司",
        "enterprise",
        ["dealer"],
        "130102199003071233",
        0,
    ),
    ("12130100MA0HQ8PT3A", "石家庄示例医院", "public_institution", ["hospital"], "130104198806060042", 1),
]
DEMO_STAFF: list[tuple[str, str, list[str]]] = [
    ("S130100001", "受理岗 孙一", ["clerk.intake"]),
    ("S130100002", "管理岗 钱二", ["clerk.review"]),
    ("S130100003", "档案岗 吴三", ["clerk.archive"]),
    ("S130100009", "管理员 郑九", ["clerk.admin"]),
    # Reads every service's audit trail and nothing else (AU-01, ADR 0090).
    ("S130100008", "审计员 冯八", [AUDITOR]),
]


def demo_account_id(id_number: str) -> uuid.UUID:
    """The id a demo citizen's account is made with (`demo_id`), so that another service's demo can name
    the account before identity's events reach it: violation's demo issues a decision to 张三 (VI-03). An
    account made before these ids existed keeps its own; violation's demo then reads it from its
    projection of the bindings."""
    return demo_id("account", id_number)


def unit_credit_code(code: str) -> str:
    """A demo unit's credit code: the table's 17 characters and the computed check character."""
    from stdnum.cn import uscc

    return code[:17] + uscc.calc_check_digit(code[:17])


async def replay_demo_bindings(uow: UnitOfWork) -> int:
    """A `created` again for every live vehicle and licence binding of the demo accounts, at every run.
    The consumers (vehicle's VH-13 projection, violation's VI-02/VI-05 ones) keep one row per binding, so
    where they were received nothing changes; a projection that missed them (its queue bound after they
    were published, on a dev database older than the consumer) learns them. A first run has none yet:
    `bind_record` publishes the new ones."""
    citizens = [number for number, *_ in DEMO_CITIZENS]
    units = [unit_credit_code(code) for code, *_ in DEMO_UNITS]
    demo_accounts = select(accounts.c.id).where(
        ((accounts.c.category == "personal") & blind_in(accounts.c.id_number, citizens))
        | ((accounts.c.category == "unit") & accounts.c.credit_code.in_(units))
    )
    rows = (
        await uow.session.execute(
            select(bindings)
            .where(
                bindings.c.account_id.in_(demo_accounts),
                bindings.c.record_kind.in_(("vehicle", "licence")),
                bindings.c.unbound_at.is_(None),
            )
            .order_by(bindings.c.id)
        )
    ).all()
    for row in rows:
        await emit_created(uow, row)
    return len(rows)


def demo_vehicle_ref(owner_key: str, n: int) -> str:
    """The id vehicle's demo gives the owner's n-th demo vehicle (the same `demo_id`): identity's demo runs
    first at `make run`, so it records and binds the vehicles before they exist."""
    return str(demo_id("vehicle", owner_key, n))


async def record_demo_vehicle(
    uow: UnitOfWork, owner_key: str, n: int, phone: str | None = None, plate: str | None = None
) -> None:
    """ID-03: the owner's n-th demo vehicle until vehicle's own event records it (then it is left alone, so
    the placeholder plate never overwrites the real one)."""
    ref = demo_vehicle_ref(owner_key, n)
    known = select(person_records.c.ref).where(
        person_records.c.record_kind == "vehicle", person_records.c.ref == ref
    )
    if (await uow.session.execute(known)).first() is None:
        change = RecordChange("vehicle", ref, owner_key, "registered", phone, plate)
        await apply_record(uow, change, uow.now)


def demo_licence_ref(number: str) -> str:
    """The id license's demo gives the holder's licence record (the same `demo_id`)."""
    return str(demo_id("licence", number))


async def record_demo_licence(uow: UnitOfWork, number: str, phone: str) -> None:
    """ID-03: the holder's demo licence until license's `license.record.issued.v1` records it (its version
    then takes over: a placeholder has none)."""
    ref = demo_licence_ref(number)
    known = select(person_records.c.ref).where(
        person_records.c.record_kind == "licence", person_records.c.ref == ref
    )
    if (await uow.session.execute(known)).first() is None:
        await apply_record(uow, RecordChange("licence", ref, number, "valid", phone), uow.now)


async def bind_own_licence(uow: UnitOfWork, account_id: uuid.UUID, number: str) -> bool:
    """ID-12: the holder's demo licence bound to their account, once."""
    ref = demo_licence_ref(number)
    bound = select(bindings.c.id).where(
        bindings.c.account_id == account_id,
        bindings.c.record_kind == "licence",
        bindings.c.ref == ref,
        bindings.c.unbound_at.is_(None),
    )
    if (await uow.session.execute(bound)).first() is not None:
        return False
    await bind_record(uow, account_id, "licence", ref, True, "online")
    return True


async def bind_own_vehicles(uow: UnitOfWork, account_id: uuid.UUID, owner_key: str) -> int:
    """VH-13 books only bound vehicles: bind every live own vehicle not bound yet (each binding publishes
    `identity.binding.created.v1`, which vehicle's projection takes)."""
    bound = select(bindings.c.ref).where(
        bindings.c.account_id == account_id,
        bindings.c.record_kind == "vehicle",
        bindings.c.unbound_at.is_(None),
    )
    refs = (
        await uow.session.execute(
            select(person_records.c.ref).where(
                person_records.c.record_kind == "vehicle",
                blind_match(person_records.c.id_number, owner_key),
                person_records.c.state.in_(domain.LIVE_VEHICLE_STATES),
                person_records.c.ref.not_in(bound),
            )
        )
    ).scalars()
    added = 0
    for ref in refs.all():
        await bind_record(uow, account_id, "vehicle", ref, True, "online")
        added += 1
    return added


async def load(uow: UnitOfWork) -> None:
    session, now = uow.session, uow.now
    await replay_demo_bindings(uow)
    licences = dict(DEMO_LICENCES)
    for number, phone in DEMO_LICENCES:
        await record_demo_licence(uow, number, phone)
    for id_number, name, phone, kind in DEMO_CITIZENS:
        await ensure_person(session, id_number, name)
        if kind == "owner_driver":
            await record_demo_vehicle(uow, id_number, 0, phone, f"冀A1{id_number[-4:]}")
        if kind == "learner":
            await apply_record(
                uow,
                RecordChange("licence_application", f"demo-la-{id_number[-4:]}", id_number, "accepted"),
                now,
            )
        channel = "counter" if id_number == "130105197701010040" else "online"
        account_id = await ensure_account(
            session,
            category="personal",
            kind=kind,
            name=name,
            password=DEMO_PASSWORD,
            roles=domain.roles_for("personal"),
            now=now,
            channel=channel,
            id_number=id_number,
            phone=phone,
            account_id=demo_account_id(id_number),
        )
        if kind == "owner_driver":
            await bind_own_vehicles(uow, account_id, id_number)
        if id_number in licences:
            await bind_own_licence(uow, account_id, id_number)
    for id_number, name in DEMO_UNPLACED:
        await ensure_person(session, id_number, name)
    for code, name, unit_kind, delegated, agent, vehicle_count in DEMO_UNITS:
        credit_code = unit_credit_code(code)
        for n in range(vehicle_count):  # ID-08: units bind their own vehicles too
            await record_demo_vehicle(uow, credit_code, n)
        unit_id = await ensure_account(
            session,
            category="unit",
            kind=unit_kind,
            name=name,
            password=DEMO_PASSWORD,
            roles=domain.roles_for("unit", delegated),
            now=now,
            credit_code=credit_code,
            id_number=agent,
            phone="13900139000",
        )
        await bind_own_vehicles(uow, unit_id, credit_code)
    for staff_no, name, roles in DEMO_STAFF:
        staff_id = await ensure_account(
            session,
            category="staff",
            kind="staff",
            name=name,
            password=DEMO_PASSWORD,
            roles=roles,
            now=now,
            username=staff_no,
            totp_secret=DEMO_TOTP_SECRET,
        )
        # A dev database from before second factors (or after an admin's reset): enrolled again.
        await session.execute(
            update(accounts)
            .where(accounts.c.id == staff_id, accounts.c.totp_secret.is_(None))
            .values(totp_secret=DEMO_TOTP_SECRET, totp_enrolled_at=now, totp_last_step=None)
        )
    await ensure_account(
        session,
        category="system",
        kind="system",
        name="示例外部公安系统",
        password=DEMO_CLIENT_SECRET,
        roles=["system"],
        now=now,
        username="demo-system",
    )


async def print_totp(runtime: Runtime) -> None:
    """The demo staff's current code by the platform clock (the dev clock may have been moved)."""
    now = await runtime.clock.now()
    code = domain.totp_code(DEMO_TOTP_SECRET, now)
    left = domain.TOTP_STEP_S - int(now.timestamp()) % domain.TOTP_STEP_S
    print(f"demo staff TOTP code: {code} (valid {left} s more; secret {DEMO_TOTP_SECRET})")


async def main(argv: list[str]) -> int:
    from identity_service.service import SPEC

    settings = SPEC.settings()
    if not settings.is_test_env:
        print("identity demo data is for dev and test only", file=sys.stderr)
        return 2
    runtime = Runtime.open(settings, SPEC.metadata)
    if argv[1:] == ["totp"]:
        try:
            await print_totp(runtime)
        finally:
            await runtime.aclose()
        return 0
    try:
        await declare_licence_queue(runtime)
        async with runtime.uow() as uow:
            await load(uow)
            await uow.commit()
    finally:
        await runtime.aclose()
    print("identity: demo data loaded")
    return 0


async def declare_licence_queue(runtime: Runtime) -> None:
    """`make run` starts every worker at once: license's relay could publish its demo's records before
    identity's worker has bound its queue, and the broker would park them as unrouted."""
    from identity_service.service import SPEC
    from identity_service.subscriptions import LICENCES
    from servicekit.consumer import Consumer
    from servicekit.relay import connect_broker

    broker = runtime.settings.broker
    connection = await connect_broker(broker)
    try:
        channel = await connection.channel()
        await Consumer(runtime, connection, SPEC.name, LICENCES, broker).declare(channel)
    finally:
        await connection.close()


if __name__ == "__main__":
    sys.exit(asyncio.run(main(sys.argv)))
