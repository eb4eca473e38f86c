"""ID-02 to ID-05, ID-07, ID-09 to ID-11: online and counter registration, new-car owners' deadlines."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Literal

from identity_service.domain.accounts import DISQUALIFICATIONS
from servicekit.refusal import refusal
from servicekit.workdays import WorkdayCalendar

# --- online registration (ID-02 to ID-05) -----------------------------------------------------------


@dataclass(frozen=True)
class RegistryPerson:
    """A person as the population registry (人口信息库) records them."""

    id_number: str
    name: str
    sex: str
    birth_date: date
    status: str
    disqualifications: tuple[str, ...] = ()


@dataclass(frozen=True)
class PersonRecord:
    """One line of the ID-03 projection: a vehicle, licence or licence application of an identity number."""

    record_kind: str
    ref: str
    id_number: str
    phone: str | None
    state: str
    use: str | None = None


LIVE_VEHICLE_STATES = frozenset({"registered", "normal"})
# A licence its holder still holds, in license's words (DL-01): valid, at full points (DL-12) or seized
# for a while (暂扣); not once revoked (吊销) or cancelled (注销). "normal" is the old system feed's word.
LIVE_LICENCE_STATES = frozenset({"valid", "full_points", "suspended", "normal"})
ACCEPTED_APPLICATION_STATES = frozenset({"accepted", "in_exam"})

NotInRegistry = refusal("IDENTITY_NOT_VERIFIED", "ID-02", 422)
PersonDeceased = refusal("PERSON_DECEASED", "ID-16")
NoVehicleOrLicence = refusal("NO_VEHICLE_OR_LICENCE", "ID-03")
PhoneMismatch = refusal("PHONE_MISMATCH", "ID-03")
NoAcceptedApplication = refusal("NO_ACCEPTED_LICENCE_APPLICATION", "ID-04")
UnitOnlineRegistration = refusal("UNIT_REGISTERS_AT_COUNTER", "ID-02", 422)
AccountExists = refusal("ACCOUNT_EXISTS", "ID-01")
RegistryUnavailable = refusal("REGISTRY_UNAVAILABLE", "ID-09", 503)
UnknownAccountKind = refusal("UNKNOWN_ACCOUNT_KIND", "ID-01", 422)


def check_registry_match(person: RegistryPerson | None, id_number: str, name: str) -> RegistryPerson:
    """ID-02 (online channel) and ID-09: the identity number and name must be a living person of the
    population registry. The detail never says which of the two did not match."""
    if person is None or person.name != name.strip():
        raise NotInRegistry(
            "the identity number and name do not match the population registry; "
            "check them, or register at a vehicle registration office counter"
        )
    if person.status == "deceased":
        raise PersonDeceased("the population registry records this person as deceased")
    return person


def check_online_eligibility(kind: str, phone: str, records: Sequence[PersonRecord]) -> None:
    """ID-03: an owner/driver registers online only with a vehicle owned or a licence held, and the phone
    given must be the one on that vehicle or licence record. ID-04: a learner only once an initial licence
    application was accepted. ID-05: a new-car owner needs neither (the car is not registered yet)."""
    if kind == "owner_driver":
        live = [
            r
            for r in records
            if (r.record_kind == "vehicle" and r.state in LIVE_VEHICLE_STATES)
            or (r.record_kind == "licence" and r.state in LIVE_LICENCE_STATES)
        ]
        if not live:
            raise NoVehicleOrLicence(
                "no vehicle or driving licence is recorded for this identity number, so online registration "
                "as an owner or driver is not possible; register at a vehicle registration office counter"
            )
        if all(r.phone != phone for r in live):
            raise PhoneMismatch(
                "the phone given is not the phone recorded on your vehicle or driving licence; use that "
                "phone, or have the phone updated at a vehicle registration office counter"
            )
    elif kind == "learner" and not any(
        r.record_kind == "licence_application" and r.state in ACCEPTED_APPLICATION_STATES for r in records
    ):
        raise NoAcceptedApplication(
            "no accepted initial driving-licence application is recorded for this identity number; "
            "learners register online once the driving school's application has been accepted"
        )


# --- new-car owners (ID-05) and kind conversions (ID-07) ---------------------------------------------

PRESELECT_WITHIN = timedelta(hours=24)
REGISTER_WITHIN_WORKING_DAYS = 3


def new_car_owner_overdue(
    kind: str,
    created_at: datetime,
    plate_selected_at: datetime | None,
    register_by: datetime | None,
    now: datetime,
) -> str | None:
    """ID-05: a new-car owner is cancelled by force when no plate was pre-selected within 24 hours of
    registration, or a pre-selected plate was not registered within 3 working days. Returns the reason."""
    if kind != "new_car_owner":
        return None
    if plate_selected_at is None:
        return "no_preselection_within_24h" if now > created_at + PRESELECT_WITHIN else None
    if register_by is not None and now > register_by:
        return "not_registered_within_3_working_days"
    return None


def register_by_for(selected_at: datetime, calendar: WorkdayCalendar) -> datetime:
    """ID-05 / WD-01: the end of the 3rd working day after the pre-selection."""
    return calendar.deadline_end_of_working_day(selected_at, REGISTER_WITHIN_WORKING_DAYS)


def converted_kind(kind: str, event: Literal["licence_issued", "vehicle_registered"]) -> str:
    """ID-07: a learner becomes a driver user at the first licence and an owner user when a new car is
    registered; a new-car owner becomes an owner user at registration and a driver user at a first
    licence. Both are the platform's owner-or-driver kind. Others keep their kind."""
    if kind in ("learner", "new_car_owner"):
        return "owner_driver"
    return kind


