"""The vehicle rules: pure functions and small values, no I/O; each rule's ID in its docstring.

The time always comes in as an argument (the unit of work's `now`, read once from the platform clock).
"""

from __future__ import annotations

import calendar
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Literal

from servicekit import vocabulary
from servicekit.clock import SHANGHAI
from servicekit.refusal import refusal


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


VehicleBlocked = refusal("VEHICLE_STATE_BLOCKS", "VH-03")
LicencePhotoMissing = refusal("LICENCE_PHOTO_MISSING", "VH-04")
MailNotAllowed = refusal("SECOND_PLATE_REISSUE_NOT_BY_MAIL", "VH-05", 422)
DeliveryBanned = refusal("DELIVERY_BAN", "VH-07")
CounterUsersOnly = refusal("COUNTER_REGISTERED_USERS_ONLY", "VH-02")
PlateKindNotOnline = refusal("PLATE_KIND_NOT_ONLINE", "VH-08", 422)
InspectionNotPassed = refusal("INSPECTION_NOT_VALID", "VH-09")
InsuranceNotValid = refusal("INSURANCE_NOT_VALID", "VH-09")
InsurancePhotoMissing = refusal("INSURANCE_PHOTO_MISSING", "VH-09", 422)
InspectionBlocked = refusal("VEHICLE_STATE_BLOCKS_INSPECTION", "VH-13")
VehicleNotBound = refusal("VEHICLE_NOT_BOUND", "VH-13")
OutsideInspectionWindow = refusal("OUTSIDE_INSPECTION_WINDOW", "VH-13")
StationNotInReach = refusal("STATION_NOT_IN_PLAN", "VH-13")
NotBeforeInspectionDay = refusal("CANCEL_ONLY_BEFORE_INSPECTION_DAY", "VH-13")
StationNotOpen = refusal("STATION_NOT_TAKING_BOOKINGS", "VH-14")
SlotFull = refusal("SLOT_FULL", "VH-14")
AlreadyBooked = refusal("ALREADY_BOOKED", "VH-13")
KindNotInspected = refusal("STATION_DOES_NOT_INSPECT_THIS_KIND", "VH-14", 422)
PlanAlreadyPublished = refusal("PLAN_ALREADY_PUBLISHED", "VH-14")
PlanOverlaps = refusal("PLAN_OVERLAPS", "VH-14")
StationClosed = refusal("STATION_CLOSED", "VH-14")
ApplicationOpen = refusal("APPLICATION_OPEN", "VH-02")
InsurancePhotoNotChecked = refusal("INSURANCE_PHOTO_NOT_CHECKED", "VH-09", 422)
ReasonRequired = refusal("REASON_REQUIRED", "VH-09", 422)
DamagedItemNotReturned = refusal("DAMAGED_ITEM_NOT_RETURNED", "VH-06")
PickupNotYetMissed = refusal("PICKUP_NOT_YET_MISSED", "VH-07")
NothingToDestroy = refusal("NOTHING_TO_DESTROY", "VH-10")
AlreadySettled = refusal("ALREADY_SETTLED", "VH-10")
SameOwner = refusal("SAME_OWNER", "VH-16")
WrongState = refusal("WRONG_STATE", "VH-01")


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


# --- VH-02..VH-10: reissue and replacement ---------------------------------------------------------

Item = Literal["plate", "licence", "mark"]
Kind = Literal["reissue", "replace"]
Delivery = Literal["mail", "pickup"]

# The application's life. `accepted` is the intake (VH-09), `produced` the office made the items, then
# mailed -> delivered | refused, or ready (for pickup) -> picked_up | not_collected; rejected at intake;
# `withdrawn` (退办) by the archive when a refused or missed case was not yet archived (VH-10).
APPLICATION_STATES: tuple[str, ...] = (
    "submitted",
    "accepted",
    "rejected",
    "produced",
    "mailed",
    "ready",
    "delivered",
    "picked_up",
    "refused",
    "not_collected",
    "withdrawn",
)
OPEN_APPLICATION_STATES: frozenset[str] = frozenset({"submitted", "accepted", "produced", "mailed", "ready"})

