"""VH-12: temporary plates by car dealers."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import date, datetime, timedelta

from servicekit.clock import SHANGHAI
from servicekit.refusal import refusal
from vehicle_service.domain.applications import ban_until
from vehicle_service.domain.records import add_months

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
