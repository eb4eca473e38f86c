"""Consumers: one quorum queue per handler; each delivery takes effect at most once.

The handler runs in a unit of work that first inserts `(message_id, handler)` into the inbox; a
duplicate delivery finds the row and is acked without effect. The delivery is acked only after the
commit, so a crash before it means a redelivery, which the inbox turns into nothing.

A message that cannot be read or does not match the handler's model is poison: it goes to `<q>.dlq`
at once. Any other failure is taken as transient: the message goes to `<q>.retry` with a growing
delay and back to `<q>`, and after its last attempt to `<q>.dlq`. Nothing is dropped silently.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

import aio_pika
from aio_pika.abc import AbstractChannel, AbstractIncomingMessage, AbstractQueue, AbstractRobustConnection
from opentelemetry import metrics, trace
from pydantic import BaseModel, ValidationError
from sqlalchemy.dialects.postgresql import insert

from servicekit.envelope import ATTEMPT_HEADER, ERROR_HEADER, Envelope, EnvelopeError, from_amqp
from servicekit.messages import service_of
from servicekit.relay import backoff
from servicekit.runtime import Runtime
from servicekit.settings import BrokerSettings
from servicekit.topology import (
    QueueNames,
    declare_commands_exchange,
    declare_events_exchange,
    declare_handler_queues,
    queue_names,
)
from servicekit.tracecontext import context_from
from servicekit.uow import Actor, UnitOfWork

log = logging.getLogger(__name__)
tracer = trace.get_tracer(__name__)
# One counter, the outcome as an attribute: delivered, effect, duplicate, retried, dead_lettered.
_outcomes = metrics.get_meter(__name__).create_counter(
    "consumer.messages", description="deliveries by outcome"
)

Handler = Callable[[UnitOfWork, Any, Envelope], Awaitable[None]]


@dataclass(frozen=True)
class Subscription:
    """One handler of a consuming service: its queue `<service>.<name>` and the message types it takes.

    `handles` maps each consumed type (routing key) to the consumer's own tolerant model of it: the
    consumer reads only the fields it needs, so a producer adding fields breaks nobody.
    """

    name: str
    handles: Mapping[str, type[BaseModel]]
    handler: Handler
    summary: str = ""
    # "command": the types are commands addressed to this service, bound on `<service>.commands`.
    kind: Literal["event", "command"] = "event"

    def queue(self, consumer_service: str) -> QueueNames:
        return queue_names(consumer_service, self.name)


@dataclass
class ConsumerStats:
    delivered: int = 0
    effects: int = 0
    duplicates: int = 0
    retried: int = 0
    dead_lettered: int = 0
    ack_failures: int = 0
    errors: list[str] = field(default_factory=list)


class Consumer:
    def __init__(
        self,
        runtime: Runtime,
        connection: AbstractRobustConnection,
        service: str,
        subscription: Subscription,
        broker: BrokerSettings,
        *,
        on_committed: Callable[[Envelope], None] | None = None,
    ) -> None:
        self._runtime = runtime
        self._connection = connection
        self._service = service
        self._subscription = subscription
        self._broker = broker
        self._names = subscription.queue(service)
        self._inbox = runtime.metadata.tables["inbox"]
        # A seam for fault tests: called after the commit and before the ack.
        self._on_committed = on_committed
        self._channel: AbstractChannel | None = None
        self.queue: AbstractQueue | None = None
        self.stats = ConsumerStats()
        self._consumer_tag: str | None = None
        self._in_flight = 0
        self._idle = asyncio.Event()
        self._idle.set()

    async def declare(self, channel: AbstractChannel) -> AbstractQueue:
        bindings = []
        for message_type in self._subscription.handles:
            owner = service_of(message_type)
            if self._subscription.kind == "command":
                if owner != self._service:
                    raise ValueError(f"{self._service} cannot take commands addressed to {owner}")
                exchange = await declare_commands_exchange(channel, owner)
            else:
                exchange = await declare_events_exchange(channel, owner)
            bindings.append((exchange, message_type))
        return await declare_handler_queues(channel, self._names, bindings)

    async def start(self) -> None:
        self._channel = await self._connection.channel(publisher_confirms=True)
        await self._channel.set_qos(prefetch_count=self._broker.prefetch)
        self.queue = await self.declare(self._channel)
        self._consumer_tag = await self.queue.consume(self._on_message)

    async def stop(self, timeout_s: float = 10.0) -> None:
        """Take no new deliveries, let the ones in hand finish (ack after commit), then return. What is
        still running after `timeout_s` is left unacked: the broker redelivers it, the inbox absorbs it."""
        if self.queue is not None and self._consumer_tag is not None:
            with contextlib.suppress(Exception):
                await self.queue.cancel(self._consumer_tag)
            self._consumer_tag = None
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._idle.wait(), timeout=timeout_s)

    async def _forward(
        self,
        message: AbstractIncomingMessage,
        routing_key: str,
        headers: dict[str, Any],
        expiration_ms: int | None = None,
    ) -> None:
        assert self._channel is not None
        copy = aio_pika.Message(
            body=message.body,
            content_type=message.content_type,
            content_encoding=message.content_encoding,
            message_id=message.message_id,
            type=message.type,
            timestamp=message.timestamp,
            delivery_mode=aio_pika.DeliveryMode.PERSISTENT,
            headers={**(message.headers or {}), **headers},
            expiration=None if expiration_ms is None else expiration_ms / 1000,
        )
        await self._channel.default_exchange.publish(
            copy, routing_key, mandatory=True, timeout=self._broker.publish_timeout_s
        )

    async def _dead_letter(self, message: AbstractIncomingMessage, reason: str) -> None:
        await self._forward(message, self._names.dlq, {ERROR_HEADER: reason[:1000]})
        self._count("dead_lettered")
        log.error("message %s dead-lettered to %s: %s", message.message_id, self._names.dlq, reason[:300])

    async def _retry(self, message: AbstractIncomingMessage, attempt: int, reason: str) -> None:
        delay = backoff(attempt - 1, self._broker.retry_base_ms, self._broker.retry_max_ms)
        await self._forward(
            message,
            self._names.retry,
            {ATTEMPT_HEADER: attempt + 1, ERROR_HEADER: reason[:1000]},
            expiration_ms=max(1, int(delay.total_seconds() * 1000)),
        )
        self._count("retried")

    def _count(self, outcome: str) -> None:
        setattr(self.stats, outcome, getattr(self.stats, outcome) + 1)
        _outcomes.add(1, {"queue": self._names.main, "outcome": outcome})

    async def _ack(self, message: AbstractIncomingMessage) -> None:
        try:
            await message.ack()
        except Exception as exc:  # a delivery from before a reconnect: it comes again, the inbox absorbs it
            self.stats.ack_failures += 1
            log.warning(
                "ack of %s failed (%r); redelivery will be suppressed by the inbox", message.message_id, exc
            )

    async def _on_message(self, message: AbstractIncomingMessage) -> None:
        self._in_flight += 1
        self._idle.clear()
        try:
            await self._process(message)
        finally:
            self._in_flight -= 1
            if self._in_flight == 0:
                self._idle.set()

    async def _process(self, message: AbstractIncomingMessage) -> None:
        self._count("delivered")
        try:
            envelope = from_amqp(message)
            model = self._subscription.handles.get(envelope.type)
            if model is None:
                raise EnvelopeError(f"{self._names.main} does not handle {envelope.type}")
            event = model.model_validate(envelope.data)
        except (EnvelopeError, ValidationError) as exc:
            await self._settle_failure(message, f"poison: {exc}", poison=True, attempt=1)
            return
        with tracer.start_as_current_span(
            f"{self._names.main} process",
            context=context_from(envelope.trace_headers),
            kind=trace.SpanKind.CONSUMER,
            attributes={"messaging.system": "rabbitmq", "messaging.message.id": str(envelope.id)},
        ):
            try:
                took_effect = await self._handle(envelope, event)
            except Exception as exc:
                log.warning(
                    "handler %s failed on %s (attempt %d): %r",
                    self._names.main,
                    envelope.id,
                    envelope.attempt,
                    exc,
                )
                await self._settle_failure(message, repr(exc), poison=False, attempt=envelope.attempt)
                return
        if took_effect:
            self._count("effects")
            if self._on_committed is not None:
                self._on_committed(envelope)
        else:
            self._count("duplicates")
        await self._ack(message)

    async def _settle_failure(
        self, message: AbstractIncomingMessage, reason: str, *, poison: bool, attempt: int
    ) -> None:
        try:
            if poison or attempt >= self._broker.max_attempts:
                await self._dead_letter(message, reason)
            else:
                await self._retry(message, attempt, reason)
        except Exception as exc:
            # Could not park it: leave it unacked; the broker redelivers (x-delivery-limit bounds loops).
            log.error("could not move %s out of %s: %r", message.message_id, self._names.main, exc)
            self.stats.errors.append(repr(exc)[:200])
            # If the channel is gone the broker requeues it by itself.
            with contextlib.suppress(Exception):
                await message.nack(requeue=True)
            return
        await self._ack(message)

    async def _handle(self, envelope: Envelope, event: BaseModel) -> bool:
        async with self._runtime.uow() as uow:
            claimed = await uow.session.execute(
                insert(self._inbox)
                .values(message_id=envelope.id, handler=self._subscription.name, message_type=envelope.type)
                .on_conflict_do_nothing()
                .returning(self._inbox.c.message_id)
            )
            if claimed.first() is None:
                return False
            await self._subscription.handler(uow, event, envelope)
            # AU-01: what the bus applied is audited like an HTTP change, in the transaction of its effect.
            uow.audit(
                applied_by(envelope),
                envelope.type,
                envelope.subject or f"message/{envelope.id}",
                after={"handler": f"{self._service}.{self._subscription.name}"},
            )
            await uow.commit()
        return True


def applied_by(envelope: Envelope) -> Actor:
    """The audit actor of an applied message: the system that produced it (its CloudEvents source,
    `/vehicle` → `vehicle`), the message id as the request id."""
    return Actor(id=envelope.source.lstrip("/") or "unknown", role="system", request_id=str(envelope.id))


__all__ = ["Consumer", "ConsumerStats", "Subscription"]
