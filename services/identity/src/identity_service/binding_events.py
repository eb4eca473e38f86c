"""Every path that starts or ends a vehicle binding tells vehicle, in the same unit of work (VH-13 needs
the binding, ADR 0044): `identity.binding.created.v1` and `identity.binding.ended.v1`."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy import ColumnElement, Row, update

from identity_service.published import BindingCreated, BindingEnded
from identity_service.tables import bindings
from servicekit.uow import UnitOfWork


def emit_created(uow: UnitOfWork, row: Any) -> None:
    """A new binding row; licences are not published (no consumer needs them)."""
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


async def end_bindings(uow: UnitOfWork, where: ColumnElement[bool], reason: str) -> Sequence[Row[Any]]:
    """End the live bindings `where` selects, publishing each vehicle binding's end; the ended rows."""
    now = uow.now
    assert now is not None
    ended: Sequence[Row[Any]] = (
        await uow.session.execute(
            update(bindings)
            .where(where, bindings.c.unbound_at.is_(None))
            .values(unbound_at=now, unbind_reason=reason)
            .returning(bindings)
        )
    ).all()
    for row in ended:
        if row.record_kind == "vehicle":
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
