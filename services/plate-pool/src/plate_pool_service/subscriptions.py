"""The messages plate-pool consumes: a local tolerant model, a handler and a queue each.

VH-15/PP-09: the counter's first registration settles a selection. PP-09 is decided once, by vehicle, where
the counter compares the VIN, the owner's document kind and number, the name and the phone with the
pre-selection (ADR 0045): `vehicle.vehicle.registered.v1` naming our `selection_id` is a registration the
counter accepted, and makes the selection `registered`; `vehicle.registration.refused.v1` is one it refused
for a difference, and cancels the number with the 2-year ban. plate-pool acts on them and never compares
the fields again (a second comparison, stricter than the counter's, once banned owners the counter had
registered).
"""

from __future__ import annotations

import functools
import logging
import uuid
from collections.abc import Callable
from datetime import datetime
from typing import Any

from pydantic import BaseModel, ConfigDict
from sqlalchemy import insert, select, update

from plate_pool_service import domain
from plate_pool_service.hot import HotPool
from plate_pool_service.published import SelectionCancelled, SelectionRegistered
from plate_pool_service.settings import PlatePoolSettings
from plate_pool_service.tables import allocations, bans, office_settings, selections
from servicekit.clock import SHANGHAI, FixedClock
from servicekit.consumer import Subscription
from servicekit.envelope import Envelope
from servicekit.ids import new_id
from servicekit.uow import SYSTEM_ACTOR, UnitOfWork

log = logging.getLogger(__name__)


class VehicleRegisteredSeen(BaseModel):
    """plate-pool's reading of `vehicle.vehicle.registered.v1`: which selection the counter registered."""

    model_config = ConfigDict(extra="ignore", frozen=True)
    vehicle_id: str
    plate_number: str
    selection_id: str | None = None
    registered_at: datetime


class RegistrationRefusedSeen(BaseModel):
    model_config = ConfigDict(extra="ignore", frozen=True)
    selection_id: str
    mismatched: list[str] = []
    refused_at: datetime


@functools.cache
def _configured_redis() -> Any:
    from redis.asyncio import Redis

    return Redis.from_url(PlatePoolSettings().redis.url)


def configured_hot(now: datetime) -> HotPool:
    settings = PlatePoolSettings()
    redis = _configured_redis()
    # The scripts get the platform time of the event's unit of work.
    return HotPool(redis, FixedClock(now), settings.hot_prefix)


async def _selection(uow: UnitOfWork, selection_id: str | None) -> Any:
    if not selection_id:
        return None
    try:
        key = uuid.UUID(selection_id)
    except ValueError:
        return None
    return (
        await uow.session.execute(select(selections).where(selections.c.id == key).with_for_update())
    ).first()


async def cancel_with_ban(uow: UnitOfWork, hot: HotPool, row: Any, reason: str) -> None:
    """PP-09: the number is cancelled (back to the pool) and the owner barred online for 2 years."""
    now = uow.now
    data = (
        await uow.session.execute(
            select(office_settings.c.settings).where(office_settings.c.office_code == row.office_code)
        )
    ).scalar()
    settings = domain.OfficeSettings.from_json(data)
    index = (
        await uow.session.execute(
            select(allocations.c.number_index)
            .where(allocations.c.selection_id == row.id)
            .where(allocations.c.released_at.is_(None))
        )
    ).scalar()
    until = domain.ban_until(now.astimezone(SHANGHAI).date(), settings)
    await uow.session.execute(
        update(allocations)
        .where(allocations.c.selection_id == row.id)
        .where(allocations.c.released_at.is_(None))
        .values(released_at=now, release_reason=reason)
    )
    await uow.session.execute(
        update(selections)
        .where(selections.c.id == row.id)
        .values(state="cancelled", cancelled_at=now, cancel_reason=reason, updated_at=now)
    )
    await uow.session.execute(
        insert(bans).values(
            id=new_id(),
            owner_id_number=row.owner_id_number,
            selection_id=row.id,
            until=until,
            reason=reason,
            created_at=now,
        )
    )
    uow.emit(
        SelectionCancelled(
            selection_id=str(row.id),
            plate_number=row.plate_number,
            vin=row.vin,
            account_id=row.account_id,
            phone=row.phone,
            reason="registration_mismatch",
            ban_until=until,
            cancelled_at=now,
        )
    )
    uow.audit(
        SYSTEM_ACTOR,
        "plate_selection.cancelled",
        f"plate-selection:{row.id}",
        before={"state": row.state},
        after={"state": "cancelled", "reason": reason, "ban_until": until.isoformat()},
    )
    # Redis last: releasing twice (a redelivery) is a no-op, and a rollback after it leaves the number
    # available while the ledger still holds it; the ledger's unique index refuses a second allocation.
    await hot.release(str(row.id), row.segment_id, "cancelled", reason, index)


def settlement_subscriptions(hot_for: Callable[[datetime], HotPool] = configured_hot) -> list[Subscription]:
    async def settle(uow: UnitOfWork, event: VehicleRegisteredSeen, envelope: Envelope) -> None:
        """VH-15/PP-09: the counter registered the car with its pre-selection: the selection is settled.
        vehicle decided PP-09 before publishing this; it is not decided again here."""
        row = await _selection(uow, event.selection_id)
        if row is None or row.state != "selected":
            return  # not ours, or settled already (a redelivery)
        now = uow.now
        if event.plate_number != row.plate_number:  # the counter takes the plate from the selection
            log.warning(
                "selection %s registered by vehicle %s with %s, not its %s",
                row.id,
                event.vehicle_id,
                event.plate_number,
                row.plate_number,
            )
        await uow.session.execute(
            update(selections)
            .where(selections.c.id == row.id)
            .values(state="registered", registered_at=event.registered_at, updated_at=now)
        )
        uow.emit(
            SelectionRegistered(
                selection_id=str(row.id),
                plate_number=row.plate_number,
                vin=row.vin,
                account_id=row.account_id,
                registered_at=event.registered_at,
            )
        )
        uow.audit(
            SYSTEM_ACTOR,
            "plate_selection.registered",
            f"plate-selection:{row.id}",
            before={"state": "selected"},
            after={"state": "registered", "vehicle_id": event.vehicle_id},
        )

    async def refused(uow: UnitOfWork, event: RegistrationRefusedSeen, envelope: Envelope) -> None:
        """PP-09: the counter refused the registration because it differs from the pre-selection."""
        row = await _selection(uow, event.selection_id)
        if row is None or row.state != "selected":
            return
        await cancel_with_ban(uow, hot_for(uow.now), row, "registration_mismatch")

    return [
        Subscription(
            name="settle-registration",
            handles={"vehicle.vehicle.registered.v1": VehicleRegisteredSeen},
            handler=settle,
            summary="VH-15/PP-09: a first registration the counter accepted settles the selection.",
        ),
        Subscription(
            name="registration-refused",
            handles={"vehicle.registration.refused.v1": RegistrationRefusedSeen},
            handler=refused,
            summary="PP-09: a registration refused for a mismatch cancels the number with a 2-year ban.",
        ),
    ]


SUBSCRIPTIONS: list[Subscription] = settlement_subscriptions()
