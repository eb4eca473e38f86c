"""The messages the violation service consumes: a local tolerant model, a handler and a queue each.

- identity's vehicle bindings (`identity.binding.created.v1` / `ended.v1`) and licence bindings
  (`identity.licence_binding.created.v1` / `ended.v1`), and vehicle's plates (`vehicle.vehicle.registered`,
  `imported`, `transferred`): the projections VI-02 and VI-05 read (ADR 0060);
- the command `violation.camera_record.submit.v1` (VI-01): other police systems' camera records, taken as
  `POST /api/v1/violations` takes them.
"""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel, ConfigDict

from servicekit.consumer import Subscription
from servicekit.envelope import Envelope
from servicekit.uow import Actor, UnitOfWork
from violation_service import intake, projections
from violation_service.context import context_for
from violation_service.published import SubmitCameraRecord


class _Tolerant(BaseModel):
    model_config = ConfigDict(extra="ignore", frozen=True)


class VehicleBindingChanged(_Tolerant):
    binding_id: str
    account_id: str
    record_kind: str
    ref: str
    owned: bool
    at: datetime


class LicenceBindingChanged(_Tolerant):
    binding_id: str
    account_id: str
    licence_number: str
    holder_name: str | None = None
    at: datetime


class OwnerIn(_Tolerant):
    id_number: str


class VehiclePlate(_Tolerant):
    """vehicle's registered / imported / transferred events as violation reads them: the plate."""

    vehicle_id: str
    plate_number: str
    plate_kind: str | None = None  # transferred carries no kind: the one kept stays
    owner: OwnerIn | None = None


ENDED = ("identity.binding.ended.v1", "identity.licence_binding.ended.v1")


async def project_vehicle_binding(uow: UnitOfWork, event: VehicleBindingChanged, envelope: Envelope) -> None:
    """VI-02/VI-05: an account's vehicle binding started or ended."""
    if event.record_kind != "vehicle":
        return
    ended = envelope.type in ENDED
    await projections.project_binding(
        uow,
        binding_id=event.binding_id,
        account_id=event.account_id,
        record_kind="vehicle",
        ref=event.ref,
        owned=event.owned,
        bound_at=None if ended else event.at,
        ended_at=event.at if ended else None,
    )


async def project_licence_binding(uow: UnitOfWork, event: LicenceBindingChanged, envelope: Envelope) -> None:
    """VI-02: an account's licence binding started or ended (the handling driver needs one)."""
    ended = envelope.type in ENDED
    await projections.project_binding(
        uow,
        binding_id=event.binding_id,
        account_id=event.account_id,
        record_kind="licence",
        licence_number=event.licence_number,
        owned=True,
        holder_name=event.holder_name,
        bound_at=None if ended else event.at,
        ended_at=event.at if ended else None,
    )


async def project_plate(uow: UnitOfWork, event: VehiclePlate, envelope: Envelope) -> None:
    """VI-02/VI-05: which plate a bound vehicle carries (a camera record names the plate)."""
    owner = event.owner.id_number if event.owner is not None else None
    await projections.project_plate(uow, event.vehicle_id, event.plate_kind, event.plate_number, owner)


async def take_camera_record(uow: UnitOfWork, event: SubmitCameraRecord, envelope: Envelope) -> None:
    """VI-01: a camera record sent on the broker, taken once per record ID like the HTTP intake. A record
    ID reused with other facts raises (the refusal): retried, then dead-lettered where it is seen."""
    source = envelope.source.strip("/") or "broker"
    actor = Actor(id=source, role="system")
    await intake.take(uow, context_for(uow.runtime).documents, actor, source, intake.CameraRecord.of(event))


VEHICLE_BINDINGS = Subscription(
    name="project-vehicle-bindings",
    handles={
        "identity.binding.created.v1": VehicleBindingChanged,
        "identity.binding.ended.v1": VehicleBindingChanged,
    },
    handler=project_vehicle_binding,
    summary="VI-02/VI-05: project identity's vehicle bindings (ADR 0060).",
)
LICENCE_BINDINGS = Subscription(
    name="project-licence-bindings",
    handles={
        "identity.licence_binding.created.v1": LicenceBindingChanged,
        "identity.licence_binding.ended.v1": LicenceBindingChanged,
    },
    handler=project_licence_binding,
    summary="VI-02: project identity's licence bindings (ADR 0060).",
)
PLATES = Subscription(
    name="project-plates",
    handles={
        "vehicle.vehicle.registered.v1": VehiclePlate,
        "vehicle.vehicle.imported.v1": VehiclePlate,
        "vehicle.vehicle.transferred.v1": VehiclePlate,
    },
    handler=project_plate,
    summary="VI-02/VI-05: the plate of each vehicle, to match camera records with bindings.",
)
CAMERA_RECORDS = Subscription(
    name="take-camera-records",
    handles={"violation.camera_record.submit.v1": SubmitCameraRecord},
    handler=take_camera_record,
    kind="command",
    summary="VI-01: camera records other police systems send on the broker.",
)

SUBSCRIPTIONS: list[Subscription] = [VEHICLE_BINDINGS, LICENCE_BINDINGS, PLATES, CAMERA_RECORDS]
