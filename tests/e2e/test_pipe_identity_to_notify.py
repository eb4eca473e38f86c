"""The whole pipe between two real services (NT-01): identity emits notify's `notify.sms.send.v1` in a unit
of work; its outbox relay publishes it to `notify.commands`; notify's worker takes it from
`notify.send-sms`, renders, records and "delivers" it through the local sink; notify's API lists it.

Real PostgreSQL (`identity_test`, `notify_test`, migrated as `make migrate` does) and RabbitMQ; both
workers run in this process as asyncio tasks and are stopped by the fixture. TMS_ENV=test and Redis db 15
come from the root conftest.py. Phones and case ids are new on every run, so reruns never collide.
"""

from __future__ import annotations

import asyncio
import contextlib
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, replace
from typing import Any

import aio_pika
import httpx
import pytest
from sqlalchemy import func, select, text, update

from identity_service.commands import SendSms
from identity_service.service import SPEC as IDENTITY
from notify_service.main import create_app as create_notify_app
from notify_service.service import SPEC as NOTIFY
from servicekit.consumer import Consumer
from servicekit.db import OUTBOX_CHANNEL
from servicekit.migrate import migrate
from servicekit.service import ServiceSpec
from servicekit.settings import Environment
from servicekit.testing import new_phone, service_client
from servicekit.worker import Worker

pytestmark = pytest.mark.integration

TIMEOUT_S = 30.0


@dataclass
class Platform:
    identity: Worker
    notify: Worker
    notify_api: httpx.AsyncClient

    @property
    def send_sms_consumer(self) -> Consumer:
        (consumer,) = [c for c in self.notify.consumers if c.queue and c.queue.name == "notify.send-sms"]
        return consumer


async def eventually(check: Callable[[], Awaitable[bool]], what: str, timeout_s: float = TIMEOUT_S) -> None:
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout_s
    while not await check():
        if loop.time() > deadline:
            raise AssertionError(f"not within {timeout_s:.0f} s: {what}")
        await asyncio.sleep(0.05)


def _started(worker: Worker) -> bool:
    return worker.relay is not None and len(worker.consumers) == len(worker.spec.subscriptions)


@contextlib.asynccontextmanager
async def running_workers(*specs: ServiceSpec) -> AsyncIterator[list[Worker]]:
    """Each service's real worker (relay and consumers), started; stopped and awaited on the way out."""
    stop = asyncio.Event()
    workers = [Worker(spec) for spec in specs]
    tasks = [asyncio.create_task(w.run(stop), name=f"{w.spec.name}-worker") for w in workers]
    try:

        async def all_started() -> bool:
            for task in tasks:
                if task.done():  # died while starting: show why
                    task.result()
                    raise AssertionError(f"{task.get_name()} stopped while starting")
            return all(_started(w) for w in workers)

        await eventually(all_started, "the workers started")
        yield workers
    finally:
        stop.set()
        _, pending = await asyncio.wait(tasks, timeout=TIMEOUT_S)
        for task in pending:
            task.cancel()
        results = await asyncio.gather(*tasks, return_exceptions=True)
        assert not pending, f"workers that did not stop when asked: {[t.get_name() for t in pending]}"
        errors = [r for r in results if isinstance(r, BaseException)]
        assert not errors, f"workers failed: {errors!r}"


async def consumers_on(queue_name: str, amqp_url: str) -> int:
    connection = await aio_pika.connect(amqp_url)
    async with connection:
        channel = await connection.channel()
        queue = await channel.declare_queue(queue_name, passive=True)
        return int(queue.declaration_result.consumer_count or 0)


@pytest.fixture(scope="module")
def databases() -> None:
    for spec in (IDENTITY, NOTIFY):
        assert spec.settings().env is Environment.test, "TMS_ENV=test comes from the root conftest.py"
        migrate(spec.name)


@pytest.fixture(scope="module")
async def platform(databases: None) -> AsyncIterator[Platform]:
    async with (
        # identity relay-only: its consumers would take messages meant for identity's own tests.
        running_workers(replace(IDENTITY, subscriptions=(), sweeps=()), NOTIFY) as (identity, notify),
        service_client(create_notify_app()) as notify_api,
    ):
        queue = platform_send_sms_queue(notify)
        others = await consumers_on(queue.name, notify.settings.broker.url.get_secret_value()) - 1
        if others:
            pytest.fail(
                f"{others} other consumer(s) on {queue.name} (a `make run` notify worker?) would take this "
                "test's commands into another database; the test environment needs a broker of its own"
            )
        yield Platform(identity, notify, notify_api)


def platform_send_sms_queue(notify: Worker) -> Any:
    (queue,) = [c.queue for c in notify.consumers if c.queue and c.queue.name == "notify.send-sms"]
    return queue


def masked(phone: str) -> str:
    return f"{phone[:3]}****{phone[-4:]}"


