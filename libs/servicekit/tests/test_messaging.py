"""The pipe, against the real PostgreSQL and RabbitMQ: outbox, relay, envelope, topology, consumer, inbox."""

from __future__ import annotations

import asyncio
import contextlib
from collections import Counter
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, ClassVar

import aio_pika
import pytest
from opentelemetry import trace
from opentelemetry.sdk.trace import TracerProvider
from sqlalchemy import MetaData, func, select
from yarl import URL

from servicekit.amqp import FailoverConnection
from servicekit.clock import FixedClock
from servicekit.consumer import Consumer, Subscription
from servicekit.envelope import Envelope
from servicekit.messages import Command
from servicekit.relay import OutboxRelay, connect_broker
from servicekit.runtime import Runtime
from servicekit.settings import BrokerSettings
from servicekit.uow import UnitOfWork

from .messaging_kit import (
    DemoSettings,
    create_tables,
    delete_topology,
    demo_event,
    demo_metadata,
    demo_settings,
    demo_subscription,
    letters,
)

pytestmark = pytest.mark.integration


def ensure_sdk_tracer() -> None:
    """Spans need real ids for the trace test; telemetry setup may already have installed a provider."""
    if not isinstance(trace.get_tracer_provider(), TracerProvider):
        trace.set_tracer_provider(TracerProvider())


@dataclass
class Pipe:
    settings: DemoSettings
    metadata: MetaData
    runtime: Runtime
    producer: str
    consumer_service: str
    event: type
    attempts: Counter[int]
    connection: aio_pika.abc.AbstractRobustConnection
    relay: OutboxRelay
    consumer: Consumer

    async def emit(self, *numbers: int, fail_times: int = 0) -> None:
        async with self.runtime.uow() as uow:
            uow.emit(*(self.event(n=n, fail_times=fail_times) for n in numbers))
            await uow.commit()

    async def effects(self) -> list[int]:
        async with self.runtime.engine.connect() as conn:
            rows = await conn.execute(select(self.metadata.tables["effects"].c.n))
            return [row.n for row in rows]

    async def pending(self) -> int:
        outbox = self.metadata.tables["outbox"]
        async with self.runtime.engine.connect() as conn:
            count = await conn.scalar(
                select(func.count()).select_from(outbox).where(outbox.c.published_at.is_(None))
            )
            return int(count or 0)


async def wait_for(check: Callable[[], Awaitable[bool]], timeout_s: float = 30) -> None:
    deadline = asyncio.get_running_loop().time() + timeout_s
    while not await check():
        if asyncio.get_running_loop().time() > deadline:
            raise AssertionError("condition not reached in time")
        await asyncio.sleep(0.05)


@contextlib.asynccontextmanager
async def open_pipe(
    db_url: str, amqp_url: str, *, consume: bool = True, retry_base_ms: int = 50
) -> AsyncIterator[Pipe]:
    producer, consumer_service = letters(), letters()
    metadata = demo_metadata()
    create_tables(db_url, metadata)
    settings = demo_settings(db_url, amqp_url)
    settings.broker.retry_base_ms = retry_base_ms
    settings.broker.retry_max_ms = max(settings.broker.retry_max_ms, retry_base_ms * 4)
    runtime = Runtime.open(settings, metadata, clock=FixedClock(datetime(2027, 3, 1, 9, 0, tzinfo=UTC)))
    attempts: Counter[int] = Counter()
    connection = await connect_broker(settings.broker)
    event = demo_event(producer)
    subscription = demo_subscription(producer, metadata, attempts)
    consumer = Consumer(runtime, connection, consumer_service, subscription, settings.broker)
    if consume:
        await consumer.start()
    else:
        channel = await connection.channel()
        await consumer.declare(channel)
        await channel.close()
    relay = OutboxRelay(runtime.engine, metadata.tables["outbox"], connection, producer, settings.broker)
    pipe = Pipe(
        settings, metadata, runtime, producer, consumer_service, event, attempts, connection, relay, consumer
    )
    try:
        yield pipe
    finally:
        await connection.close()
        await runtime.aclose()
        with contextlib.suppress(Exception):
            await delete_topology(amqp_url, producer, consumer_service)


