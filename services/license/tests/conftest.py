"""What every license test against the real servers shares: the migrated test database, a fixed clock,
a runtime on it, tokens and the api in-process (`client`). The unit tests use none of it."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import datetime

import httpx
import pytest
from fastapi import FastAPI

from license_service.api import router
from license_service.service import SPEC
from servicekit.clock import SHANGHAI, FixedClock
from servicekit.migrate import migrate
from servicekit.runtime import Runtime
from servicekit.testing import TokenFactory, service_client
from servicekit.web import create_service_app

START = datetime(2027, 3, 1, 9, 0, tzinfo=SHANGHAI)  # a Monday


@pytest.fixture(scope="session")
def license_database() -> str:
    settings = SPEC.settings()
    assert settings.env.value == "test", "the tests run with TMS_ENV=test (root conftest.py)"
    migrate("license")
    return settings.database.url


@pytest.fixture
def clock() -> FixedClock:
    return FixedClock(START)


@pytest.fixture
async def runtime(license_database: str, clock: FixedClock) -> AsyncIterator[Runtime]:
    rt = Runtime.open(SPEC.settings(), SPEC.metadata, clock=clock)
    yield rt
    await rt.aclose()


@pytest.fixture(scope="session")
def tokens() -> TokenFactory:
    return TokenFactory()


def build_app(tokens: TokenFactory, clock: FixedClock) -> FastAPI:
    settings = SPEC.settings()
    app = create_service_app(
        settings,
        title="license",
        routers=[router],
        runtime_factory=lambda: Runtime.open(settings, SPEC.metadata, clock=clock),
    )
    app.state.verifier = tokens.verifier()
    return app


@pytest.fixture
async def client(
    license_database: str, tokens: TokenFactory, clock: FixedClock
) -> AsyncIterator[httpx.AsyncClient]:
    async with service_client(build_app(tokens, clock)) as c:
        yield c
