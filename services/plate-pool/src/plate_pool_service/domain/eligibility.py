"""Who may pre-select for which car: a new small car (PP-01) its caller owns (PP-01), one selection per
vehicle (PP-02), a non-local owner's residence permit and the purchase invoice (PP-03), no ban (PP-09).
"""

from __future__ import annotations

import base64
import binascii
from datetime import date
from typing import Any

from servicekit.refusal import refusal
from servicekit.vocabulary import IdKind

VehicleNotEligible = refusal("VEHICLE_NOT_ELIGIBLE", "PP-01", 422)
OwnerNotCaller = refusal("OWNER_NOT_CALLER", "PP-01", 422)
VehicleAlreadyRegistered = refusal("VEHICLE_ALREADY_REGISTERED", "PP-01")
VehicleAlreadySelected = refusal("VEHICLE_ALREADY_SELECTED", "PP-02")
PreviousSelectionNotRegistered = refusal("PREVIOUS_SELECTION_NOT_REGISTERED", "PP-02")
ResidencePermitRequired = refusal("RESIDENCE_PERMIT_REQUIRED", "PP-03", 422)
ResidencePermitExpired = refusal("RESIDENCE_PERMIT_EXPIRED", "PP-03", 422)
InvoicePhotoInvalid = refusal("INVOICE_PHOTO_INVALID", "PP-03", 422)
InvoicePhotoTooLarge = refusal("INVOICE_PHOTO_TOO_LARGE", "PP-03", 422)
InvoiceDateInvalid = refusal("INVOICE_DATE_INVALID", "PP-03", 422)
PreselectionBanned = refusal("PRESELECTION_BANNED", "PP-09")


def check_vehicle_kind(vehicle_kind: str) -> None:
    """PP-01: only new small passenger cars (小型汽车); no second-hand cars, no official plates."""
    if vehicle_kind != "small_car":
        raise VehicleNotEligible("only new small passenger cars (小型汽车) are pre-selected online")


def check_owner_is_caller(
    owner_id_kind: IdKind, owner_id_number: str, caller_id_number: str | None, is_unit: bool
) -> None:
    """PP-01: people pre-select for a car they own themselves, units for a car the unit owns (the unit's
    token names it by its credit code, ADR 0012). A caller whose token carries no identity number (not
    verified) cannot pre-select at all."""
    kind: IdKind = "uscc" if is_unit else "resident_id"
    if caller_id_number is None or owner_id_kind != kind or owner_id_number != caller_id_number:
        raise OwnerNotCaller(
            "a unit pre-selects only for a car the unit itself owns"
            if is_unit
            else "personal users pre-select only for a car they own themselves"
        )


def is_local(id_kind: IdKind, id_number: str, office_code: str) -> bool:
    """PP-03: a resident ID issued in the office's city (same first 4 digits) is local; units are local."""
    if id_kind != "resident_id":
        return True
    return id_number[:4] == office_code[:4]


def check_residence_permit(local: bool, permit: dict[str, Any] | None, today: date) -> None:
    """PP-03: a non-local resident needs a residence permit valid today."""
    if local:
        return
    if not permit:
        raise ResidencePermitRequired("a non-local owner needs a valid residence permit")
    valid_until = permit.get("valid_until")
    if not isinstance(valid_until, date) or valid_until < today:
        raise ResidencePermitExpired("the residence permit is not valid")


_JPEG = b"\xff\xd8\xff"
_PNG = b"\x89PNG\r\n\x1a\n"
MAX_PHOTO_BYTES = 5 * 1024 * 1024


def decode_invoice_photo(photo_b64: str) -> tuple[bytes, str]:
    """PP-03: the invoice photo, a JPEG or PNG of at most 5 MB."""
    try:
        raw = base64.b64decode(photo_b64, validate=True)
    except (binascii.Error, ValueError):
        raise InvoicePhotoInvalid("the invoice photo is not base64") from None
    if len(raw) > MAX_PHOTO_BYTES:
        raise InvoicePhotoTooLarge("the invoice photo is over 5 MB")
    if raw.startswith(_JPEG):
        return raw, "image/jpeg"
    if raw.startswith(_PNG):
        return raw, "image/png"
    raise InvoicePhotoInvalid("the invoice photo must be a JPEG or PNG")


def check_invoice_date(invoice_date: date, today: date) -> None:
    """PP-01/PP-03: a new car's purchase invoice is dated, and not in the future."""
    if invoice_date > today:
        raise InvoiceDateInvalid("the invoice date is in the future")
