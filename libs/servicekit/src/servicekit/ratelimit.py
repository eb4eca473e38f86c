"""Per-user / per-key request rate limits on Redis, with the `limits` package's moving window.

These protect the servers from abuse and follow real time, not the platform clock: moving the dev
clock a day forward must not unlock a flood. Business quotas that rules name (NT-02 sends, PP-05/06
attempts) are counted by their own services against the platform clock instead.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

from limits import RateLimitItem, parse
from limits.aio.storage import RedisStorage
from limits.aio.strategies import MovingWindowRateLimiter
from redis.asyncio import ConnectionPool


@dataclass(frozen=True)
class RateLimitExceeded:
    limit: str
    retry_after_s: int  # at least 1, for a Retry-After header


@lru_cache(maxsize=256)
def _parse(limit: str) -> RateLimitItem:
    # Raises ValueError for a malformed limit such as "60/fortnight".
    return parse(limit)


def _escape(key: str) -> str:
    # `limits` joins identifiers with "/": escape it so ("a/b",) and ("a", "b") stay different keys.
    return key.replace("%", "%25").replace("/", "%2F")


class RateLimiter:
    def __init__(self, storage: RedisStorage, pool: ConnectionPool | None = None) -> None:
        self._strategy = MovingWindowRateLimiter(storage)
        self._pool = pool

    @classmethod
    def from_url(cls, redis_url: str, key_prefix: str) -> RateLimiter:
        """`redis_url` as in the settings (redis://host:port/db); keys start with `key_prefix`."""
        pool = ConnectionPool.from_url(redis_url)
        # The pool is ours so that `aclose` can release its connections; redis-py is the client the
        # platform already uses, rather than `limits`' default coredis.
        options: dict[str, Any] = {"connection_pool": pool}
        storage = RedisStorage(
            redis_url if redis_url.startswith("async+") else f"async+{redis_url}",
            implementation="redispy",
            key_prefix=key_prefix,
            **options,
        )
        return cls(storage, pool)

    async def hit(self, limit: str, *keys: str) -> RateLimitExceeded | None:
        """Count one request against `limit` (e.g. "60/minute") for `keys`; refused hits are not counted."""
        item = _parse(limit)
        escaped = [_escape(k) for k in keys]
        if await self._strategy.hit(item, *escaped):
            return None
        stats = await self._strategy.get_window_stats(item, *escaped)
        return RateLimitExceeded(limit=limit, retry_after_s=max(1, math.ceil(stats.reset_time - time.time())))

    async def clear(self, limit: str, *keys: str) -> None:
        """Forget the hits of `keys` under `limit` (e.g. a clerk unlocks a user)."""
        await self._strategy.clear(_parse(limit), *(_escape(k) for k in keys))

    async def aclose(self) -> None:
        if self._pool is not None:
            await self._pool.disconnect()