async def test_rolled_back_unit_of_work_publishes_nothing(pg_database: str, amqp_url: str) -> None:
    async with open_pipe(pg_database, amqp_url) as pipe:

        async def failing_change() -> None:
            async with pipe.runtime.uow() as uow:
                uow.emit(pipe.event(n=1))
                raise RuntimeError("the business change failed")

        with pytest.raises(RuntimeError):
            await failing_change()
        async with pipe.runtime.uow() as uow:
            uow.emit(pipe.event(n=2))  # left without commit: rolled back
        assert await pipe.pending() == 0
        assert await pipe.relay.relay_once() == 0
        await pipe.emit(3)
        assert await pipe.pending() == 1
        assert await pipe.relay.relay_once() == 1
        await wait_for(lambda: _equals(pipe.effects(), [3]))


async def _equals(value: Awaitable[list[int]], expected: list[int]) -> bool:
    return sorted(await value) == expected


async def test_event_crosses_the_broker_once_with_an_unbroken_trace(pg_database: str, amqp_url: str) -> None:
    ensure_sdk_tracer()
    tracer = trace.get_tracer("test")
    async with open_pipe(pg_database, amqp_url) as pipe:
        with tracer.start_as_current_span("POST /api/v1/things") as request_span:
            await pipe.emit(7)
        request_trace = format(request_span.get_span_context().trace_id, "032x")
        outbox = pipe.metadata.tables["outbox"]
        async with pipe.runtime.engine.connect() as conn:
            headers = (await conn.execute(select(outbox.c.headers))).scalar_one()
        assert headers["traceparent"].split("-")[1] == request_trace
        assert await pipe.relay.relay_once() == 1
        await wait_for(lambda: _equals(pipe.effects(), [7]))
        effects = pipe.metadata.tables["effects"]
        async with pipe.runtime.engine.connect() as conn:
            consumer_trace = (await conn.execute(select(effects.c.trace_id))).scalar_one()
        assert consumer_trace == request_trace
        assert pipe.consumer.stats.effects == 1


async def test_batches_in_flight_claim_rows_no_other_batch_holds(pg_database: str, amqp_url: str) -> None:
    """The batches a relay keeps in flight at once (ADR 0099) each claim their own rows: three batches of
    ten publish thirty distinct rows together, and every event takes effect once."""
    async with open_pipe(pg_database, amqp_url) as pipe:
        in_flight = {"relay_batch_size": 10, "relay_batches_in_flight": 3}
        broker = pipe.settings.broker.model_copy(update=in_flight)
        relay = OutboxRelay(
            pipe.runtime.engine, pipe.metadata.tables["outbox"], pipe.connection, pipe.producer, broker
        )
        await pipe.emit(*range(45))
        assert await relay.relay_batches() == 30
        assert await pipe.pending() == 15
        assert await relay.relay_batches() == 15
        assert await relay.relay_batches() == 0
        await wait_for(lambda: _equals(pipe.effects(), list(range(45))))
        assert pipe.consumer.stats.duplicates == 0


async def test_transient_failure_is_retried_then_takes_effect_once(pg_database: str, amqp_url: str) -> None:
    async with open_pipe(pg_database, amqp_url) as pipe:
        await pipe.emit(11, fail_times=2)
        await pipe.relay.relay_once()
        await wait_for(lambda: _equals(pipe.effects(), [11]))
        assert pipe.attempts[11] == 3
        assert pipe.consumer.stats.retried == 2
        assert pipe.consumer.stats.dead_lettered == 0


