"""A minimal auto-pipelining Redis connection for the hot paths: plate-pool's scripts (PP-12 benchmark)
and every request's revocation check (ADR 0082).

On these machines a socket write costs far more CPU than the Python around it (a draw's one EVALSHA cost
~250 µs through redis-py, most of it in `send`). Every request in flight on a process shares this one
connection: commands issued in the same event-loop tick go out in one write, and replies come back in
order (Redis answers a connection's commands in order), so the syscall is paid once per batch.
It speaks only what the hot paths need: commands out, RESP2 replies in (simple, error, integer, bulk,
array), over TCP, with TLS where redis-py's URL says `rediss://` (the same verified context redis-py
builds: production refuses anything else, ADR 0094); `open_beside` gives None for a Unix socket (redis-py
then). Anything else (pools, scripts loading, stats) uses redis-py.
"""

from __future__ import annotations

import asyncio
import ssl
from collections import deque
from typing import Any, cast

from redis.asyncio import Redis
from redis.asyncio.connection import Connection, SSLConnection


class RespError(Exception):
    """An error reply from Redis (e.g. NOSCRIPT)."""


class _Incomplete(Exception):
    pass


_NOTHING = object()


class _Parser:
    def __init__(self) -> None:
        self._buf = bytearray()
        self._pos = 0

    def feed(self, data: bytes) -> None:
        self._buf += data

    def next(self) -> Any:
        try:
            value, self._pos = self._parse(self._pos)
        except _Incomplete:
            return _NOTHING
        if self._pos > 1 << 16:
            del self._buf[: self._pos]
            self._pos = 0
        return value

    def _parse(self, pos: int) -> tuple[Any, int]:
        buf = self._buf
        end = buf.find(b"\r\n", pos)
        if end < 0:
            raise _Incomplete
        kind, line, after = buf[pos], bytes(buf[pos + 1 : end]), end + 2
        if kind == 0x24:  # $ bulk string
            n = int(line)
            if n < 0:
                return None, after
            if len(buf) < after + n + 2:
                raise _Incomplete
            return bytes(buf[after : after + n]), after + n + 2
        if kind == 0x2A:  # * array
            n = int(line)
            if n < 0:
                return None, after
            items = []
            for _ in range(n):
                item, after = self._parse(after)
                items.append(item)
            return items, after
        if kind == 0x3A:  # : integer
            return int(line), after
        if kind == 0x2B:  # + simple string
            return line.decode(), after
        if kind == 0x2D:  # - error
            return RespError(line.decode()), after
        raise ConnectionError(f"unexpected RESP type {kind!r}")


def bulks(args: tuple[Any, ...] | list[Any]) -> bytes:
    """`args` as RESP bulk strings, without the array's header (a caller may keep a part it reuses)."""
    parts = []
    for arg in args:
        raw = arg if isinstance(arg, bytes) else str(arg).encode()
        parts.append(b"$%d\r\n%s\r\n" % (len(raw), raw))
    return b"".join(parts)


def _encode(args: tuple[Any, ...]) -> bytes:
    return b"*%d\r\n%s" % (len(args), bulks(args))


class RespPipe(asyncio.Protocol):
    def __init__(self) -> None:
        self._loop = asyncio.get_running_loop()
        self._transport: asyncio.Transport | None = None
        self._parser = _Parser()
        self._waiting: deque[asyncio.Future[Any]] = deque()
        self._out: list[bytes] = []
        self._flush_scheduled = False
        self.closed = False

    @classmethod
    async def open(
        cls,
        host: str,
        port: int,
        db: int,
        password: str | None = None,
        username: str | None = None,
        tls: ssl.SSLContext | None = None,
    ) -> RespPipe:
        """`tls`: the server's certificate is checked against `host` when the context checks host names."""
        loop = asyncio.get_running_loop()
        _, pipe = await loop.create_connection(cls, host, port, ssl=tls)
        if password:
            await (pipe.call("AUTH", username, password) if username else pipe.call("AUTH", password))
        if db:
            await pipe.call("SELECT", db)
        return pipe

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        # No isinstance check: uvloop's TCPTransport is not a subclass of asyncio.Transport (an assert
        # here failed inside uvloop, the transport was never kept and every call fell back to redis-py).
        self._transport = cast(asyncio.Transport, transport)

    def data_received(self, data: bytes) -> None:
        self._parser.feed(data)
        while (value := self._parser.next()) is not _NOTHING:
            future = self._waiting.popleft()
            if future.done():
                continue
            if isinstance(value, RespError):
                future.set_exception(value)
            else:
                future.set_result(value)

    def connection_lost(self, exc: Exception | None) -> None:
        self.closed = True
        while self._waiting:
            future = self._waiting.popleft()
            if not future.done():
                future.set_exception(ConnectionError("redis connection lost"))

    def call(self, *args: Any) -> asyncio.Future[Any]:
        return self.call_encoded(len(args), bulks(args))

    def call_encoded(self, count: int, encoded: bytes) -> asyncio.Future[Any]:
        """A command given as its `count` arguments already encoded by `bulks` (in one or more parts)."""
        if self.closed or self._transport is None:
            raise ConnectionError("redis connection closed")
        self._out.append(b"*%d\r\n%s" % (count, encoded))
        future: asyncio.Future[Any] = self._loop.create_future()
        self._waiting.append(future)
        if not self._flush_scheduled:
            self._flush_scheduled = True
            self._loop.call_soon(self._flush)
        return future

    def _flush(self) -> None:
        self._flush_scheduled = False
        if self._out and self._transport is not None and not self.closed:
            self._transport.write(b"".join(self._out))
        self._out.clear()

    def close(self) -> None:
        if self._transport is not None:
            self._transport.close()


async def open_beside(redis: Redis) -> RespPipe | None:
    """A connection to the server and database `redis` talks to, over TLS when it does (with the context
    redis-py builds from the URL: its CA, client certificate, verification and host check), or None when
    that is a Unix socket."""
    pool = redis.connection_pool
    tls: ssl.SSLContext | None = None
    if pool.connection_class is SSLConnection:
        # Not connected: made only for the context its settings give (`rediss://...?ssl_ca_certs=...`).
        tls = SSLConnection(**pool.connection_kwargs).ssl_context.get()
    elif pool.connection_class is not Connection:
        return None
    kwargs = pool.connection_kwargs
    return await RespPipe.open(
        str(kwargs.get("host", "127.0.0.1")),
        int(kwargs.get("port", 6379)),
        int(kwargs.get("db", 0) or 0),
        kwargs.get("password"),
        kwargs.get("username"),
        tls,
    )
