"""Temporary-plate dealers in the database (VH-12): the stock of blanks, qualification changes with their
event and audit entry, the mismatch count kept at registration, and the missed-review sweep. Used by the
API (`api/temp_plates.py`), by first registration and by the worker."""

from __future__ import annotations

import uuid

from sqlalchemy import func, select, update
from sqlalchemy.engine import RowMapping

from servicekit.clock import SHANGHAI
from servicekit.runtime import Runtime
from servicekit.uow import SYSTEM_ACTOR, Actor, UnitOfWork
from servicekit.web import NotFound
from vehicle_service import domain
from vehicle_service import published as ev
from vehicle_service.tables import temp_plate_collections, temp_plate_dealers, temp_plates


async def stock(uow: UnitOfWork, dealer_id: uuid.UUID) -> int:
    """Blanks the dealer holds: collected − recalled − issued − reported damaged."""
    collected = (
        await uow.session.execute(
            select(
                func.coalesce(
                    func.sum(temp_plate_collections.c.quantity - temp_plate_collections.c.recalled), 0
                )
            ).where(temp_plate_collections.c.dealer_id == dealer_id)
        )
    ).scalar_one()
    issued = (
        await uow.session.execute(select(func.count()).where(temp_plates.c.dealer_id == dealer_id))
    ).scalar_one()
    damaged = (
        await uow.session.execute(
            select(temp_plate_dealers.c.damaged_count).where(temp_plate_dealers.c.id == dealer_id)
        )
    ).scalar_one()
    return int(collected) - int(issued) - int(damaged)


async def load(uow: UnitOfWork, dealer_id: uuid.UUID, *, lock: bool = True) -> RowMapping:
    query = select(temp_plate_dealers).where(temp_plate_dealers.c.id == dealer_id)
    row = (await uow.session.execute(query.with_for_update() if lock else query)).mappings().first()
    if row is None:
        raise NotFound("dealer")
    return row


async def change(
    uow: UnitOfWork,
    actor: Actor,
    row: RowMapping,
    change: str,
    *,
    reason: str | None = None,
    **values: object,
) -> RowMapping:
    after = (
        (
            await uow.session.execute(
                update(temp_plate_dealers)
                .where(temp_plate_dealers.c.id == row["id"])
                .values(updated_at=uow.now, **values)
                .returning(temp_plate_dealers)
            )
        )
        .mappings()
        .one()
    )
    uow.emit(
        ev.DealerStateChanged(
            dealer_id=str(row["id"]),
            uscc=row["uscc"],
            name=row["name"],
            state=after["state"],
            change=change,
            reason=reason,
            valid_until=after["valid_until"],
            changed_at=uow.now,
        )
    )
    uow.audit(
        actor,
        f"temp_plate_dealer.{change}",
        f"dealer:{row['id']}",
        {"state": row["state"], "valid_until": row["valid_until"].isoformat()},
        {"state": after["state"], "valid_until": after["valid_until"].isoformat(), "reason": reason},
    )
    changed: RowMapping = after
    return changed


async def note_registration(uow: UnitOfWork, vin: str, owner: domain.Owner) -> None:
    """VH-12: at first registration, a temporary plate issued for this VIN with other owner data counts
    against its dealer (which must then explain; repeated without good reason cancels the qualification)."""
    plate = (
        (
            await uow.session.execute(
                select(temp_plates)
                .where(temp_plates.c.vin == vin, temp_plates.c.state == "issued")
                .with_for_update()
            )
        )
        .mappings()
        .first()
    )
    if plate is None:
        return
    same = plate["owner_id_number"] == owner.id_number and "".join(plate["owner_name"].split()) == "".join(
        owner.name.split()
    )
    await uow.session.execute(
        update(temp_plates)
        .where(temp_plates.c.id == plate["id"])
        .values(state="registered" if same else "mismatch")
    )
    if not same:
        await uow.session.execute(
            update(temp_plate_dealers)
            .where(temp_plate_dealers.c.id == plate["dealer_id"])
            .values(mismatch_count=temp_plate_dealers.c.mismatch_count + 1)
        )


async def sweep_missed_reviews(runtime: Runtime) -> int:
    """VH-12: a qualification whose yearly review was missed is cancelled the day after it ends."""
    done = 0
    async with runtime.uow() as uow:
        today = uow.now.astimezone(SHANGHAI).date()
        rows = (
            (
                await uow.session.execute(
                    select(temp_plate_dealers)
                    .where(
                        temp_plate_dealers.c.state.in_(("active", "suspended")),
                        temp_plate_dealers.c.valid_until < today,
                    )
                    .limit(200)
                    .with_for_update(skip_locked=True)
                )
            )
            .mappings()
            .all()
        )
        for row in rows:
            await change(
                uow,
                SYSTEM_ACTOR,
                row,
                "cancelled",
                reason="review_missed",
                state="cancelled",
                state_reason="review_missed",
                cancelled_at=uow.now,
            )
            done += 1
        await uow.commit()
    return done
