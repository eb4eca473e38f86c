"""VH-13, VH-14: inspection appointments and stations."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import date

from servicekit.refusal import refusal
from vehicle_service.domain.records import add_months

NotBeforeInspectionDay = refusal("CANCEL_ONLY_BEFORE_INSPECTION_DAY", "VH-13")

StationClosed = refusal("STATION_CLOSED", "VH-14")

KindNotInspected = refusal("STATION_DOES_NOT_INSPECT_THIS_KIND", "VH-14", 422)

StationNotInReach = refusal("STATION_NOT_IN_PLAN", "VH-13")

OutsideInspectionWindow = refusal("OUTSIDE_INSPECTION_WINDOW", "VH-13")
StationNotOpen = refusal("STATION_NOT_TAKING_BOOKINGS", "VH-14")
SlotFull = refusal("SLOT_FULL", "VH-14")
AlreadyBooked = refusal("ALREADY_BOOKED", "VH-13")
PlanAlreadyPublished = refusal("PLAN_ALREADY_PUBLISHED", "VH-14")
PlanOverlaps = refusal("PLAN_OVERLAPS", "VH-14")


# --- VH-13: inspection window ------------------------------------------------------------------


def inspection_window_opens(valid_until: date) -> date:
    """VH-13: an appointment may be made from 3 calendar months before the inspection's valid-until."""
    return add_months(valid_until, -3)


def check_inspection_window(valid_until: date | None, today: date, slot_day: date) -> None:
    """VH-13: book only within the 3 months before the inspection expires (ADR 0041: an overdue vehicle
    may still book, since it must be inspected); the slot must be today or later."""
    if slot_day < today:
        raise OutsideInspectionWindow("the slot is in the past")
    if valid_until is None:
        return  # never inspected (new vehicle moved in): nothing to wait for
    opens = inspection_window_opens(valid_until)
    if today < opens:
        raise OutsideInspectionWindow(
            f"appointments open on {opens.isoformat()}, 3 months before the inspection expires",
            extra={"opens_on": opens.isoformat()},
        )


def city_of(office_code: str) -> str:
    """The city (地市) an office or station belongs to: the first 4 digits of the division code."""
    return office_code[:4] + "00"


def province_of(code: str) -> str:
    return code[:2] + "0000"


def check_station_reachable(vehicle_office: str, station_city: str, other_cities: bool) -> None:
    """VH-13: at the registration city, or another city of the same province where the province
    has published a plan that opens the station's slots to other cities."""
    if city_of(vehicle_office) == city_of(station_city):
        return
    if province_of(vehicle_office) != province_of(station_city):
        raise StationNotInReach("inspections are booked within the province of registration")
    if not other_cities:
        raise StationNotInReach("this station's published plan does not take vehicles of other cities")


def check_station_inspects(vehicle_kinds: Iterable[str], vehicle_kind: str) -> None:
    """VH-14: a station inspects the vehicle kinds of its filed plan only."""
    if vehicle_kind not in vehicle_kinds:
        raise KindNotInspected(f"the station does not inspect {vehicle_kind}")


def check_station_change(current: str, target: str) -> None:
    """VH-14: a station that stopped service (closed) does not reopen or suspend; a new one is filed."""
    if current == "closed" and target != "closed":
        raise StationClosed("a closed station does not reopen; file a new one")


def check_cancellable(slot_day: date, today: date) -> None:
    """VH-13: a booking is cancelled before the inspection day, not on it or after."""
    if today >= slot_day:
        raise NotBeforeInspectionDay("a booking can be cancelled only before the inspection day")
