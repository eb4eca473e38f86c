"""Guessing through the gateway: the limits that stop it hold, per account or phone and per client
address, and cannot be escaped by naming another address.

- sign-in: `max_failed_logins` (5) wrong passwords in a row lock the account for `lockout_minutes` (15)
  of the platform clock, the right password included; other accounts go on; per client address at most
  `login_rate_per_ip` (30/minute, real time) sign-in attempts;
- SMS codes (NT-02): one send a minute and 10 a day per phone (platform clock), 5 wrong tries per code,
  after which the right code is refused too; per client address at most `sms_rate_per_ip` (20/minute);
- a forged X-Forwarded-For does not move a client into a fresh per-address budget.

The platform clock is moved (Redis offset, as `POST /api/v1/_test/clock` does), never slept on; the
real-time per-address windows are cleared after their test so later tests can sign in.
"""

from __future__ import annotations

import re
import secrets
import time as real_time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime, time, timedelta
from typing import Any

import httpx
import pytest

from identity_service.service import SPEC as IDENTITY
from servicekit.clock import SHANGHAI, reset_platform_time, set_platform_time
from servicekit.testing import new_phone
from tests.e2e.stack import PASSWORD

from .conftest import Platform, clear_address_limits, with_redis

SETTINGS = IDENTITY.settings()
FORGED = {"X-Forwarded-For": "203.0.113.77"}  # TEST-NET-3: an address nobody here has
# Each check: its name → whether the limit was escaped. Every test records the part as it stands.
CHECKS: dict[str, bool] = {}
Record = Callable[[str, dict[str, Any]], Any]

pytestmark = pytest.mark.integration


def _check(record: Record, name: str, bypassed: bool) -> None:
    CHECKS[name] = bypassed
    record(
        "bruteforce",
        {"bruteforce_checks": len(CHECKS), "bruteforce_bypassed": sum(CHECKS.values())},
    )


def _move_clock(moment: datetime) -> None:
    with_redis(lambda redis: set_platform_time(redis, moment))


@pytest.fixture
def clock() -> Iterator[Callable[[timedelta], None]]:
    """Starts the platform clock at 09:00 tomorrow (Shanghai), so the day's SMS count cannot roll over
    midnight during the test; `clock(delta)` moves it on. Put back to real time afterwards."""
    now = datetime.combine(datetime.now(SHANGHAI).date() + timedelta(days=1), time(9), tzinfo=SHANGHAI)
    _move_clock(now)

    def advance(delta: timedelta) -> None:
        nonlocal now
        now += delta
        _move_clock(now)

    yield advance
    with_redis(reset_platform_time)


@pytest.fixture
def fresh_limits() -> Iterator[None]:
    clear_address_limits()
    yield
    clear_address_limits()


def _code(r: httpx.Response) -> str | None:
    if r.headers.get("content-type", "").startswith("application/problem+json"):
        code: str | None = r.json().get("code")
        return code
    return None


def test_login_lockout_is_per_account_and_ends_with_the_platform_clock(
    platform: Platform, record_figures: Record, clock: Callable[[timedelta], None], fresh_limits: None
) -> None:
    victim, bystander = platform.new_citizen(), platform.new_citizen()
    for _ in range(SETTINGS.max_failed_logins):
        r = platform.sign_in(victim, "Wrong-" + secrets.token_hex(4))
        assert r.status_code == 401, r.text
    locked = platform.sign_in(victim)
    _check(record_figures, "login lockout (per account)", locked.status_code == 200)
    assert locked.status_code == 409, locked.text
    assert _code(locked) == "ACCOUNT_LOCKED"
    assert int(locked.headers["Retry-After"]) > 0
    # Per account: someone else signs in as usual.
    assert platform.sign_in(bystander).status_code == 200
    clock(timedelta(minutes=SETTINGS.lockout_minutes) - timedelta(seconds=30))
    assert platform.sign_in(victim).status_code == 409
    clock(timedelta(minutes=1))
    assert platform.sign_in(victim).status_code == 200


def _flood(platform: Platform, path: str, bodies: list[dict[str, Any]]) -> list[httpx.Response]:
    """The requests sent at once (4 at a time), so a one-minute window holds them all."""
    with platform.client() as gw, ThreadPoolExecutor(max_workers=4) as pool:
        return list(pool.map(lambda body: gw.post(path, json=body), bodies))


def test_sign_in_attempts_are_limited_per_client_address(
    platform: Platform, record_figures: Record, fresh_limits: None
) -> None:
    limit = int(SETTINGS.login_rate_per_ip.split("/")[0])
    # Unknown usernames: no account is locked, only the address's budget is spent.
    guesses = [{"username": f"guess{n}", "password": "Wrong-pass-1"} for n in range(limit)]
    answers = _flood(platform, "/api/v1/auth/login", guesses)
    assert all(r.status_code == 401 for r in answers), [r.status_code for r in answers]
    with platform.client() as gw:
        refused = gw.post("/api/v1/auth/login", json=guesses[0])
        _check(record_figures, "login per client address", refused.status_code != 429)
        assert refused.status_code == 429, refused.text
        assert _code(refused) == "RATE_LIMITED"
        assert int(refused.headers["Retry-After"]) > 0
        forged = gw.post("/api/v1/auth/login", json=guesses[0], headers=FORGED)
    _check(record_figures, "login per client address, forged X-Forwarded-For", forged.status_code != 429)
    assert forged.status_code == 429, f"a forged X-Forwarded-For escaped the limit: {forged.status_code}"


