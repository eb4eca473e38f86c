"""PP-12 on a Redis Cluster (ADR 0097): connections lost under load fail as lost connections (503, ADR 0088,
and redis-py retries a write that never left), never with the transport's own error (a 500).

redis-py 8.1's cluster client, on a connection error, disconnects its idle connections while other tasks
take them from the pool; their writes raised AttributeError or RuntimeError (uvloop), which no retry and
no 503 catches: `bench/plates.py --cluster` had 135 of 2,522 two-replica draws answered 500."""

from __future__ import annotations

import asyncio

import pytest
import redis.exceptions
from redis.asyncio import Redis

from plate_pool_service.hot import hot_redis
from servicekit.testservers import PrivateRedisCluster

pytestmark = pytest.mark.integration

LOST = (redis.exceptions.ConnectionError, redis.exceptions.TimeoutError)  # answered 503


async def test_pp12_cluster_connections_cut_under_load_fail_as_lost_never_as_a_500(
    redis_cluster: PrivateRedisCluster,
) -> None:
    client = hot_redis(redis_cluster.url)
    served, lost, other = 0, 0, list[BaseException]()
    done = asyncio.Event()

    async def ask(i: int) -> None:  # what a replica's draws do: many small commands at once
        nonlocal served, lost
        while not done.is_set():
            try:
                await client.get(f"pptest:home:{i}")
                served += 1
            except LOST:
                lost += 1
            except Exception as exc:  # what the app would answer 500
                other.append(exc)
                done.set()

    async def cut() -> None:  # every client connection of every node closed by the server, 20 times
        for _ in range(20):
            await asyncio.sleep(0.2)
            for port in redis_cluster.ports:
                admin = Redis(port=port)
                await admin.client_kill_filter(_type="normal", skipme=True)
                await admin.aclose()
        done.set()

    try:
        await asyncio.gather(cut(), *(ask(i) for i in range(64)))
    finally:
        await client.aclose()
    assert other == [], other[:3]
    assert served > lost
