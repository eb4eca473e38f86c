"""NT-02 verification codes against real Redis; time moves only by FixedClock (WD-02)."""

from __future__ import annotations

import asyncio
import re
from datetime import datetime, timedelta

import pytest
from redis.asyncio import Redis

from servicekit.clock import SHANGHAI, FixedClock
from servicekit.validators import InvalidValue
from servicekit.verification import (
    CodeDailyLimit,
    CodeExpired,
    CodeMismatch,
    CodeNotIssued,
    CodeSendTooSoon,
    CodeTriesExhausted,
    VerificationCodes,
    VerificationError,
)

pytestmark = pytest.mark.integration

PHONE = "13800138000"
START = datetime(2025, 3, 3, 22, 0, tzinfo=SHANGHAI)


@pytest.fixture
def clock() -> FixedClock:
    return FixedClock(START)


@pytest.fixture
def codes(redis: Redis, clock: FixedClock) -> VerificationCodes:
    return VerificationCodes(redis, clock, b"test-pepper")


def wrong(code: str) -> str:
    return f"{(int(code) + 1) % 1_000_000:06d}"


async def test_nt02_code_is_six_digits_valid_five_minutes_and_single_use(codes: VerificationCodes) -> None:
    issued = await codes.issue(PHONE, "pp07-confirm")
    assert re.fullmatch(r"\d{6}", issued.code)
    assert issued.expires_at == START + timedelta(minutes=5)
    await codes.verify(PHONE, "pp07-confirm", issued.code)
    with pytest.raises(CodeNotIssued):
        await codes.verify(PHONE, "pp07-confirm", issued.code)


async def test_nt02_only_a_hash_of_the_code_is_stored(codes: VerificationCodes, redis: Redis) -> None:
    issued = await codes.issue(PHONE, "login")
    keys = await redis.keys("tms:vc:*")
    assert keys
    stored = ""
    for key in keys:
        value = await redis.hgetall(key) if await redis.type(key) == b"hash" else await redis.get(key)
        stored += repr(value)
    assert issued.code not in stored
    assert re.search(r"[0-9a-f]{64}", stored)
    # Redis TTLs are only garbage collection, far beyond the 5 platform minutes that decide expiry.
    assert await redis.ttl("tms:vc:{13800138000}:code:login") > 24 * 3600


async def test_nt02_code_expires_after_five_minutes_of_platform_time(
    codes: VerificationCodes, clock: FixedClock
) -> None:
    first = await codes.issue(PHONE, "login")
    clock.advance(timedelta(minutes=4, seconds=59))
    await codes.verify(PHONE, "login", first.code)

    clock.advance(timedelta(minutes=1))
    second = await codes.issue(PHONE, "login")
    clock.set(second.expires_at)
    with pytest.raises(CodeExpired):
        await codes.verify(PHONE, "login", second.code)


async def test_nt02_wrong_tries_count_down(codes: VerificationCodes) -> None:
    issued = await codes.issue(PHONE, "login")
    for left in (4, 3, 2, 1, 0):
        with pytest.raises(CodeMismatch) as exc:
            await codes.verify(PHONE, "login", wrong(issued.code))
        assert exc.value.tries_left == left


async def test_nt02_sixth_wrong_try_is_refused(codes: VerificationCodes) -> None:
    issued = await codes.issue(PHONE, "login")
    for _ in range(5):
        with pytest.raises(CodeMismatch):
            await codes.verify(PHONE, "login", wrong(issued.code))
    with pytest.raises(CodeTriesExhausted):
        await codes.verify(PHONE, "login", wrong(issued.code))
    # Even the right code no longer works: brute force ends at five guesses.
    with pytest.raises(CodeTriesExhausted):
        await codes.verify(PHONE, "login", issued.code)


async def test_nt02_malformed_input_costs_a_try(codes: VerificationCodes) -> None:
    issued = await codes.issue(PHONE, "login")
    with pytest.raises(CodeMismatch) as exc:
        await codes.verify(PHONE, "login", "12ab")
    assert exc.value.tries_left == 4
    await codes.verify(PHONE, "login", f" {issued.code} ")


async def test_nt02_second_send_within_a_minute_is_refused(
    codes: VerificationCodes, clock: FixedClock
) -> None:
    await codes.issue(PHONE, "login")
    with pytest.raises(CodeSendTooSoon) as exc:
        await codes.issue(PHONE, "login")
    assert exc.value.retry_after_s == 60
    clock.advance(timedelta(seconds=45))
    # The minute is per phone, whatever the purpose.
    with pytest.raises(CodeSendTooSoon) as exc:
        await codes.issue(PHONE, "pp07-confirm")
    assert exc.value.retry_after_s == 15
    clock.advance(timedelta(seconds=15))
    await codes.issue(PHONE, "pp07-confirm")
    # Another phone is not affected.
    await codes.issue("13900139000", "login")


async def test_nt02_new_send_replaces_previous_code(codes: VerificationCodes, clock: FixedClock) -> None:
    first = await codes.issue(PHONE, "login")
    clock.advance(timedelta(minutes=1))
    second = await codes.issue(PHONE, "login")
    if first.code != second.code:
        with pytest.raises(CodeMismatch):
            await codes.verify(PHONE, "login", first.code)
    await codes.verify(PHONE, "login", second.code)