async def sink(platform: Platform, phone: str) -> list[dict[str, Any]]:
    r = await platform.notify_api.get("/api/v1/_test/sms", params={"phone": phone})
    assert r.status_code == 200, r.text
    items: list[dict[str, Any]] = r.json()["items"]
    return items


async def emit(platform: Platform, *commands: SendSms) -> list[uuid.UUID]:
    async with platform.identity.runtime.uow() as uow:
        uow.emit(*commands)
        return list(await uow.commit())


async def test_nt01_identity_command_crosses_the_broker_and_notify_delivers_it_once(
    platform: Platform,
) -> None:
    phone, case_id, account_id = new_phone(), f"registration-{uuid.uuid4()}", str(uuid.uuid4())
    (message_id,) = await emit(
        platform,
        SendSms(
            phone=phone,
            template="registration_approved",
            params={"name": "王五", "account": masked(phone)},
            case_id=case_id,
            account_id=account_id,
        ),
    )

    async def delivered() -> bool:
        items = await sink(platform, phone)
        return len(items) == 1 and items[0]["state"] == "delivered"

    await eventually(delivered, "notify's sink lists the SMS as delivered")
    (item,) = await sink(platform, phone)
    assert item["body"] == (
        f"【交管12123】王五，您好！您在互联网交通安全综合服务管理平台的注册申请已审核通过，账号为{masked(phone)}。"
        "请使用交管12123 App或网页登录办理业务。"
    )
    assert (item["phone"], item["template"], item["case_id"]) == (phone, "registration_approved", case_id)

    outbox = IDENTITY.metadata.tables["outbox"]
    inbox = NOTIFY.metadata.tables["inbox"]

    async def published() -> bool:
        async with platform.identity.runtime.engine.connect() as conn:
            at = await conn.scalar(select(outbox.c.published_at).where(outbox.c.id == message_id))
        return at is not None

    async def inbox_rows() -> int:
        async with platform.notify.runtime.engine.connect() as conn:
            count = await conn.scalar(
                select(func.count()).select_from(inbox).where(inbox.c.message_id == message_id)
            )
        return int(count or 0)

    assert await published()
    assert await inbox_rows() == 1

    # The same outbox row published again (as after a relay crash between the broker's ack and the
    # database update): the same CloudEvents id reaches notify, whose inbox turns it into nothing.
    stats = platform.send_sms_consumer.stats
    duplicates, effects = stats.duplicates, stats.effects
    async with platform.identity.runtime.engine.begin() as conn:
        await conn.execute(
            update(outbox)
            .where(outbox.c.id == message_id)
            .values(published_at=None, next_attempt_at=func.now())
        )
        await conn.execute(text(f"NOTIFY {OUTBOX_CHANNEL}"))

    async def absorbed() -> bool:
        return stats.duplicates > duplicates

    await eventually(absorbed, "notify received the republished command")
    assert await published()
    assert stats.effects == effects
    assert await inbox_rows() == 1
    assert [i["id"] for i in await sink(platform, phone)] == [item["id"]]


async def test_nt01_the_same_case_sent_twice_by_identity_is_one_sms(platform: Platform) -> None:
    """Two commands (two message ids, so the inbox lets both through) for one template and case."""
    phone, case_id = new_phone(), f"registration-{uuid.uuid4()}"
    rejected = SendSms(
        phone=phone,
        template="registration_rejected",
        params={"name": "赵六", "reason": "现场照片与身份证件照片不一致"},
        case_id=case_id,
    )
    stats = platform.send_sms_consumer.stats
    effects = stats.effects
    first = await emit(platform, rejected)
    second = await emit(platform, rejected)
    assert first != second

    async def both_handled() -> bool:
        return stats.effects >= effects + 2

    await eventually(both_handled, "notify handled both commands")

    async def delivered() -> bool:
        return all(i["state"] == "delivered" for i in await sink(platform, phone))

    await eventually(delivered, "notify's dispatcher handed the SMS to the sink")
    items = await sink(platform, phone)
    assert [(i["template"], i["case_id"], i["state"]) for i in items] == [
        ("registration_rejected", case_id, "delivered")
    ]
    assert "原因：现场照片与身份证件照片不一致。" in items[0]["body"]


async def test_nt02_verification_codes_without_a_case_are_each_delivered(platform: Platform) -> None:
    phone = new_phone()
    codes = ["135790", "246801"]
    await emit(
        platform,
        *(
            SendSms(phone=phone, template="verification_code", params={"code": code, "minutes": "5"})
            for code in codes
        ),
    )

    async def both_delivered() -> bool:
        items = await sink(platform, phone)
        return len(items) == 2 and all(i["state"] == "delivered" for i in items)

    await eventually(both_delivered, "both codes delivered")
    bodies = [i["body"] for i in await sink(platform, phone)]
    for code in codes:
        assert sum(f"验证码为{code}，5分钟内有效" in body for body in bodies) == 1
