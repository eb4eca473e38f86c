"""servicekit.web.revocation (ADR 0082): identity's marks of revoked sessions and accounts, read in one
MGET. Real Redis."""

from __future__ import annotations

import asyncio
import socket
import time

import pytest
from redis.asyncio import Redis

from servicekit.web.revocation import (
    Revocations,
    RevocationsUnavailable,
    TokenRevoked,
    account_key,
    session_key,
)

pytestmark = pytest.mark.integration


async def test_a_signed_out_session_is_revoked_and_no_other(redis: Redis) -> None:
    marks = Revocations(redis, ttl_s=60)
    now = time.time()
    await marks.check("acc-1", now, "sid-1")
    await marks.revoke_session("acc-1", "sid-1")
    with pytest.raises(TokenRevoked, match="session"):
        await marks.check("acc-1", now, "sid-1")
    await marks.check("acc-1", now, "sid-2")  # the account's other sign-ins go on
    await marks.check("acc-2", now, "sid-1")  # a sid is the account's own


async def test_an_account_mark_ends_the_tokens_issued_at_or_before_it(redis: Redis) -> None:
    marks = Revocations(redis, ttl_s=60)
    revoked_at = time.time()
    await marks.revoke_account("acc-3", revoked_at)
    for issued in (revoked_at - 600, revoked_at - 0.001, revoked_at):
        with pytest.raises(TokenRevoked, match="account"):
            await marks.check("acc-3", issued, "sid-9")
        with pytest.raises(TokenRevoked, match="account"):
            await marks.check("acc-3", issued, None)  # client credentials: no session
    await marks.check("acc-3", revoked_at + 0.001, "sid-10")  # signed in after the mark


async def test_marks_live_as_long_as_an_access_token(redis: Redis) -> None:
    marks = Revocations(redis, ttl_s=910)
    await marks.revoke_session("acc-4", "sid-4")
    await marks.revoke_account("acc-4", time.time())
    for key in (session_key("acc-4", "sid-4"), account_key("acc-4")):
        assert 900 < await redis.ttl(key) <= 910


def test_one_subjects_marks_share_a_cluster_slot() -> None:
    """One MGET per request works on a Redis Cluster only when its keys share a hash tag."""
    assert account_key("acc-5").split("}")[0] == session_key("acc-5", "sid-5").split("}")[0]


async def test_a_writer_needs_the_token_lifetime(redis: Redis) -> None:
    with pytest.raises(ValueError, match="ttl_s"):
        await Revocations(redis).revoke_session("acc-6", "sid-6")


async def test_an_unreachable_redis_is_unavailable_for_readers_and_writers() -> None:
    down = Redis.from_url("redis://127.0.0.1:1/0")  # nothing listens on port 1
    marks = Revocations(down, ttl_s=60)
    with pytest.raises(RevocationsUnavailable):
        await marks.check("acc-7", time.time(), "sid-7")
    with pytest.raises(RevocationsUnavailable):
        await marks.revoke_session("acc-7", "sid-7")
    await down.aclose()


async def test_a_burst_of_checks_goes_out_on_one_pipelined_connection(redis_url: str, redis: Redis) -> None:
    """Over TCP, 500 requests at once share the one auto-pipelining connection: none of redis-py's."""
    narrow = Redis.from_url(redis_url, max_connections=1)
    marks = Revocations(narrow, ttl_s=60)
    await marks.revoke_session("acc-8p", "sid-gone")  # the writer's SET: redis-py, its one connection
    now = time.time()
    sessions = ["sid-gone" if i % 50 == 0 else f"sid-{i}" for i in range(500)]
    results = await asyncio.gather(
        *(marks.check("acc-8p", now, sid) for sid in sessions), return_exceptions=True
    )
    assert sum(isinstance(r, TokenRevoked) for r in results) == 10
    assert sum(r is None for r in results) == 490
    assert marks._pipe is not None
    assert not marks._pipe.closed
    await marks.aclose()
    await narrow.aclose()


async def test_a_burst_of_checks_shares_one_connection(redis_url: str, redis: Redis) -> None:
    """Where the pipelined connection is not used (a Unix socket): 500 requests at once, two MGETs go
    out on their own, the others wait and go out pipelined, on one more connection (redis-py's pool
    refuses a connection past its limit, 100 by default; here 3)."""
    narrow = Redis.from_url(redis_url, max_connections=3)
    marks = Revocations(narrow, ttl_s=60, max_direct=2)
    marks._pipe_possible = False  # as open_beside decides for a Unix socket
    await marks.revoke_session("acc-8", "sid-gone")
    now = time.time()
    sessions = ["sid-gone" if i % 50 == 0 else f"sid-{i}" for i in range(500)]
    results = await asyncio.gather(
        *(marks.check("acc-8", now, sid) for sid in sessions), return_exceptions=True
    )
    assert sum(isinstance(r, TokenRevoked) for r in results) == 10
    assert sum(r is None for r in results) == 490
    await narrow.aclose()


async def test_a_hung_redis_answers_unavailable_within_the_timeout() -> None:
    """A Redis that accepts and never answers (stopped, partitioned): 503 after the timeout, not never."""
    with socket.socket() as hung:
        hung.bind(("127.0.0.1", 0))
        hung.listen()
        silent = Redis.from_url(f"redis://127.0.0.1:{hung.getsockname()[1]}/0")
        marks = Revocations(silent, timeout_s=0.3)
        started = time.monotonic()
        with pytest.raises(RevocationsUnavailable):
            await marks.check("acc-9", time.time(), "sid-9")
        assert time.monotonic() - started < 2
        # the next check is not stuck behind the first
        with pytest.raises(RevocationsUnavailable):
            await marks.check("acc-9", time.time(), "sid-9")
        await silent.aclose()
