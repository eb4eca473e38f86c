"""identity's HTTP API: `routers` are public; `test_router` is mounted in dev and test only."""

from fastapi import APIRouter

from identity_service.api import (
    account,
    auth,
    bindings,
    changes,
    counter,
    exports,
    photos,
    system,
    testing,
    users,
)
from identity_service.context import context_of_app
from identity_service.published import OfficialDay, WorkdayYearSet
from servicekit.uow import UnitOfWork
from servicekit.web.workdays import office_calendar_router
from servicekit.workdays import OfficeYear


def _publish_year(uow: UnitOfWork, year: OfficeYear) -> None:
    """WD-01 (ADR 0004): identity owns the office calendar and publishes each year set, whole."""
    days = [OfficialDay(date=d.day, working=d.working, name=d.name) for d in year.days]
    uow.emit(WorkdayYearSet(year=year.year, source=year.source, days=days, set_at=year.set_at))


routers: list[APIRouter] = [
    auth.router,
    system.router,
    users.router,
    exports.router,
    bindings.router,
    account.router,
    account.units_router,
    photos.router,
    counter.router,
    office_calendar_router(lambda request: context_of_app(request.app).office_calendar, _publish_year),
    changes.router,
]
test_router = testing.router
