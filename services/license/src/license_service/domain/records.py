"""DL-01: the licence record, its states and police moves as a table, the record's checks; DL-05: the photo's
expiry.
"""

from __future__ import annotations

from datetime import date, timedelta
from typing import Literal, get_args

from license_service.domain.dates import months_before
from servicekit.refusal import refusal

# --- DL-01: the record ------------------------------------------------------------------------------

# 准驾车型 of 《机动车驾驶证申领和使用规定》 (C6, light trailer, since the 2021 revision).
LicenceClass = Literal[
    "A1", "A2", "A3", "B1", "B2", "C1", "C2", "C3", "C4", "C5", "C6", "D", "E", "F", "M", "N", "P"
]
LICENCE_CLASSES: tuple[LicenceClass, ...] = get_args(LicenceClass)

# The states the platform acts on. Other police systems move a record (issue, seizure, revocation,
# cancellation); the platform moves it on points (DL-12) and on renewal (DL-07).
LicenceState = Literal["valid", "full_points", "suspended", "revoked", "cancelled"]
LICENCE_STATES: tuple[LicenceState, ...] = get_args(LicenceState)
RecordAction = Literal["reach_full_points", "clear_full_points", "suspend", "restore", "revoke", "cancel"]

RECORD_MOVES: dict[tuple[LicenceState, RecordAction], LicenceState] = {
    ("valid", "reach_full_points"): "full_points",
    ("full_points", "clear_full_points"): "valid",
    ("valid", "suspend"): "suspended",  # 暂扣
    ("full_points", "suspend"): "suspended",
    ("suspended", "restore"): "valid",
    ("valid", "revoke"): "revoked",  # 吊销
    ("full_points", "revoke"): "revoked",
    ("suspended", "revoke"): "revoked",
    ("valid", "cancel"): "cancelled",  # 注销: DL-13, identity unbinds on the event
    ("full_points", "cancel"): "cancelled",
    ("suspended", "cancel"): "cancelled",
    ("revoked", "cancel"): "cancelled",
}

WrongRecordState = refusal("LICENCE_STATE_DOES_NOT_ALLOW", "DL-01")
InvalidRecord = refusal("INVALID_LICENCE_RECORD", "DL-01", 422)
LicenceExists = refusal("LICENCE_EXISTS", "DL-01")

# What other police systems do to a record through the `system` API (DL-01): seizure and its end, revocation,
# cancellation (DL-13). Full points come and go with DL-12's points, never from outside.
PoliceAction = Literal["suspend", "restore", "revoke", "cancel"]
POLICE_ACTIONS: tuple[PoliceAction, ...] = get_args(PoliceAction)
# The states a record may come onto the platform in by bulk import: issued valid, then moved. A cancelled
# licence has no business on the platform; full points follow the points, which the platform counts.
IMPORT_MOVES: dict[LicenceState, RecordAction | None] = {
    "valid": None,
    "suspended": "suspend",
    "revoked": "revoke",
}


def record_faults(
    *,
    birth_date: date,
    classes: frozenset[str],
    first_issue: date,
    valid_from: date,
    valid_until: date,
) -> list[tuple[str, str]]:
    """DL-01: what is wrong with a record a police system states, field by field (empty when nothing is):
    at least one known permitted class; first issued after the holder's birth and no later than the
    current card's valid-from, which comes before its valid-until."""
    faults: list[tuple[str, str]] = []
    unknown = sorted(classes - set(LICENCE_CLASSES))
    if not classes:
        faults.append(("classes", "at least one permitted class (准驾车型)"))
    elif unknown:
        faults.append(("classes", f"unknown permitted class {', '.join(unknown)}"))
    if first_issue <= birth_date:
        faults.append(("first_issue", "before the holder was born"))
    if first_issue > valid_from:
        faults.append(("first_issue", "after valid_from: the first issue comes before the current card"))
    if valid_until <= valid_from:
        faults.append(("valid_until", "not after valid_from"))
    return faults


def check_record(
    *,
    birth_date: date,
    classes: frozenset[str],
    first_issue: date,
    valid_from: date,
    valid_until: date,
) -> None:
    """DL-01: refuse (422) a record with any of `record_faults`, naming every bad field."""
    faults = record_faults(
        birth_date=birth_date,
        classes=classes,
        first_issue=first_issue,
        valid_from=valid_from,
        valid_until=valid_until,
    )
    if faults:
        raise InvalidRecord(
            "; ".join(f"{field}: {reason}" for field, reason in faults),
            extra={"errors": [{"field": field, "message": reason} for field, reason in faults]},
        )


def move_record(state: LicenceState, action: RecordAction) -> LicenceState:
    """DL-01: the record's next state, or a refusal naming the state it is in."""
    nxt = RECORD_MOVES.get((state, action))
    if nxt is None:
        raise WrongRecordState(f"a {state} licence cannot {action.replace('_', ' ')}", extra={"state": state})
    return nxt


# --- DL-05: the licence photo --------------------------------------------------------------------


def photo_valid_until(approved_on: date, months: int) -> date:
    """DL-05: the last day an approved licence photo is current: `months` after the review post stored it
    (ID-15). The seed names the expiry (超过有效期) without its length; the service's setting gives it."""
    return months_before(approved_on, -months) - timedelta(days=1)
