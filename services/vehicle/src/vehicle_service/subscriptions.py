"""The messages the vehicle service consumes: a local tolerant model, a handler and a queue each.

Built and tested here: identity's `identity.person.phone_changed.v1` (ID-06), its
`identity.binding.created.v1` / `ended.v1` (the VH-13 projection of vehicle bindings, ADR 0044) and
plate-pool's `plate-pool.selection.confirmed.v1` / `cancelled.v1` / `registered.v1` (the PP-09
projection), license's `license.delivery_ban.imposed.v1` (VH-07: a driving licence's failed delivery bars
vehicle items too), and identity's `identity.workday_calendar.year_set.v1` (WD-01, ADR 0004: vehicle's copy of
the office calendar, each year replaced whole). Their producers publish these types now, so every handler
is subscribed. A `system` client
may still feed the PP-09 projection through `PUT /api/v1/vehicles/preselections/{id}` (ADR 0040).
"""

from __future__ import annotations

import logging
from datetime import date, datetime

from pydantic import BaseModel, ConfigDict

from servicekit.consumer import Subscription
from servicekit.envelope import Envelope
from servicekit.uow import SYSTEM_ACTOR, UnitOfWork
from servicekit.vocabulary import IdKindIn
from servicekit.workdays import OfficeDay
from vehicle_service import application_records, records
from vehicle_service.workdays import OFFICE_CALENDAR

log = logging.getLogger(__name__)


class _Tolerant(BaseModel):
    model_config = ConfigDict(extra="ignore", frozen=True)


class PhoneChanged(_Tolerant):
    id_kind: IdKindIn
    id_number: str
    phone: str
    changed_at: datetime


class OwnerIn(_Tolerant):
    id_kind: IdKindIn  # plate-pool wrote a unit's as `social_credit_code` before ADR 0045
    id_number: str
    name: str


class SelectionConfirmed(_Tolerant):
    selection_id: str
    office_code: str
    plate_number: str
    vin: str
    owner: OwnerIn
    phone: str
    register_by: datetime


class SelectionEnded(_Tolerant):
    selection_id: str


class BindingChanged(_Tolerant):
    """`identity.binding.created.v1` and `identity.binding.ended.v1` as vehicle reads them."""

    binding_id: str
    account_id: str
    record_kind: str
    ref: str
    owned: bool
    at: datetime


class OfficialDay(_Tolerant):
    date: date
    working: bool
    name: str = ""


class WorkdayYearSet(_Tolerant):
    """`identity.workday_calendar.year_set.v1` as vehicle reads it: a year's official days, whole."""

    year: int
    source: str
    days: list[OfficialDay]
    set_at: datetime


class LicenceDeliveryBan(_Tolerant):
    """`license.delivery_ban.imposed.v1` as vehicle reads it."""

    id_kind: IdKindIn
    id_number: str
    until: date
    reason: str
    case_id: str
    imposed_at: datetime


BINDING_ENDED = "identity.binding.ended.v1"


async def keep_calendar_year(uow: UnitOfWork, event: WorkdayYearSet, envelope: Envelope) -> None:
    """WD-01: identity set a year of the office calendar: vehicle's copy of the year is replaced whole (a
    repeat rewrites the same; an older setting delivered late is ignored)."""
    days = [OfficeDay(d.date, d.working, d.name) for d in event.days]
    await OFFICE_CALENDAR.keep_year(
        uow.session, event.year, days, source=event.source, set_by="identity", set_at=event.set_at
    )


async def keep_licence_delivery_ban(uow: UnitOfWork, event: LicenceDeliveryBan, envelope: Envelope) -> None:
    """VH-07 (seed 002 §27(6)): a driving licence refused at the door or not collected bars the person from
    online reissue of plates, vehicle licence and marks too, as vehicle's own bans do: kept beside them,
    one per case (a redelivery changes nothing)."""
    await application_records.keep_ban(
        uow,
        id_kind=event.id_kind,
        id_number=event.id_number,
        until=event.until,
        reason=event.reason[:20],
        case_id=event.case_id,
        imposed_at=event.imposed_at,
    )


