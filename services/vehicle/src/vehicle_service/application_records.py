"""Reissue and replacement cases in the database (VH-02..VH-10): loading, one workflow step with its event
and audit entry, the archive's flags, the one-year ban. Written in the caller's unit of work; used by the
use cases of `applications.py` and by its missed-pickup sweep."""

from __future__ import annotations

from typing import Any

from sqlalchemy import func, select, update
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.engine import RowMapping

from servicekit.crypto import blind_match
from servicekit.documents import StoredDocument
from servicekit.ids import new_id
from servicekit.uow import Actor, UnitOfWork
from vehicle_service import domain
from vehicle_service import published as ev
from vehicle_service.tables import applications, delivery_bans, vehicles


async def set_flags(
    uow: UnitOfWork, actor: Actor, row: RowMapping, action: str, **values: bool
) -> RowMapping:
    await uow.session.execute(
        update(applications).where(applications.c.id == row["id"]).values(updated_at=uow.now, **values)
    )
    uow.audit(actor, action, f"application:{row['id']}", None, dict(values))
    after = await load(uow, row["id"])
    assert after is not None
    return after


async def set_insurance_photo(
    uow: UnitOfWork, actor: Actor, row: RowMapping, document: StoredDocument
) -> RowMapping:
    """VH-09 / AR-01: the application's insurance image is this stored document (no event: a draft is
    nobody else's concern yet)."""
    await uow.session.execute(
        update(applications)
        .where(applications.c.id == row["id"])
        .values(insurance_photo_id=document.id, updated_at=uow.now)
    )
    uow.audit(
        actor,
        "application.insurance_photo_stored",
        f"application:{row['id']}",
        None,
        {"document_id": str(document.id), "media_type": document.media_type, "size": document.size},
    )
    after = await load(uow, row["id"])
    assert after is not None
    return after


async def load(uow: UnitOfWork, application_id: Any, *, lock: bool = False) -> RowMapping | None:
    query = (
        select(applications, vehicles.c.plate_number, vehicles.c.owner_id_kind)
        .join(vehicles, vehicles.c.id == applications.c.vehicle_id)
        .where(applications.c.id == application_id)
    )
    if lock:
        query = query.with_for_update(of=applications)
    return (await uow.session.execute(query)).mappings().first()


async def active_ban(uow: UnitOfWork, id_number: str) -> Any:
    """VH-07: the last day of the person's longest ban, or None."""
    return (
        await uow.session.execute(
            select(func.max(delivery_bans.c.until)).where(blind_match(delivery_bans.c.id_number, id_number))
        )
    ).scalar_one()


def state_event(
    row: RowMapping, state: str, now: Any, reason: str | None = None
) -> ev.ApplicationStateChanged:
    return ev.ApplicationStateChanged(
        application_id=str(row["id"]),
        vehicle_id=str(row["vehicle_id"]),
        plate_number=row["plate_number"],
        item=row["item"],
        application_kind=row["kind"],
        delivery=row["delivery"],
        state=state,
        phone=row["phone"],
        tracking_number=row["tracking_number"],
        reason=reason,
        changed_at=now,
        pickup_due=row["pickup_due"] if state == "ready" else None,
        account_id=row["applicant_subject"],
    )


async def move(
    uow: UnitOfWork, actor: Actor, row: RowMapping, target: str, *, reason: str | None = None, **values: Any
) -> RowMapping:
    """VH-09: one step of the office's workflow, checked against the allowed transitions, published."""
    domain.check_transition(row["state"], target)
    await uow.session.execute(
        update(applications)
        .where(applications.c.id == row["id"])
        .values(state=target, updated_at=uow.now, **values)
    )
    after = await load(uow, row["id"])
    assert after is not None
    uow.emit(state_event(after, target, uow.now, reason))
    uow.audit(
        actor,
        f"application.{target}",
        f"application:{row['id']}",
        {"state": row["state"]},
        {"state": target, **{k: v for k, v in values.items() if isinstance(v, str | bool | int)}},
    )
    if target in ("refused", "not_collected"):
        await impose_ban(uow, after, "refused" if target == "refused" else "not_collected")
    return after


async def keep_ban(
    uow: UnitOfWork, *, id_kind: str, id_number: str, until: Any, reason: str, case_id: str, imposed_at: Any
) -> bool:
    """VH-07: keep a ban, one per case (vehicle's own, or license's for a driving licence); True when new."""
    inserted = (
        await uow.session.execute(
            insert(delivery_bans)
            .values(
                id=new_id(),
                id_kind=id_kind,
                id_number=id_number,
                until=until,
                reason=reason,
                case_id=case_id,
                imposed_at=imposed_at,
            )
            .on_conflict_do_nothing(index_elements=[delivery_bans.c.case_id])
            .returning(delivery_bans.c.id)
        )
    ).first()
    return inserted is not None


async def impose_ban(uow: UnitOfWork, row: RowMapping, reason: str) -> None:
    """VH-07: a refused delivery or a missed pickup bars the applicant from online reissue and replacement
    (plates, vehicle licence, inspection mark, driving licence) for one year; published for license."""
    until = domain.ban_until(uow.now)
    if not await keep_ban(
        uow,
        id_kind=row["owner_id_kind"],
        id_number=row["applicant_id_number"],
        until=until,
        reason=reason,
        case_id=str(row["id"]),
        imposed_at=uow.now,
    ):
        return
    uow.emit(
        ev.DeliveryBanImposed(
            id_kind=row["owner_id_kind"],
            id_number=row["applicant_id_number"],
            until=until,
            reason=reason,
            case_id=str(row["id"]),
            imposed_at=uow.now,
            phone=row["phone"],
            item=row["item"],
        )
    )