# VH-08: the plate kinds an office lets citizens reissue online (default: the ordinary small and large
# plates and their new-energy forms). An office setting; the default serves every office here.
ONLINE_PLATE_KINDS: frozenset[str] = frozenset({"01", "02", "51", "52"})


@dataclass(frozen=True)
class VehicleFacts:
    """What the reissue rules read from the vehicle record."""

    plate_kind: str
    state: str
    flags: tuple[str, ...]
    licence_photo_stored: bool
    plate_reissue_count: int
    inspection_valid_until: date | None
    insurance_valid_until: date | None


def check_application(
    vehicle: VehicleFacts,
    *,
    channel: str,
    bound: bool,
    item: str,
    delivery: str,
    insurance_photo_ref: str | None,
    ban_until: date | None,
    today: date,
    online_plate_kinds: frozenset[str] = ONLINE_PLATE_KINDS,
) -> None:
    """VH-02..VH-09 as the citizen applies, in the order the office checks them, each with its rule:
    VH-02 counter-registered users only, for a vehicle bound to their account (绑定在本人名下, ADR 0044);
    VH-07 no online reissue during a ban; VH-03 blocking states; VH-08 plate kinds offered online;
    VH-04 licence only with a stored photo; VH-05 a second or later plate reissue is not mailed;
    VH-09 a mark only with inspection passed, insurance valid and its photo.
    """
    if channel != "counter":
        raise CounterUsersOnly("reissue and replacement are for users registered at a counter")
    if not bound:
        raise VehicleNotBound(
            "bind the vehicle to your account first (in identity), then apply", rule="VH-02"
        )
    if ban_until is not None and today <= ban_until:
        raise DeliveryBanned(
            f"online reissue and replacement are barred until {ban_until.isoformat()}",
            extra={"until": ban_until.isoformat()},
        )
    check_reissue_allowed(vehicle.state, vehicle.flags)
    if item == "plate" and vehicle.plate_kind not in online_plate_kinds:
        raise PlateKindNotOnline(f"plates of kind {vehicle.plate_kind} are reissued at the counter only")
    if item == "licence" and not vehicle.licence_photo_stored:
        raise LicencePhotoMissing("no vehicle licence photo is stored for this vehicle")
    if item == "plate" and delivery == "mail" and vehicle.plate_reissue_count >= 1:
        raise MailNotAllowed("a second or later plate reissue of a vehicle is collected in person")
    if item == "mark":
        if vehicle.inspection_valid_until is None or vehicle.inspection_valid_until < today:
            raise InspectionNotPassed("the vehicle has no valid inspection")
        if vehicle.insurance_valid_until is None or vehicle.insurance_valid_until < today:
            raise InsuranceNotValid("the compulsory insurance is not valid")
        if not insurance_photo_ref:
            raise InsurancePhotoMissing("an inspection mark needs a photo of the insurance certificate")


# Where each state may go, and who moves it (VH-09, VH-10).
TRANSITIONS: Mapping[str, frozenset[str]] = {
    "submitted": frozenset({"accepted", "rejected"}),
    "accepted": frozenset({"produced"}),
    "produced": frozenset({"mailed", "ready"}),
    "mailed": frozenset({"delivered", "refused"}),
    "ready": frozenset({"picked_up", "not_collected"}),
    "refused": frozenset({"withdrawn"}),
    "not_collected": frozenset({"withdrawn"}),
}


def check_transition(current: str, target: str) -> None:
    """VH-09: the office's steps in order; anything else is a 409."""
    if target not in TRANSITIONS.get(current, frozenset()):
        raise WrongState(f"an application that is {current} cannot become {target}", extra={"state": current})


