"""Revoked sessions and accounts (ADR 0082): identity marks them in Redis, every service refuses their
access tokens at once instead of up to the token's `exp`.

Two marks, both with the access token's lifetime as TTL (a token older than that has expired anyway):

- session `tms:revoked:{<sub>}:sid:<sid>`: a sign-out or a reused refresh token ended that session (the
  refresh-token family, the token's `sid`); its every access token is dead.
- account `tms:revoked:{<sub>}:acct` = the revocation's real time in epoch milliseconds: the password
  changed, the account was suspended or cancelled; every token issued (`iat`) at or before it is dead.

Both keys of one subject share the hash tag `{<sub>}`, so a request's check is one MGET, on a Redis
Cluster too. Over TCP, with TLS or without, every check of the process goes on one auto-pipelining
connection (`servicekit.resp`): the MGETs of one event-loop tick leave in one write, a burst holds one
connection, and a check costs a fraction of redis-py's CPU (the hot path of every request). Otherwise (a
Unix socket) a check sends its MGET at once while few are in flight; past `max_direct` concurrent ones, the
others wait and go out together in one pipeline, one pipeline at a time: a burst of requests holds a few
connections, not one each (redis-py's pool refuses the 101st), and a quiet check pays no batching.

Identity writes the marks before its transaction commits: a failed commit leaves at worst a session
signed out for nothing, never a revoked session alive. It keeps each mark in its database too, in the same
transaction, and its worker puts them back (`restore`) when the Redis has lost them (a restart without
persistence): the `tms:revoked:present` key, which nothing expires, is gone exactly then.

A Redis that does not answer makes the check fail closed (503 AUTH_UNAVAILABLE): serving a token we
cannot check would reopen the window this closes, for exactly the accounts someone has just tried to lock
out.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Sequence
from dataclasses import dataclass

from redis.asyncio import Redis
from redis.exceptions import RedisError

from servicekit.resp import RespError, RespPipe, open_beside
from servicekit.web.problems import Problem

log = logging.getLogger("servicekit.web.revocation")

KEY_PREFIX = "tms:revoked:"
# Set when the marks are known to be all there; a Redis that restarts empty has lost it with them.
PRESENT_KEY = KEY_PREFIX + "present"


@dataclass(frozen=True)
class Mark:
    """One revocation as Redis holds it, for the writer to keep beside (ADR 0082)."""

    key: str
    value: bytes


class TokenRevoked(Exception):
    """The token's session or account was revoked after it was issued."""


class RevocationsUnavailable(Problem):
    """Redis did not answer: whether the token was revoked is unknown, or a revocation was not written
    (the writer's transaction then rolls back). 503, retried by the client, never a 401 that signs out."""

    def __init__(self, reason: str) -> None:
        super().__init__(
            503, "AUTH_UNAVAILABLE", "tokens cannot be checked right now", headers={"Retry-After": "5"}
        )
        self.reason = reason


def account_key(subject: str) -> str:
    return f"{KEY_PREFIX}{{{subject}}}:acct"


def session_key(subject: str, session_id: str) -> str:
    return f"{KEY_PREFIX}{{{subject}}}:sid:{session_id}"


def epoch_ms(epoch_s: float) -> int:
    return round(epoch_s * 1000)


Marks = list[bytes | str | None]


