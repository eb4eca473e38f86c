"""The unit of work: one request, one transaction. Whatever the business change records (integration
events, commands, audit entries) is written in the same transaction, so an outbox row exists if and
only if its business change committed.
"""

from __future__ import annotations

import uuid
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from types import TracebackType
from typing import TYPE_CHECKING, Any, Concatenate, ParamSpec, Self, TypeVar

from sqlalchemy import MetaData, Table, insert, text
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from servicekit.clock import Clock
from servicekit.db import OUTBOX_CHANNEL
from servicekit.ids import new_id
from servicekit.messages import Message
from servicekit.tracecontext import current_trace_headers

if TYPE_CHECKING:
    from servicekit.runtime import Runtime


@dataclass(frozen=True)
class Actor:
    """Who is acting, for the audit trail (AU-01)."""

    id: str
    role: str
    source_ip: str | None = None
    request_id: str | None = None


SYSTEM_ACTOR = Actor(id="system", role="system")


class UnitOfWork:
    """`async with runtime.uow() as uow: ...; await uow.commit()`. Leaving without commit rolls back."""

    def __init__(
        self,
        sessions: async_sessionmaker[AsyncSession],
        metadata: MetaData,
        clock: Clock,
        runtime: Runtime | None = None,
    ) -> None:
        self._runtime = runtime
        self._sessions = sessions
        self._outbox: Table = metadata.tables["outbox"]
        self._audit: Table = metadata.tables["audit_log"]
        self._clock = clock
        self._messages: list[Message] = []
        self._audits: list[dict[str, Any]] = []
        self._session: AsyncSession | None = None
        self._now: datetime | None = None

    @property
    def now(self) -> datetime:
        """The instant of this unit of work, read once when it opened: every rule in it sees the same."""
        if self._now is None:
            raise RuntimeError("the unit of work is not open")
        return self._now

    @property
    def runtime(self) -> Runtime:
        """The process's runtime that opened this unit of work: a message handler's way to the resources
        of its worker (its Redis client) without opening its own."""
        if self._runtime is None:
            raise RuntimeError("this unit of work was not opened by a runtime")
        return self._runtime

    @property
    def session(self) -> AsyncSession:
        if self._session is None:
            raise RuntimeError("the unit of work is not open")
        return self._session

    async def __aenter__(self) -> Self:
        self._session = self._sessions()
        await self._session.begin()
        self._now = await self._clock.now()
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        session = self.session
        try:
            if session.in_transaction():
                await session.rollback()
        finally:
            await session.close()
            self._session = None

    def emit(self, *messages: Message) -> None:
        """Record integration events or commands to publish if, and only if, this unit commits."""
        self._messages.extend(messages)

    def audit(
        self,
        actor: Actor,
        action: str,
        target: str,
        before: dict[str, Any] | None = None,
        after: dict[str, Any] | None = None,
    ) -> None:
        self._audits.append(
            {
                "actor": actor.id,
                "role": actor.role,
                "action": action,
                "target": target,
                "source_ip": actor.source_ip,
                "request_id": actor.request_id,
                "before": before,
                "after": after,
            }
        )

    async def commit(self) -> Sequence[uuid.UUID]:
        """Write outbox rows and audit entries, wake the relay, commit. Returns the new message ids."""
        session = self.session
        ids = await write_outbox(session, self._outbox, self._messages, self.now)
        if self._audits:
            await session.execute(insert(self._audit), [{"at": self.now, **row} for row in self._audits])
        await session.commit()
        self._messages.clear()
        self._audits.clear()
        return ids


async def write_outbox(
    session: AsyncSession, outbox: Table, messages: Sequence[Message], occurred_at: datetime
) -> list[uuid.UUID]:
    if not messages:
        return []
    headers = current_trace_headers()
    rows = [
        {
            "id": new_id(),
            "exchange": message.exchange(),
            "routing_key": message.message_type,
            "subject": message.subject(),
            "payload": message.model_dump(mode="json"),
            "headers": headers,
            "occurred_at": occurred_at,
        }
        for message in messages
    ]
    await session.execute(insert(outbox), rows)
    # NOTIFY is delivered at commit, and not at all on rollback: the relay wakes only for real rows.
    await session.execute(text(f"NOTIFY {OUTBOX_CHANNEL}"))
    return [message_id for message_id in (row["id"] for row in rows) if isinstance(message_id, uuid.UUID)]


P = ParamSpec("P")
T = TypeVar("T")


async def committed(
    uow: UnitOfWork,
    case: Callable[Concatenate[UnitOfWork, P], Awaitable[T]],
    *args: P.args,
    **kwargs: P.kwargs,
) -> T:
    """What a route does around a use case: open the unit of work, call it, commit (nothing is written when
    it refuses: leaving the block without a commit rolls back)."""
    async with uow:
        result = await case(uow, *args, **kwargs)
        await uow.commit()
    return result
