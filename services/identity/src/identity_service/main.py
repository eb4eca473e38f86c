"""The api process: `uvicorn --factory identity_service.main:create_app`."""

from __future__ import annotations

from collections.abc import Callable

from fastapi import APIRouter, FastAPI

from identity_service.api import routers, test_router
from identity_service.context import build_context, context_of_app
from identity_service.service import SPEC
from identity_service.settings import IdentitySettings
from identity_service.tokens import OwnKeysVerifier
from servicekit.runtime import Runtime
from servicekit.web import create_service_app
from servicekit.web.app import get_runtime_of


def create_app(
    settings: IdentitySettings | None = None,
    runtime_factory: Callable[[], Runtime] | None = None,
) -> FastAPI:
    resolved = settings or IdentitySettings()
    mounted: list[APIRouter] = list(routers)
    if resolved.is_test_env:  # /api/v1/_test/* exists in dev and test only: 404 in prod
        mounted.append(test_router)

    async def start(app: FastAPI) -> None:
        app.state.identity = build_context(resolved, get_runtime_of(app))
        await app.state.identity.keys.signer()  # a key exists before the first request

    async def stop(app: FastAPI) -> None:
        await app.state.identity.limiter.aclose()
        per_user = getattr(app.state, "rate_limiter", None)  # servicekit.web.limits makes it at first use
        if per_user is not None:
            await per_user.aclose()
            del app.state.rate_limiter

    app = create_service_app(
        resolved,
        title="identity",
        routers=mounted,
        runtime_factory=runtime_factory or (lambda: Runtime.open(resolved, SPEC.metadata)),
        on_startup=[start],
        on_shutdown=[stop],
    )
    # identity checks its own tokens against its own key table, never over HTTP to itself.
    app.state.verifier = OwnKeysVerifier(lambda: context_of_app(app).keys, resolved.auth)
    return app
