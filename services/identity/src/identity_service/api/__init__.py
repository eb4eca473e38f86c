"""identity's HTTP API: `routers` are public; `test_router` is mounted in dev and test only."""

from fastapi import APIRouter

from identity_service.api import account, auth, bindings, counter, photos, system, testing, users
from identity_service.context import context_of_app
from servicekit.web.workdays import office_calendar_router

routers: list[APIRouter] = [
    auth.router,
    system.router,
    users.router,
    bindings.router,
    account.router,
    account.units_router,
    photos.router,
    counter.router,
    office_calendar_router(lambda request: context_of_app(request.app).office_calendar),
]
test_router = testing.router
