"""PP-12 hot path: the auto-pipelining Redis connection works under uvloop, the loop uvicorn runs the api
on. uvloop's transport is no `asyncio.Transport` subclass; an isinstance check in `connection_made` once
left the connection without its transport, and every draw silently fell back to redis-py."""

from __future__ import annotations

import os
import secrets
from typing import Any

import uvloop
from redis.asyncio import Redis

from plate_pool_service.hot import HotPool
from servicekit.clock import SystemClock

REDIS_URL = os.environ.get("TMS_PLATE_POOL__REDIS__URL", "redis://127.0.0.1:6379/15")


PREFIX = f"pptest:{secrets.token_hex(4)}"


class _NoFallback:
    """A loaded script whose redis-py path must not be taken."""

    def __init__(self, sha: str) -> None:
        self.sha = sha

    async def __call__(self, **_: Any) -> Any:
        raise AssertionError("fell back to redis-py: the pipelined connection was not used")


def test_pp12_draw_scripts_go_through_the_pipelined_connection_under_uvloop() -> None:
    async def scenario() -> tuple[Any, bool]:
        redis = Redis.from_url(REDIS_URL)
        hot = HotPool(redis, SystemClock(), PREFIX)
        sha = await redis.script_load("return {tonumber(ARGV[1]) + 1, KEYS[1], #KEYS}")
        try:
            result = await hot._fast_script(_NoFallback(sha), "sel-a", "seg-a", [41])
            pipe = hot._pipe
            return result, pipe is not None and not pipe.closed
        finally:
            hot.close()
            await redis.aclose()

    result, open_ = uvloop.run(scenario())
    hot_keys = HotPool(Redis(), SystemClock(), PREFIX).keys_of("sel-a", "seg-a")
    assert result == [42, hot_keys[0].encode(), len(hot_keys)]
    assert open_
