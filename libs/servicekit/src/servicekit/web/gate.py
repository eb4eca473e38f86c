"""At most `max_active` requests of an api process run at once; the others wait their turn, first come
first served, for up to `wait_s`, then answer 503 with Retry-After (ADR 0101).

Why: an asyncio process starts every request it has accepted at once. On an opening morning a replica
has hundreds in hand, and each await of each one waits for the CPU of all the others, so a request that
holds a pooled database connection holds it for seconds while the rest time out waiting for the pool
(`bench-opening`: hundreds of 503 after 15 s, most of them starts). Let in only as many as the pool can
serve and the ones inside finish in milliseconds; the ones outside wait in arrival order, having cost
nothing yet, and are served in that order.
"""

from __future__ import annotations

import asyncio
import math
from collections import deque
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from servicekit.web.problems import Problem


class Busy(Problem):
    """503: the process had no turn for this request within its wait. The caller asks again later."""

    def __init__(self, retry_after_s: float) -> None:
        super().__init__(
            503,
            "TEMPORARILY_UNAVAILABLE",
            "the service is busy; try again shortly",
            headers={"Retry-After": str(max(1, math.ceil(retry_after_s)))},
        )


class Gate:
    """A FIFO limit on the requests running at once. `max_active` 0 lets everything in."""

    def __init__(self, max_active: int, wait_s: float) -> None:
        if max_active < 0 or wait_s < 0:
            raise ValueError("max_active and wait_s cannot be negative")
        self.max_active = max_active
        self.wait_s = wait_s
        self.active = 0
        self._waiting: deque[asyncio.Future[None]] = deque()

    @property
    def waiting(self) -> int:
        return len(self._waiting)

    @asynccontextmanager
    async def turn(self) -> AsyncIterator[None]:
        """Hold one of the turns for the body's duration; raises `Busy` when none came within `wait_s`."""
        if self.max_active == 0:
            yield
            return
        await self._enter()
        try:
            yield
        finally:
            self._leave()

    async def _enter(self) -> None:
        if self.active < self.max_active and not self._waiting:
            self.active += 1
            return
        turn: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._waiting.append(turn)
        try:
            async with asyncio.timeout(self.wait_s):
                await turn  # _leave hands its turn over: `active` already counts this request
        except BaseException as exc:  # timed out, or the client went away while waiting
            if turn.done() and not turn.cancelled():
                self._leave()  # the turn came as the wait ended: pass it on
            elif turn in self._waiting:  # else a _leave already passed over it
                self._waiting.remove(turn)
            if isinstance(exc, TimeoutError):
                raise Busy(self.wait_s) from None
            raise

    def _leave(self) -> None:
        while self._waiting:
            turn = self._waiting.popleft()
            if not turn.done():
                turn.set_result(None)
                return
        self.active -= 1
