"""VH-15: the counter's first registration, consuming a pre-selected number after the PP-09 check. The
decision is vehicle's alone (ADR 0045): plate-pool settles or cancels the selection on the event.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

from sqlalchemy import select
from sqlalchemy.engine import RowMapping
from sqlalchemy.exc import IntegrityError

from servicekit.ids import new_id
from servicekit.refusal import Refusal
from servicekit.uow import Actor, UnitOfWork
from vehicle_service import dealers, domain, records
from vehicle_service import published as ev
from vehicle_service.tables import vehicles


@dataclass(frozen=True)
class FirstRegistration:
    office: str
    plate_kind: str
    plate_number: str | None
    selection_id: str | None
    vin: str
    vehicle_kind: str
    owner: domain.Owner
    phone: str
    use: str
    inspection_valid_until: date | None
    insurance_valid_until: date | None
    licence_photo_stored: bool


@dataclass(frozen=True)
class Mismatch:
    """PP-09 refused the registration: recorded and published, to commit before the refusal is answered."""

    fields: list[str]

    def refusal(self) -> Refusal:
        return domain.SelectionMismatch(
            f"differs from the pre-selection in: {', '.join(self.fields)}", extra={"mismatched": self.fields}
        )


async def register(uow: UnitOfWork, actor: Actor, reg: FirstRegistration) -> RowMapping | Mismatch:
    """VH-15: the new vehicle's row, or the PP-09 mismatch (its refusal event already emitted)."""
    selection = None
    if reg.selection_id is not None:
        selection = domain.check_selection_usable(
            await records.load_preselection(uow, reg.selection_id), reg.office, uow.now
        )
        wrong = domain.selection_mismatches(selection, reg.vin, reg.owner, reg.phone)
        if wrong:
            _record_mismatch(uow, actor, reg, selection, wrong)
            return Mismatch(wrong)
    plate = domain.plate_to_register(selection, reg.plate_number)
    if selection is not None:
        await records.end_preselection(uow, selection.selection_id, "registered")
    await _refuse_duplicates(uow, reg.vin, reg.plate_kind, plate)
    await dealers.note_registration(uow, reg.vin, reg.owner)
    row = await _insert(uow, reg, plate)
    uow.emit(
        ev.VehicleRegistered(
            vehicle_id=str(row["id"]),
            office_code=reg.office,
            plate_number=plate,
            plate_kind=reg.plate_kind,
            vin=reg.vin,
            owner=records.owner_ref(row),
            phone=reg.phone,
            use=reg.use,
            selection_id=reg.selection_id,
            registered_at=uow.now,
        )
    )
    uow.audit(actor, "vehicle.registered", f"vehicle:{row['id']}", None, records.snapshot(row))
    return row


def _record_mismatch(
    uow: UnitOfWork, actor: Actor, reg: FirstRegistration, selection: domain.Preselection, wrong: list[str]
) -> None:
    uow.emit(
        ev.RegistrationRefused(
            selection_id=selection.selection_id,
            office_code=reg.office,
            vin=reg.vin,
            mismatched=wrong,
            refused_at=uow.now,
        )
    )
    uow.audit(
        actor, "registration.refused", f"selection:{selection.selection_id}", None, {"mismatched": wrong}
    )


async def _refuse_duplicates(uow: UnitOfWork, vin: str, plate_kind: str, plate: str) -> None:
    found = (
        await uow.session.execute(
            select(vehicles.c.vin, vehicles.c.plate_number).where(
                (vehicles.c.vin == vin)
                | ((vehicles.c.plate_kind == plate_kind) & (vehicles.c.plate_number == plate))
            )
        )
    ).first()
    if found is not None:
        what = "VIN" if found.vin == vin else "plate number"
        raise domain.AlreadyRegistered(f"the {what} is already registered")


async def _insert(uow: UnitOfWork, reg: FirstRegistration, plate: str) -> RowMapping:
    values = {
        "id": new_id(),
        "office_code": reg.office,
        "plate_kind": reg.plate_kind,
        "plate_number": plate,
        "vin": reg.vin,
        "vehicle_kind": reg.vehicle_kind,
        "owner_id_kind": reg.owner.id_kind,
        "owner_id_number": reg.owner.id_number,
        "owner_name": reg.owner.name,
        "phone": reg.phone,
        "phone_changed_at": uow.now,
        "use": reg.use,
        "state": "registered",
        "flags": [],
        "inspection_valid_until": reg.inspection_valid_until,
        "insurance_valid_until": reg.insurance_valid_until,
        "licence_photo_stored": reg.licence_photo_stored,
        "plate_reissue_count": 0,
        "selection_id": reg.selection_id,
        "registered_at": uow.now,
        "updated_at": uow.now,
        "version": 1,
    }
    try:
        inserted = await uow.session.execute(vehicles.insert().values(**values).returning(vehicles))
    except IntegrityError:  # a registration racing this one took the VIN or the plate
        raise domain.AlreadyRegistered("the VIN or plate is registered") from None
    row: RowMapping = inserted.mappings().one()
    return row
