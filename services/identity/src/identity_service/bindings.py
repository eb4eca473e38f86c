"""Online bindings (ID-07, ID-08, ID-12), one function per action: each loads, lets the domain decide and
writes in one unit of work. The HTTP layer (api/bindings.py) parses, calls and shapes. Counter bindings of
vehicles that are not the person's are counter changes (identity_service.changes, ID-13)."""

from __future__ import annotations

import uuid
from typing import Any

from sqlalchemy import select, update

from identity_service import domain
from identity_service.api.common import load_account
from identity_service.binding_events import bind_record, end_bindings
from identity_service.tables import accounts, bindings, person_records
from servicekit.uow import Actor, UnitOfWork
from servicekit.web import NotFound


async def _my_binding(uow: UnitOfWork, account_id: uuid.UUID, binding_id: uuid.UUID) -> Any:
    row = (
        await uow.session.execute(
            select(bindings).where(
                bindings.c.id == binding_id,
                bindings.c.account_id == account_id,
                bindings.c.unbound_at.is_(None),
            )
        )
    ).first()
    if row is None:
        raise NotFound("binding")
    return row


async def bind_own(
    uow: UnitOfWork, actor: Actor, account_id: uuid.UUID, record_kind: str, ref: str
) -> tuple[Any, Any]:
    """ID-12 / ID-07 / ID-08: bind a live record of one's own; another's or an unknown one answers 404.
    The binding and its record."""
    async with uow:
        account = await load_account(uow.session, account_id)
        domain.check_can_bind_own(account.category, account.kind, account.channel, account.roles, record_kind)
        record = (
            await uow.session.execute(
                select(person_records).where(
                    person_records.c.record_kind == record_kind, person_records.c.ref == ref
                )
            )
        ).first()
        owner = domain.owner_key(account.category, account.id_number, account.credit_code)
        if record is None or not domain.is_own_live_record(
            record_kind, record.id_number, record.state, owner
        ):
            raise NotFound(record_kind)
        row = await bind_record(uow, account.id, record_kind, ref, True, "online")
        uow.audit(actor, "bind", f"{record_kind}:{ref}", after={"owned": True})
        await uow.commit()
    return row, record


async def unbind_own(uow: UnitOfWork, actor: Actor, account_id: uuid.UUID, binding_id: uuid.UUID) -> None:
    """ID-12: the user unbinds (a vehicle binding's end is published, ADR 0044)."""
    async with uow:
        row = await _my_binding(uow, account_id, binding_id)
        await end_bindings(uow, bindings.c.id == row.id, "by_user")
        uow.audit(actor, "unbind", f"{row.record_kind}:{row.ref}")
        await uow.commit()


async def bind_licence_to_unit(
    uow: UnitOfWork, actor: Actor, account_id: uuid.UUID, binding_id: uuid.UUID, credit_code: str
) -> Any:
    """ID-07: the own licence bound to an active unit (the unit lists it, ID-08)."""
    async with uow:
        row = await _my_binding(uow, account_id, binding_id)
        if row.record_kind != "licence":
            raise NotFound("licence binding")
        unit = (
            await uow.session.execute(
                select(accounts.c.id).where(
                    accounts.c.category == "unit",
                    accounts.c.credit_code == credit_code,
                    accounts.c.status == "active",
                )
            )
        ).first()
        if unit is None:
            raise NotFound("unit")
        await uow.session.execute(
            update(bindings).where(bindings.c.id == row.id).values(unit_account_id=unit.id)
        )
        uow.audit(actor, "bind_licence_to_unit", f"licence:{row.ref}", after={"unit": str(unit.id)})
        await uow.commit()
        return (await uow.session.execute(select(bindings).where(bindings.c.id == row.id))).one()


async def unbind_licence_from_unit(
    uow: UnitOfWork, actor: Actor, account_id: uuid.UUID, binding_id: uuid.UUID
) -> None:
    async with uow:
        row = await _my_binding(uow, account_id, binding_id)
        if row.unit_account_id is None:
            raise NotFound("unit binding")
        await uow.session.execute(
            update(bindings).where(bindings.c.id == row.id).values(unit_account_id=None)
        )
        uow.audit(actor, "unbind_licence_from_unit", f"licence:{row.ref}")
        await uow.commit()