class Revocations:
    """The marks in one Redis: identity writes them (`revoke_*`), every service checks them (`check`)."""

    def __init__(self, redis: Redis, *, ttl_s: int = 0, timeout_s: float = 2.0, max_direct: int = 8) -> None:
        self._redis = redis
        self._ttl_s = ttl_s  # for writers: the access token's lifetime plus the verifiers' leeway
        self._timeout_s = timeout_s  # a Redis that hangs answers 503 after this, not never
        self._max_direct = max_direct
        self._direct = 0  # MGETs in flight on their own
        self._waiting: list[tuple[list[str], asyncio.Future[Marks]]] = []
        self._flusher: asyncio.Task[None] | None = None
        self._pipe: RespPipe | None = None
        self._pipe_possible = True  # until open_beside says otherwise (a Unix socket)
        self._pipe_lock = asyncio.Lock()

    async def check(self, subject: str, issued_at: float, session_id: str | None) -> None:
        """Raises `TokenRevoked` for a revoked token, `RevocationsUnavailable` when Redis does not answer."""
        keys = [account_key(subject)]
        if session_id is not None:
            keys.append(session_key(subject, session_id))
        marks = await self._read(keys)
        account_mark = marks[0]
        if account_mark is not None and epoch_ms(issued_at) <= int(account_mark):
            raise TokenRevoked("account revoked")
        if len(marks) > 1 and marks[1] is not None:
            raise TokenRevoked("session revoked")

    async def _read(self, keys: list[str]) -> Marks:
        if self._pipe_possible:
            try:
                async with asyncio.timeout(self._timeout_s):
                    pipe = self._pipe
                    if pipe is None or pipe.closed:
                        pipe = await self._open_pipe()
                    if pipe is not None:
                        marks: Marks = await pipe.call("MGET", *keys)
                        return marks
            except (RespError, OSError, TimeoutError) as exc:
                raise RevocationsUnavailable(repr(exc)) from exc
        return await self._read_with_redis_py(keys)

    async def _open_pipe(self) -> RespPipe | None:
        async with self._pipe_lock:
            if self._pipe is None or self._pipe.closed:
                self._pipe = await open_beside(self._redis)
                self._pipe_possible = self._pipe is not None
            return self._pipe

    async def aclose(self) -> None:
        if self._pipe is not None:
            self._pipe.close()
            self._pipe = None

    async def _read_with_redis_py(self, keys: list[str]) -> Marks:
        if self._direct < self._max_direct:
            self._direct += 1
            try:
                async with asyncio.timeout(self._timeout_s):
                    marks: Marks = await self._redis.mget(keys)
                    return marks
            except (RedisError, OSError, TimeoutError) as exc:
                raise RevocationsUnavailable(repr(exc)) from exc
            finally:
                self._direct -= 1
        future: asyncio.Future[Marks] = asyncio.get_running_loop().create_future()
        self._waiting.append((keys, future))
        if self._flusher is None:
            self._flusher = asyncio.create_task(self._flush())
        return await future

    async def _flush(self) -> None:
        """Sends what waits as one pipeline, then what came meanwhile, until nothing waits."""
        batch: list[tuple[list[str], asyncio.Future[Marks]]] = []
        try:
            while self._waiting:
                batch, self._waiting = self._waiting, []
                try:
                    async with asyncio.timeout(self._timeout_s):
                        async with self._redis.pipeline(transaction=False) as pipe:
                            for keys, _ in batch:
                                pipe.mget(keys)
                            results = await pipe.execute()
                except (RedisError, OSError, TimeoutError) as exc:
                    _fail(batch, repr(exc))
                    continue
                for (_, future), marks in zip(batch, results, strict=True):
                    if not future.done():  # its request may have been cancelled meanwhile
                        future.set_result(marks)
        finally:
            self._flusher = None
            # Only when cancelled (shutdown): nobody may wait for ever.
            _fail(batch + self._waiting, "revocation check cancelled")
            self._waiting = []

    @property
    def ttl_s(self) -> int:
        """How long a mark is kept: an access token's lifetime plus the verifiers' leeway."""
        return self._ttl_s

    async def revoke_session(self, subject: str, session_id: str) -> Mark:
        return await self._set(Mark(session_key(subject, session_id), b"1"))

    async def revoke_account(self, subject: str, at_epoch_s: float) -> Mark:
        """Tokens of `subject` issued at or before `at_epoch_s` (real time) are dead."""
        return await self._set(Mark(account_key(subject), str(epoch_ms(at_epoch_s)).encode()))

    async def _set(self, mark: Mark) -> Mark:
        if self._ttl_s <= 0:
            raise ValueError("a writer of revocations needs the access tokens' lifetime as ttl_s")
        try:
            await self._redis.set(mark.key, mark.value, ex=self._ttl_s)
        except (RedisError, OSError) as exc:
            log.warning("revocation mark not written", extra={"error": repr(exc)})
            raise RevocationsUnavailable(repr(exc)) from exc
        return mark

    async def present(self) -> bool:
        """False when the Redis has lost the marks (or never got them): `restore` them."""
        return bool(await self._redis.exists(PRESENT_KEY))

    async def restore(self, kept: Sequence[tuple[Mark, float]]) -> int:
        """Puts back the marks kept elsewhere, each `(mark, seconds it has left)`, then says they are
        present. A mark written since the loss is newer than the kept one (an account's later time): it
        stays (NX)."""
        async with self._redis.pipeline(transaction=False) as pipe:
            for mark, left_s in kept:
                pipe.set(mark.key, mark.value, px=max(1, round(left_s * 1000)), nx=True)
            pipe.set(PRESENT_KEY, b"1")
            results = await pipe.execute()
        return sum(1 for written in results[:-1] if written)


def _fail(batch: list[tuple[list[str], asyncio.Future[Marks]]], reason: str) -> None:
    for _, future in batch:
        if not future.done():
            future.set_exception(RevocationsUnavailable(reason))