async def test_failure_after_last_attempt_goes_to_dlq(pg_database: str, amqp_url: str) -> None:
    async with open_pipe(pg_database, amqp_url) as pipe:
        await pipe.emit(12, fail_times=99)
        await pipe.relay.relay_once()
        await wait_for(lambda: _true(pipe.consumer.stats.dead_lettered == 1))
        assert pipe.attempts[12] == pipe.settings.broker.max_attempts
        assert await pipe.effects() == []
        channel = await pipe.connection.channel()
        dlq = await channel.declare_queue(
            pipe.consumer.stats and f"{pipe.consumer_service}.record.dlq", passive=True
        )
        message = await dlq.get(timeout=5)
        assert message is not None
        assert "transient failure" in str((message.headers or {}).get("x-tms-error"))
        await message.ack()


async def _true(value: bool) -> bool:
    return value


async def test_poison_message_lands_in_dlq_while_the_queue_keeps_flowing(
    pg_database: str, amqp_url: str
) -> None:
    async with open_pipe(pg_database, amqp_url) as pipe:
        channel = await pipe.connection.channel()
        exchange = await channel.get_exchange(f"{pipe.producer}.events")
        routing_key = pipe.event.message_type
        # Not a CloudEvent at all, then a CloudEvent whose data the consumer's model refuses.
        await exchange.publish(aio_pika.Message(b"\x00garbage"), routing_key)
        await pipe.emit(21)
        async with pipe.runtime.uow() as uow:
            uow.emit(pipe.event(n=22))
            await uow.commit()
        outbox = pipe.metadata.tables["outbox"]
        async with pipe.runtime.engine.begin() as conn:
            await conn.execute(
                outbox.update().where(outbox.c.subject == "22").values(payload={"n": "not a number"})
            )
        await pipe.emit(23)
        while await pipe.relay.relay_once():
            pass
        await wait_for(lambda: _equals(pipe.effects(), [21, 23]))
        await wait_for(lambda: _true(pipe.consumer.stats.dead_lettered == 2))
        dlq = await channel.declare_queue(f"{pipe.consumer_service}.record.dlq", passive=True)
        assert dlq.declaration_result.message_count == 2


async def test_duplicate_delivery_takes_effect_once(pg_database: str, amqp_url: str) -> None:
    async with open_pipe(pg_database, amqp_url) as pipe:
        await pipe.emit(31)
        await pipe.relay.relay_once()
        await wait_for(lambda: _equals(pipe.effects(), [31]))
        # The relay publishes the same row again (as after a crash between publish and mark).
        outbox = pipe.metadata.tables["outbox"]
        async with pipe.runtime.engine.begin() as conn:
            await conn.execute(outbox.update().values(published_at=None))
        assert await pipe.relay.relay_once() == 1
        await wait_for(lambda: _true(pipe.consumer.stats.duplicates == 1))
        assert await pipe.effects() == [31]


async def test_unroutable_command_stays_pending_with_backoff(pg_database: str, amqp_url: str) -> None:
    """A command bounces (no alternate exchange) until its receiver has declared its queue: the row is kept,
    its attempt counted, its error noted and its next attempt pushed out; nothing is dropped."""

    class Ping(Command):
        message_type: ClassVar[str] = f"{letters()}.ping.send.v1"
        n: int

    async with open_pipe(pg_database, amqp_url, consume=False, retry_base_ms=10_000) as pipe:
        async with pipe.runtime.uow() as uow:
            uow.emit(Ping(n=1))
            await uow.commit()
        assert await pipe.relay.relay_once() == 0
        outbox = pipe.metadata.tables["outbox"]
        async with pipe.runtime.engine.connect() as conn:
            row = (await conn.execute(select(outbox))).one()
            db_now = await conn.scalar(select(func.now()))
        assert row.published_at is None
        assert row.attempts == 1
        assert "NO_ROUTE" in (row.last_error or "") or "DeliveryError" in (row.last_error or "")
        assert row.next_attempt_at > db_now
        assert await pipe.relay.relay_once() == 0  # not due yet: not retried at once
        assert pipe.relay.stats.failed_attempts == 1
        channel = await pipe.connection.channel()
        await channel.exchange_delete(Ping.exchange())


