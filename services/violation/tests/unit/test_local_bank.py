"""VI-04: the local bank's checkout and statement exist in dev and test only; in prod their paths answer
404 and the simulator cannot be built."""

from __future__ import annotations

from datetime import UTC, datetime

import httpx
import pytest

from servicekit.clock import FixedClock
from servicekit.settings import Environment
from servicekit.testing import PROD_TRANSIT
from violation_service.localbank import LocalBank
from violation_service.main import create_app
from violation_service.settings import ViolationSettings

TEST_PATHS = ("/api/v1/_test/bank-checkout", "/api/v1/_test/bank-statement")


def _settings(env: Environment) -> ViolationSettings:
    # By its alias: `env=` would be overridden by TMS_ENV=test from the environment.
    settings = ViolationSettings.model_validate(
        {"TMS_ENV": env.value, "secret_key": "prod-secret"} | PROD_TRANSIT
    )
    assert settings.env is env
    return settings


async def test_vi04_the_local_banks_routes_are_absent_in_prod() -> None:
    prod, test = create_app(_settings(Environment.prod)), create_app(_settings(Environment.test))
    assert not set(TEST_PATHS) & set(prod.openapi()["paths"])
    assert set(TEST_PATHS) <= set(test.openapi()["paths"])
    transport = httpx.ASGITransport(app=prod)  # no lifespan needed: nothing answers but the 404
    async with httpx.AsyncClient(transport=transport, base_url="http://violation") as client:
        page = await client.get(TEST_PATHS[0], params={"order_number": "VI1", "amount_fen": 1})
        pay = await client.post(TEST_PATHS[0], params={"order_number": "VI1", "amount_fen": 1})
        statement = await client.post(TEST_PATHS[1], json={})
    assert [r.status_code for r in (page, pay, statement)] == [404, 404, 404]
    assert page.headers["content-type"] == "application/problem+json"


def test_vi04_the_simulator_is_refused_in_prod_and_points_its_orders_at_the_checkout() -> None:
    clock = FixedClock(datetime(2027, 3, 1, tzinfo=UTC))
    with pytest.raises(ValueError, match="dev and test only"):
        LocalBank.of(_settings(Environment.prod), None, clock, None)  # type: ignore[arg-type]
    dev = _settings(Environment.dev)
    sim = dev.bank_settings()["sim"]
    assert sim.simulator
    assert (
        sim.checkout_url == dev.simulator_checkout_url == "http://localhost:8000/api/v1/_test/bank-checkout"
    )
    assert dev.simulator_notice_url == "http://127.0.0.1:8000/api/v1/payments/bank-notices/sim"
