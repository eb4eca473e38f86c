"""servicekit.web.revocation (ADR 0082): identity's marks of revoked sessions and accounts, read in one
MGET. Real Redis."""

from __future__ import annotations

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