def test_sms_sends_are_limited_per_phone_nt02(
    platform: Platform, record_figures: Record, clock: Callable[[timedelta], None], fresh_limits: None
) -> None:
    """NT-02: at most one send a minute and 10 a day per phone."""
    body = {"phone": new_phone(), "purpose": "register"}
    with platform.client() as gw:
        assert gw.post("/api/v1/auth/sms-codes", json=body).status_code == 202
        again = gw.post("/api/v1/auth/sms-codes", json=body)
        _check(record_figures, "SMS sends a minute (per phone)", again.status_code == 202)
        assert again.status_code == 429, again.text
        assert _code(again) == "SMS_CODE_SEND_TOO_SOON"
        for _ in range(9):
            clock(timedelta(seconds=61))
            r = gw.post("/api/v1/auth/sms-codes", json=body)
            assert r.status_code == 202, r.text
        clock(timedelta(seconds=61))
        eleventh = gw.post("/api/v1/auth/sms-codes", json=body)
    _check(record_figures, "SMS sends a day (per phone)", eleventh.status_code == 202)
    assert eleventh.status_code == 429, eleventh.text
    assert _code(eleventh) == "SMS_CODE_DAILY_LIMIT"


def _sent_code(platform: Platform, phone: str) -> str:
    """The code in the newest SMS the local sink received for `phone` (identity's and notify's workers
    carry it there)."""
    with platform.client() as gw:
        for _ in range(600):
            items = gw.get("/api/v1/_test/sms", params={"phone": phone}).json()["items"]
            found = re.search(r"(?<!\d)\d{6}(?!\d)", items[0]["body"]) if items else None
            if found:
                return found.group()
            real_time.sleep(0.1)  # waiting for the workers to deliver, not for a rule's clock
    raise AssertionError("no SMS reached the sink within a minute")


def test_sms_code_tries_are_limited_per_code_nt02(
    platform: Platform, record_figures: Record, fresh_limits: None
) -> None:
    """NT-02: after 5 wrong tries the code is spent; the right one is refused too (reactivation, ID-12)."""
    username = platform.new_citizen()
    phone = platform.phones[username]
    token = platform.sign_in(username).json()["access_token"]
    with platform.client() as gw:
        auth = {"Authorization": f"Bearer {token}"}
        r = gw.post("/api/v1/users/me/suspension", json={"password": PASSWORD}, headers=auth)
        assert r.status_code == 204, r.text
        r = gw.post("/api/v1/auth/sms-codes", json={"phone": phone, "purpose": "reactivate"})
        assert r.status_code == 202, r.text
        code = _sent_code(platform, phone)
        wrong = f"{(int(code) + 1) % 1_000_000:06d}"
        attempt = {"username": username, "password": PASSWORD, "phone": phone}  # ID-12: the code's phone
        for _ in range(5):
            r = gw.post("/api/v1/users/reactivation", json={**attempt, "sms_code": wrong})
            assert _code(r) == "SMS_CODE_MISMATCH", r.text
        right = gw.post("/api/v1/users/reactivation", json={**attempt, "sms_code": code})
    _check(record_figures, "SMS code tries (per code)", right.status_code == 200)
    assert right.status_code != 200, "the right code worked after 5 wrong tries"
    assert _code(right) == "SMS_CODE_TRIES_EXHAUSTED", right.text


def test_sms_sends_are_limited_per_client_address(
    platform: Platform, record_figures: Record, fresh_limits: None
) -> None:
    limit = int(SETTINGS.sms_rate_per_ip.split("/")[0])
    # A new phone each time: the per-phone limits stay out of the way, only the address's budget counts.
    sends = [{"phone": new_phone(), "purpose": "register"} for _ in range(limit)]
    answers = _flood(platform, "/api/v1/auth/sms-codes", sends)
    assert all(r.status_code == 202 for r in answers), [r.status_code for r in answers]
    with platform.client() as gw:
        refused = gw.post("/api/v1/auth/sms-codes", json={"phone": new_phone(), "purpose": "register"})
        _check(record_figures, "SMS sends per client address", refused.status_code != 429)
        assert refused.status_code == 429, refused.text
        assert _code(refused) == "RATE_LIMITED"
        forged = gw.post(
            "/api/v1/auth/sms-codes", json={"phone": new_phone(), "purpose": "register"}, headers=FORGED
        )
    _check(record_figures, "SMS sends per client address, forged X-Forwarded-For", forged.status_code != 429)
    assert forged.status_code == 429, f"a forged X-Forwarded-For escaped the limit: {forged.status_code}"