async def project_binding(uow: UnitOfWork, event: BindingChanged, envelope: Envelope) -> None:
    """VH-13 / ADR 0044: a started binding lets the account book the vehicle's inspection, an ended one no
    longer; both on one queue, and an end that overtakes its start is kept as ended (records.py)."""
    if event.record_kind != "vehicle":
        return
    when = {"ended_at": event.at} if envelope.type == BINDING_ENDED else {"bound_at": event.at}
    await records.project_binding(
        uow,
        binding_id=event.binding_id,
        account_id=event.account_id,
        vehicle_ref=event.ref,
        owned=event.owned,
        **when,
    )


async def apply_phone_changed(uow: UnitOfWork, event: PhoneChanged, envelope: Envelope) -> None:
    """ID-06: a counter registration replaces the phone on the person's vehicle records (and each changed
    record publishes its contact change, VH-11, for identity's ID-03 projection)."""
    changed = await records.replace_owner_phone(
        uow, SYSTEM_ACTOR, event.id_number, event.phone, event.changed_at
    )
    log.info("ID-06: phone replaced on %d vehicle records", changed)


async def project_selection_confirmed(uow: UnitOfWork, event: SelectionConfirmed, envelope: Envelope) -> None:
    """PP-08: keep the confirmed pre-selection so the counter can check PP-09 without a call."""
    await records.upsert_preselection(
        uow,
        selection_id=event.selection_id,
        office_code=event.office_code,
        plate_number=event.plate_number,
        vin=event.vin,
        owner_id_kind=event.owner.id_kind,
        owner_id_number=event.owner.id_number,
        owner_name=event.owner.name,
        phone=event.phone,
        register_by=event.register_by,
        state="confirmed",
    )


async def project_selection_cancelled(uow: UnitOfWork, event: SelectionEnded, envelope: Envelope) -> None:
    """PP-09: a cancelled pre-selection can no longer be registered."""
    await records.end_preselection(uow, event.selection_id, "cancelled")


async def project_selection_registered(uow: UnitOfWork, event: SelectionEnded, envelope: Envelope) -> None:
    """PP-09: plate-pool settled the selection as registered."""
    await records.end_preselection(uow, event.selection_id, "registered")


PHONE_CHANGED = Subscription(
    name="apply-phone-changed",
    handles={"identity.person.phone_changed.v1": PhoneChanged},
    handler=apply_phone_changed,
    summary="ID-06: replace the phone on the person's vehicle records.",
)
BINDINGS = Subscription(
    name="project-bindings",
    handles={
        "identity.binding.created.v1": BindingChanged,
        BINDING_ENDED: BindingChanged,
    },
    handler=project_binding,
    summary="VH-13: project identity's vehicle bindings; a booking needs a live one (ADR 0044).",
)
WORKDAY_CALENDAR = Subscription(
    name="keep-workday-calendar",
    handles={"identity.workday_calendar.year_set.v1": WorkdayYearSet},
    handler=keep_calendar_year,
    summary="WD-01: keep a copy of the office calendar identity owns (VH-09's intake due date).",
)
SELECTION_CONFIRMED = Subscription(
    name="project-selection-confirmed",
    handles={"plate-pool.selection.confirmed.v1": SelectionConfirmed},
    handler=project_selection_confirmed,
    summary="PP-08/PP-09: project confirmed pre-selections for the counter's check.",
)
SELECTION_CANCELLED = Subscription(
    name="project-selection-cancelled",
    handles={"plate-pool.selection.cancelled.v1": SelectionEnded},
    handler=project_selection_cancelled,
    summary="PP-09: a cancelled pre-selection can no longer be registered.",
)
SELECTION_REGISTERED = Subscription(
    name="project-selection-registered",
    handles={"plate-pool.selection.registered.v1": SelectionEnded},
    handler=project_selection_registered,
    summary="PP-09: plate-pool settled the selection as registered.",
)

LICENCE_DELIVERY_BANS = Subscription(
    name="keep-licence-delivery-bans",
    handles={"license.delivery_ban.imposed.v1": LicenceDeliveryBan},
    handler=keep_licence_delivery_ban,
    summary="VH-07: a driving licence's failed delivery bars online reissue of vehicle items for a year too.",
)

BUILT: list[Subscription] = [
    LICENCE_DELIVERY_BANS,
    PHONE_CHANGED,
    BINDINGS,
    SELECTION_CONFIRMED,
    SELECTION_CANCELLED,
    SELECTION_REGISTERED,
    WORKDAY_CALENDAR,
]
SUBSCRIPTIONS: list[Subscription] = list(BUILT)
