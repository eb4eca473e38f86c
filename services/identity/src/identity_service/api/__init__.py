"""identity's HTTP API: `routers` are public; `test_router` is mounted in dev and test only."""

from fastapi import APIRouter

from identity_service.api import account, auth, bindings, counter, photos, system, testing, users

routers: list[APIRouter] = [
    auth.router,
    system.router,
    users.router,
    bindings.router,
    account.router,
    account.units_router,
    photos.router,
    counter.router,
]
test_router = testing.router
