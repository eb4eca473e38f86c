"""A person's data export (PIPL art. 45, ADR 0093): asked, collected from every service, offered, purged.

`request_export` (the citizen's POST) publishes `identity.data_export.requested.v1`; every service, identity
included, answers with `identity.data_export.add_part.v1` (`receive_part`); `export_view` is what the
citizen sees; `purge_expired_exports` (a sweep) deletes the parts of downloads no longer offered.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import delete, func, insert, select, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from identity_service import domain
from identity_service.published import DataExportRequested
from identity_service.tables import data_export_parts, data_exports
from servicekit.ids import new_id
from servicekit.runtime import Runtime
from servicekit.uow import SYSTEM_ACTOR, Actor, UnitOfWork


@dataclass(frozen=True)
class ExportView:
    id: uuid.UUID
    requested_at: datetime
    expected: list[str]
    status: domain.ExportStatus


async def _received(session: AsyncSession, export_id: uuid.UUID) -> set[str]:
    query = select(data_export_parts.c.service).where(data_export_parts.c.export_id == export_id)
    return set((await session.scalars(query)).all())


async def _view(session: AsyncSession, row: Any, now: datetime) -> ExportView:
    received = await _received(session, row.id)
    status = domain.export_status(row.expected, received, row.deadline_at, row.completed_at, now)
    return ExportView(row.id, row.requested_at, list(row.expected), status)


async def request_export(uow: UnitOfWork, account: Any, actor: Actor) -> uuid.UUID:
    """Start an export of everything the platform holds about the account's person; refused while one
    is collecting (an earlier one past its deadline is closed first, its silent services missing)."""
    now, session = uow.now, uow.session
    collecting = (
        await session.execute(
            select(data_exports)
            .where(data_exports.c.account_id == account.id, data_exports.c.state == "collecting")
            .with_for_update()
        )
    ).all()
    views = [await _view(session, row, now) for row in collecting]
    domain.may_request_export([view.status for view in views])
    for view in views:  # past its deadline or complete: no longer the one running
        await session.execute(
            update(data_exports)
            .where(data_exports.c.id == view.id)
            .values(state="done", completed_at=view.status.ready_at)
        )
    export_id = new_id()
    try:
        async with session.begin_nested():
            await session.execute(
                insert(data_exports).values(
                    id=export_id,
                    account_id=account.id,
                    state="collecting",
                    expected=list(domain.EXPORT_SERVICES),
                    requested_at=now,
                    deadline_at=now + domain.EXPORT_DEADLINE,
                )
            )
    except IntegrityError:  # a concurrent request won the partial unique index
        raise domain.ExportRunning("an export of your data is already being collected") from None
    uow.emit(
        DataExportRequested(
            export_id=str(export_id),
            account_id=str(account.id),
            account_kind="unit" if account.category == "unit" else "personal",
            id_number=account.credit_code if account.category == "unit" else account.id_number,
            phone=account.phone,
            requested_at=now,
        )
    )
    uow.audit(actor, "data_export_requested", f"data_export:{export_id}", after={"account": str(account.id)})
    return export_id


async def receive_part(uow: UnitOfWork, export_id: uuid.UUID, service: str, part: dict[str, Any]) -> None:
    """One service's part: kept once (a repeat is ignored), and the export done when the last one came.
    A part arriving after the deadline is still kept: the download shows what came."""
    session, now = uow.session, uow.now
    row = (
        await session.execute(select(data_exports).where(data_exports.c.id == export_id).with_for_update())
    ).first()
    if row is None or service not in row.expected:
        return  # not an export identity asked for (a purged one), or a service it did not ask
    await session.execute(
        pg_insert(data_export_parts)
        .values(export_id=export_id, service=service, part=part, received_at=now)
        .on_conflict_do_nothing()
    )
    received = await _received(session, export_id)
    if row.state == "collecting" and set(row.expected) <= received:
        await session.execute(
            update(data_exports).where(data_exports.c.id == export_id).values(state="done", completed_at=now)
        )
        uow.audit(SYSTEM_ACTOR, "data_export_completed", f"data_export:{export_id}")


async def export_view(
    session: AsyncSession, export_id: uuid.UUID, account_id: uuid.UUID, now: datetime
) -> ExportView | None:
    """The export, if it is this account's (another person's answers nothing: the web layer's 404)."""
    row = (
        await session.execute(
            select(data_exports).where(
                data_exports.c.id == export_id, data_exports.c.account_id == account_id
            )
        )
    ).first()
    return None if row is None else await _view(session, row, now)


async def latest_exports(
    session: AsyncSession, account_id: uuid.UUID, now: datetime, limit: int = 5
) -> list[ExportView]:
    """The account's latest exports, the newest first."""
    query = (
        select(data_exports)
        .where(data_exports.c.account_id == account_id)
        .order_by(data_exports.c.requested_at.desc(), data_exports.c.id.desc())
        .limit(limit)
    )
    return [await _view(session, row, now) for row in (await session.execute(query)).all()]


async def export_document(session: AsyncSession, view: ExportView) -> dict[str, Any]:
    """The one JSON document the person downloads: each service's part, and who did not answer."""
    rows = (
        await session.execute(
            select(data_export_parts.c.service, data_export_parts.c.part).where(
                data_export_parts.c.export_id == view.id
            )
        )
    ).all()
    parts = {row.service: row.part for row in rows}
    return {
        "说明": "互联网交通安全综合服务管理平台持有的您的个人信息副本（《个人信息保护法》第四十五条）",
        "export_id": str(view.id),
        "requested_at": view.requested_at.isoformat(),
        "ready_at": view.status.ready_at.isoformat() if view.status.ready_at else None,
        "parts": {service: parts[service] for service in view.expected if service in parts},
        "missing": view.status.missing,
    }


async def purge_expired_exports(runtime: Runtime) -> int:
    """Delete the parts of every export whose download is no longer offered (kept EXPORT_KEPT)."""
    async with runtime.uow() as uow:
        ready = func.coalesce(data_exports.c.completed_at, data_exports.c.deadline_at)
        expired = select(data_exports.c.id).where(ready <= uow.now - domain.EXPORT_KEPT)
        result = await uow.session.execute(
            delete(data_export_parts).where(data_export_parts.c.export_id.in_(expired))
        )
        await uow.commit()
    return int(result.rowcount)  # type: ignore[attr-defined]
