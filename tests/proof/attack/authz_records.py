"""The records the matrix's ownership cells stand on, and who may or may not reach each. The records are
made through the gateway by `authz_factories`; each is known by its record key, the path template up to
its id parameter (`authz_routes.Operation.record_keys`).

Every record key of the route table is in exactly one of: a made record (`Records.made`), `NOT_OWNED`
(nobody's own: no ownership cell is due) or `UNCOVERED` (a cell due but not built yet, with the reason);
the test fails on a key in none of them, so a new route cannot slip past the matrix.
"""

from __future__ import annotations

import base64
import io
import secrets
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import httpx
from PIL import Image

from servicekit.validators import PROVINCES, vin_check_digit

from .authz_actors import Actor

TIMEOUT_S = 60.0
# Who must not see a citizen's record: another citizen, a unit, every post of another office.
NOT_A_CITIZENS: tuple[str, ...] = (
    "stranger",
    "unit",
    "other:clerk.intake",
    "other:clerk.review",
    "other:clerk.archive",
    "other:clerk.admin",
)
NOT_THE_OFFICES: tuple[str, ...] = (
    "other:clerk.intake",
    "other:clerk.review",
    "other:clerk.archive",
    "other:clerk.admin",
)
# Who reaches a citizen's record: the citizen, the clerks of its office, the police systems.
CITIZEN_RECORD_READERS: tuple[str, ...] = (
    "owner",
    "clerk.intake",
    "clerk.review",
    "clerk.archive",
    "clerk.admin",
    "system",
)


def _image(kind: str) -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (64, 48), (200, 30, 90)).save(out, format=kind)
    return out.getvalue()


JPEG = _image("JPEG")
PNG_B64 = base64.b64encode(_image("PNG")).decode()
ADDRESS = "河北省石家庄市长安区建设北大街1号"

# Bodies that get past validation, by the operation's method and path below the record
# (`Record.body_for`), so that a stranger's cell reaches the handler and its lookup.
REASON_BODIES: dict[str, Any] = {
    "POST /reject": {"reason": "材料不全"},
    "POST /return": {"reason": "材料不全"},
}
CASE_STEP_BODIES: dict[str, Any] = {
    "POST /intake": {"decision": "accept"},
    "POST /archive": {"action": "file"},
}
VEHICLE_BODIES: dict[str, Any] = {
    "PUT /contact": {"phone": "13912345678"},
    "PUT /licence-photo": {"stored": True},
    "PUT /use": {"use": "non_commercial"},
    "PATCH /validity": {"inspection_valid_until": "2028-06-30"},
    "POST /transfer": {
        "owner": {"id_kind": "resident_id", "id_number": "130102199003071233", "name": "张三"},
        "phone": "13800138000",
    },
}
LICENCE_BODIES: dict[str, Any] = {
    "PUT /contact": {"phone": "13912345678", "address": ADDRESS},
    "POST /points/clear": {"reason": "满分学习考试合格"},
    "POST /state-changes": {"action": "suspend", "reason": "依法暂扣"},
}

# Record keys that are nobody's own: the role cells are all the matrix owes them.
NOT_OWNED: dict[str, str] = {
    "/api/v1/temp-plates/collections/{collection_id}": (
        "a dealer's collection of blanks, checked by the intake post alone; the dealer's qualification is "
        "any review or intake post's to see (vehicle's `qualifications.dealer`, VH-12)"
    ),
    "/api/v1/workdays/{year}": "the office calendar's year: one platform-wide calendar (WD-01)",
    "/api/v1/users/person-records/licence/{ref}": "a feed from the police systems (system only), answers 410",
    "/api/v1/users/person-records/{record_kind}": "a feed from the police systems (system only)",
    "/api/v1/users/person-records/{record_kind}/{ref}": "a feed from the police systems (system only)",
    "/api/v1/exams/sites/{site_id}": "an exam site, public to every caller; only office staff change it",
    "/api/v1/exams/slots/{slot_id}": "an exam slot, public to every caller; only office staff change it",
    "/api/v1/inspection-stations/{station_id}": "an inspection station, public; only admins change it",
    "/api/v1/inspection-plans/{plan_id}": "an inspection plan, public once published; only admins change it",
    "/api/v1/licences/imports/{import_id}": "a police system's import batch (system and admins only)",
    "/api/v1/messages/sms-receipts/aliyun/{token}": "the SMS provider's receipts: a secret token, no caller",
    "/api/v1/payments/bank-notices/{bank}": "a bank's signed notice: the signature is its authorisation",
    "/api/v1/payments/reconciliations/{bank}": "a bank's day of statements (system and admins only)",
    "/api/v1/payments/reconciliations/{bank}/{day}": "a bank's day of statements (system and admins only)",
    "/api/v1/payments/reconciliations/{reconciliation_id}": "a reconciliation (system and admins only)",
    "/api/v1/violations/intake-batches/{batch_id}": "a police system's intake batch (system only)",
    "/api/v1/vehicles/preselections/{selection_id}": "plate-pool's settlement feed (system and admins only)",
    "/api/v1/units/{account_id}": (
        "a unit's registration, changed at any office's intake post (ID-13): an account is the platform's, "
        "not an office's (ADR 0080)"
    ),
}

