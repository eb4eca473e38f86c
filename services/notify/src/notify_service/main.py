"""The api process: `uvicorn --factory notify_service.main:create_app`."""

from fastapi import APIRouter, FastAPI

from notify_service import ops_api, receipts_api
from notify_service.api import router, test_router
from notify_service.service import SPEC
from servicekit.runtime import Runtime
from servicekit.settings import ServiceSettings
from servicekit.web import create_service_app


def create_app(settings: ServiceSettings | None = None) -> FastAPI:
    resolved = settings or SPEC.settings()
    # The operators' static paths first: /api/v1/messages/deliveries is not a message id.
    routers: list[APIRouter] = [ops_api.router, receipts_api.router, router]
    if resolved.is_test_env:  # /api/v1/_test/* exists in dev and test only: 404 in prod
        routers.append(test_router)
    return create_service_app(
        resolved,
        title="notify",
        routers=routers,
        runtime_factory=lambda: Runtime.open(resolved, SPEC.metadata),
    )
