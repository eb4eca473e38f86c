"""ID-01, ID-07, ID-08, ID-12: account kinds, capabilities, passwords, states and the sign-in lockout."""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Literal

from servicekit.refusal import refusal

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


# --- sign-in lockout -------------------------------------------------------------------------------


@dataclass(frozen=True)
class WrongPasswordCount:
    """The account's counter after one more wrong password: `locked_until` set when it reached the limit
    (the counter then starts again)."""

    failed_logins: int
    locked_until: datetime | None


def count_wrong_password(
    failed_logins: int, now: datetime, max_failed: int, lockout: timedelta
) -> WrongPasswordCount:
    """The sign-in lockout, for every check of an account's password by an anonymous caller (sign-in,
    reactivation, ADR 0081): `max_failed` wrong passwords in a row lock the account for `lockout`."""
    failures = failed_logins + 1
    if failures >= max_failed:
        return WrongPasswordCount(failed_logins=0, locked_until=now + lockout)
    return WrongPasswordCount(failed_logins=failures, locked_until=None)


def lock_remaining_s(locked_until: datetime | None, now: datetime) -> int | None:
    """Seconds (at least 1) until a locked account may try a password again; None when it is not locked."""
    if locked_until is None or locked_until <= now:
        return None
    return max(1, int((locked_until - now).total_seconds()))


# --- forced and counter cancellation (ID-16) ---------------------------------------------------------

CANCELLER_ROLES = frozenset({"clerk.admin", "clerk.intake", "system"})
# ID-16 / seed §21 name persons and units; staff accounts and system clients have their own administration.
CANCELLABLE_CATEGORIES = frozenset({"personal", "unit"})


def may_cancel_by_force(caller_roles: Iterable[str], target_category: str) -> bool:
    """ID-16 (ADR 0080): whom `POST /users/{id}/cancellation` may reach. Every caller of it (clerk.admin,
    clerk.intake, a system client) reaches person and unit accounts only, never a staff account or a
    system client. The office is no part of it: seed §21 gives forced cancellation to the traffic
    management departments and the request to any designated window, and a citizen's account is the
    platform's, not an office's."""
    return not CANCELLER_ROLES.isdisjoint(caller_roles) and target_category in CANCELLABLE_CATEGORIES
