"""notify against its real `notify_test` database (TMS_ENV=test, set by the root conftest)."""

from __future__ import annotations

import secrets
from collections.abc import AsyncIterator
from datetime import datetime, timedelta

import pytest

from notify_service.service import SPEC
from servicekit.clock import SHANGHAI, FixedClock
from servicekit.migrate import migrate
from servicekit.runtime import Runtime


@pytest.fixture(scope="session")
def notify_database() -> str:
    """notify_test created if missing and brought to the newest revision; returns its URL."""
    settings = SPEC.settings()
    assert settings.env.value == "test", "the tests run with TMS_ENV=test (root conftest.py)"
    migrate("notify")
    return settings.database.url


@pytest.fixture
def clock() -> FixedClock:
    """A platform clock of this test alone, years ahead of the real one: a `make run` or another suite's
    notify worker (real clock) never finds this test's messages due, so only this test dispatches them."""
    ahead = timedelta(days=365 * 5 + secrets.randbelow(365), seconds=secrets.randbelow(86_400))
    return FixedClock(datetime.now(SHANGHAI) + ahead)


@pytest.fixture
async def runtime(notify_database: str, clock: FixedClock) -> AsyncIterator[Runtime]:
    settings = SPEC.settings()
    rt = Runtime.open(settings, SPEC.metadata, clock=clock)
    yield rt
    await rt.aclose()


@pytest.fixture
def phone() -> str:
    """A mobile number of this test alone, so reruns and parallel tests never share a sink list."""
    return "139" + "".join(secrets.choice("0123456789") for _ in range(8))
