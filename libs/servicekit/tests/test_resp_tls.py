"""The pipelined Redis connection over TLS, as production runs it (`rediss://`, verified; ADR 0094, ADR
0103): against a redis-server of its own speaking TLS only, with a certificate authority made for it."""

from __future__ import annotations

import asyncio
import socket
import ssl
import time
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest
from redis.asyncio import Redis

from servicekit.resp import open_beside
from servicekit.testservers import LocalCertificates, PrivateRedis
from servicekit.web.revocation import Revocations, TokenRevoked

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def tls_redis(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[PrivateRedis, Path]]:
    directory = tmp_path_factory.mktemp("tls")
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    # Also on 127.0.0.2, an address its certificate does not name.
    server = PrivateRedis(
        port=port, listen="127.0.0.1,127.0.0.2", tls=LocalCertificates.make(directory, "redis")
    )
    server.start()
    try:
        yield server, directory
    finally:
        server.stop()


@pytest.fixture
async def redis(tls_redis: tuple[PrivateRedis, Path]) -> AsyncIterator[Redis]:
    client = Redis.from_url(tls_redis[0].url())
    yield client
    await client.aclose()


async def test_the_pipelined_connection_speaks_tls_where_redis_py_does(redis: Redis) -> None:
    await redis.set("tls:k", "v")  # redis-py itself, over TLS
    pipe = await open_beside(redis)
    assert pipe is not None
    try:
        assert pipe._transport is not None
        assert pipe._transport.get_extra_info("ssl_object") is not None
        replies = await asyncio.gather(
            pipe.call("GET", "tls:k"), pipe.call("INCR", "tls:n"), pipe.call("PING")
        )
        assert replies[0] == b"v"
        assert isinstance(replies[1], int)
        assert replies[2] in ("PONG", b"PONG")
    finally:
        pipe.close()


async def test_a_server_certificate_from_another_authority_is_refused(
    tls_redis: tuple[PrivateRedis, Path],
) -> None:
    server, directory = tls_redis
    stranger = LocalCertificates.make(directory / "other", "stranger")
    client = Redis.from_url(f"rediss://127.0.0.1:{server.port}/0?ssl_ca_certs={stranger.ca}")
    try:
        with pytest.raises(ssl.SSLCertVerificationError):
            await open_beside(client)
    finally:
        await client.aclose()


async def test_a_server_named_otherwise_than_its_certificate_is_refused(
    tls_redis: tuple[PrivateRedis, Path],
) -> None:
    server, _ = tls_redis
    assert server.tls is not None
    # The same server, reached at an address its certificate (127.0.0.1, localhost) does not name.
    client = Redis.from_url(server.url(host="127.0.0.2"))
    try:
        with pytest.raises(ssl.SSLCertVerificationError):
            await open_beside(client)
    finally:
        await client.aclose()


async def test_revocation_checks_go_on_the_pipelined_connection_over_tls(redis: Redis) -> None:
    marks = Revocations(redis, ttl_s=60)
    await marks.revoke_session("acc-tls", "sid-gone")
    now = time.time()
    results = await asyncio.gather(
        *(marks.check("acc-tls", now, "sid-gone" if i % 10 == 0 else f"sid-{i}") for i in range(100)),
        return_exceptions=True,
    )
    assert sum(isinstance(r, TokenRevoked) for r in results) == 10
    assert sum(r is None for r in results) == 90
    assert marks._pipe is not None  # not redis-py's fallback
    assert marks._pipe._transport is not None
    assert marks._pipe._transport.get_extra_info("ssl_object") is not None
    await marks.aclose()
