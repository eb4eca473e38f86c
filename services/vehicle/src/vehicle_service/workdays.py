"""vehicle's office calendar (WD-01, ADR 0004): its copy of the working days identity owns, kept by the
`keep-workday-calendar` subscription. One per process; a deadline reads it through `calendar(uow)`, which
reloads it from the tables when a minute old (two small SELECTs) and refuses a year nobody set (503)."""

from __future__ import annotations

from servicekit.uow import UnitOfWork
from servicekit.workdays import OfficeCalendar, WorkdayCalendar
from vehicle_service.tables import metadata

OFFICE_CALENDAR = OfficeCalendar(metadata)


async def calendar(uow: UnitOfWork) -> WorkdayCalendar:
    return await OFFICE_CALENDAR.calendar(uow.session)
