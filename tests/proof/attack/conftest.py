"""The platform under attack: every service behind its gateway (tests/e2e/stack.py), with identity's and
notify's workers (SMS codes reach the local sink) and the services logging at INFO (the log scan reads
every line), shared by the attack tests of one session and stopped as soon as the last of them is done
(as tests/browser does); a citizen, an enterprise (unit) and a clerk holding every clerk role sign in
through the edge."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable, Iterator
from contextlib import ExitStack
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest
from redis.asyncio import Redis

from identity_service.service import SPEC as IDENTITY
from servicekit.testing import new_phone, new_resident_id
from tests.e2e.stack import (
    PASSWORD,
    Person,
    Stack,
    finish_sign_in,
    gateway_platform,
    make_accounts,
    new_credit_code,
)

SERVICES = ("vehicle", "license", "plate-pool", "violation", "notify")
# identity's worker relays its outbox (an SMS code's send command), notify's delivers to the local sink.
WORKERS = ("identity", "notify")
# Eight processes start at once: on a loaded two-core machine that has taken over two minutes.
START_TIMEOUT_S = 300
CLERK_ROLES = ["clerk.intake", "clerk.review", "clerk.archive", "clerk.admin"]
# Access tokens live 15 minutes (identity's access_ttl_s); a long proof signs in again before that.
TOKEN_REFRESH_S = 600

_shared = ExitStack()
_opened: dict[str, Any] = {}


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_teardown(item: pytest.Item, nextitem: pytest.Item | None) -> Iterator[None]:
    yield
    if nextitem is None or Path(nextitem.path).parent != Path(__file__).parent:
        _shared.close()
        _opened.clear()


def with_redis(action: Callable[[Redis], Awaitable[Any]]) -> None:
    """`action` on the Redis db the platform's services share (its clock offset, its rate limits)."""

    async def run() -> None:
        redis = Redis.from_url(IDENTITY.settings().redis.url)
        try:
            await action(redis)
        finally:
            await redis.aclose()

    asyncio.run(run())


def clear_address_limits() -> None:
    """Forget identity's per-address sign-in and SMS counts of every client: their windows are real time,
    and a test that spends them (or the fuzzing's stream of sign-ins) must not lock out the next."""

    async def clear(redis: Redis) -> None:
        async for key in redis.scan_iter(match="tms:identity:rl*"):
            await redis.delete(key)

    with_redis(clear)


@dataclass
class Platform:
    """The running platform and who may sign in to it: `usernames` by role (citizen, unit, clerk)."""

    stack: Stack
    usernames: dict[str, str]
    phones: dict[str, str] = field(default_factory=dict)  # of the citizens new_citizen made
    _tokens: dict[str, tuple[float, str]] = field(default_factory=dict)

    @property
    def edge(self) -> str:
        return self.stack.edge

    def client(self, base_url: str | None = None) -> httpx.Client:
        return httpx.Client(base_url=base_url or self.edge, timeout=30, trust_env=False)

    def sign_in(self, username: str, password: str = PASSWORD) -> httpx.Response:
        """The sign-in's answer, a staff member's second factor passed (ADR 0091)."""
        with self.client() as gw:
            r = gw.post("/api/v1/auth/login", json={"username": username, "password": password})
            return finish_sign_in(gw, username, r)

    def token(self, role: str) -> str:
        """A real access token of `role`'s account from identity's login through the edge (renewed when
        it is 10 minutes old)."""
        issued = self._tokens.get(role)
        if issued is None or time.monotonic() - issued[0] > TOKEN_REFRESH_S:
            r = self.sign_in(self.usernames[role])
            if r.status_code == 429:  # the fuzzing spent this address's sign-ins
                clear_address_limits()
                r = self.sign_in(self.usernames[role])
            assert r.status_code == 200, r.text
            issued = (time.monotonic(), r.json()["access_token"])
            self._tokens[role] = issued
        return issued[1]

    def headers(self, role: str) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.token(role)}"}

    def new_citizen(self) -> str:
        """A fresh citizen account (for tests that change or lock it); its username."""
        person = Person(new_resident_id(), new_phone(), channel="online")
        make_accounts({}, [person], system=False)
        self.phones[person.id_number] = person.phone
        return person.id_number


@pytest.fixture(scope="session")
def platform() -> Platform:
    if "platform" not in _opened:
        stack = _shared.enter_context(
            gateway_platform(SERVICES, workers=WORKERS, log_level="INFO", start_timeout_s=START_TIMEOUT_S)
        )
        citizen = Person(new_resident_id(), new_phone(), channel="online")
        unit = new_credit_code()
        names = make_accounts({"clerk": CLERK_ROLES}, [citizen], system=False, units=[unit])
        _opened["platform"] = Platform(
            stack, {"citizen": citizen.id_number, "unit": unit, "clerk": names["clerk"]}
        )
    found: Platform = _opened["platform"]
    return found
