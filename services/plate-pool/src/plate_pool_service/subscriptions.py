"""The messages plate-pool consumes: a local tolerant model, a handler and a queue each.

VH-15/PP-09: the counter's first registration settles a selection. PP-09 is decided once, by vehicle, where
the counter compares the VIN, the owner's document kind and number, the name and the phone with the
pre-selection (ADR 0045): `vehicle.vehicle.registered.v1` naming our `selection_id` is a registration the
counter accepted, and makes the selection `registered`; `vehicle.registration.refused.v1` is one it refused
for a difference, and cancels the number with the 2-year ban. plate-pool acts on them and never compares
the fields again (a second comparison, stricter than the counter's, once banned owners the counter had
registered). The handlers call the use cases of selections.py in the consumer's unit of work, with the
worker's own context (its runtime's Redis client).

WD-01 (ADR 0004): `identity.workday_calendar.year_set.v1` keeps plate-pool's copy of the office calendar
identity owns, the year replaced whole, so that PP-08's register-by counts the working days an admin set.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import date, datetime

from pydantic import BaseModel, ConfigDict

from plate_pool_service import selections
from plate_pool_service.context import PlateContext, context_for
from servicekit.consumer import Subscription
from servicekit.envelope import Envelope
from servicekit.uow import UnitOfWork
from servicekit.workdays import OfficeDay


class VehicleRegisteredSeen(BaseModel):
    """plate-pool's reading of `vehicle.vehicle.registered.v1`: which selection the counter registered."""

    model_config = ConfigDict(extra="ignore", frozen=True)
    vehicle_id: str
    plate_number: str
    selection_id: str | None = None
    registered_at: datetime


class RegistrationRefusedSeen(BaseModel):
    model_config = ConfigDict(extra="ignore", frozen=True)
    selection_id: str
    mismatched: list[str] = []
    refused_at: datetime


class OfficialDaySeen(BaseModel):
    model_config = ConfigDict(extra="ignore", frozen=True)
    date: date
    working: bool
    name: str = ""


class WorkdayYearSetSeen(BaseModel):
    """plate-pool's reading of `identity.workday_calendar.year_set.v1`: a year's official days, whole."""

    model_config = ConfigDict(extra="ignore", frozen=True)
    year: int
    source: str
    days: list[OfficialDaySeen]
    set_at: datetime


def worker_context(uow: UnitOfWork) -> PlateContext:
    """The worker's context, built once per runtime (context.py): its Redis client and its scripts."""
    return context_for(uow.runtime)


def calendar_subscriptions(
    context_of: Callable[[UnitOfWork], PlateContext] = worker_context,
) -> list[Subscription]:
    async def keep_calendar_year(uow: UnitOfWork, event: WorkdayYearSetSeen, envelope: Envelope) -> None:
        """WD-01: identity set a year of the office calendar: plate-pool's copy of the year is replaced
        whole (a repeat rewrites the same; an older setting delivered late is ignored)."""
        days = [OfficeDay(d.date, d.working, d.name) for d in event.days]
        await context_of(uow).office_calendar.keep_year(
            uow.session, event.year, days, source=event.source, set_by="identity", set_at=event.set_at
        )

    return [
        Subscription(
            name="keep-workday-calendar",
            handles={"identity.workday_calendar.year_set.v1": WorkdayYearSetSeen},
            handler=keep_calendar_year,
            summary="WD-01: keep a copy of the office calendar identity owns (PP-08's register-by).",
        ),
    ]


def settlement_subscriptions(
    context_of: Callable[[UnitOfWork], PlateContext] = worker_context,
) -> list[Subscription]:
    async def settle(uow: UnitOfWork, event: VehicleRegisteredSeen, envelope: Envelope) -> None:
        """VH-15/PP-09: the counter registered the car with its pre-selection: the selection is settled.
        vehicle decided PP-09 before publishing this; it is not decided again here."""
        registration = selections.Registration(
            selection_id=event.selection_id,
            vehicle_id=event.vehicle_id,
            plate_number=event.plate_number,
            registered_at=event.registered_at,
        )
        await selections.settle(context_of(uow), uow, registration)

    async def refused(uow: UnitOfWork, event: RegistrationRefusedSeen, envelope: Envelope) -> None:
        """PP-09: the counter refused the registration because it differs from the pre-selection."""
        await selections.registration_refused(context_of(uow), uow, event.selection_id)

    return [
        Subscription(
            name="settle-registration",
            handles={"vehicle.vehicle.registered.v1": VehicleRegisteredSeen},
            handler=settle,
            summary="VH-15/PP-09: a first registration the counter accepted settles the selection.",
        ),
        Subscription(
            name="registration-refused",
            handles={"vehicle.registration.refused.v1": RegistrationRefusedSeen},
            handler=refused,
            summary="PP-09: a registration refused for a mismatch cancels the number with a 2-year ban.",
        ),
    ]


SUBSCRIPTIONS: list[Subscription] = calendar_subscriptions() + settlement_subscriptions()
