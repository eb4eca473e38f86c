"""Every path that starts or ends a binding publishes it, in the same unit of work: a vehicle's as
`identity.binding.created.v1` / `ended.v1` (vehicle's VH-13 needs it, ADR 0044; violation's VI-02 too), a
licence's as `identity.licence_binding.created.v1` / `ended.v1` (violation's VI-02: a personal user with a
bound licence handles camera violations, ADR 0060).

`replay_live` publishes a `created` again for every live binding: the one-off step of a roll-out
(bindings made before these events existed), safe to repeat since the consumers keep one row per binding.
Run it as `python -m identity_service.replay_bindings`."""

from __future__ import annotations

import uuid
from collections.abc import Callable, Sequence
from typing import Any

from sqlalchemy import ColumnElement, Row, func, select, update
from sqlalchemy.exc import IntegrityError

from identity_service.domain import AlreadyBound
from identity_service.published import (
    BindingCreated,
    BindingEnded,
    LicenceBindingCreated,
    LicenceBindingEnded,
)
from identity_service.tables import accounts, bindings, person_records
from servicekit.ids import new_id
from servicekit.runtime import Runtime
from servicekit.uow import UnitOfWork


async def _licence_number(uow: UnitOfWork, ref: str) -> str:
    """The licence number (the holder's identity number) of the licence record `ref` names: a licence
    binding's ref is license's record id (ADR 0050), which identity's projection maps to its number."""
    number: str = (
        await uow.session.execute(
            select(person_records.c.id_number).where(
                person_records.c.record_kind == "licence", person_records.c.ref == ref
            )
        )
    ).scalar_one()
    return number


async def emit_created(uow: UnitOfWork, row: Any) -> None:
    """A new binding row, published by its kind (a licence's with the holder's name, for the decision)."""
    if row.record_kind == "licence":
        name = (
            await uow.session.execute(select(accounts.c.name).where(accounts.c.id == row.account_id))
        ).scalar_one()
        uow.emit(
            LicenceBindingCreated(
                binding_id=str(row.id),
                account_id=str(row.account_id),
                licence_number=await _licence_number(uow, row.ref),
                holder_name=name,
                channel=row.channel,
                at=row.created_at,
            )
        )
        return
    if row.record_kind != "vehicle":
        return
    uow.emit(
        BindingCreated(
            binding_id=str(row.id),
            account_id=str(row.account_id),
            record_kind="vehicle",
            ref=row.ref,
            owned=row.owned,
            channel=row.channel,
            at=row.created_at,
        )
    )


async def bind_record(
    uow: UnitOfWork, account_id: uuid.UUID, kind: str, ref: str, owned: bool, channel: str
) -> Any:
    now = uow.now
    binding_id = new_id()
    try:
        await uow.session.execute(
            bindings.insert().values(
                id=binding_id,
                account_id=account_id,
                record_kind=kind,
                ref=ref,
                owned=owned,
                channel=channel,
                created_at=now,
            )
        )
        await uow.session.flush()
    except IntegrityError:
        raise AlreadyBound("this record is already bound to the account") from None
    row = (await uow.session.execute(select(bindings).where(bindings.c.id == binding_id))).one()
    await emit_created(uow, row)
    return row


async def end_bindings(uow: UnitOfWork, where: ColumnElement[bool], reason: str) -> Sequence[Row[Any]]:
    """End the live bindings `where` selects, publishing each one's end; the ended rows."""
    now = uow.now
    ended: Sequence[Row[Any]] = (
        await uow.session.execute(
            update(bindings)
            .where(where, bindings.c.unbound_at.is_(None))
            .values(unbound_at=now, unbind_reason=reason)
            .returning(bindings)
        )
    ).all()
    for row in ended:
        if row.record_kind == "licence":
            uow.emit(
                LicenceBindingEnded(
                    binding_id=str(row.id),
                    account_id=str(row.account_id),
                    licence_number=await _licence_number(uow, row.ref),
                    reason=reason,
                    at=now,
                )
            )
        elif row.record_kind == "vehicle":
            uow.emit(
                BindingEnded(
                    binding_id=str(row.id),
                    account_id=str(row.account_id),
                    record_kind="vehicle",
                    ref=row.ref,
                    owned=row.owned,
                    reason=reason,
                    at=now,
                )
            )
    return ended


async def replay_live(
    runtime: Runtime, batch: int = 500, progress: Callable[[int, int], None] = lambda done, total: None
) -> int:
    """A `created` for every live binding (vehicles and licences), `batch` rows per transaction in id order;
    returns how many. `progress(done, total)` after each batch (a long job shows where it is)."""
    live = bindings.c.record_kind.in_(("vehicle", "licence")) & bindings.c.unbound_at.is_(None)
    async with runtime.engine.connect() as conn:
        total = int((await conn.execute(select(func.count()).select_from(bindings).where(live))).scalar_one())
    done, after = 0, None
    while True:
        async with runtime.uow() as uow:
            query = select(bindings).where(live).order_by(bindings.c.id).limit(batch)
            if after is not None:
                query = query.where(bindings.c.id > after)
            rows = (await uow.session.execute(query)).all()
            for row in rows:
                await emit_created(uow, row)
            await uow.commit()
        if not rows:
            return done
        done, after = done + len(rows), rows[-1].id
        progress(done, total)
