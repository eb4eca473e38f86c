"""Request rate limits on real Redis (the `limits` moving window)."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
from redis.asyncio import Redis

from servicekit.ratelimit import RateLimiter

pytestmark = pytest.mark.integration

REDIS_URL = "redis://127.0.0.1:6379/14"


@pytest.fixture
async def limiter(redis: Redis, unique: str) -> AsyncIterator[RateLimiter]:
    # Depends on `redis` so that db 14 is flushed around the test.
    limiter = RateLimiter.from_url(REDIS_URL, key_prefix=f"rl-{unique}")
    yield limiter
    await limiter.aclose()


async def test_limit_refuses_the_hit_beyond_the_window(limiter: RateLimiter) -> None:
    for _ in range(3):
        assert await limiter.hit("3/minute", "user", "u-1") is None
    exceeded = await limiter.hit("3/minute", "user", "u-1")
    assert exceeded is not None
    assert exceeded.limit == "3/minute"
    assert 1 <= exceeded.retry_after_s <= 60
    assert exceeded.retry_after_s >= 55  # the oldest hit was moments ago


async def test_limit_is_per_key_and_per_limit(limiter: RateLimiter) -> None:
    assert await limiter.hit("1/minute", "user", "u-1") is None
    assert await limiter.hit("1/minute", "user", "u-1") is not None
    assert await limiter.hit("1/minute", "user", "u-2") is None
    assert await limiter.hit("2/hour", "user", "u-1") is None
    # "/" inside a key is escaped, so it cannot alias two other keys.
    assert await limiter.hit("1/minute", "user/u-3") is None
    assert await limiter.hit("1/minute", "user", "u-3") is None


async def test_retry_after_is_at_least_one_second(limiter: RateLimiter) -> None:
    assert await limiter.hit("1/second", "ip", "10.0.0.1") is None
    exceeded = await limiter.hit("1/second", "ip", "10.0.0.1")
    assert exceeded is not None
    assert exceeded.retry_after_s == 1


async def test_clear_forgets_the_hits(limiter: RateLimiter) -> None:
    assert await limiter.hit("1/hour", "user", "u-1") is None
    assert await limiter.hit("1/hour", "user", "u-1") is not None
    await limiter.clear("1/hour", "user", "u-1")
    assert await limiter.hit("1/hour", "user", "u-1") is None


async def test_keys_carry_the_prefix(limiter: RateLimiter, redis: Redis, unique: str) -> None:
    await limiter.hit("5/minute", "user", "u-1")
    keys = await redis.keys(f"rl-{unique}*")
    assert len(keys) == 1
    assert b"u-1" in keys[0]


async def test_malformed_limit_is_a_value_error(limiter: RateLimiter) -> None:
    with pytest.raises(ValueError, match="fortnight"):
        await limiter.hit("60/fortnight", "user", "u-1")
