"""NT-01 across services: identity's, plate-pool's, vehicle's and license's own event classes, emitted in
their units of work (license's by its own use cases) and published by their real outbox relays, reach
notify's real worker through RabbitMQ; notify's dispatch sweep hands each SMS to the local sink; the
dev/test sink and the account's inbox show it, once.

The producers run relay-only workers (no consumers, no sweeps), so this test never takes messages meant for
their own tests. Phones, ids and accounts are new on every run.
"""

from __future__ import annotations

import dataclasses
import functools
import uuid
from collections.abc import AsyncIterator
from datetime import date, timedelta
from typing import Any

import aio_pika
import httpx
import pytest
from sqlalchemy import func, text, update

from identity_service.published import (
    AccountCancelled,
    CounterChangeApproved,
    CounterChangeRejected,
    LicencePhotoApproved,
    LicencePhotoRejected,
    RegistrationApproved,
    RegistrationRejected,
)
from identity_service.service import SPEC as IDENTITY
from license_service import applications, medical, records
from license_service.medical import sweep_periodic_reminders
from license_service.service import SPEC as LICENSE
from notify_service.main import create_app as create_notify_app
from notify_service.service import SPEC as NOTIFY
from plate_pool_service.published import Owner, SelectionCancelled, SelectionConfirmed
from plate_pool_service.service import SPEC as PLATE_POOL
from servicekit.clock import SHANGHAI
from servicekit.db import OUTBOX_CHANNEL
from servicekit.messages import Message
from servicekit.migrate import migrate
from servicekit.testing import TokenFactory, new_phone, new_resident_id, service_client
from servicekit.uow import SYSTEM_ACTOR
from servicekit.web import Principal
from servicekit.worker import Worker
from vehicle_service.published import DeliveryBanImposed
from vehicle_service.service import SPEC as VEHICLE

from . import workers

pytestmark = pytest.mark.integration

TIMEOUT_S = 60.0  # a backlog left in the queues by other suites is worked off first
eventually = functools.partial(workers.eventually, timeout_s=TIMEOUT_S)
running = functools.partial(workers.running_workers, timeout_s=TIMEOUT_S)
relay_only = workers.relay_only
TOKENS = TokenFactory()


@dataclasses.dataclass
class Platform:
    identity: Worker
    plate_pool: Worker
    vehicle: Worker
    notify: Worker
    api: httpx.AsyncClient
    license: Worker

    async def emit(self, producer: Worker, *events: Message) -> list[uuid.UUID]:
        async with producer.runtime.uow() as uow:
            uow.emit(*events)
            return list(await uow.commit())

    async def sink(self, phone: str) -> list[dict[str, Any]]:
        r = await self.api.get("/api/v1/_test/sms", params={"phone": phone})
        assert r.status_code == 200, r.text
        items: list[dict[str, Any]] = r.json()["items"]
        return items

    async def inbox(self, account_id: str) -> list[dict[str, Any]]:
        r = await self.api.get("/api/v1/messages", headers=TOKENS.headers(TOKENS.citizen(account_id)))
        assert r.status_code == 200, r.text
        items: list[dict[str, Any]] = r.json()["items"]
        return items

    async def delivered(self, phone: str, count: int) -> list[dict[str, Any]]:
        async def done() -> bool:
            items = await self.sink(phone)
            return len(items) >= count and all(i["state"] == "delivered" for i in items)

        await eventually(done, f"{count} SMS delivered to {phone[:3]}****{phone[-4:]}")
        return await self.sink(phone)


@pytest.fixture(scope="module")
async def platform() -> AsyncIterator[Platform]:
    for spec in (IDENTITY, PLATE_POOL, VEHICLE, LICENSE, NOTIFY):
        migrate(spec.name)
    app = create_notify_app()
    app.state.verifier = TOKENS.verifier()
    async with (
        running(
            relay_only(IDENTITY), relay_only(PLATE_POOL), relay_only(VEHICLE), relay_only(LICENSE), NOTIFY
        ) as (
            identity,
            plate_pool,
            vehicle,
            license_,
            notify,
        ),
        service_client(app) as api,
    ):
        connection = await aio_pika.connect(notify.settings.broker.url.get_secret_value())
        async with connection:
            channel = await connection.channel()
            for consumer in notify.consumers:
                assert consumer.queue is not None
                queue = await channel.declare_queue(consumer.queue.name, passive=True)
                if int(queue.declaration_result.consumer_count or 0) > 1:
                    pytest.fail(f"another worker consumes {consumer.queue.name}: this test needs it alone")
        yield Platform(identity, plate_pool, vehicle, notify, api, license_)