async def test_stop_lets_the_delivery_in_hand_commit_and_ack(pg_database: str, amqp_url: str) -> None:
    async with open_pipe(pg_database, amqp_url, consume=False) as pipe:
        original = pipe.consumer._subscription
        entered = asyncio.Event()

        async def slow(uow: UnitOfWork, event: Any, envelope: Envelope) -> None:
            entered.set()
            await asyncio.sleep(0.3)  # a handler still working when the worker is told to stop
            await original.handler(uow, event, envelope)

        consumer = Consumer(
            pipe.runtime,
            pipe.connection,
            pipe.consumer_service,
            Subscription(original.name, original.handles, slow),
            pipe.settings.broker,
        )
        await consumer.start()
        await pipe.emit(51)
        await pipe.relay.relay_once()
        await asyncio.wait_for(entered.wait(), timeout=10)
        await consumer.stop()
        assert consumer.stats.effects == 1
        assert await pipe.effects() == [51]
        channel = await pipe.connection.channel()
        queue = await channel.declare_queue(f"{pipe.consumer_service}.record", passive=True)
        assert queue.declaration_result.message_count == 0  # acked, not left for redelivery


async def test_au01_an_applied_event_is_audited_once_with_its_effect(pg_database: str, amqp_url: str) -> None:
    """The bus's changes are audited like HTTP ones: the producing system, the message type, the subject,
    the message id; failed attempts (rolled back) and a duplicate delivery leave no entry."""
    async with open_pipe(pg_database, amqp_url) as pipe:
        await pipe.emit(41, fail_times=1)
        await pipe.relay.relay_once()
        await wait_for(lambda: _equals(pipe.effects(), [41]))
        outbox, audit = pipe.metadata.tables["outbox"], pipe.metadata.tables["audit_log"]
        async with pipe.runtime.engine.begin() as conn:
            message_id = (await conn.execute(select(outbox.c.id))).scalar_one()
            await conn.execute(outbox.update().values(published_at=None))  # delivered again
        assert await pipe.relay.relay_once() == 1
        await wait_for(lambda: _true(pipe.consumer.stats.duplicates == 1))
        async with pipe.runtime.engine.connect() as conn:
            rows = (await conn.execute(select(audit))).mappings().all()
        assert pipe.attempts[41] == 2
        assert [(r["actor"], r["role"], r["action"], r["target"], r["request_id"]) for r in rows] == [
            (pipe.producer, "system", f"{pipe.producer}.thing.happened.v1", "41", str(message_id))
        ]
        assert rows[0]["after"] == {"handler": f"{pipe.consumer_service}.record"}


async def test_a_cluster_list_connects_to_the_first_node_that_answers(amqp_url: str) -> None:
    """ADR 0098: `broker.url` may list every node of a cluster; a node that is away is passed over, and
    each reconnection attempt takes the next address (the cluster test kills a node under load)."""
    away = "amqp://guest:guest@127.0.0.1:1/"  # nothing listens on port 1
    settings = BrokerSettings(url=f"{away}, {amqp_url}", reconnect_interval_s=0.1)
    connection = await connect_broker(settings)
    try:
        assert isinstance(connection, FailoverConnection)
        assert connection.url.port == URL(amqp_url).port
        channel = await connection.channel()
        await channel.close()
    finally:
        await connection.close()
    with pytest.raises(ConnectionError, match="Connect call failed"):  # every node away: the last failure
        await connect_broker(BrokerSettings(url=f"{away},{away}"))


async def test_each_reconnection_attempt_takes_the_next_node() -> None:
    nodes = [f"amqp://guest:guest@127.0.0.1:{port}/" for port in (5681, 5682, 5683)]
    connection = FailoverConnection(nodes, first=1)
    tried = []
    for _ in range(4):
        connection.transport = None  # what aio-pika 10 does first in every (re)connection attempt
        tried.append(connection.url.port)
    assert tried == [5682, 5683, 5681, 5682]
