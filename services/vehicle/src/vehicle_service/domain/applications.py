"""VH-02..VH-10: reissue and replacement applications, from intake to archive."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Literal

from servicekit.clock import SHANGHAI
from servicekit.refusal import refusal
from vehicle_service.domain.records import VehicleBlocked, WrongState, add_months, check_reissue_allowed

AlreadySettled = refusal("ALREADY_SETTLED", "VH-10")

NothingToDestroy = refusal("NOTHING_TO_DESTROY", "VH-10")

PickupNotYetMissed = refusal("PICKUP_NOT_YET_MISSED", "VH-07")

DamagedItemNotReturned = refusal("DAMAGED_ITEM_NOT_RETURNED", "VH-06")

InsurancePhotoNotChecked = refusal("INSURANCE_PHOTO_NOT_CHECKED", "VH-09", 422)


ReasonRequired = refusal("REASON_REQUIRED", "VH-09", 422)


InsurancePhotoMissing = refusal("INSURANCE_PHOTO_MISSING", "VH-09", 422)

InsuranceNotValid = refusal("INSURANCE_NOT_VALID", "VH-09")

InspectionNotPassed = refusal("INSPECTION_NOT_VALID", "VH-09")

MailNotAllowed = refusal("SECOND_PLATE_REISSUE_NOT_BY_MAIL", "VH-05", 422)

LicencePhotoMissing = refusal("LICENCE_PHOTO_MISSING", "VH-04")

PlateKindNotOnline = refusal("PLATE_KIND_NOT_ONLINE", "VH-08", 422)

DeliveryBanned = refusal("DELIVERY_BAN", "VH-07")

VehicleNotBound = refusal("VEHICLE_NOT_BOUND", "VH-13")

CounterUsersOnly = refusal("COUNTER_REGISTERED_USERS_ONLY", "VH-02")
ApplicationOpen = refusal("APPLICATION_OPEN", "VH-02")


# --- VH-02..VH-10: reissue and replacement ---------------------------------------------------------

Item = Literal["plate", "licence", "mark"]
Kind = Literal["reissue", "replace"]
Delivery = Literal["mail", "pickup"]

# The application's life. A mark's application is a `draft` until its insurance certificate's image is
# stored with it (VH-09, AR-01) and the citizen submits it; the others are `submitted` at once. `accepted`
# is the intake (VH-09), `produced` the office made the items, then mailed -> delivered | refused, or ready
# (for pickup) -> picked_up | not_collected; rejected at intake; `withdrawn` (退办) by the archive when a
# refused or missed case was not yet archived (VH-10).
APPLICATION_STATES: tuple[str, ...] = (
    "draft",
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
# VH-09 / AR-01: the one scan an application keeps, a mark's compulsory insurance certificate (an image or
# the insurer's PDF), stored with the application as a document of this kind.
INSURANCE_CERTIFICATE = "insurance_certificate"

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
    ban_until: date | None,
    today: date,
    online_plate_kinds: frozenset[str] = ONLINE_PLATE_KINDS,
) -> None:
    """VH-02..VH-09 as the citizen applies, in the order the office checks them, each with its rule:
    VH-02 counter-registered users only, for a vehicle bound to their account (绑定在本人名下, ADR 0044);
    VH-07 no online reissue during a ban; VH-03 blocking states; VH-08 plate kinds offered online;
    VH-04 licence only with a stored photo; VH-05 a second or later plate reissue is not mailed;
    VH-09 a mark only with inspection passed and insurance valid (its photo: `check_insurance_photo`, when
    the draft is submitted).
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


def first_state(item: str) -> str:
    """VH-09 / AR-01: a mark's application waits as a draft for its insurance certificate's image, stored
    with it before it is submitted; a plate's or licence's needs no scan and is submitted at once."""
    return "draft" if item == "mark" else "submitted"


def check_insurance_photo(item: str, stored: bool) -> None:
    """VH-09: a mark is applied for with the image of the compulsory insurance certificate, stored with
    the application (AR-01)."""
    if item == "mark" and not stored:
        raise InsurancePhotoMissing(
            "an inspection mark needs the insurance certificate's image: store it with the application first"
        )


def check_draft(state: str) -> None:
    """VH-09 / AR-01: the applicant stores the insurance image and submits only while the application is
    a draft; after that the office has it."""
    if state != "draft":
        raise WrongState(
            f"an application that is {state} is no longer a draft", rule="VH-09", extra={"state": state}
        )


# Where each state may go, and who moves it (VH-09, VH-10).
TRANSITIONS: Mapping[str, frozenset[str]] = {
    "draft": frozenset({"submitted"}),
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
