"""One injectable clock (WD-02). Every rule asks it for the time; nothing calls `datetime.now()`.

In dev and test the platform clock is the real time plus one offset kept in Redis, so that one
`POST /api/v1/_test/clock` moves every process of every service at once. In prod it is the real clock.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Protocol
from zoneinfo import ZoneInfo

from redis.asyncio import Redis

SHANGHAI = ZoneInfo("Asia/Shanghai")
OFFSET_KEY = "tms:clock:offset_us"


class Clock(Protocol):
    async def now(self) -> datetime:
        """The platform time, timezone-aware, in Asia/Shanghai."""
        ...


class SystemClock:
    async def now(self) -> datetime:
        return datetime.now(SHANGHAI)


class FixedClock:
    """For unit tests: time stands still until the test moves it."""

    def __init__(self, start: datetime) -> None:
        if start.tzinfo is None:
            raise ValueError("FixedClock needs an aware datetime")
        self._now = start.astimezone(SHANGHAI)

    async def now(self) -> datetime:
        return self._now

    def set(self, moment: datetime) -> None:
        self._now = moment.astimezone(SHANGHAI)

    def advance(self, delta: timedelta) -> None:
        self._now += delta


class RedisOffsetClock:
    """Real time plus the platform offset read from Redis on every call (one GET, far under a millisecond)."""

    def __init__(self, redis: Redis) -> None:
        self._redis = redis

    async def now(self) -> datetime:
        raw = await self._redis.get(OFFSET_KEY)
        offset = timedelta(microseconds=int(raw)) if raw else timedelta(0)
        return datetime.now(SHANGHAI) + offset


async def set_platform_time(redis: Redis, moment: datetime) -> timedelta:
    """Move the whole platform so that its clock reads `moment` now. Returns the offset stored."""
    if moment.tzinfo is None:
        raise ValueError("the platform time needs an offset, e.g. 2027-03-01T09:00:00+08:00")
    offset = moment - datetime.now(SHANGHAI)
    await redis.set(OFFSET_KEY, int(offset / timedelta(microseconds=1)))
    return offset


async def reset_platform_time(redis: Redis) -> None:
    await redis.delete(OFFSET_KEY)


def clock_for(env_is_test: bool, redis: Redis) -> Clock:
    """The composition roots' one choice: the movable clock in dev and test, the real one in prod."""
    return RedisOffsetClock(redis) if env_is_test else SystemClock()
