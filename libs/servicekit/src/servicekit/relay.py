"""The outbox relay: moves committed outbox rows to RabbitMQ, at least once, never dropping one.

Rows are claimed in batches with `FOR UPDATE SKIP LOCKED`, so any number of worker replicas relay side
by side without publishing a row twice at the same time, and so do the `relay_batches_in_flight` batches
a relay keeps going at once (each in its own transaction; ADR 0099). Each message is published persistent and
`mandatory` on a publisher-confirm channel; a row is marked published only when the broker acks it.
A nack or a return (no queue for a command) is the row's own failure: it stays pending with a later
`next_attempt_at` (exponential backoff with jitter) and the error noted. Anything else (no channel, a lost
connection, a confirm that never came) is the broker's: the rows stay due as they are, and the relay
tries again after `reconnect_interval_s` or as soon as the connection is restored. Backing each row off
through an outage spread the backlog over up to a minute after the broker was back (ADR 0087).

The relay sleeps on PostgreSQL `LISTEN` (the unit of work sends `NOTIFY` in the committing transaction)
and polls as a fallback, so a lost notification delays a row by one poll interval at most.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

import aiormq
import psycopg
from aio_pika.abc import AbstractChannel, AbstractExchange, AbstractRobustConnection
from opentelemetry import metrics, trace
from sqlalchemy import Interval, Row, Table, bindparam, delete, func, select, update
from sqlalchemy.ext.asyncio import AsyncEngine

from servicekit.amqp import connect_broker as connect_broker  # its old home: callers import it here
from servicekit.db import OUTBOX_CHANNEL, psycopg_dsn
from servicekit.envelope import Envelope
from servicekit.settings import BrokerSettings
from servicekit.topology import declare_commands_exchange, declare_events_exchange
from servicekit.tracecontext import context_from, current_trace_headers

log = logging.getLogger(__name__)
tracer = trace.get_tracer(__name__)
_meter = metrics.get_meter(__name__)
_published = _meter.create_counter("outbox.published", description="outbox rows acked by the broker")
_failed = _meter.create_counter("outbox.publish_failures", description="publish attempts to retry later")


@dataclass
class RelayStats:
    published: int = 0
    failed_attempts: int = 0  # rows that failed to publish, for either reason
    broker_unavailable: int = 0  # batches that found the broker away (rows left due, not backed off)
    purged: int = 0
    channels_renewed: int = 0  # channels given up after a nack (ADR 0098)
    last_errors: list[str] = field(default_factory=list)


def rows_own_failure(exc: BaseException) -> bool:
    """A nack or a return concerns this row; every other failure is the broker's or the connection's."""
    return isinstance(exc, aiormq.exceptions.DeliveryError)


def broker_refused(exc: BaseException) -> bool:
    """A nack: the broker could not take the message (a return, a `PublishError`, is routing's)."""
    return rows_own_failure(exc) and not isinstance(exc, aiormq.exceptions.PublishError)


def creation_trace(headers: dict[str, Any] | None) -> dict[str, str]:
    """The trace context the row was written in (the request's, stored by the unit of work): the message
    carries it, so the consumer's work joins the trace of the change that caused it."""
    if not headers or "traceparent" not in headers:
        return {}
    return {k: str(headers[k]) for k in ("traceparent", "tracestate") if k in headers}


def backoff(attempts: int, base_ms: int, max_ms: int) -> timedelta:
    """Full jitter: spread retries of many rows so a recovering broker is not hit all at once."""
    ceiling = min(max_ms, base_ms * 2 ** min(attempts, 20))
    return timedelta(milliseconds=random.uniform(base_ms / 2, ceiling))  # jitter, not security


class OutboxRelay:
    def __init__(
        self,
        engine: AsyncEngine,
        outbox: Table,
        connection: AbstractRobustConnection,
        service: str,
        broker: BrokerSettings,
        *,
        batch_size: int | None = None,
        poll_interval_s: float = 1.0,
        retention: timedelta = timedelta(days=7),
    ) -> None:
        self._engine = engine
        self._outbox = outbox
        self._connection = connection
        self._source = f"/{service}"
        self._broker = broker
        self._batch_size = batch_size or broker.relay_batch_size
        self._in_flight = max(1, broker.relay_batches_in_flight)
        self._poll_interval_s = poll_interval_s
        self._retention = retention
        self._channel: AbstractChannel | None = None
        self._exchanges: dict[str, AbstractExchange] = {}
        # Batches in flight share one channel: the first to find none opens it, the others wait for it.
        self._channel_lock = asyncio.Lock()
        self._wake = asyncio.Event()
        # Set when a batch found the broker away: the relay then waits for the connection, not for rows.
        self._broker_away = False
        # A restored connection wakes the relay at once (a robust connection's callbacks; not on a plain one).
        reconnected = getattr(connection, "reconnect_callbacks", None)
        if reconnected is not None:
            reconnected.add(self._on_reconnected)
        self.stats = RelayStats()
        # The event-loop time the relay last went round: a stuck relay stops moving it.
        self.last_loop: float | None = None

    def _on_reconnected(self, *_: object) -> None:
        self._wake.set()

    async def _exchange(self, name: str) -> AbstractExchange:
        """Called once per exchange per batch, before the concurrent publishes (one channel, not many)."""
        async with self._channel_lock:
            return await self._open_exchange(name)

    async def _open_exchange(self, name: str) -> AbstractExchange:
        if self._channel is None or self._channel.is_closed:
            # Bounded: during a reconnect the channel would otherwise wait while the batch holds its rows.
            self._channel = await asyncio.wait_for(
                self._connection.channel(publisher_confirms=True, on_return_raises=True),
                timeout=self._broker.publish_timeout_s,
            )
            self._exchanges.clear()
        exchange = self._exchanges.get(name)
        if exchange is None:
            # Declaring here (idempotently, with the same arguments as everyone) means a command to a
            # service that has not started yet bounces and is retried instead of closing the channel.
            service, _, kind = name.rpartition(".")
            if kind == "events":
                exchange = await declare_events_exchange(self._channel, service)
            elif kind == "commands":
                exchange = await declare_commands_exchange(self._channel, service)
            else:
                raise ValueError(f"unknown exchange kind: {name}")
            self._exchanges[name] = exchange
        return exchange

    async def _publish(self, row: Row[Any], exchange: AbstractExchange, batch_trace: dict[str, str]) -> None:
        envelope = Envelope(
            id=row.id,
            type=row.routing_key,
            source=self._source,
            time=row.occurred_at,
            subject=row.subject,
            data=row.payload,
            trace_headers=creation_trace(row.headers) or batch_trace,
        )
        # No timeout of its own: the batch's deadline (`_publish_batch`) bounds it.
        await exchange.publish(envelope.to_amqp(), row.routing_key, mandatory=True)

    async def _publish_batch(
        self, rows: Sequence[Row[Any]], exchanges: dict[str, AbstractExchange], batch_trace: dict[str, str]
    ) -> list[BaseException | None]:
        """Publish every row of the batch and await the confirms together, under one deadline of
        `publish_timeout_s` (one timer per batch; a timer per message cost as much as building it). A
        publish not confirmed by then is cancelled and fails with TimeoutError: the broker's failure."""
        tasks = [
            asyncio.ensure_future(self._publish(row, exchanges[row.exchange], batch_trace)) for row in rows
        ]
        try:
            _, late = await asyncio.wait(tasks, timeout=self._broker.publish_timeout_s)
        finally:
            for task in tasks:
                task.cancel()  # a no-op for the finished ones
        if late:
            await asyncio.wait(late)  # the cancelled publishes withdraw their confirmations
        return [
            TimeoutError(f"no confirm within {self._broker.publish_timeout_s} s")
            if task.cancelled()
            else task.exception()
            for task in tasks
        ]

    @contextlib.contextmanager
    def _batch_span(self, rows: Sequence[Row[Any]]) -> Iterator[dict[str, str]]:
        """One producer span for the batch, linked to each row's creation context (OpenTelemetry's
        messaging conventions for a batch send; a span per row cost more than the rest of its publish,
        ADR 0099). Yields the span's own trace headers, for rows written outside any trace."""
        links = []
        for row in rows:
            context = trace.get_current_span(context_from(row.headers)).get_span_context()
            if context.is_valid:
                links.append(trace.Link(context))
        with tracer.start_as_current_span(
            f"{self._source.lstrip('/')} outbox publish",
            kind=trace.SpanKind.PRODUCER,
            links=links,
            attributes={"messaging.system": "rabbitmq", "messaging.batch.message_count": len(rows)},
        ):
            yield current_trace_headers()

    async def relay_once(self) -> int:
        """Publish one batch of due rows. Returns how many were published."""
        published, away = await self._relay_batch()
        self._broker_away = away
        return published

    async def relay_batches(self) -> int:
        """Publish up to `relay_batches_in_flight` batches at once, each claiming rows the others have not
        (SKIP LOCKED), so the confirms of one are awaited while the others are read and published. Returns
        how many rows were published."""
        if self._in_flight == 1:
            return await self.relay_once()
        outcomes = await asyncio.gather(
            *(self._relay_batch() for _ in range(self._in_flight)), return_exceptions=True
        )
        self._broker_away = any(isinstance(o, tuple) and o[1] for o in outcomes)
        errors = [o for o in outcomes if isinstance(o, BaseException)]
        published = sum(o[0] for o in outcomes if isinstance(o, tuple))
        if errors and not published:
            raise errors[0]
        for error in errors:
            log.error("outbox relay batch failed", exc_info=error)
        return published

    async def _relay_batch(self) -> tuple[int, bool]:
        """One batch: claim, publish, mark. Returns how many rows were published, and whether the broker
        was away."""
        outbox = self._outbox
        async with self._engine.begin() as conn:
            rows = (
                await conn.execute(
                    select(outbox)
                    .where(outbox.c.published_at.is_(None), outbox.c.next_attempt_at <= func.now())
                    # The pending index's order: LIMIT stops early instead of sorting every due row.
                    .order_by(outbox.c.next_attempt_at)
                    .limit(self._batch_size)
                    .with_for_update(skip_locked=True)
                )
            ).all()
            if not rows:
                return 0, False
            results: list[BaseException | None]
            try:
                exchanges = {
                    name: await self._exchange(name) for name in sorted({row.exchange for row in rows})
                }
            except Exception as exc:  # no channel: every row of the batch waits for the next try
                results = [exc] * len(rows)
            else:
                # Confirms are awaited concurrently: one round trip per batch rather than per row.
                with self._batch_span(rows) as batch_trace:
                    results = await self._publish_batch(rows, exchanges, batch_trace)
            done = [row.id for row, result in zip(rows, results, strict=True) if result is None]
            failed = [(row, result) for row, result in zip(rows, results, strict=True) if result is not None]
            # The broker's failures leave their rows due as they are; only a row's own failure backs it off.
            away = [exc for _, exc in failed if not rows_own_failure(exc)]
            failed = [(row, exc) for row, exc in failed if rows_own_failure(exc)]
            if done:
                await conn.execute(
                    update(outbox)
                    .where(outbox.c.id.in_(done))
                    .values(published_at=func.now(), last_error=None)
                )
            if any(broker_refused(exc) for _, exc in failed):
                await self._drop_channel()
            if failed:
                await conn.execute(
                    update(outbox)
                    .where(outbox.c.id == bindparam("row_id"))
                    .values(
                        attempts=outbox.c.attempts + 1,
                        # Typed, or SQLAlchemy binds the delay as a timestamp and the UPDATE fails.
                        next_attempt_at=func.now() + bindparam("delay", type_=Interval()),
                        last_error=bindparam("error"),
                    ),
                    [
                        {
                            "row_id": row.id,
                            "delay": backoff(
                                row.attempts, self._broker.retry_base_ms, self._broker.retry_max_ms
                            ),
                            "error": repr(exc)[:500],
                        }
                        for row, exc in failed
                    ],
                )
                self._note_failures([exc for _, exc in failed])
            if away:
                self._note_failures(away)
                self.stats.broker_unavailable += 1
        self.stats.published += len(done)
        _published.add(len(done), {"service": self._source})
        return len(done), bool(away)

    async def _drop_channel(self) -> None:
        """The next batch opens a new channel. A channel that reconnected to a cluster node while its
        queues were electing a leader was seen to have every later publish nacked, for minutes, while a
        new channel on the same node published at once (ADR 0098): a nack costs the channel."""
        channel, self._channel = self._channel, None
        self._exchanges.clear()
        self.stats.channels_renewed += 1
        if channel is not None and not channel.is_closed:
            with contextlib.suppress(Exception):
                await asyncio.wait_for(channel.close(), timeout=self._broker.publish_timeout_s)

    def _note_failures(self, errors: list[BaseException]) -> None:
        self.stats.failed_attempts += len(errors)
        _failed.add(len(errors), {"service": self._source})
        self.stats.last_errors = [repr(e)[:200] for e in errors[:5]]
        log.warning(
            "outbox publish failed for %d rows, will retry: %s", len(errors), self.stats.last_errors[0]
        )
        # A broken channel is replaced on the next batch.
        if self._channel is not None and self._channel.is_closed:
            self._channel = None

    async def purge_published(self) -> int:
        """Published rows are kept a while for inspection, then removed so the table stays small."""
        async with self._engine.begin() as conn:
            result = await conn.execute(
                delete(self._outbox).where(
                    self._outbox.c.published_at.is_not(None),
                    self._outbox.c.published_at < func.now() - self._retention,
                )
            )
        self.stats.purged += result.rowcount
        return result.rowcount

    async def _listen(self, stop: asyncio.Event) -> None:
        dsn = psycopg_dsn(self._engine.url.render_as_string(hide_password=False))
        while not stop.is_set():
            try:
                async with await psycopg.AsyncConnection.connect(dsn, autocommit=True) as conn:
                    await conn.execute(f"LISTEN {OUTBOX_CHANNEL}")
                    self._wake.set()  # rows may have been committed while we were not listening
                    async for _ in conn.notifies():
                        self._wake.set()
            except (psycopg.Error, OSError) as exc:
                log.warning("outbox LISTEN connection lost, reconnecting: %r", exc)
                await asyncio.sleep(self._poll_interval_s)

    async def run(self, stop: asyncio.Event) -> None:
        listener = asyncio.create_task(self._listen(stop), name="outbox-listen")
        purge_every = 600.0
        last_purge = 0.0
        loop = asyncio.get_running_loop()
        try:
            while not stop.is_set():
                # Cleared before the batch, so a NOTIFY arriving during it is not lost.
                self._wake.clear()
                self.last_loop = loop.time()
                try:
                    published = await self.relay_batches()
                except Exception:  # the database or broker is away: keep going, rows stay pending
                    log.exception("outbox relay batch failed")
                    published = 0
                if loop.time() - last_purge > purge_every:
                    with contextlib.suppress(Exception):
                        await self.purge_published()
                    last_purge = loop.time()
                if published >= self._batch_size and not self._broker_away:
                    continue  # more waiting: no sleep
                # The broker away: try again after the reconnect interval, or when the connection is back.
                wait_s = self._broker.reconnect_interval_s if self._broker_away else self._poll_interval_s
                with contextlib.suppress(TimeoutError):
                    stop_wait = asyncio.ensure_future(stop.wait())
                    wake_wait = asyncio.ensure_future(self._wake.wait())
                    try:
                        await asyncio.wait(
                            {stop_wait, wake_wait},
                            timeout=wait_s,
                            return_when=asyncio.FIRST_COMPLETED,
                        )
                    finally:
                        stop_wait.cancel()
                        wake_wait.cancel()
        finally:
            listener.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await listener
