"""The api process: `uvicorn --factory plate_pool_service.main:create_app`."""

from __future__ import annotations

from fastapi import FastAPI
from starlette.routing import Route

from plate_pool_service.api import router
from plate_pool_service.context import close_context, open_context
from plate_pool_service.selections_api import random_draw_fast
from plate_pool_service.service import SPEC
from servicekit.clock import Clock
from servicekit.runtime import Runtime
from servicekit.settings import ServiceSettings
from servicekit.web import create_service_app


def create_app(settings: ServiceSettings | None = None, clock: Clock | None = None) -> FastAPI:
    """`clock`: tests inject a FixedClock (WD-02); otherwise the platform clock."""
    resolved = settings or SPEC.settings()
    app = create_service_app(
        resolved,
        title="plate-pool",
        routers=[router],
        runtime_factory=lambda: Runtime.open(resolved, SPEC.metadata, SPEC.translate, clock=clock),
        on_startup=[open_context],
        on_shutdown=[close_context],
    )
    # The hot path first, so that it answers before the FastAPI route declared for the OpenAPI document.
    app.router.routes.insert(
        0,
        Route(
            "/api/v1/plate-selections/{selection_id}/random-draws",
            random_draw_fast,
            methods=["POST"],
            include_in_schema=False,
        ),
    )
    return app
