"""notify against its real `notify_test` database (TMS_ENV=test, set by the root conftest)."""

from __future__ import annotations

import secrets
from collections.abc import AsyncIterator

import pytest

from notify_service.service import SPEC
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
async def runtime(notify_database: str) -> AsyncIterator[Runtime]:
    settings = SPEC.settings()
    rt = Runtime.open(settings, SPEC.metadata, SPEC.translate)
    yield rt
    await rt.aclose()


@pytest.fixture
def phone() -> str:
    """A mobile number of this test alone, so reruns and parallel tests never share a sink list."""
    return "139" + "".join(secrets.choice("0123456789") for _ in range(8))