def pickup_due(ready_at: datetime) -> datetime:
    """VH-07: items not picked up within one month of being ready (calendar month, Shanghai time)."""
    local = ready_at.astimezone(SHANGHAI)
    day = add_months(local.date(), 1)
    return datetime.combine(day, local.timetz())


def decide_intake(
    decision: str,
    *,
    item: str,
    reason: str | None,
    insurance_photo_valid: bool | None,
    state: str,
    flags: Iterable[str],
) -> tuple[str, str | None]:
    """VH-09: the intake post's decision, as (target state, reason). A rejection states its reason; an
    acceptance re-checks the VH-03 states (a vehicle blocked since the application is rejected with that
    reason) and, for a mark, needs the insurance certificate's photo declared valid."""
    if decision != "accept":
        if not reason:
            raise ReasonRequired("a rejection states its reason")
        return "rejected", reason
    try:
        check_reissue_allowed(state, flags)
    except VehicleBlocked as exc:
        return "rejected", str(exc)
    if item == "mark" and insurance_photo_valid is not True:
        raise InsurancePhotoNotChecked("state whether the insurance photo is valid")
    return "accepted", reason


def check_handoff(state: str) -> None:
    """VH-09: only produced items are mailed or made ready."""
    if state != "produced":
        raise WrongState(f"an application that is {state} cannot be handed off", extra={"state": state})


def collects_damaged_item(kind: str, item: str) -> bool:
    """VH-06: a replaced plate or licence is handed back (to the postman or the counter); a mark is not."""
    return kind == "replace" and item != "mark"


def check_pickup(kind: str, item: str, damaged_item_returned: bool) -> None:
    """VH-06: for a replaced plate or licence the damaged one is handed to the counter at pickup."""
    if collects_damaged_item(kind, item) and not damaged_item_returned:
        raise DamagedItemNotReturned("the damaged item is handed over at pickup")


def check_pickup_missed(state: str, due: datetime | None, now: datetime) -> None:
    """VH-07: a pickup is missed once its month has passed."""
    if state == "ready" and due is not None and now <= due:
        raise PickupNotYetMissed("the month for pickup has not passed", extra={"pickup_due": due.isoformat()})


ArchiveStep = Literal["file", "destroy_returned", "restore_core_number", "withdraw"]


def archive_step(
    action: str,
    *,
    state: str,
    archived: bool,
    returned_item_received: bool,
    returned_item_destroyed: bool,
    core_number_restored: bool,
) -> ArchiveStep:
    """VH-10: what the archive post's action does to a case: `file` an eligible case (intake passed);
    `destroy_returned` the damaged item handed back; `settle` a refused or missed case, restoring the
    certificate core number when it was filed, otherwise withdrawing the case (退办)."""
    if action == "file":
        if state in ("submitted", "rejected", "withdrawn") or archived:
            raise WrongState(f"an application that is {state} is not filed", extra={"state": state})
        return "file"
    if action == "destroy_returned":
        if not returned_item_received or returned_item_destroyed:
            raise NothingToDestroy("no returned item is waiting for destruction")
        return "destroy_returned"
    if state not in ("refused", "not_collected"):
        raise WrongState("only refused or missed cases are settled", extra={"state": state})
    if not archived:
        return "withdraw"
    if core_number_restored:
        raise AlreadySettled("the core number is restored")
    return "restore_core_number"


def ban_until(imposed_at: datetime) -> date:
    """VH-07: one year from the refusal or missed pickup; the last barred day is the day before the
    anniversary (a ban imposed on 2027-03-10 ends after 2028-03-09)."""
    local = imposed_at.astimezone(SHANGHAI).date()
    return add_months(local, 12) - timedelta(days=1)


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


# --- VH-12: temporary plates by car dealers --------------------------------------------------------

DEALER_DOCUMENTS: tuple[str, ...] = (
    "organisation_certificate",
    "power_of_attorney",
    "agent_identity",
    "brand_model_list",
    "sales_authorisation",
)
TEMP_PLATE_DAYS = 15  # a temporary plate for driving a new car to registration: at most 15 days
REPEATED = 3  # "多次": from the third mismatch or damaged batch the dealer must explain itself

