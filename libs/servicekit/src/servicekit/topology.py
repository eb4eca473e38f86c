"""Exchanges and queues, declared from code with their arguments, identically by every process that
touches them (a declaration with other arguments would fail with PRECONDITION_FAILED).

- `<service>.events`: topic exchange, one per producer. Events nobody is bound to yet go to its
  alternate exchange and are kept in `<service>.events.unrouted`, so `mandatory` publishing never
  bounces a legitimate event and nothing is lost silently.
- `<service>.commands`: direct exchange for commands addressed to that one service; no alternate
  exchange, so a command with no queue bounces back to the relay and is retried.
- `<consumer>.<handler>`: quorum queue, one per handler, with `.retry` (delayed redelivery through a
  per-message TTL that dead-letters back to the queue) and `.dlq`.

RabbitMQ 3.10 (Debian's) needs `x-delivery-limit` declared to stop a crash-looping message, and
at-least-once dead-lettering asked for explicitly (it requires `x-overflow: reject-publish`).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

import aio_pika
from aio_pika.abc import AbstractChannel, AbstractExchange, AbstractQueue
from aiormq.abc import FieldTable

from servicekit.messages import commands_exchange, events_exchange

DELIVERY_LIMIT = 20


def _quorum(dead_letter_to: str | None) -> FieldTable:
    args: FieldTable = {"x-queue-type": "quorum"}
    if dead_letter_to is not None:
        args |= {
            "x-dead-letter-exchange": "",
            "x-dead-letter-routing-key": dead_letter_to,
            "x-dead-letter-strategy": "at-least-once",
            "x-overflow": "reject-publish",
        }
    return args


def unrouted_name(service: str) -> str:
    return f"{events_exchange(service)}.unrouted"


async def declare_events_exchange(channel: AbstractChannel, service: str) -> AbstractExchange:
    unrouted = unrouted_name(service)
    alternate = await channel.declare_exchange(unrouted, aio_pika.ExchangeType.FANOUT, durable=True)
    queue = await channel.declare_queue(unrouted, durable=True, arguments=_quorum(None))
    await queue.bind(alternate)
    return await channel.declare_exchange(
        events_exchange(service),
        aio_pika.ExchangeType.TOPIC,
        durable=True,
        arguments={"alternate-exchange": unrouted},
    )


async def declare_commands_exchange(channel: AbstractChannel, service: str) -> AbstractExchange:
    return await channel.declare_exchange(
        commands_exchange(service), aio_pika.ExchangeType.DIRECT, durable=True
    )


@dataclass(frozen=True)
class QueueNames:
    main: str

    @property
    def retry(self) -> str:
        return f"{self.main}.retry"

    @property
    def dlq(self) -> str:
        return f"{self.main}.dlq"


def queue_names(consumer_service: str, handler: str) -> QueueNames:
    return QueueNames(f"{consumer_service}.{handler}")


async def declare_handler_queues(
    channel: AbstractChannel, names: QueueNames, bindings: Iterable[tuple[AbstractExchange, str]]
) -> AbstractQueue:
    """Declare `<q>`, `<q>.retry`, `<q>.dlq` and bind `<q>` to each (exchange, routing key)."""
    await channel.declare_queue(names.dlq, durable=True, arguments=_quorum(None))
    await channel.declare_queue(names.retry, durable=True, arguments=_quorum(names.main))
    main = await channel.declare_queue(
        names.main, durable=True, arguments=_quorum(names.dlq) | {"x-delivery-limit": DELIVERY_LIMIT}
    )
    for exchange, routing_key in bindings:
        await main.bind(exchange, routing_key)
    return main
