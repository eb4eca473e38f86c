"""The api process: `uvicorn --factory violation_service.main:create_app`."""

from fastapi import APIRouter, FastAPI

from servicekit.runtime import Runtime
from servicekit.web import create_service_app
from violation_service.api import router, testing
from violation_service.context import close_context, open_context
from violation_service.service import SPEC
from violation_service.settings import ViolationSettings


def create_app(settings: ViolationSettings | None = None) -> FastAPI:
    resolved = settings or SPEC.settings()
    assert isinstance(resolved, ViolationSettings)
    routers: list[APIRouter] = [router]
    on_startup, on_shutdown = [open_context], [close_context]
    if resolved.is_test_env:  # the local bank's /api/v1/_test/* exists in dev and test only: 404 in prod
        routers.append(testing.router)
        on_startup.append(testing.open_local_bank)
        on_shutdown.append(testing.close_local_bank)
    return create_service_app(
        resolved,
        title="violation",
        routers=routers,
        runtime_factory=lambda: Runtime.open(resolved, SPEC.metadata),
        on_startup=on_startup,
        on_shutdown=on_shutdown,
    )
