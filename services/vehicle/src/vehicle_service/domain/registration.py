"""VH-15: the counter's first registration against a pre-selection (PP-09, decided here only)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from servicekit.refusal import refusal
from vehicle_service.domain.records import IdKind

# --- VH-15: first registration against the pre-selection (PP-09) ---------------------------------


@dataclass(frozen=True)
class Owner:
    id_kind: IdKind
    id_number: str
    name: str


@dataclass(frozen=True)
class Preselection:
    selection_id: str
    office_code: str
    plate_number: str
    vin: str
    owner: Owner
    phone: str
    register_by: datetime
    state: str


SelectionUnknown = refusal("SELECTION_UNKNOWN", "PP-09")
SelectionNotUsable = refusal("SELECTION_NOT_USABLE", "PP-09")
SelectionExpired = refusal("SELECTION_NOT_REGISTERED_IN_TIME", "PP-09")
SelectionMismatch = refusal("SELECTION_MISMATCH", "PP-09")
SelectionOtherOffice = refusal("SELECTION_OF_ANOTHER_OFFICE", "PP-09")
PlateNotSelected = refusal("PLATE_NOT_THE_SELECTED_ONE", "PP-09", 422)
PlateRequired = refusal("PLATE_NUMBER_REQUIRED", "VH-15", 422)
AlreadyRegistered = refusal("VEHICLE_ALREADY_REGISTERED", "VH-15")


def selection_mismatches(selection: Preselection, vin: str, owner: Owner, phone: str) -> list[str]:
    """PP-09: the fields of the registration that differ from the pre-selection (VIN, owner's identity
    kind, number, name, phone). Names compare after trimming spaces; everything else exactly."""
    wrong: list[str] = []
    if selection.vin != vin:
        wrong.append("vin")
    if selection.owner.id_kind != owner.id_kind:
        wrong.append("owner.id_kind")
    if selection.owner.id_number != owner.id_number:
        wrong.append("owner.id_number")
    if "".join(selection.owner.name.split()) != "".join(owner.name.split()):
        wrong.append("owner.name")
    if selection.phone != phone:
        wrong.append("phone")
    return wrong


def check_selection_usable(selection: Preselection | None, office_code: str, now: datetime) -> Preselection:
    """VH-15/PP-09: the counter registers with a confirmed selection of its own office, not after its
    register-by deadline (plate-pool cancels it then, but its event may not have arrived yet)."""
    if selection is None:
        raise SelectionUnknown("no confirmed pre-selection with this id is known here")
    if selection.state != "confirmed":
        raise SelectionNotUsable(
            f"the pre-selection is {selection.state}", extra={"selection_state": selection.state}
        )
    if selection.office_code != office_code:
        raise SelectionOtherOffice("the pre-selection was made for another registration office")
    if now > selection.register_by:
        raise SelectionExpired(
            "the pre-selected number was not registered within 3 working days",
            extra={"register_by": selection.register_by.isoformat()},
        )
    return selection


def plate_to_register(selection: Preselection | None, plate: str | None) -> str:
    """VH-15/PP-09: a pre-selected registration takes the selection's number (a different one typed at
    the counter is refused); without a selection the counter gives the number."""
    if selection is not None:
        if plate is not None and plate != selection.plate_number:
            raise PlateNotSelected("the plate number differs from the pre-selection")
        return selection.plate_number
    if plate is None:
        raise PlateRequired("give plate_number or selection_id")
    return plate