async def test_nt02_eleventh_send_of_the_shanghai_day_is_refused(
    codes: VerificationCodes, clock: FixedClock
) -> None:
    for _ in range(10):
        await codes.issue(PHONE, "login")
        clock.advance(timedelta(minutes=1))
    # 22:10 Shanghai: the day ends at local midnight, 1 h 50 min away (UTC midnight would be 10 h away).
    with pytest.raises(CodeDailyLimit) as exc:
        await codes.issue(PHONE, "login")
    assert exc.value.retry_after_s == 110 * 60
    clock.set(datetime(2025, 3, 3, 23, 59, 59, tzinfo=SHANGHAI))
    with pytest.raises(CodeDailyLimit) as exc:
        await codes.issue(PHONE, "login")
    assert exc.value.retry_after_s == 1
    clock.set(datetime(2025, 3, 4, 0, 0, tzinfo=SHANGHAI))
    issued = await codes.issue(PHONE, "login")
    await codes.verify(PHONE, "login", issued.code)


async def test_nt02_codes_are_bound_to_purpose(codes: VerificationCodes) -> None:
    issued = await codes.issue(PHONE, "login")
    with pytest.raises(CodeNotIssued):
        await codes.verify(PHONE, "pp07-confirm", issued.code)
    await codes.verify(PHONE, "login", issued.code)


async def test_nt02_phone_forms_share_one_code(codes: VerificationCodes) -> None:
    issued = await codes.issue("+86 138 0013 8000", "login")
    await codes.verify(PHONE, "login", issued.code)


async def test_nt02_verify_without_send_is_not_issued(codes: VerificationCodes) -> None:
    with pytest.raises(CodeNotIssued):
        await codes.verify(PHONE, "login", "123456")


async def test_nt02_refuses_invalid_phone_and_purpose(codes: VerificationCodes) -> None:
    with pytest.raises(InvalidValue):
        await codes.issue("12345", "login")
    with pytest.raises(ValueError, match="purpose"):
        await codes.issue(PHONE, "Log In")


async def test_nt02_different_pepper_does_not_accept_the_code(redis: Redis, clock: FixedClock) -> None:
    issued = await VerificationCodes(redis, clock, b"pepper-a").issue(PHONE, "login")
    with pytest.raises(CodeMismatch):
        await VerificationCodes(redis, clock, b"pepper-b").verify(PHONE, "login", issued.code)


async def test_nt02_concurrent_verifies_of_right_code_succeed_once(codes: VerificationCodes) -> None:
    issued = await codes.issue(PHONE, "login")
    results = await asyncio.gather(
        *(codes.verify(PHONE, "login", issued.code) for _ in range(20)), return_exceptions=True
    )
    assert sum(r is None for r in results) == 1
    assert all(isinstance(r, CodeNotIssued) for r in results if r is not None)


async def test_nt02_concurrent_sends_respect_the_minute(codes: VerificationCodes, redis: Redis) -> None:
    results = await asyncio.gather(*(codes.issue(PHONE, "login") for _ in range(20)), return_exceptions=True)
    issued = [r for r in results if not isinstance(r, BaseException)]
    assert len(issued) == 1
    assert all(isinstance(r, CodeSendTooSoon) for r in results if isinstance(r, BaseException))
    assert await redis.get("tms:vc:{13800138000}:day:20250303") == b"1"


def test_nt02_errors_carry_stable_codes_and_rule() -> None:
    classes: list[type[VerificationError]] = [
        CodeSendTooSoon,
        CodeDailyLimit,
        CodeMismatch,
        CodeExpired,
        CodeTriesExhausted,
        CodeNotIssued,
    ]
    assert all(issubclass(c, VerificationError) and c.rule == "NT-02" for c in classes)
    names = [c.code for c in classes]
    assert len(set(names)) == len(names)
    assert all(re.fullmatch(r"SMS_CODE_[A-Z_]+", n) for n in names)
    assert CodeMismatch(3).tries_left == 3
    assert CodeDailyLimit(7).retry_after_s == 7


async def test_nt02_a_code_whose_sms_was_never_sent_is_withdrawn_and_does_not_count(
    codes: VerificationCodes,
) -> None:
    """ADR 0088: the transaction that would have sent the SMS failed (the database away): the person's
    retry a moment later gets a code, not CODE_SEND_TOO_SOON for a send that never happened, and the
    withdrawn code verifies nothing."""
    issued = await codes.issue(PHONE, "pp07-confirm")
    assert await codes.withdraw(PHONE, "pp07-confirm", issued)
    again = await codes.issue(PHONE, "pp07-confirm")  # at once: not refused
    if issued.code != again.code:
        with pytest.raises(CodeMismatch):
            await codes.verify(PHONE, "pp07-confirm", issued.code)
    await codes.verify(PHONE, "pp07-confirm", again.code)


async def test_nt02_withdrawing_leaves_a_newer_code_alone(
    codes: VerificationCodes, clock: FixedClock
) -> None:
    first = await codes.issue(PHONE, "login")
    clock.advance(timedelta(minutes=1))
    second = await codes.issue(PHONE, "login")
    assert not await codes.withdraw(PHONE, "login", first)
    with pytest.raises(CodeSendTooSoon):
        await codes.issue(PHONE, "login")  # the second send still counts
    await codes.verify(PHONE, "login", second.code)


async def test_nt02_withdrawn_sends_do_not_count_towards_the_daily_ten(
    codes: VerificationCodes, clock: FixedClock
) -> None:
    for _ in range(10):
        issued = await codes.issue(PHONE, "login")
        assert await codes.withdraw(PHONE, "login", issued)
        clock.advance(timedelta(minutes=1))
    await codes.issue(PHONE, "login")  # the eleventh attempt, the first actually sent
