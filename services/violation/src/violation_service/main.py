"""The api process: `uvicorn --factory violation_service.main:create_app`."""

from fastapi import FastAPI

from servicekit.runtime import Runtime
from servicekit.web import create_service_app
from violation_service.api import router
from violation_service.context import close_context, open_context
from violation_service.service import SPEC


def create_app() -> FastAPI:
    settings = SPEC.settings()
    return create_service_app(
        settings,
        title="violation",
        routers=[router],
        runtime_factory=lambda: Runtime.open(settings, SPEC.metadata),
        on_startup=[open_context],
        on_shutdown=[close_context],
    )
