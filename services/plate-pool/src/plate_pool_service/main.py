"""The api process: `uvicorn --factory plate_pool_service.main:create_app`."""

from __future__ import annotations

from fastapi import FastAPI, Request
from starlette.routing import Route
from starlette.types import ASGIApp, Receive, Scope, Send

from plate_pool_service.api import router
from plate_pool_service.context import close_context, open_context
from plate_pool_service.selection_steps_api import random_draw_fast
from plate_pool_service.service import SPEC
from servicekit.clock import Clock
from servicekit.runtime import Runtime
from servicekit.settings import ServiceSettings
from servicekit.web import create_service_app
from servicekit.web.app import RequestMiddleware
from servicekit.web.problems import Problem

DRAW_PREFIX = "/api/v1/plate-selections/"
DRAW_SUFFIX = "/random-draws"


def create_app(settings: ServiceSettings | None = None, clock: Clock | None = None) -> FastAPI:
    """`clock`: tests inject a FixedClock (WD-02); otherwise the platform clock."""
    resolved = settings or SPEC.settings()
    app = create_service_app(
        resolved,
        title="plate-pool",
        routers=[router],
        runtime_factory=lambda: Runtime.open(resolved, SPEC.metadata, clock=clock),
        on_startup=[open_context],
        on_shutdown=[close_context],
    )
    draw_route = Route(
        "/api/v1/plate-selections/{selection_id}/random-draws",
        random_draw_fast,
        methods=["POST"],
        include_in_schema=False,
    )
    # The hot path first, so that it answers before the FastAPI route declared for the OpenAPI document.
    app.router.routes.insert(0, draw_route)
    _serve_draws_beside_the_stack(app, draw_route)
    return app


def _serve_draws_beside_the_stack(app: FastAPI, draw_route: Route) -> None:
    """`POST …/{id}/random-draws` skips FastAPI's middleware stack (server-error, body-limit, exception and
    exit-stack middlewares, router matching): per draw they cost more CPU than the draw itself
    (bench/plates.py). It still runs in servicekit's `RequestMiddleware` (span continuing `traceparent`,
    request id, 500 problem for the unexpected, access log), with the same endpoint, auth and rules, and a
    refusal answers the same problem+json as through the stack. Every other request takes the full stack."""
    gateway_peers = app.state.gateway_peers

    async def draw_endpoint(scope: Scope, receive: Receive, send: Send) -> None:
        scope["route"] = draw_route  # span name and access log: the route template
        request = Request(scope, receive)
        try:
            response = await random_draw_fast(request)
        except Problem as problem:
            response = problem.response(scope["path"], scope["state"].get("request_id"))
        await response(scope, receive, send)

    # Not behind the process's gate (ADR 0101): a draw runs Redis scripts and holds no pooled database
    # connection, and a place in line must be answered in milliseconds, not after the starts queued there.
    draws: ASGIApp = RequestMiddleware(draw_endpoint, gateway_peers=gateway_peers)
    build_full_stack = app.build_middleware_stack

    def build_middleware_stack() -> ASGIApp:
        full = build_full_stack()

        async def dispatch(scope: Scope, receive: Receive, send: Send) -> None:
            if scope["type"] == "http" and scope["method"] == "POST" and not scope.get("root_path"):
                selection_id = _draw_selection_id(scope["path"])
                if selection_id is not None:
                    scope["path_params"] = {"selection_id": selection_id}
                    await draws(scope, receive, send)
                    return
            await full(scope, receive, send)

        return dispatch

    app.build_middleware_stack = build_middleware_stack  # type: ignore[method-assign]


def _draw_selection_id(path: str) -> str | None:
    if not (path.startswith(DRAW_PREFIX) and path.endswith(DRAW_SUFFIX)):
        return None
    selection_id = path[len(DRAW_PREFIX) : -len(DRAW_SUFFIX)]
    return selection_id if selection_id and "/" not in selection_id else None
