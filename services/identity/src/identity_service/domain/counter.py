"""ID-09, ID-11, ID-13: the counter posts, a case's stages and moves, and personal counter changes."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Literal

from identity_service.domain.accounts import capabilities
from identity_service.domain.bindings import NotAllowed, OwnerDocumentsRequired
from identity_service.domain.registration import (
    LIVE_LICENCE_STATES,
    LIVE_VEHICLE_STATES,
    MissingScans,
    WrongStage,
    review_deadline,
)
from servicekit.refusal import refusal
from servicekit.workdays import WorkdayCalendar

# --- the counter posts: a case's stages and the moves between them (ID-09, ID-11, ID-13) -------------

CaseStage = Literal["intake", "review", "archive", "filed", "approved", "rejected"]
CaseAction = Literal["submit", "submit_unit", "correct", "return", "approve", "reject", "archive"]
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


# ID-09 / ID-11: a counter registration. Intake opens the case at its own post, stores its scans with it
# (AR-01) and submits it: a person's to review (1 working day), a unit's to archive (its account is made
# then, at intake); review returns, approves (the account) or rejects.
REGISTRATION_MOVES: Mapping[CaseAction, Move] = _moves(
    Move("submit", "intake", "review", "clerk.intake"),
    Move("submit_unit", "intake", "archive", "clerk.intake"),
    Move("correct", "intake", "review", "clerk.intake"),
    Move("return", "review", "intake", "clerk.review"),
    Move("approve", "review", "archive", "clerk.review"),
    Move("reject", "review", "rejected", "clerk.review"),
    Move("archive", "archive", "filed", "clerk.archive"),
)
# ID-13 / seed §19: a personal counter change. The same intake and review posts and deadline; an approved
# change takes effect at review (the seed files no originals for a change: the scans are its record).
CHANGE_MOVES: Mapping[CaseAction, Move] = _moves(
    Move("submit", "intake", "review", "clerk.intake"),
    Move("correct", "intake", "review", "clerk.intake"),
    Move("return", "review", "intake", "clerk.review"),
    Move("approve", "review", "approved", "clerk.review"),
    Move("reject", "review", "rejected", "clerk.review"),
)


def submission(category: str) -> CaseAction:
    """ID-09 / ID-11: how intake sends a new registration on: a person's to review, a unit's to archive."""
    return "submit_unit" if category == "unit" else "submit"


UnknownScanKind = refusal("UNKNOWN_SCAN_KIND", "ID-09", 422)


def check_scan_kind(kind: str, kinds: Iterable[str], rule: str) -> None:
    """ID-09 / ID-11 / ID-13: a case takes the scans its rule names, one current scan of each kind (AR-01:
    a scan stored again replaces it in the case; the earlier one stays stored with the case)."""
    allowed = sorted(kinds)
    if kind not in allowed:
        raise UnknownScanKind(
            f"this case takes scans of the kinds {', '.join(allowed)}", rule=rule, extra={"kinds": allowed}
        )


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


# --- personal counter changes (ID-13, seed §16 and §19) ---------------------------------------------

ChangeKind = Literal["bind_vehicle", "details"]
OPEN_CHANGE_STAGES = frozenset({"intake", "review"})
# Seed §19(一)1/3: the applicant's form, identity document and on-site photo, as at registration (§12).
CHANGE_SCANS = frozenset({"onsite_photo", "registration_form", "identity_document"})
# Seed §19(一)1/3: binding another's vehicle also needs the owner's identity document and vehicle licence,
# checked valid at intake and entered as scans.
OWNER_DOCUMENT_SCANS = frozenset({"owner_identity_document", "vehicle_licence"})
CHANGE_SCAN_KINDS = CHANGE_SCANS | OWNER_DOCUMENT_SCANS
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