async def test_nt01_identity_approval_reaches_the_phone_and_the_inbox_once(platform: Platform) -> None:
    """ID-09: the approval event published twice by identity's relay and once more as a new event."""
    phone, account_id, registration_id = new_phone(), str(uuid.uuid4()), str(uuid.uuid4())
    approved = RegistrationApproved(
        registration_id=registration_id,
        account_id=account_id,
        account_kind="personal",
        name="王五",
        phone=phone,
        username=phone,
        approved_at=await platform.identity.runtime.clock.now(),
    )
    (message_id,) = await platform.emit(platform.identity, approved)
    (item,) = await platform.delivered(phone, 1)
    assert item["template"] == "registration_approved"
    assert f"账号为{phone[:3]}****{phone[-4:]}。" in item["body"]

    # The same outbox row published again (a relay crash between the broker's ack and its update), and
    # the same approval emitted again as a new event: still one SMS.
    consumer = next(c for c in platform.notify.consumers if c.queue and c.queue.name.endswith("approved"))
    taken = consumer.stats.effects + consumer.stats.duplicates
    outbox = IDENTITY.metadata.tables["outbox"]
    async with platform.identity.runtime.engine.begin() as conn:
        await conn.execute(
            update(outbox)
            .where(outbox.c.id == message_id)
            .values(published_at=None, next_attempt_at=func.now())
        )
        await conn.execute(text(f"NOTIFY {OUTBOX_CHANNEL}"))
    await platform.emit(platform.identity, approved)

    async def both_taken() -> bool:
        return consumer.stats.effects + consumer.stats.duplicates >= taken + 2

    await eventually(both_taken, "notify took the republished and the repeated approval")
    assert [i["id"] for i in await platform.sink(phone)] == [item["id"]]
    inbox = await platform.inbox(account_id)
    assert [(i["id"], i["kind"], i["read"]) for i in inbox] == [(item["id"], "registration_approved", False)]


async def test_id09_identity_rejection_tells_the_reason(platform: Platform) -> None:
    phone = new_phone()
    await platform.emit(
        platform.identity,
        RegistrationRejected(
            registration_id=str(uuid.uuid4()),
            name="赵六",
            phone=phone,
            reason="身份证件已过有效期",
            rejected_at=await platform.identity.runtime.clock.now(),
        ),
    )
    (item,) = await platform.delivered(phone, 1)
    assert "未通过审核，原因：身份证件已过有效期。" in item["body"]


async def test_pp08_pp09_plate_pool_confirmation_then_cancellation_are_both_told(platform: Platform) -> None:
    phone, account_id, selection_id = new_phone(), str(uuid.uuid4()), str(uuid.uuid4())
    now = await platform.plate_pool.runtime.clock.now()
    register_by = (now + timedelta(days=5)).astimezone(SHANGHAI)
    await platform.emit(
        platform.plate_pool,
        SelectionConfirmed(
            selection_id=selection_id,
            office_code="130100",
            plate_number="冀A3K7Q9",
            vin="LFV2A21K8A3043116",
            owner=Owner(id_kind="resident_id", id_number="130102199003071233", name="张三"),
            phone=phone,
            account_id=account_id,
            certificate_number="WAC123456789012",
            confirmed_at=now,
            register_by=register_by,
        ),
    )
    await platform.delivered(phone, 1)
    ban_until = date(register_by.year + 2, register_by.month, min(register_by.day, 28))
    await platform.emit(
        platform.plate_pool,
        SelectionCancelled(
            selection_id=selection_id,
            plate_number="冀A3K7Q9",
            vin="LFV2A21K8A3043116",
            account_id=account_id,
            phone=phone,
            reason="not_registered_in_time",
            ban_until=ban_until,
            cancelled_at=now + timedelta(days=6),
        ),
    )
    cancelled, confirmed = await platform.delivered(phone, 2)
    assert confirmed["template"] == "selection_confirmed"
    assert f"请于{register_by.year}年{register_by.month}月{register_by.day}日前" in confirmed["body"]
    assert "130102199003071233" not in confirmed["body"]
    assert cancelled["template"] == "selection_cancelled_banned"
    assert (
        f"{ban_until.year}年{ban_until.month}月{ban_until.day}日前不得通过互联网预选号牌" in cancelled["body"]
    )
    assert [i["kind"] for i in await platform.inbox(account_id)] == [
        "selection_cancelled_banned",
        "selection_confirmed",
    ]


