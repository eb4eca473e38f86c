"""The messages the identity service consumes: a local tolerant model, a handler and a queue each.

- vehicle events feed the ID-03 projection and drive ID-14 unbinding and ID-07 kind conversions;
- plate-pool events start and stop the new-car owner's ID-05 deadlines.
License publishes no events yet: licences and licence applications come through the `system` API.
"""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Literal

from pydantic import BaseModel, ConfigDict
from sqlalchemy import update

from identity_service.records import RecordChange, apply_record
from identity_service.tables import accounts
from servicekit.consumer import Subscription
from servicekit.envelope import Envelope
from servicekit.uow import UnitOfWork


class _Tolerant(BaseModel):
    model_config = ConfigDict(extra="ignore", frozen=True)


class Owner(_Tolerant):
    id_number: str


class VehicleRegistered(_Tolerant):
    """`vehicle.vehicle.registered.v1` and `vehicle.vehicle.imported.v1` as identity reads them."""

    vehicle_id: str
    plate_number: str
    vin: str
    owner: Owner
    phone: str
    use: Literal["commercial", "non_commercial"]
    state: str = "registered"


class VehicleTransferred(_Tolerant):
    vehicle_id: str
    plate_number: str
    vin: str
    owner: Owner
    phone: str


class VehicleDeregistered(_Tolerant):
    vehicle_id: str
    plate_number: str
    owner_id_number: str


class VehicleUseChanged(_Tolerant):
    vehicle_id: str
    plate_number: str
    owner_id_number: str
    from_use: Literal["commercial", "non_commercial"]
    to_use: Literal["commercial", "non_commercial"]


class VehicleContactChanged(_Tolerant):
    vehicle_id: str
    plate_number: str
    owner_id_number: str
    phone: str


VehicleEvent = (
    VehicleRegistered | VehicleTransferred | VehicleDeregistered | VehicleUseChanged | VehicleContactChanged
)


def change_for(event: VehicleEvent, message_type: str = "") -> RecordChange:
    """The projection change a vehicle event makes (ID-03), with what happened for ID-14."""
    if isinstance(event, VehicleRegistered):
        state = "registered" if event.state in ("registered", "normal") else event.state
        return RecordChange(
            "vehicle",
            event.vehicle_id,
            event.owner.id_number,
            state,
            event.phone,
            event.plate_number,
            event.vin,
            event.use,
            change="registered",
        )
    if isinstance(event, VehicleTransferred):
        return RecordChange(
            "vehicle",
            event.vehicle_id,
            event.owner.id_number,
            "registered",
            event.phone,
            event.plate_number,
            event.vin,
            change="transferred",
        )
    if isinstance(event, VehicleDeregistered):
        return RecordChange(
            "vehicle",
            event.vehicle_id,
            event.owner_id_number,
            "deregistered",
            plate_number=event.plate_number,
            change="deregistered",
        )
    if isinstance(event, VehicleUseChanged):
        return RecordChange(
            "vehicle",
            event.vehicle_id,
            event.owner_id_number,
            "registered",
            plate_number=event.plate_number,
            use=event.to_use,
            change="use_changed",
            from_use=event.from_use,
        )
    return RecordChange(
        "vehicle",
        event.vehicle_id,
        event.owner_id_number,
        "registered",
        event.phone,
        event.plate_number,
        change="contact_changed",
    )


async def project_vehicle(uow: UnitOfWork, event: VehicleEvent, envelope: Envelope) -> None:
    """ID-03 projection; ID-14 unbinding; ID-07 conversion of learners and new-car owners."""
    now = uow.now
    await apply_record(uow, change_for(event), now)


class SelectionConfirmed(_Tolerant):
    selection_id: str
    account_id: str
    confirmed_at: datetime
    register_by: datetime


class SelectionRegistered(_Tolerant):
    selection_id: str
    account_id: str


def _account_uuid(value: str) -> uuid.UUID | None:
    try:
        return uuid.UUID(value)
    except ValueError:
        return None


async def start_register_deadline(uow: UnitOfWork, event: SelectionConfirmed, envelope: Envelope) -> None:
    """ID-05: a new-car owner's pre-selection stops the 24-hour clock and starts the 3-working-day one
    (plate-pool computed `register_by` by the same WD-01 function)."""
    account_id = _account_uuid(event.account_id)
    if account_id is None:
        return
    await uow.session.execute(
        update(accounts)
        .where(accounts.c.id == account_id, accounts.c.plate_selected_at.is_(None))
        .values(plate_selected_at=event.confirmed_at, register_by=event.register_by)
    )


async def stop_register_deadline(uow: UnitOfWork, event: SelectionRegistered, envelope: Envelope) -> None:
    """ID-05: the car was registered in time; vehicle's registration event converts the kind (ID-07)."""
    account_id = _account_uuid(event.account_id)
    if account_id is None:
        return
    await uow.session.execute(update(accounts).where(accounts.c.id == account_id).values(register_by=None))


SUBSCRIPTIONS: list[Subscription] = [
    Subscription(
        name="project-vehicles",
        handles={
            "vehicle.vehicle.registered.v1": VehicleRegistered,
            "vehicle.vehicle.imported.v1": VehicleRegistered,
            "vehicle.vehicle.transferred.v1": VehicleTransferred,
            "vehicle.vehicle.deregistered.v1": VehicleDeregistered,
            "vehicle.vehicle.use_changed.v1": VehicleUseChanged,
            "vehicle.vehicle.contact_changed.v1": VehicleContactChanged,
        },
        handler=project_vehicle,
        summary="ID-03 projection of vehicles; ID-14 automatic unbinding; ID-07 kind conversions.",
    ),
    Subscription(
        name="new-car-owner-preselected",
        handles={"plate-pool.selection.confirmed.v1": SelectionConfirmed},
        handler=start_register_deadline,
        summary="ID-05: a new-car owner pre-selected a plate; the 3-working-day deadline starts.",
    ),
    Subscription(
        name="new-car-owner-registered",
        handles={"plate-pool.selection.registered.v1": SelectionRegistered},
        handler=stop_register_deadline,
        summary="ID-05: the pre-selected plate was registered in time.",
    ),
]
