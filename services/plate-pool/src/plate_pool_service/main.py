"""The api process: `uvicorn --factory plate_pool_service.main:create_app`."""

from fastapi import FastAPI

from plate_pool_service.api import router
from plate_pool_service.service import SPEC
from servicekit.runtime import Runtime
from servicekit.web import create_service_app


def create_app() -> FastAPI:
    settings = SPEC.settings()
    return create_service_app(
        settings,
        title="plate-pool",
        routers=[router],
        runtime_factory=lambda: Runtime.open(settings, SPEC.metadata, SPEC.translate),
    )