def masked(phone: str) -> str:
    return f"{phone[:3]}****{phone[-4:]}"


async def test_nt01_id16_identity_cancellation_reaches_the_phone_with_the_reason(platform: Platform) -> None:
    phone, account_id = new_phone(), str(uuid.uuid4())
    await platform.emit(
        platform.identity,
        AccountCancelled(
            account_id=account_id,
            reason="not_registered_within_3_working_days",
            cancelled_at=await platform.identity.runtime.clock.now(),
            phone=phone,
            username=phone,
        ),
    )
    (item,) = await platform.delivered(phone, 1)
    assert (item["phone"], item["template"]) == (phone, "account_cancelled")
    assert (
        f"账号{masked(phone)}已注销，原因：预选机动车号牌号码后3个工作日内未办理新车注册登记。"
        in item["body"]
    )


async def test_nt01_id15_identity_photo_review_outcomes_reach_the_phone(platform: Platform) -> None:
    phone, account_id, now = new_phone(), str(uuid.uuid4()), await platform.identity.runtime.clock.now()
    await platform.emit(
        platform.identity,
        LicencePhotoRejected(
            photo_id=str(uuid.uuid4()), account_id=account_id, phone=phone, reason="照片模糊", rejected_at=now
        ),
    )
    await platform.delivered(phone, 1)
    photo_id = str(uuid.uuid4())
    await platform.emit(
        platform.identity,
        LicencePhotoApproved(
            photo_id=photo_id,
            account_id=account_id,
            id_kind="resident_id",
            id_number="130102199003071233",
            photo_ref=f"photos/{photo_id}.jpg",
            format="jpeg",
            approved_at=now,
            phone=phone,
        ),
    )
    approved, rejected = await platform.delivered(phone, 2)
    assert (rejected["template"], approved["template"]) == (
        "licence_photo_rejected",
        "licence_photo_approved",
    )
    assert "未通过审核，原因：照片模糊。" in rejected["body"]
    assert "130102199003071233" not in approved["body"]


async def test_nt01_id13_identity_counter_change_outcomes_reach_the_phone(platform: Platform) -> None:
    phone, account_id = new_phone(), str(uuid.uuid4())
    now = await platform.identity.runtime.clock.now()
    await platform.emit(
        platform.identity,
        CounterChangeRejected(
            change_id=str(uuid.uuid4()),
            account_id=account_id,
            change_kind="bind_vehicle",
            name="李四",
            phone=phone,
            reason="未提交机动车所有人身份证明",
            rejected_at=now,
        ),
    )
    await platform.delivered(phone, 1)
    await platform.emit(
        platform.identity,
        CounterChangeApproved(
            change_id=str(uuid.uuid4()),
            account_id=account_id,
            change_kind="bind_vehicle",
            items="绑定非本人机动车冀A12345",
            name="李四",
            phone=phone,
            approved_at=now,
        ),
    )
    approved, rejected = await platform.delivered(phone, 2)
    assert (approved["phone"], approved["template"], rejected["template"]) == (
        phone,
        "change_approved",
        "change_rejected",
    )
    assert "变更事项：绑定非本人机动车冀A12345。" in approved["body"]
    assert "原因：未提交机动车所有人身份证明。" in rejected["body"]
    assert [i["kind"] for i in await platform.inbox(account_id)] == ["change_approved", "change_rejected"]