# --- counter registration (ID-09 to ID-11) --------------------------------------------------------

REVIEW_WITHIN_WORKING_DAYS = 1
Disqualified = refusal("DISQUALIFYING_CONDITION", "ID-10")
WrongStage = refusal("WRONG_STAGE", "ID-09")
MissingScans = refusal("MISSING_SCANS", "ID-09", 422)
MissingOriginals = refusal("MISSING_ORIGINALS", "ID-09", 422)
RegistryCheckPending = refusal("REGISTRY_CHECK_PENDING", "ID-09")
UnitDetailsRequired = refusal("UNIT_DETAILS_REQUIRED", "ID-11", 422)
InvalidCreditCode = refusal("INVALID_CREDIT_CODE", "ID-11", 422)

PERSONAL_SCANS = frozenset({"onsite_photo", "registration_form", "identity_document"})
UNIT_SCANS = frozenset(
    {
        "onsite_photo",
        "registration_form",
        "organisation_certificate",
        "power_of_attorney",
        "agent_identity_document",
    }
)
# What the archive post files: ID-09 (personal) and ID-11 (unit).
PERSONAL_ORIGINALS = frozenset({"registration_form_original", "identity_document_copy"})
UNIT_ORIGINALS = frozenset(
    {
        "registration_form_original",
        "organisation_certificate_copy",
        "power_of_attorney_original",
        "agent_identity_document_copy",
    }
)


def check_disqualifications(person: RegistryPerson) -> None:
    """ID-10: intake refuses a person with a disqualifying condition of the licence regulation's article 12
    (items 3, 4 and 9) recorded in the police information system."""
    found = [d for d in person.disqualifications if d in DISQUALIFICATIONS]
    if found:
        raise Disqualified(
            "the police information system records a disqualifying condition: "
            + "; ".join(DISQUALIFICATIONS[d] for d in found)
        )


def scan_kinds(category: str) -> frozenset[str]:
    """ID-09 / ID-11: the on-site photo and the scans intake enters for a person or a unit."""
    return PERSONAL_SCANS if category == "personal" else UNIT_SCANS


def check_scans(category: str, scans: Iterable[str]) -> None:
    """ID-09 / ID-11: the on-site photo and the scans intake must enter (stored with the case, AR-01)."""
    needed = scan_kinds(category)
    missing = sorted(needed - set(scans))
    if missing:
        raise MissingScans(f"missing scans: {', '.join(missing)}")


def check_originals(category: str, filed: Iterable[str]) -> None:
    """ID-09 / ID-11: what the archive post binds and files."""
    needed = PERSONAL_ORIGINALS if category == "personal" else UNIT_ORIGINALS
    missing = sorted(needed - set(filed))
    if missing:
        raise MissingOriginals(f"missing originals to file: {', '.join(missing)}")


def review_deadline(moment: datetime, calendar: WorkdayCalendar) -> datetime:
    """ID-09 / ID-15: the review post acts within 1 working day (WD-01, ADR 0002)."""
    return calendar.deadline_end_of_working_day(moment, REVIEW_WITHIN_WORKING_DAYS)
