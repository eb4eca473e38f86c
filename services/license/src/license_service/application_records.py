"""Licence applications in the database (DL-02..DL-09): loading, one workflow step with its event and
audit entry, and the VH-07 bans. Written in the caller's unit of work; used by the use cases of
`applications.py`, by `medical.py` and by the sweeps."""

from __future__ import annotations

import uuid
from datetime import date
from typing import Any

from sqlalchemy import func, select, update
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.engine import RowMapping

from license_service import domain
from license_service import published as ev
from license_service.domain import ApplicationAction
from license_service.tables import licence_applications, licence_delivery_bans
from servicekit.crypto import blind_match
from servicekit.ids import new_id
from servicekit.uow import Actor, UnitOfWork


async def load(uow: UnitOfWork, application_id: uuid.UUID, *, lock: bool = False) -> RowMapping | None:
    query = select(licence_applications).where(licence_applications.c.id == application_id)
    if lock:
        query = query.with_for_update()
    return (await uow.session.execute(query)).mappings().first()


async def active_ban(uow: UnitOfWork, id_number: str) -> date | None:
    """VH-07: the last barred day of the person's longest ban (vehicle's or ours), or None."""
    until: date | None = (
        await uow.session.execute(
            select(func.max(licence_delivery_bans.c.until)).where(
                blind_match(licence_delivery_bans.c.id_number, id_number)
            )
        )
    ).scalar_one()
    return until


def state_event(row: RowMapping, reason: str | None, now: Any) -> ev.ApplicationStateChanged:
    return ev.ApplicationStateChanged(
        application_id=str(row["id"]),
        record_id=str(row["record_id"]),
        office_code=row["office_code"],
        application_kind=row["kind"],
        state=row["state"],
        delivery=row["delivery"],
        phone=row["phone"],
        tracking_number=row["tracking_number"],
        reason=reason,
        deferred_to=row["deferred_to"] if row["state"] == "approved" else None,
        pickup_due=row["pickup_due"] if row["state"] == "ready" else None,
        medical_wait_until=row["medical_wait_until"] if row["state"] == "awaiting_medical" else None,
        changed_at=now,
    )


def created(uow: UnitOfWork, actor: Actor, row: RowMapping) -> None:
    """The first state of a new application, published and audited."""
    uow.emit(state_event(row, None, uow.now))
    uow.audit(
        actor,
        f"licence_application.{row['state']}",
        f"licence_application:{row['id']}",
        None,
        {"kind": row["kind"], "state": row["state"], "delivery": row["delivery"]},
    )


async def move(
    uow: UnitOfWork,
    actor: Actor,
    row: RowMapping,
    action: ApplicationAction,
    *,
    reason: str | None = None,
    **values: Any,
) -> RowMapping:
    """One step of the workflow, checked against `domain.APPLICATION_MOVES`, written with `values`,
    published (with the reason the person is told) and audited. The caller holds the row lock."""
    target = domain.move_application(row["kind"], row["state"], action)
    after: RowMapping = (
        (
            await uow.session.execute(
                update(licence_applications)
                .where(licence_applications.c.id == row["id"])
                .values(state=target, updated_at=uow.now, **values)
                .returning(licence_applications)
            )
        )
        .mappings()
        .one()
    )
    uow.emit(state_event(after, reason, uow.now))
    uow.audit(
        actor,
        f"licence_application.{target}",
        f"licence_application:{row['id']}",
        {"state": row["state"]},
        {"state": target, "reason": reason, **{k: v for k, v in values.items() if isinstance(v, str | bool)}},
    )
    if target in ("refused", "not_collected"):
        await impose_ban(uow, after, "refused" if target == "refused" else "not_collected")
    return after


async def record_ban(
    uow: UnitOfWork, *, id_number: str, until: date, reason: str, source: str, case_id: str, imposed_at: Any
) -> bool:
    """VH-07: keep a ban (one per case: a repeat changes nothing). True when it is new."""
    inserted = (
        await uow.session.execute(
            insert(licence_delivery_bans)
            .values(
                id=new_id(),
                id_number=id_number,
                until=until,
                reason=reason,
                source=source,
                case_id=case_id,
                imposed_at=imposed_at,
            )
            .on_conflict_do_nothing(index_elements=[licence_delivery_bans.c.case_id])
            .returning(licence_delivery_bans.c.id)
        )
    ).first()
    return inserted is not None


async def impose_ban(uow: UnitOfWork, row: RowMapping, reason: str) -> None:
    """VH-07 (seed 002 §27(6)): a licence refused at the door or not collected within a month bars the
    holder from online reissue and replacement for a year, as vehicle's bans do; published for vehicle and
    notify."""
    until = domain.ban_until(uow.now)
    if not await record_ban(
        uow,
        id_number=row["id_number"],
        until=until,
        reason=reason,
        source="license",
        case_id=str(row["id"]),
        imposed_at=uow.now,
    ):
        return
    uow.emit(
        ev.DeliveryBanImposed(
            id_kind="resident_id",
            id_number=row["id_number"],
            until=until,
            reason="refused" if reason == "refused" else "not_collected",
            case_id=str(row["id"]),
            imposed_at=uow.now,
            phone=row["phone"],
        )
    )
