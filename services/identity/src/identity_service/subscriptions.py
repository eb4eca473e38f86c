"""The messages the identity service consumes: a local tolerant model, a handler and a queue each.

- vehicle events feed the ID-03 projection and drive ID-14 unbinding and ID-07 kind conversions;
- license's licence-record events do the same for licences (ADR 0050): a learner or new-car owner
  becomes a driver user when a licence is issued (ID-07), a cancelled licence is unbound (ID-14, DL-13),
  the record's phone is the one ID-03 compares; a late event older than the projection is dropped;
- plate-pool events start and stop the new-car owner's ID-05 deadlines.
Licence applications (ID-04) still come through the `system` API until a producer publishes them.
"""

from __future__ import annotations

import logging
import uuid
from datetime import datetime
from typing import Literal

from pydantic import BaseModel, ConfigDict
from sqlalchemy import update

from identity_service.data_exports import receive_part
from identity_service.holdings import HOLDINGS
from identity_service.published import AddDataExportPart
from identity_service.records import RecordChange, apply_record
from identity_service.tables import accounts
from servicekit import personal
from servicekit.consumer import Subscription
from servicekit.envelope import Envelope
from servicekit.uow import UnitOfWork

log = logging.getLogger(__name__)


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


class LicenceRecord(_Tolerant):
    """`license.record.issued.v1` and `license.record.changed.v1` as identity reads them: the record as it
    now is, and its version."""

    record_id: str
    number: str  # the holder's identity number
    state: str
    phone: str | None = None
    version: int


def licence_change(event: LicenceRecord) -> RecordChange:
    return RecordChange(
        "licence", event.record_id, event.number, event.state, event.phone, version=event.version
    )


async def project_licence(uow: UnitOfWork, event: LicenceRecord, envelope: Envelope) -> None:
    """ID-03 projection of licences; ID-07 conversion when one is held; ID-14 unbinding when it is
    cancelled (DL-13). Both types on one queue, so a record's events are taken in the order license
    published them; one that still arrives after a newer one is dropped by its version."""
    effects = await apply_record(uow, licence_change(event), uow.now)
    if not effects.applied:
        log.info("licence record version %d is older than the projection's: dropped", event.version)


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


LICENCES = Subscription(
    name="project-licences",
    handles={
        "license.record.issued.v1": LicenceRecord,
        "license.record.changed.v1": LicenceRecord,
    },
    handler=project_licence,
    summary="ID-03 projection of licences; ID-07 conversion at a licence; ID-14 unbinding on DL-13.",
)


class ExportPartIn(_Tolerant):
    """`identity.data_export.add_part.v1` as identity reads it."""

    export_id: uuid.UUID
    service: str
    part: dict[str, object]


async def collect_export_part(uow: UnitOfWork, message: ExportPartIn, envelope: Envelope) -> None:
    await receive_part(uow, message.export_id, message.service, message.part)


# PIPL art. 45 (ADR 0093): identity answers its own request by message, as every other service does.
EXPORTS: list[Subscription] = [
    Subscription(
        name="data-export",
        handles={personal.EXPORT_REQUESTED: personal.ExportRequest},
        handler=personal.export_handler("identity", HOLDINGS, AddDataExportPart),
        summary="PIPL art. 45: identity's part of a person's data export.",
    ),
    Subscription(
        name="data-export-parts",
        handles={personal.ADD_EXPORT_PART: ExportPartIn},
        handler=collect_export_part,
        kind="command",
        summary="PIPL art. 45: collect each service's part of a data export.",
    ),
]

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
    LICENCES,
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
    *EXPORTS,
]