DealerBarred = refusal("DEALER_REAPPLY_BARRED", "VH-12")
DealerDocumentsMissing = refusal("DEALER_DOCUMENTS_MISSING", "VH-12", 422)
RenewalOutsideWindow = refusal("RENEWAL_OUTSIDE_LAST_MONTH", "VH-12")
DealerNotActive = refusal("DEALER_NOT_ACTIVE", "VH-12")
BrandNotAuthorised = refusal("BRAND_NOT_AUTHORISED", "VH-12", 422)
NoBlanksLeft = refusal("NO_BLANK_TEMP_PLATES", "VH-12")
QuotaExceeded = refusal("ABOVE_COLLECTION_QUOTA", "VH-12", 422)
DamagedCountWrong = refusal("DAMAGED_BLANKS_COUNT_WRONG", "VH-12", 422)
DealerAlreadyQualified = refusal("DEALER_ALREADY_QUALIFIED", "VH-12")
DealerAlreadyCancelled = refusal("DEALER_ALREADY_CANCELLED", "VH-12")
AlreadyChecked = refusal("ALREADY_CHECKED", "VH-12")


def check_dealer_documents(documents: Mapping[str, str]) -> None:
    """VH-12: the qualification (and its yearly review) needs the organisation certificate, the power of
    attorney, the agent's identity, the brand/model list and the sales authorisation."""
    missing = [d for d in DEALER_DOCUMENTS if not documents.get(d)]
    if missing:
        raise DealerDocumentsMissing(f"missing documents: {', '.join(missing)}", extra={"missing": missing})


def check_reapply_bar(last_cancelled_at: datetime | None, now: datetime) -> None:
    """VH-12: a dealer whose qualification was cancelled may not apply again for one year."""
    if last_cancelled_at is None:
        return
    until = ban_until(last_cancelled_at)
    if now.astimezone(SHANGHAI).date() <= until:
        raise DealerBarred(
            f"a cancelled dealer may apply again after {until.isoformat()}",
            extra={"until": until.isoformat()},
        )


def qualification_until(start: date) -> date:
    """VH-12: a qualification is valid one year (through the day before the anniversary)."""
    return add_months(start, 12) - timedelta(days=1)


def check_renewal_window(valid_until: date, today: date) -> None:
    """VH-12: the yearly review happens in the last month before the qualification ends."""
    opens = add_months(valid_until, -1)
    if today < opens or today > valid_until:
        raise RenewalOutsideWindow(
            f"the review is done between {opens.isoformat()} and {valid_until.isoformat()}",
            extra={"opens_on": opens.isoformat()},
        )


def is_authorised(authorised: Iterable[str], brand: str, model: str) -> bool:
    """VH-12: an entry "品牌" authorises every model of the brand; "品牌/型号" that model only."""
    for entry in authorised:
        b, _, m = entry.partition("/")
        if b.strip() == brand.strip() and (not m or m.strip() == model.strip()):
            return True
    return False


def check_dealer_can_issue(state: str, valid_until: date, today: date) -> None:
    if state != "active":
        raise DealerNotActive(f"the qualification is {state}", extra={"state": state})
    if today > valid_until:
        raise DealerNotActive(
            "the qualification has expired; the yearly review was missed", extra={"state": "expired"}
        )


def check_collection(quantity: int, damaged_returned: int, *, quota: int, damaged_outstanding: int) -> None:
    """VH-12: blanks go out within the dealer's quota per collection, and every damaged blank reported since
    the last collection comes back (to be destroyed) first."""
    if quantity > quota:
        raise QuotaExceeded(f"at most {quota} blanks per collection", extra={"quota": quota})
    if damaged_returned != damaged_outstanding:
        raise DamagedCountWrong(
            f"{damaged_outstanding} damaged blanks are due back", extra={"due": damaged_outstanding}
        )
