"""Proof "poison": messages that can never take effect, injected into notify's real command queue
(`notify.send-sms`) among good ones, end in its dead-letter queue, and nothing else does:

- a body that is not JSON: poison at once (the consumer cannot read it);
- a valid envelope whose handler always fails (an `account_id` longer than notify's column: the database
  refuses the row every time): retried with backoff, dead-lettered after its last attempt;
- a valid command whose consumer dies before settling it, every time (a crash loop, played by a client
  that takes it and hands it back): the broker's `x-delivery-limit` dead-letters it.

Small enough for CI (not marked `proof`); runs on this environment's own broker vhost. ADR 0087."""

from __future__ import annotations

import asyncio
import dataclasses
import json
import time
import uuid
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

import aio_pika
import pytest
from sqlalchemy import func, select

from identity_service.commands import SendSms
from notify_service.service import SPEC as NOTIFY
from notify_service.subscriptions import send_sms_subscription
from notify_service.tables import sms_messages
from servicekit.crypto import blind_in
from servicekit.envelope import ATTEMPT_HEADER, ERROR_HEADER, Envelope
from servicekit.migrate import migrate
from servicekit.topology import DELIVERY_LIMIT, declare_commands_exchange, declare_handler_queues
from servicekit.worker import Worker

from .event_ledger import phone_for, progress

pytestmark = pytest.mark.integration

GOOD = 12
NOTIFY_ONLY_SEND_SMS = dataclasses.replace(NOTIFY, subscriptions=(send_sms_subscription(),), sweeps=())


def _command(phone: str, **extra: Any) -> tuple[uuid.UUID, aio_pika.Message]:
    command = SendSms(phone=phone, template="verification_code", params={"code": "135790", "minutes": "5"})
    envelope = Envelope(
        id=uuid.uuid4(),
        type=SendSms.message_type,
        source="/proof",
        time=datetime.now(UTC),
        subject=None,
        data={**command.model_dump(mode="json"), **extra},
        trace_headers={},
    )
    return envelope.id, envelope.to_amqp()


def _unreadable() -> tuple[uuid.UUID, aio_pika.Message]:
    message_id, message = _command("13900000000")
    message.body = b'{"phone": "139'  # cut short: not JSON
    return message_id, message


async def _crash_loop(channel: aio_pika.abc.AbstractChannel, queue: str, message_id: uuid.UUID) -> int:
    """Take the message and hand it back unsettled, as a consumer dying on it would, until the broker
    stops offering it. Returns how many times it was delivered."""
    source = await channel.get_queue(queue)
    deliveries = 0
    while (message := await source.get(fail=False, timeout=5)) is not None:
        assert message.message_id == str(message_id), (
            "the queue was purged: only the crash-loop message is in it"
        )
        deliveries += 1
        await message.nack(requeue=True)
        assert deliveries <= DELIVERY_LIMIT + 5, (
            "the broker kept offering the message past its delivery limit"
        )
    return deliveries


async def test_poison_messages_are_dead_lettered_and_nothing_else(
    request: pytest.FixtureRequest, record_figures: Callable[[str, dict[str, Any]], object]
) -> None:
    migrate("notify")
    subscription = NOTIFY_ONLY_SEND_SMS.subscriptions[0]
    names = subscription.queue("notify")
    worker = Worker(NOTIFY_ONLY_SEND_SMS)
    run = f"{uuid.uuid4().int % 10_000:04d}"
    good_phones = [phone_for(run, n) for n in range(GOOD)]
    with progress(request.config) as say:
        connection = await aio_pika.connect(worker.settings.broker.url.get_secret_value())
        async with connection:
            channel = await connection.channel(publisher_confirms=True)
            exchange = await declare_commands_exchange(channel, "notify")
            await declare_handler_queues(channel, names, [(exchange, SendSms.message_type)])
            for name in (names.main, names.retry, names.dlq):
                await (await channel.get_queue(name)).purge()

            crash_id, crash = _command(phone_for(run, 9000))
            await exchange.publish(crash, SendSms.message_type, mandatory=True)
            deliveries = await _crash_loop(channel, names.main, crash_id)
            say(f"poison: the crash-loop message was offered {deliveries} times, then no more")

            stop = asyncio.Event()
            running = asyncio.create_task(worker.run(stop))
            try:
                unreadable_id, unreadable = _unreadable()
                failing_id, failing = _command(phone_for(run, 9001), account_id="a" * 65)
                good = [_command(phone) for phone in good_phones]
                mixed = [
                    *good[: GOOD // 2],
                    (unreadable_id, unreadable),
                    (failing_id, failing),
                    *good[GOOD // 2 :],
                ]
                for _, message in mixed:
                    await exchange.publish(message, SendSms.message_type, mandatory=True)
                say(f"poison: {GOOD} good commands and 2 poison ones published to {names.main}")

                dlq = await channel.declare_queue(names.dlq, passive=True)
                deadline = time.monotonic() + 90
                while True:
                    dlq = await channel.declare_queue(names.dlq, passive=True)
                    sent = await _sms_count(worker, good_phones)
                    if dlq.declaration_result.message_count >= 3 and sent == GOOD:
                        break
                    assert time.monotonic() < deadline, (
                        f"{sent}/{GOOD} good ones in, DLQ {dlq.declaration_result}"
                    )
                    await asyncio.sleep(0.5)
                await asyncio.sleep(2)  # anything else on its way to the DLQ arrives by now
            finally:
                stop.set()
                await running

            dead: dict[str, aio_pika.abc.AbstractIncomingMessage] = {}
            while (message := await dlq.get(fail=False, timeout=5)) is not None:
                dead[str(message.message_id)] = message
                await message.ack()
        failing_headers = dead[str(failing_id)].headers or {} if str(failing_id) in dead else {}
        crash_headers = dead[str(crash_id)].headers or {} if str(crash_id) in dead else {}
        figures = {
            "poison_injected": 3,
            "dead_lettered": len(dead),
            "good_messages": GOOD,
            "good_effects": await _sms_count(worker, good_phones),
            "crash_loop_deliveries": deliveries,
            "failing_handler_attempts": int(str(failing_headers.get(ATTEMPT_HEADER, 0))),
        }
        say("poison figures:", json.dumps(figures))
        record_figures("poison", figures)
    assert set(dead) == {str(crash_id), str(unreadable_id), str(failing_id)}, (
        "only the poison is dead-lettered"
    )
    assert "poison" in str(dead[str(unreadable_id)].headers[ERROR_HEADER])
    assert figures["failing_handler_attempts"] == worker.settings.broker.max_attempts
    assert "StringDataRightTruncation" in str(failing_headers[ERROR_HEADER])
    assert deliveries == DELIVERY_LIMIT + 1
    assert any(d.get("reason") == "delivery_limit" for d in crash_headers.get("x-death", [])), crash_headers
    assert figures["good_effects"] == GOOD
    assert await _sms_count(worker, [phone_for(run, 9000), phone_for(run, 9001)]) == 0


async def _sms_count(worker: Worker, phones: list[str]) -> int:
    async with worker.runtime.engine.connect() as conn:
        count = await conn.scalar(
            select(func.count()).select_from(sms_messages).where(blind_in(sms_messages.c.phone, phones))
        )
    return int(count or 0)
