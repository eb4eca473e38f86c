"""The identity rules: pure functions, no I/O; each rule's ID in its docstring.

Refusals are servicekit's `Refusal` (kinds named once with `refusal()`), which the web layer answers as
problems without this module importing the web.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Literal

from servicekit.refusal import refusal
from servicekit.workdays import WorkdayCalendar

PERSONAL_KINDS = ("owner_driver", "learner", "new_car_owner")
UNIT_KINDS = ("state_agency", "enterprise", "public_institution", "social_group", "other_organisation")
DELEGATED_UNIT_ROLES = ("dealer", "hospital")
CLERK_ROLES = ("clerk.intake", "clerk.review", "clerk.archive", "clerk.admin")

PersonalKind = Literal["owner_driver", "learner", "new_car_owner"]
Channel = Literal["online", "counter"]

# ID-10: the disqualifying conditions of the licence regulation's article 12 that intake checks.
DISQUALIFICATIONS = {
    "drug_use_unrecovered": "item 3: drug use within 3 years or not recovered from addiction (吸毒)",
    "drug_rehab_in_progress": "item 4: in compulsory drug rehabilitation (正在执行社区戒毒、强制隔离戒毒)",
    "licence_revoked_ban": "item 9: within the ban after a revoked licence (吊销驾驶证未满规定期限)",
}
POPULATION_STATUSES = ("normal", "deceased", "emigrated")


# --- accounts and capabilities (ID-01, ID-07, ID-08) -----------------------------------------------

_OWNER_DRIVER_ONLINE = (
    "bind_own_vehicle",
    "unbind_own_vehicle",
    "bind_own_licence",
    "unbind_own_licence",
    "query_vehicles",
    "query_licence",
    "plate_preselection",
    "inspection_appointment",
    "exam_appointment",
    "handle_camera_violations",
    "pay_fines",
    "change_contact_details",
    "bind_licence_to_unit",
    "unbind_licence_from_unit",
)
# ID-07: counter-registered personal users may use every personal service, reissue/replace included.
_COUNTER_PERSONAL_EXTRA = (
    "bind_other_vehicle_at_counter",
    "reissue_replace_plates",
    "reissue_replace_vehicle_licence",
    "reissue_replace_inspection_mark",
    "reissue_replace_driving_licence",
    "licence_photo_submission",
    "deferrals",
    "licence_renewal",
)
_ACCOUNT_SELF = ("change_password", "change_details", "suspend_account", "cancel_account")
_UNIT = (
    "bind_own_vehicle",
    "unbind_own_vehicle",
    "query_vehicles",
    "query_licences",
    "plate_preselection",
    "inspection_appointment",
)


def capabilities(category: str, kind: str, channel: str, roles: Iterable[str] = ()) -> list[str]:
    """ID-07 (personal kinds by channel) and ID-08 (units, with the police's delegated services): the list
    every client uses to decide what to offer. Staff and system accounts have no citizen services."""
    caps: list[str] = []
    if category == "personal":
        if channel == "counter":
            caps = [*_OWNER_DRIVER_ONLINE, *_COUNTER_PERSONAL_EXTRA]
        elif kind == "owner_driver":
            caps = list(_OWNER_DRIVER_ONLINE)
        elif kind == "learner":
            caps = ["exam_appointment", "plate_preselection"]
        elif kind == "new_car_owner":
            caps = ["plate_preselection"]
        caps += list(_ACCOUNT_SELF)
    elif category == "unit":
        caps = [*_UNIT, "change_password", "change_details"]
        role_set = set(roles)
        if "dealer" in role_set:
            caps.append("temporary_plates")
        if "hospital" in role_set:
            caps.append("medical_certificates")
    return sorted(set(caps))


def roles_for(category: str, delegated: Iterable[str] = ()) -> list[str]:
    if category == "personal":
        return ["citizen"]
    if category == "unit":
        return ["unit", *sorted(set(delegated))]
    return []


# --- passwords -----------------------------------------------------------------------------------

WeakPassword = refusal("WEAK_PASSWORD", "ID-12", 422)
WrongPassword = refusal("WRONG_PASSWORD", "ID-12", 422)

# --- account states (ID-12) -------------------------------------------------------------------------

AccountSuspended = refusal("ACCOUNT_SUSPENDED", "ID-12")
NotSuspended = refusal("NOT_SUSPENDED", "ID-12")
SmsCodeRequired = refusal("SMS_CODE_REQUIRED", "ID-12", 422)


def check_password_strength(password: str) -> None:
    """Practice (the platform's own rule): 8-20 characters with letters and digits."""
    if not 8 <= len(password) <= 20 or not re.search(r"[A-Za-z]", password) or not re.search(r"\d", password):
        raise WeakPassword("the password must be 8-20 characters and contain letters and digits")


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
LIVE_LICENCE_STATES = frozenset({"valid", "normal"})
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


def check_scans(category: str, scans: Iterable[str]) -> None:
    """ID-09 / ID-11: the on-site photo and the scans intake must enter."""
    needed = PERSONAL_SCANS if category == "personal" else UNIT_SCANS
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


# --- the counter posts: a case's stages and the moves between them (ID-09, ID-11, ID-13) -------------

CaseStage = Literal["intake", "review", "archive", "filed", "approved", "rejected"]
CaseAction = Literal["correct", "return", "approve", "reject", "archive"]
# The post (clerk role) whose queue holds a case at each working stage.
POST_OF_STAGE: Mapping[str, str] = {
    "intake": "clerk.intake",
    "review": "clerk.review",
    "archive": "clerk.archive",
}
STAGE_OF_POST: Mapping[str, str] = {post: stage for stage, post in POST_OF_STAGE.items()}
# A filed case stays retrievable by the archive post (AR-01).
READ_POST: Mapping[str, str] = {**POST_OF_STAGE, "filed": "clerk.archive"}
DEADLINE_STAGES = frozenset({"intake", "review"})


@dataclass(frozen=True)
class Move:
    """One step of a case: from `source` to `target`, made by the clerk of `post`."""

    action: CaseAction
    source: CaseStage
    target: CaseStage
    post: str


def _moves(*moves: Move) -> Mapping[CaseAction, Move]:
    return {m.action: m for m in moves}


# ID-09 / ID-11: a counter registration. Intake opens a personal case at review (1 working day) and a
# unit's at archive (its account is made at intake); review returns, approves (the account) or rejects.
REGISTRATION_MOVES: Mapping[CaseAction, Move] = _moves(
    Move("correct", "intake", "review", "clerk.intake"),
    Move("return", "review", "intake", "clerk.review"),
    Move("approve", "review", "archive", "clerk.review"),
    Move("reject", "review", "rejected", "clerk.review"),
    Move("archive", "archive", "filed", "clerk.archive"),
)
# ID-13 / seed §19: a personal counter change. The same intake and review posts and deadline; an approved
# change takes effect at review (the seed files no originals for a change: the scans are its record).
CHANGE_MOVES: Mapping[CaseAction, Move] = _moves(
    Move("correct", "intake", "review", "clerk.intake"),
    Move("return", "review", "intake", "clerk.review"),
    Move("approve", "review", "approved", "clerk.review"),
    Move("reject", "review", "rejected", "clerk.review"),
)


def opening_stage(category: str) -> CaseStage:
    """ID-09 / ID-11: where intake sends a new registration: a person's to review, a unit's to archive."""
    return "archive" if category == "unit" else "review"


def next_move(moves: Mapping[CaseAction, Move], action: CaseAction, stage: str) -> Move:
    """The move `action` makes from `stage`; a case elsewhere is refused (409)."""
    move = moves.get(action)
    if move is None or move.source != stage:
        raise WrongStage(f"a case at {stage} has no {action} step")
    return move


def stage_deadline(stage: str, moment: datetime, calendar: WorkdayCalendar) -> datetime | None:
    """WD-01: the review post's 1 working day from the moment the case reached it; no deadline elsewhere."""
    return review_deadline(moment, calendar) if stage == "review" else None


def is_overdue(stage: str, deadline: datetime | None, now: datetime) -> bool:
    return deadline is not None and now > deadline and stage in DEADLINE_STAGES


# --- bindings (ID-13, ID-14) ------------------------------------------------------------------------

MAX_NON_OWNED_VEHICLES = 3
TooManyNonOwned = refusal("NON_OWNED_VEHICLE_LIMIT", "ID-13")
OwnerDocumentsRequired = refusal("OWNER_DOCUMENTS_REQUIRED", "ID-13", 422)
NotOwnRecord = refusal("NOT_OWN_RECORD", "ID-12")
NotAllowed = refusal("NOT_ALLOWED_FOR_ACCOUNT_KIND", "ID-07")
AlreadyBound = refusal("ALREADY_BOUND", "ID-12")

# --- licence photos (ID-15) ------------------------------------------------------------------------

NotCounterUser = refusal("COUNTER_REGISTRATION_REQUIRED", "ID-12")
PhotoChecksFailed = refusal("PHOTO_CHECKS_FAILED", "ID-15", 422)


def check_non_owned_limit(bound_non_owned: int) -> None:
    """ID-13: a personal user binds at most 3 vehicles that are not theirs (at the counter). The count is
    the live non-owned bindings plus the changes binding one still open at intake or review."""
    if bound_non_owned >= MAX_NON_OWNED_VEHICLES:
        raise TooManyNonOwned(f"at most {MAX_NON_OWNED_VEHICLES} vehicles that are not yours may be bound")


# --- personal counter changes (ID-13, seed §16 and §19) ---------------------------------------------

ChangeKind = Literal["bind_vehicle", "details"]
OPEN_CHANGE_STAGES = frozenset({"intake", "review"})
# Seed §19(一)1/3: the applicant's form, identity document and on-site photo, as at registration (§12).
CHANGE_SCANS = frozenset({"onsite_photo", "registration_form", "identity_document"})
# Seed §19(一)1/3: binding another's vehicle also needs the owner's identity document and vehicle licence,
# checked valid at intake and entered as scans.
OWNER_DOCUMENT_SCANS = frozenset({"owner_identity_document", "vehicle_licence"})
VehicleNotLive = refusal("VEHICLE_NOT_LIVE", "ID-13")
ChangeAlreadyOpen = refusal("CHANGE_ALREADY_OPEN", "ID-13")
NothingToChange = refusal("NOTHING_TO_CHANGE", "ID-13", 422)


def check_change_scans(owned: bool, documents_checked: bool, scans: Iterable[str]) -> None:
    """ID-13 / seed §19(一): the scans intake enters for a personal counter change; for a vehicle that is
    not the applicant's, the owner's identity document and vehicle licence, checked and scanned."""
    kinds = set(scans)
    missing = sorted(CHANGE_SCANS - kinds)
    if missing:
        raise MissingScans(f"missing scans: {', '.join(missing)}")
    if owned:
        return
    if not documents_checked or not kinds >= OWNER_DOCUMENT_SCANS:
        raise OwnerDocumentsRequired(
            "binding a vehicle that is not the user's needs the owner's identity document and the vehicle "
            "licence, checked at intake and scanned: " + ", ".join(sorted(OWNER_DOCUMENT_SCANS))
        )


def change_items(kind: str, data: Mapping[str, object]) -> str:
    """The items of an approved change as the SMS names them (notify's `change_approved` template)."""
    if kind == "bind_vehicle":
        plate = data.get("plate_number") or data.get("ref")
        return f"绑定{'本人' if data.get('owned') else '非本人'}机动车{plate}"
    names = {"phone": "手机号码", "email": "电子信箱", "mailing_address": "邮寄地址", "postcode": "邮政编码"}
    return "变更" + "、".join(names.get(k, k) for k in sorted(data))


def owner_key(category: str, id_number: str | None, credit_code: str | None) -> str | None:
    """Whose records are 'own': a person's identity number, a unit's credit code (ID-08)."""
    return credit_code if category == "unit" else id_number


def check_can_bind_own(
    category: str, kind: str, channel: str, roles: Iterable[str], record_kind: str
) -> None:
    """ID-07 / ID-08 / ID-12: online owner/driver users, counter-registered personal users and units
    (vehicles only) bind their own records; learners and new-car owners do not."""
    wanted = "bind_own_vehicle" if record_kind == "vehicle" else "bind_own_licence"
    if wanted not in capabilities(category, kind, channel, roles):
        raise NotAllowed(f"this account kind cannot {wanted.replace('_', ' ')} (ID-07)")


def is_own_live_record(record_kind: str, holder: str, state: str, owner: str | None) -> bool:
    """ID-12: a record is bindable online when it is the account's own and live."""
    live = LIVE_VEHICLE_STATES if record_kind == "vehicle" else LIVE_LICENCE_STATES
    return owner is not None and holder == owner and state in live


def unbinds_on_vehicle_change(change: str, from_use: str | None = None, to_use: str | None = None) -> bool:
    """ID-14: a transfer of ownership, a deregistration, or a change from commercial to non-commercial use
    unbinds the vehicle from every user except its owner."""
    if change in ("transferred", "deregistered"):
        return True
    return change == "use_changed" and from_use == "commercial" and to_use == "non_commercial"


# --- sign-in lockout -------------------------------------------------------------------------------

MAX_FAILED_LOGINS = 5
LOCKOUT = timedelta(minutes=15)
