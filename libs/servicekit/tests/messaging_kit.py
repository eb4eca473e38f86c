"""A tiny producer/consumer pair built only from servicekit, for the pipe's own tests."""

from __future__ import annotations

import random
import string
from collections import Counter
from typing import Any, ClassVar

import aio_pika
from opentelemetry import trace
from pydantic import BaseModel
from sqlalchemy import Column, DateTime, Integer, MetaData, String, Table, create_engine, func, insert

from servicekit.consumer import Subscription
from servicekit.db import new_metadata
from servicekit.envelope import Envelope
from servicekit.messages import Event
from servicekit.settings import BrokerSettings, DatabaseSettings, RedisSettings, ServiceSettings
from servicekit.uow import UnitOfWork


def letters(n: int = 8) -> str:
    """Message types allow letters and dashes only in the service part."""
    return "".join(random.choices(string.ascii_lowercase, k=n))


class DemoSettings(ServiceSettings):
    service_name: ClassVar[str] = "demo"


def demo_settings(db_url: str, amqp_url: str, **broker: Any) -> DemoSettings:
    return DemoSettings(
        database=DatabaseSettings(url=db_url, pool_size=5),
        broker=BrokerSettings(url=amqp_url, retry_base_ms=50, retry_max_ms=200, max_attempts=3, **broker),
        redis=RedisSettings(url="redis://127.0.0.1:6379/14"),
    )


def demo_metadata() -> MetaData:
    metadata = new_metadata()
    Table(
        "effects",
        metadata,
        Column("id", Integer, primary_key=True, autoincrement=True),
        Column("n", Integer, nullable=False),
        Column("trace_id", String(32)),
        Column("at", DateTime(timezone=True), server_default=func.now()),
    )
    return metadata


def create_tables(db_url: str, metadata: MetaData) -> None:
    engine = create_engine(db_url)
    metadata.create_all(engine)
    engine.dispose()


def demo_event(service: str) -> type[Event]:
    class Happened(Event):
        message_type: ClassVar[str] = f"{service}.thing.happened.v1"
        summary: ClassVar[str] = "Something happened (test)."
        n: int
        fail_times: int = 0

        def subject(self) -> str:
            return str(self.n)

        @classmethod
        def example(cls) -> Happened:
            return cls(n=1)

    return Happened


class HappenedSeen(BaseModel):
    """The consumer's tolerant model: only what it needs."""

    n: int
    fail_times: int = 0


def demo_subscription(service: str, metadata: MetaData, attempts: Counter[int]) -> Subscription:
    effects = metadata.tables["effects"]

    async def record(uow: UnitOfWork, event: HappenedSeen, envelope: Envelope) -> None:
        attempts[event.n] += 1
        if attempts[event.n] <= event.fail_times:
            raise ConnectionError(f"transient failure {attempts[event.n]} of {event.fail_times}")
        trace_id = format(trace.get_current_span().get_span_context().trace_id, "032x")
        await uow.session.execute(insert(effects).values(n=event.n, trace_id=trace_id))

    return Subscription(
        name="record",
        handles={f"{service}.thing.happened.v1": HappenedSeen},
        handler=record,
    )


async def delete_topology(amqp_url: str, producer: str, consumer: str, handler: str = "record") -> None:
    connection = await aio_pika.connect(amqp_url)
    async with connection:
        channel = await connection.channel()
        queue = f"{consumer}.{handler}"
        for name in (queue, f"{queue}.retry", f"{queue}.dlq", f"{producer}.events.unrouted"):
            await channel.queue_delete(name)
        for name in (f"{producer}.events", f"{producer}.events.unrouted"):
            await channel.exchange_delete(name)