# Ownership cells due but not built yet: record key → why. Each operation on such a key counts as one
# uncovered row in the figures.
UNCOVERED: dict[str, str] = {}


@dataclass
class Record:
    key: str
    id: str
    owner: str  # whose it is (an actor's label; "" for none)
    strangers: tuple[str, ...]  # who must be told it is not there (where their role is admitted)
    reachers: tuple[str, ...] = ()  # who must reach it (where their role is admitted); default: the owner
    # Bodies that get past validation for the operations on it that need one (operation name → body):
    # without one, validation would answer before the handler looks the record up.
    bodies: dict[str, Any] = field(default_factory=dict)
    # Reach cells not built, with why (each an uncovered row): an operation on a sub-resource the record
    # does not have (`GET /insurance-photo` of a plate's case), or one caller's (`POST /approval as ...`).
    unreached: dict[str, str] = field(default_factory=dict)
    parents: dict[str, str] = field(default_factory=dict)  # the ids of the records above it in the path
    # Public: its existence is no secret (a published segment), so a stranger may be refused with a 403
    # and a rule's code as well as told it is not there.
    public: bool = False
    # The operations below the key this record stands for (`DELETE /second-factor`), none: every one;
    # and those it does not (another record of the same key stands for them, with its own callers).
    only: frozenset[str] = frozenset()
    skip: frozenset[str] = frozenset()

    def below(self, method: str, path: str) -> str:
        return f"{method} {path[len(self.key) :]}".rstrip()

    def covers(self, method: str, path: str) -> bool:
        below = self.below(method, path)
        return (not self.only or below in self.only) and below not in self.skip

    def __post_init__(self) -> None:
        if not self.reachers and self.owner:
            self.reachers = (self.owner,)

    def body_for(self, method: str, path: str, caller: str) -> Any:
        """The body for `caller`'s request, by method and the path below the record (`POST /reject`, `GET`
        for the record itself), a caller's own first (`POST /cancellation as clerk.intake`)."""
        below = self.below(method, path)
        return self.bodies.get(f"{below} as {caller}", self.bodies.get(below))


@dataclass
class Records:
    gw: httpx.Client
    actors: dict[str, Actor]
    made: dict[str, list[Record]] = field(default_factory=dict)
    failed: dict[str, str] = field(default_factory=dict)  # factory → why it failed
    plate: str = ""  # A's car's plate
    vehicle_id: str = ""
    plate_office: str = ""  # the office of A's pre-selections

    def add(self, record: Record) -> Record:
        self.made.setdefault(record.key, []).append(record)
        return record

    def ids(self) -> dict[str, str]:
        """One id per record key: what fills the path of a role cell."""
        return {key: records[0].id for key, records in self.made.items()}

    def h(self, label: str) -> dict[str, str]:
        return self.actors[label].headers

    def ok(self, r: httpx.Response, *expected: int) -> Any:
        assert r.status_code in (expected or (200, 201)), f"{r.request.method} {r.request.url}: {r.text}"
        return r.json() if r.content else None


def eventually(check: Callable[[], Any], what: str) -> Any:
    deadline = time.monotonic() + TIMEOUT_S
    while not (found := check()):
        if time.monotonic() > deadline:
            raise AssertionError(f"not within {TIMEOUT_S:.0f} s: {what}")
        time.sleep(0.3)
    return found


def new_vin() -> str:
    body = "L" + "".join(secrets.choice("ABCDEFGHJKLMNPRSTUVWXYZ0123456789") for _ in range(16))
    return body[:8] + vin_check_digit(body[:8] + "0" + body[9:]) + body[9:]


def new_plate() -> str:
    letters = "ABCDEFGHJKLMNPQRSTUVWXYZ"
    return secrets.choice(PROVINCES) + "A" + "".join(secrets.choice(letters + "0123456789") for _ in range(5))