async def test_nt01_vh07_vehicle_delivery_ban_reaches_the_phone_with_its_last_day(platform: Platform) -> None:
    phone = new_phone()
    await platform.emit(
        platform.vehicle,
        DeliveryBanImposed(
            id_kind="resident_id",
            id_number="130102199003071233",
            until=date(2033, 2, 28),
            reason="not_collected",
            case_id=str(uuid.uuid4()),
            imposed_at=await platform.vehicle.runtime.clock.now(),
            phone=phone,
            item="mark",
        ),
    )
    (item,) = await platform.delivered(phone, 1)
    assert (item["phone"], item["template"]) == (phone, "delivery_ban_imposed")
    assert "您申请补换领的检验合格标志超过一个月未领取，自即日起至2033年2月28日，" in item["body"]
    assert "130102199003071233" not in item["body"]


async def test_dl09_dl10_license_use_cases_reach_the_phone_through_the_broker(platform: Platform) -> None:
    """license's own use cases, in its units of work: a renewal waits for its medical certificate (told
    where to go), a hospital's unfit certificate ends it (told why), and the DL-10 sweep reminds the
    holder aged 60 of the periodic certificate (told once, however often the sweep runs)."""
    runtime = platform.license.runtime
    phone, today = new_phone(), (await runtime.clock.now()).astimezone(SHANGHAI).date()
    born = date(today.year - 65, 1, 15)
    facts = records.Facts(
        number=new_resident_id(born=born),
        name="孙七",
        birth_date=born,
        classes=frozenset({"C1"}),
        first_issue=today - timedelta(days=3650),
        valid_from=today - timedelta(days=2190),
        valid_until=today + timedelta(days=30),
        office_code="130100",
        review_due=today,
        phone=phone,
    )
    async with runtime.uow() as uow:
        record = await records.issue(uow, SYSTEM_ACTOR, facts, "police_system")
        await uow.session.execute(
            update(LICENSE.metadata.tables["licence_records"])
            .where(LICENSE.metadata.tables["licence_records"].c.id == record["id"])
            .values(photo_document_id=str(uuid.uuid4()), photo_valid_until=today + timedelta(days=365))
        )
        await uow.commit()
    citizen = Principal(
        subject=f"person-{uuid.uuid4()}",
        account_kind="person",
        channel="counter",
        roles=frozenset({"citizen"}),
        id_number=facts.number,
    )
    async with runtime.uow() as uow:
        case = await applications.apply(
            uow, citizen, SYSTEM_ACTOR, applications.Request(kind="renew", delivery="pickup")
        )
        await uow.commit()
    (waiting,) = await platform.delivered(phone, 1)
    assert waiting["template"] == "medical_certificate_needed"
    assert "您申请的驾驶证期满换证业务需提交身体条件证明" in waiting["body"]

    hospital = Principal(
        subject="unit-hospital", account_kind="unit", channel="counter", roles=frozenset({"unit", "hospital"})
    )
    async with runtime.uow() as uow:
        done = await medical.submit(
            uow,
            hospital,
            SYSTEM_ACTOR,
            medical.Submission(
                id_number=facts.number, name="孙七", purpose="renewal", conclusion="unfit", examined_on=today
            ),
        )
        await uow.commit()
    assert [a["id"] for a in done.applications] == [case["id"]]
    rejected, _ = await platform.delivered(phone, 2)
    assert rejected["template"] == "application_rejected"
    assert (
        "您申请的驾驶证期满换证业务未予受理，原因：医院出具的身体条件证明结论为不合格。" in rejected["body"]
    )

    while await sweep_periodic_reminders(runtime):
        pass
    await sweep_periodic_reminders(runtime)
    reminder, *_ = await platform.delivered(phone, 3)
    assert reminder["template"] == "periodic_medical_due"
    assert f"您的驾驶证已到审验日期（{today.year}年{today.month}月{today.day}日）" in reminder["body"]
    assert facts.number not in reminder["body"]
    assert len(await platform.sink(phone)) == 3
