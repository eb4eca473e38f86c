"""The cost of the revocation check (ADR 0082) on an authenticated request, A/B in one process, in a minute.

    uv run python bench/auth_check_ab.py [--requests 3000] [--rounds 5] [--redis redis://127.0.0.1:6379/0]

One app from `create_service_app` with a trivial authenticated route (the token verified, nothing else),
called in-process through httpx's ASGI transport with the same cached token: B checks the marks as every
service does (one MGET on the real Redis), A is the same app whose check does nothing (the code before ADR
0082), R one whose check is a bare `await redis.mget(...)` (the round trip alone, to tell it from the
check's own overhead). Rounds rotate the sides so that the drift of a shared machine hits all alike. The
last line is one JSON object: the median microseconds per request of each side and the differences.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import statistics
import time
from typing import Any, ClassVar

from fastapi import APIRouter
from redis.asyncio import Redis

from servicekit.db import new_metadata
from servicekit.runtime import Runtime
from servicekit.settings import RedisSettings, ServiceSettings, settings_config
from servicekit.testing import TokenFactory, service_client
from servicekit.web import CurrentPrincipal, create_service_app
from servicekit.web.revocation import account_key, session_key


class BenchSettings(ServiceSettings):
    service_name: ClassVar[str] = "auth-bench"
    model_config = settings_config("auth-bench")


class NoCheck:
    """Side A: what current_principal did before the marks existed."""

    async def check(self, subject: str, issued_at: float, session_id: str | None) -> None:
        return None


class BareMget:
    """Side R: the round trip alone."""

    def __init__(self, redis: Redis) -> None:
        self.redis = redis

    async def check(self, subject: str, issued_at: float, session_id: str | None) -> None:
        await self.redis.mget([account_key(subject), session_key(subject, str(session_id))])


router = APIRouter()


@router.get("/me")
async def me(principal: CurrentPrincipal) -> dict[str, Any]:
    return {"subject": principal.subject}


async def side(redis_url: str, tokens: TokenFactory, mode: str, requests: int) -> float:
    settings = BenchSettings(redis=RedisSettings(url=redis_url))
    settings.telemetry.log_level = "WARNING"
    app = create_service_app(
        settings,
        title="bench",
        routers=[router],
        runtime_factory=lambda: Runtime.open(settings, new_metadata()),
    )
    app.state.verifier = tokens.verifier()
    bare = Redis.from_url(redis_url)
    if mode == "A":
        app.state.revocations = NoCheck()
    elif mode == "R":
        app.state.revocations = BareMget(bare)
    headers = tokens.headers(tokens.citizen("p-bench", id_number="130102199003071233", session_id="s-1"))
    async with service_client(app) as client:
        for _ in range(200):  # warm-up: the verified-token cache, the Redis connection
            assert (await client.get("/me", headers=headers)).status_code == 200
        started = time.perf_counter()
        for _ in range(requests):
            r = await client.get("/me", headers=headers)
        elapsed = time.perf_counter() - started
        assert r.status_code == 200, r.text
    await bare.aclose()
    return elapsed / requests * 1e6


async def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--requests", type=int, default=3000)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--redis", default="redis://127.0.0.1:6379/0")
    args = parser.parse_args()
    tokens = TokenFactory()
    runs: dict[str, list[float]] = {"A": [], "B": [], "R": []}
    modes = "ABR"
    for i in range(args.rounds):
        for mode in modes[i % 3 :] + modes[: i % 3]:
            runs[mode].append(await side(args.redis, tokens, mode, args.requests))
    a, b, r = (statistics.median(runs[m]) for m in modes)
    result = {
        "a_no_check_us": round(a, 1),
        "b_check_us": round(b, 1),
        "r_bare_mget_us": round(r, 1),
        "added_us": round(b - a, 1),
        "added_ratio": round(b / a - 1, 3),
        "check_overhead_beyond_round_trip_us": round(b - r, 1),
        "rounds": args.rounds,
        "requests_per_round": args.requests,
        "how": "in-process ASGI, one cached token, B = one MGET on real Redis per request",
    }
    print(json.dumps(result))


if __name__ == "__main__":
    asyncio.run(main())
