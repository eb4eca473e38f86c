"""VH-01, VH-03, VH-16: the vehicle record's vocabulary, its named refusals and the blocking states."""

from __future__ import annotations

import calendar
from collections.abc import Iterable
from datetime import date
from typing import Literal

from servicekit import vocabulary
from servicekit.refusal import refusal

VehicleBlocked = refusal("VEHICLE_STATE_BLOCKS", "VH-03")
WrongState = refusal("WRONG_STATE", "VH-01")


def add_months(day: date, months: int) -> date:
    """The same day `months` calendar months later (or earlier); the 31st falls back to the month's end."""
    index = day.year * 12 + day.month - 1 + months
    year, month = divmod(index, 12)
    month += 1
    return date(year, month, min(day.day, calendar.monthrange(year, month)[1]))


# --- VH-01: the record's vocabulary --------------------------------------------------------------

# Identity kinds: the platform's one vocabulary (servicekit.vocabulary, ADR 0045).
IdKind = vocabulary.IdKind
ID_KINDS: tuple[str, ...] = vocabulary.ID_KINDS
Use = Literal["commercial", "non_commercial"]
# Lifecycle states: one at a time.
STATES: tuple[str, ...] = ("registered", "transferred_out", "deregistered", "force_deregistered")
# Police markers that may stack on a registered vehicle.
FLAGS: tuple[str, ...] = ("stolen", "suspended", "suspect", "detained", "seized", "hit_and_run", "locked")
# GA 24.7 plate kinds the platform deals with: 01 large, 02 small, 51 large new-energy, 52 small new-energy.
PLATE_KINDS: tuple[str, ...] = ("01", "02", "51", "52", "07", "15", "16")


InspectionBlocked = refusal("VEHICLE_STATE_BLOCKS_INSPECTION", "VH-13")
SameOwner = refusal("SAME_OWNER", "VH-16")


def check_registered(state: str) -> None:
    """VH-16, VH-11: transfers, deregistrations, changes of use and contact changes need a registered
    vehicle."""
    if state != "registered":
        raise WrongState(f"the vehicle is {state}", extra={"state": state})


def check_markers_settable(state: str) -> None:
    """VH-01/VH-03: other police systems set the state and markers of any vehicle not deregistered."""
    if state in ("deregistered", "force_deregistered"):
        raise WrongState(f"the vehicle is {state}", extra={"state": state})


def check_new_owner(current_id_number: str, new_id_number: str) -> None:
    """VH-16: a transfer names another owner."""
    if current_id_number == new_id_number:
        raise SameOwner("the vehicle already belongs to this owner")


BLOCKING_REISSUE: frozenset[str] = frozenset(
    {
        "transferred_out",
        "stolen",
        "suspended",
        "deregistered",
        "suspect",
        "detained",
        "force_deregistered",
        "hit_and_run",
        "locked",
    }
)
# §35(2) names 暂扣 (seized) where §27(2) names 扣留 (detained); both stop an inspection appointment.
BLOCKING_INSPECTION: frozenset[str] = BLOCKING_REISSUE | {"seized"}


def conditions(state: str, flags: Iterable[str]) -> frozenset[str]:
    """The state and the markers of a vehicle, as one set the blocking rules compare with."""
    return frozenset({state, *flags})


def check_reissue_allowed(state: str, flags: Iterable[str]) -> None:
    """VH-03: no reissue or replacement for a vehicle transferred out, stolen, suspended, deregistered,
    suspect, detained, force-deregistered, in a hit-and-run or locked."""
    blocking = sorted(conditions(state, flags) & BLOCKING_REISSUE)
    if blocking:
        raise VehicleBlocked(f"the vehicle is {', '.join(blocking)}", extra={"conditions": blocking})


def check_inspection_allowed(state: str, flags: Iterable[str]) -> None:
    """VH-13: the VH-03 states, and a temporarily seized (暂扣) vehicle, cannot book an inspection."""
    blocking = sorted(conditions(state, flags) & BLOCKING_INSPECTION)
    if blocking:
        raise InspectionBlocked(f"the vehicle is {', '.join(blocking)}", extra={"conditions": blocking})
