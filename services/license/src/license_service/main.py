"""The api process: `uvicorn --factory license_service.main:create_app`."""

from fastapi import FastAPI

from license_service.api import router
from license_service.service import SPEC
from servicekit.runtime import Runtime
from servicekit.web import create_service_app


def create_app() -> FastAPI:
    settings = SPEC.settings()
    return create_service_app(
        settings,
        title="license",
        routers=[router],
        runtime_factory=lambda: Runtime.open(settings, SPEC.metadata),
    )
