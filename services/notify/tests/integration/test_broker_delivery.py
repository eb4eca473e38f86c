"""NT-01 against the real broker: events and commands reach notify's worker through RabbitMQ, a redelivered
or republished event sends one SMS, and a provider outage during 200 sends ends with all 200 delivered once
the provider recovers. The provider is the Alibaba Cloud adapter against its local fake (127.0.0.1).

The worker runs in this process with a FixedClock years ahead of the real one (so no other notify worker
finds these messages due) and without its dispatch sweep: the test runs the dispatcher and moves the clock,
so retries come due without sleeping. The event subscriptions are added here even where their producers
do not publish yet (they are registered in SUBSCRIPTIONS only once they do, ADR 0003).
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import json
import secrets
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from datetime import datetime, timedelta
from typing import Any

import aio_pika
import httpx
import pytest
from sqlalchemy import func, select

from notify_service.delivery import DispatchPolicy, dispatch_all_due
from notify_service.fake_aliyun import FakeAliyun
from notify_service.main import create_app
from notify_service.published import SendSms
from notify_service.service import SPEC
from notify_service.settings import NotifySettings
from notify_service.sms import LocalSink
from notify_service.subscriptions import EVENT_SUBSCRIPTIONS
from notify_service.tables import sms_messages
from servicekit.clock import SHANGHAI, FixedClock
from servicekit.consumer import Consumer
from servicekit.crypto import blind_in
from servicekit.envelope import Envelope
from servicekit.runtime import Runtime
from servicekit.testing import new_phone, service_client
from servicekit.topology import declare_events_exchange
from servicekit.worker import Worker

from ..conftest import adapter_for

pytestmark = pytest.mark.integration

TIMEOUT_S = 30.0
POLICY = DispatchPolicy(
    batch=100,
    concurrency=20,
    retry_base=timedelta(seconds=5),
    retry_max=timedelta(seconds=60),
    max_attempts=15,
)


async def eventually(check: Callable[[], Awaitable[bool]], what: str) -> None:
    loop = asyncio.get_running_loop()
    deadline = loop.time() + TIMEOUT_S
    while not await check():
        if loop.time() > deadline:
            raise AssertionError(f"not within {TIMEOUT_S:.0f} s: {what}")
        await asyncio.sleep(0.05)


@dataclasses.dataclass
class Notify:
    worker: Worker
    clock: FixedClock
    api: httpx.AsyncClient
    events: aio_pika.abc.AbstractChannel

    @property
    def runtime(self) -> Runtime:
        return self.worker.runtime

    def consumer(self, name: str) -> Consumer:
        (consumer,) = [c for c in self.worker.consumers if c.queue and c.queue.name == f"notify.{name}"]
        return consumer

    async def publish(
        self, producer: str, message_type: str, data: dict[str, Any], message_id: uuid.UUID
    ) -> None:
        exchange = await declare_events_exchange(self.events, producer)
        envelope = Envelope(
            id=message_id,
            type=message_type,
            source=f"/{producer}",
            time=await self.clock.now(),
            subject=None,
            data=data,
            trace_headers={},
        )
        await exchange.publish(envelope.to_amqp(), routing_key=message_type, mandatory=True)

    async def rows(self, *phones: str) -> list[Any]:
        async with self.runtime.engine.connect() as conn:
            result = await conn.execute(
                select(sms_messages).where(blind_in(sms_messages.c.phone, phones)).order_by(sms_messages.c.id)
            )
            return list(result.all())

    async def push_receipts(self, fake: FakeAliyun) -> dict[str, Any]:
        token = NotifySettings().receipt_token.get_secret_value()
        r = await self.api.post(f"/api/v1/messages/sms-receipts/aliyun/{token}", json=fake.reports())
        assert r.status_code == 200, r.text
        body: dict[str, Any] = r.json()
        return body


@pytest.fixture(scope="module")
async def notify() -> AsyncIterator[Notify]:
    from servicekit.migrate import migrate

    migrate("notify")
    spec = dataclasses.replace(SPEC, sweeps=())
    assert {s.name for s in EVENT_SUBSCRIPTIONS.values()} <= {s.name for s in spec.subscriptions}
    clock = FixedClock(datetime.now(SHANGHAI) + timedelta(days=365 * 6 + secrets.randbelow(300)))
    settings = spec.settings()
    worker = Worker(spec, Runtime.open(settings, spec.metadata, clock=clock))
    stop = asyncio.Event()
    task = asyncio.create_task(worker.run(stop), name="notify-worker")
    connection = await aio_pika.connect(settings.broker.url.get_secret_value())
    try:

        async def started() -> bool:
            if task.done():
                task.result()
            return worker.relay is not None and len(worker.consumers) == len(spec.subscriptions)

        await eventually(started, "notify's worker started")
        channel = await connection.channel(publisher_confirms=True, on_return_raises=True)
        queue = await channel.declare_queue("notify.send-sms", passive=True)
        if int(queue.declaration_result.consumer_count or 0) > 1:
            pytest.fail(
                "another notify worker consumes notify.send-sms on this broker: the test needs it alone"
            )
        async with service_client(create_app()) as api:
            yield Notify(worker, clock, api, channel)
    finally:
        stop.set()
        with contextlib.suppress(Exception):
            await asyncio.wait_for(task, TIMEOUT_S)
        await connection.close()


async def settled(consumer: Consumer, before: int, count: int) -> None:
    async def done() -> bool:
        return consumer.stats.effects + consumer.stats.duplicates >= before + count

    await eventually(done, f"{consumer.queue.name if consumer.queue else '?'} took {count} deliveries")


def taken(consumer: Consumer) -> int:
    return consumer.stats.effects + consumer.stats.duplicates


async def test_nt01_a_redelivered_and_a_republished_event_send_one_sms(
    notify: Notify, fake_aliyun: FakeAliyun
) -> None:
    """ID-09: identity.registration.approved.v1 delivered twice (same id) and published again (new id)."""
    phone, registration_id, account_id = new_phone(), str(uuid.uuid4()), str(uuid.uuid4())
    data = {
        "registration_id": registration_id,
        "account_id": account_id,
        "account_kind": "personal",
        "name": "王五",
        "phone": phone,
        "username": "130102199003071233",
        "approved_at": (await notify.clock.now()).isoformat(),
        "added_later_by_identity": "ignored",
    }
    consumer = notify.consumer("registration-approved")
    before, duplicates = taken(consumer), consumer.stats.duplicates
    first = uuid.uuid4()
    await notify.publish("identity", "identity.registration.approved.v1", data, first)
    await notify.publish("identity", "identity.registration.approved.v1", data, first)  # redelivered
    await notify.publish("identity", "identity.registration.approved.v1", data, uuid.uuid4())  # republished
    await settled(consumer, before, 3)
    assert consumer.stats.duplicates == duplicates + 1  # the inbox absorbed the redelivery

    aliyun = adapter_for(fake_aliyun)
    await dispatch_all_due(notify.runtime, aliyun, POLICY, phones=[phone])
    await aliyun.aclose()
    assert [a.phone for a in fake_aliyun.accepted] == [phone]  # one SMS reached the provider
    assert (await notify.push_receipts(fake_aliyun)) == {"code": 0, "msg": "接收成功"}
    (row,) = await notify.rows(phone)
    assert (row.state, row.template, row.case_id, row.account_id) == (
        "delivered",
        "registration_approved",
        f"registration:{registration_id}",
        account_id,
    )
    assert "130102199003071233" not in row.body
    assert "账号为1301**********1233" in row.body  # masked: never a full identity number
    assert fake_aliyun.accepted[0].params == {"name": "王五", "account": "1301**********1233"}


async def test_id09_a_rejection_tells_the_reason(notify: Notify) -> None:
    phone = new_phone()
    consumer = notify.consumer("registration-rejected")
    before = taken(consumer)
    await notify.publish(
        "identity",
        "identity.registration.rejected.v1",
        {
            "registration_id": str(uuid.uuid4()),
            "name": "赵六",
            "phone": phone,
            "reason": "现场照片与身份证件照片不一致",
            "rejected_at": (await notify.clock.now()).isoformat(),
        },
        uuid.uuid4(),
    )
    await settled(consumer, before, 1)
    (row,) = await notify.rows(phone)
    assert row.template == "registration_rejected"
    assert "未通过审核，原因：现场照片与身份证件照片不一致。" in row.body
    assert row.account_id is None


async def test_pp08_the_pre_selection_success_sms_names_plate_certificate_and_deadline(
    notify: Notify,
) -> None:
    phone, account_id = new_phone(), str(uuid.uuid4())
    consumer = notify.consumer("selection-confirmed")
    before = taken(consumer)
    await notify.publish(
        "plate-pool",
        "plate-pool.selection.confirmed.v1",
        {
            "selection_id": str(uuid.uuid4()),
            "office_code": "130100",
            "plate_number": "冀A8K2M7",
            "vin": "LSVAM4187C2184756",
            "owner": {"id_kind": "resident_id", "id_number": "130102199003071233", "name": "张三"},
            "phone": phone,
            "account_id": account_id,
            "certificate_number": "YX130100202700012",
            "confirmed_at": (await notify.clock.now()).isoformat(),
            "register_by": "2032-03-04",
        },
        uuid.uuid4(),
    )
    await settled(consumer, before, 1)
    (row,) = await notify.rows(phone)
    assert row.template == "selection_confirmed"
    assert row.account_id == account_id
    assert "成功预选机动车号牌冀A8K2M7，预选号凭证编号YX130100202700012。请于2032年3月4日前" in row.body


@pytest.mark.parametrize(
    ("reason", "ban_until", "template", "says"),
    [
        (
            "not_registered_in_time",
            "2034-03-04",
            "selection_cancelled_banned",
            "2034年3月4日前不得通过互联网预选号牌",
        ),
        ("abandoned", None, "selection_cancelled", "原因：您已放弃该预选号牌。"),
    ],
)
async def test_pp09_a_cancellation_sms_gives_the_reason_and_any_ban(
    notify: Notify, reason: str, ban_until: str | None, template: str, says: str
) -> None:
    phone, selection_id = new_phone(), str(uuid.uuid4())
    consumer = notify.consumer("selection-cancelled")
    before = taken(consumer)
    data = {
        "selection_id": selection_id,
        "plate_number": "冀A8K2M7",
        "vin": "LSVAM4187C2184756",
        "account_id": str(uuid.uuid4()),
        "phone": phone,
        "reason": reason,
        "ban_until": ban_until,
        "cancelled_at": (await notify.clock.now()).isoformat(),
    }
    await notify.publish("plate-pool", "plate-pool.selection.cancelled.v1", data, uuid.uuid4())
    await notify.publish("plate-pool", "plate-pool.selection.cancelled.v1", data, uuid.uuid4())  # again
    await settled(consumer, before, 2)
    (row,) = await notify.rows(phone)
    assert row.template == template
    assert row.case_id.startswith(f"selection-cancelled:{selection_id}@")
    assert "识别代号后六位184756" in row.body
    assert says in row.body


async def test_nt01_pp11_a_number_restored_by_appeal_is_told_again_a_republished_confirmation_is_not(
    notify: Notify,
) -> None:
    """PP-11: an upheld appeal restores the number: plate-pool confirms the same selection again, with a new
    deadline; that is a new outcome (told), while the same confirmation published again is not."""
    phone, selection_id = new_phone(), str(uuid.uuid4())
    consumer = notify.consumer("selection-confirmed")
    before = taken(consumer)

    def confirmed(at: str, register_by: str) -> dict[str, Any]:
        return {
            "selection_id": selection_id,
            "plate_number": "冀A8K2M7",
            "phone": phone,
            "account_id": str(uuid.uuid4()),
            "certificate_number": "YX130100202700012",
            "confirmed_at": at,
            "register_by": register_by,
        }

    first = confirmed("2032-03-01T10:00:00+08:00", "2032-03-04")
    await notify.publish("plate-pool", "plate-pool.selection.confirmed.v1", first, uuid.uuid4())
    await notify.publish("plate-pool", "plate-pool.selection.confirmed.v1", first, uuid.uuid4())  # again
    restored = confirmed("2032-03-20T15:00:00+08:00", "2032-03-23")
    await notify.publish("plate-pool", "plate-pool.selection.confirmed.v1", restored, uuid.uuid4())
    await settled(consumer, before, 3)
    items = await sink(notify, phone)
    assert [i["template"] for i in items] == ["selection_confirmed", "selection_confirmed"]
    assert "请于2032年3月23日前" in items[0]["body"]
    assert "请于2032年3月4日前" in items[1]["body"]


async def test_nt01_a_provider_outage_during_200_sends_ends_with_all_200_delivered_once(
    notify: Notify, fake_aliyun: FakeAliyun
) -> None:
    base = "136" + "".join(secrets.choice("0123456789") for _ in range(5))
    phones = [f"{base}{n:03d}" for n in range(200)]
    consumer = notify.consumer("send-sms")
    before = taken(consumer)
    fake_aliyun.mode = "outage"
    loop = asyncio.get_running_loop()
    started = loop.time()  # figures only, never asserted (timing belongs to bench/)
    async with notify.runtime.uow() as uow:
        uow.emit(
            *(
                SendSms(
                    phone=phone,
                    template="delivery_mailed",
                    params={"item": "机动车号牌", "tracking": f"EMS{n:010d}CN"},
                    case_id=f"delivery-{base}-{n}",
                )
                for n, phone in enumerate(phones)
            )
        )
        await uow.commit()
    await settled(consumer, before, 200)  # through notify.commands on the real broker
    queued_s = loop.time() - started
    aliyun = adapter_for(fake_aliyun)
    rounds: list[dict[str, int]] = []

    async def dispatch_round() -> None:
        claimed = await dispatch_all_due(notify.runtime, aliyun, POLICY, phones=phones)
        states = await state_counts(notify, phones)
        rounds.append({"claimed": claimed, **states})
        seconds.append(round(loop.time() - started, 3))

    seconds: list[float] = []

    await dispatch_round()  # the provider is down: every hand-over fails, nothing is lost
    notify.clock.advance(POLICY.retry_base)
    await dispatch_round()  # still down
    outage_answers = fake_aliyun.answers["isp.SYSTEM_ERROR"]
    assert rounds[0] == {"claimed": 200, "queued": 200}
    assert rounds[1] == {"claimed": 200, "queued": 200}
    assert fake_aliyun.accepted == []

    fake_aliyun.mode = "up"  # recovered
    for _ in range(5):  # a hand-over lost on the way (a reset connection) is one more retry, no more
        notify.clock.advance(POLICY.retry_max)
        await dispatch_round()
        if rounds[-1].get("sent") == 200:
            break
    assert rounds[2]["claimed"] == 200
    assert rounds[-1] == {"claimed": rounds[-1]["claimed"], "sent": 200}
    receipts = await notify.push_receipts(fake_aliyun)
    assert receipts["code"] == 0
    await dispatch_round()  # nothing left to do
    await aliyun.aclose()

    rows = await notify.rows(*phones)
    assert len(rows) == 200
    assert {r.state for r in rows} == {"delivered"}
    assert min(r.attempts for r in rows) == 3
    out_ids = [a.out_id for a in fake_aliyun.accepted]
    assert len(out_ids) == 200
    assert sorted(out_ids) == sorted(str(r.id) for r in rows)  # each message accepted exactly once
    assert {r.provider_ref for r in rows} == {a.biz_id for a in fake_aliyun.accepted}
    print(
        json.dumps(
            {
                "test": "nt01_outage_200",
                "messages": 200,
                "provider_outage_answers": outage_answers,
                "accepted_by_provider": len(out_ids),
                "distinct_accepted": len(set(out_ids)),
                "delivered": sum(r.state == "delivered" for r in rows),
                "rounds": rounds,
                "s_commands_recorded": round(queued_s, 3),
                "s_after_each_round": seconds,
            }
        )
    )


async def state_counts(notify: Notify, phones: list[str]) -> dict[str, int]:
    async with notify.runtime.engine.connect() as conn:
        result = await conn.execute(
            select(sms_messages.c.state, func.count())
            .where(blind_in(sms_messages.c.phone, phones))
            .group_by(sms_messages.c.state)
        )
        return {state: int(n) for state, n in result.all()}


def booking(phone: str, **more: Any) -> dict[str, Any]:
    return {
        "booking_id": str(uuid.uuid4()),
        "vehicle_id": str(uuid.uuid4()),
        "plate_number": "冀A12345",
        "station_id": str(uuid.uuid4()),
        "station_name": "石家庄市第一机动车检测站",
        "starts_at": "2032-03-08T09:00:00+08:00",
        "phone": phone,
        "booked_at": "2032-03-01T10:00:00+08:00",
        **more,
    }


async def test_vh13_an_inspection_appointment_made_is_told(notify: Notify) -> None:
    phone, older_producer = new_phone(), new_phone()
    holder = str(uuid.uuid4())
    consumer = notify.consumer("inspection-booked")
    before = taken(consumer)
    await notify.publish(
        "vehicle", "vehicle.inspection_booking.booked.v1", booking(phone, account_id=holder), uuid.uuid4()
    )
    await notify.publish(
        "vehicle", "vehicle.inspection_booking.booked.v1", booking(older_producer), uuid.uuid4()
    )
    await settled(consumer, before, 2)
    (row,) = await notify.rows(phone)
    assert row.template == "appointment_made"
    assert row.account_id == holder  # NT-01: kept in the holder's in-app inbox too
    (untold_account,) = await notify.rows(older_producer)
    assert untold_account.account_id is None
    assert (
        "您已成功预约机动车安全技术检验（冀A12345）：石家庄市第一机动车检测站，2032年3月8日 09:00。"
        in row.body
    )


async def test_vh14_a_station_cancellation_is_told_a_holders_own_is_not(notify: Notify) -> None:
    by_station, by_holder = new_phone(), new_phone()
    consumer = notify.consumer("inspection-cancelled")
    before = taken(consumer)
    cancelled = {
        "by": "station",
        "reason": "设备故障",
        "cancelled_at": "2032-03-02T10:00:00+08:00",
        "account_id": "0190c9a2-6b7e-7d1a-9f3e-5c2b8a4d1e61",
    }
    await notify.publish(
        "vehicle", "vehicle.inspection_booking.cancelled.v1", booking(by_station, **cancelled), uuid.uuid4()
    )
    await notify.publish(
        "vehicle",
        "vehicle.inspection_booking.cancelled.v1",
        booking(by_holder, **cancelled | {"by": "holder", "reason": None}),
        uuid.uuid4(),
    )
    await settled(consumer, before, 2)
    (row,) = await notify.rows(by_station)
    assert row.template == "appointment_cancelled"
    assert row.account_id == "0190c9a2-6b7e-7d1a-9f3e-5c2b8a4d1e61"
    assert "因石家庄市第一机动车检测站暂停或停止服务" in row.body
    assert "原因：设备故障。" in row.body
    assert await notify.rows(by_holder) == []


@pytest.mark.parametrize(
    ("state", "more", "template", "says"),
    [
        ("mailed", {"tracking_number": "EMS1234567890"}, "delivery_mailed", "邮件号EMS1234567890"),
        ("ready", {"delivery": "pickup"}, "delivery_ready_for_pickup", "请于2032年3月31日前到车辆管理所领取"),
        (
            "ready",
            {"delivery": "pickup", "pickup_due": "2032-04-01T17:00:00+08:00"},
            "delivery_ready_for_pickup",
            "请于2032年4月1日前到车辆管理所领取",
        ),
        (
            "rejected",
            {"reason": "号牌未列入网上补领范围"},
            "application_rejected",
            "机动车号牌补领业务未予受理，原因：号牌未列入网上补领范围。",
        ),
        ("accepted", {}, None, None),
    ],
)
async def test_vh05_deliveries_and_refusals_of_reissues_are_told(
    notify: Notify, state: str, more: dict[str, Any], template: str | None, says: str | None
) -> None:
    phone = new_phone()
    applicant = str(uuid.uuid4())
    consumer = notify.consumer("vehicle-application")
    before = taken(consumer)
    data = {
        "application_id": str(uuid.uuid4()),
        "vehicle_id": str(uuid.uuid4()),
        "plate_number": "冀A12345",
        "item": "plate",
        "application_kind": "reissue",
        "delivery": "mail",
        "state": state,
        "phone": phone,
        "tracking_number": None,
        "reason": None,
        "changed_at": "2032-03-01T10:00:00+08:00",
        "account_id": applicant,
    } | more
    await notify.publish("vehicle", "vehicle.application.state_changed.v1", data, uuid.uuid4())
    await settled(consumer, before, 1)
    rows = await notify.rows(phone)
    if template is None:
        assert rows == []
        return
    (row,) = rows
    assert row.template == template
    assert says is not None
    assert says in row.body
    assert row.account_id == applicant  # NT-01: in the applicant's in-app inbox too


# --- NT-01: the outcomes told from identity's and vehicle's events, each through the broker to the sink ---


async def told(
    notify: Notify, consumer_name: str, producer: str, message_type: str, data: dict[str, Any]
) -> None:
    """Publish one outcome event on the producer's exchange and wait until notify's queue took it."""
    consumer = notify.consumer(consumer_name)
    before = taken(consumer)
    await notify.publish(producer, message_type, data, uuid.uuid4())
    await settled(consumer, before, 1)


async def sink(notify: Notify, phone: str) -> list[dict[str, Any]]:
    """Hand the phone's due messages to the local sink, then read what the sink holds for that phone
    (`GET /api/v1/_test/sms`, as dev and e2e read it)."""
    await dispatch_all_due(notify.runtime, LocalSink(), POLICY, phones=[phone])
    r = await notify.api.get("/api/v1/_test/sms", params={"phone": phone})
    assert r.status_code == 200, r.text
    items: list[dict[str, Any]] = r.json()["items"]
    return items


def the_sms(items: list[dict[str, Any]], phone: str, template: str) -> dict[str, Any]:
    (item,) = items
    assert (item["phone"], item["template"], item["state"]) == (phone, template, "delivered")
    assert "130102199003071233" not in item["body"]  # never an identity number in clear
    body: dict[str, Any] = item
    return body


@pytest.mark.parametrize(
    ("reason", "username", "shown", "says"),
    [
        ("self_service", None, None, "原因：您已通过互联网申请注销。"),
        ("deceased", "130102199003071233", "1301**********1233", "原因：个人用户死亡。"),
        ("unit_dissolved", "91130100MA0CXY1X2B", "91130100MA0CXY1X2B", "原因：单位已注销。"),
        (
            "no_preselection_within_24h",
            None,
            None,
            "原因：新车车主用户注册后24小时内未预选机动车号牌号码。",
        ),
    ],
)
async def test_nt01_account_cancelled_is_told_with_the_reason_and_the_account_masked(
    notify: Notify, reason: str, username: str | None, shown: str | None, says: str
) -> None:
    """ID-16, ID-05: identity.account.cancelled.v1 → `account_cancelled` to the registered phone."""
    phone, account_id = new_phone(), str(uuid.uuid4())
    data = {"account_id": account_id, "reason": reason, "cancelled_at": "2032-03-01T10:00:00+08:00"}
    data |= {"phone": phone, "username": username or phone}
    await told(notify, "account-cancelled", "identity", "identity.account.cancelled.v1", data)
    item = the_sms(await sink(notify, phone), phone, "account_cancelled")
    assert f"账号{shown or phone[:3] + '****' + phone[-4:]}已注销" in item["body"]
    assert says in item["body"]
    assert item["case_id"] == f"account-cancelled:{account_id}"


async def test_nt01_account_cancelled_without_a_phone_tells_nobody(notify: Notify) -> None:
    """A staff or system account (no phone), or an event from before identity added the phone."""
    consumer = notify.consumer("account-cancelled")
    before, effects = taken(consumer), consumer.stats.effects
    data = {
        "account_id": str(uuid.uuid4()),
        "reason": "self_service",
        "cancelled_at": "2032-03-01T10:00:00+08:00",
    }
    await notify.publish("identity", "identity.account.cancelled.v1", data, uuid.uuid4())
    await settled(consumer, before, 1)
    assert consumer.stats.effects == effects + 1  # taken (inbox row), no message


async def test_nt01_licence_photo_approved_is_told(notify: Notify) -> None:
    """ID-15: identity.licence_photo.approved.v1 → `licence_photo_approved`."""
    phone, photo_id = new_phone(), str(uuid.uuid4())
    data = {
        "photo_id": photo_id,
        "account_id": str(uuid.uuid4()),
        "id_kind": "resident_id",
        "id_number": "130102199003071233",
        "photo_ref": f"photos/{photo_id}.jpg",
        "format": "jpeg",
        "approved_at": "2032-03-01T10:00:00+08:00",
        "phone": phone,
    }
    await told(notify, "licence-photo-approved", "identity", "identity.licence_photo.approved.v1", data)
    item = the_sms(await sink(notify, phone), phone, "licence_photo_approved")
    assert "驾驶证证件照片已审核通过并保存" in item["body"]
    assert item["case_id"] == f"licence-photo:{photo_id}"


async def test_nt01_licence_photo_rejected_is_told_with_the_reason_masked(notify: Notify) -> None:
    """ID-15: identity.licence_photo.rejected.v1 → `licence_photo_rejected`; a reason that quotes an
    identity number reaches the person masked instead of the dead-letter queue."""
    phone = new_phone()
    data = {
        "photo_id": str(uuid.uuid4()),
        "account_id": str(uuid.uuid4()),
        "phone": phone,
        "reason": "照片与130102199003071233的注册照片不一致",
        "rejected_at": "2032-03-01T10:00:00+08:00",
    }
    await told(notify, "licence-photo-rejected", "identity", "identity.licence_photo.rejected.v1", data)
    item = the_sms(await sink(notify, phone), phone, "licence_photo_rejected")
    assert "未通过审核，原因：照片与1301**********1233的注册照片不一致。请重新提交。" in item["body"]


@pytest.mark.parametrize(
    ("name", "items", "says"),
    [
        (
            "张三",
            "绑定非本人机动车冀A12345",
            "张三，您好！您在互联网交通安全综合服务管理平台办理的用户信息变更已审核通过，"
            "变更事项：绑定非本人机动车冀A12345。",
        ),
        ("某公司", "单位名称、手机号码", "变更事项：单位名称、手机号码。"),
    ],
)
async def test_nt01_counter_change_approved_is_told_with_its_items(
    notify: Notify, name: str, items: str, says: str
) -> None:
    """ID-13: identity.counter_change.approved.v1 → `change_approved` to the registered phone."""
    phone, change_id = new_phone(), str(uuid.uuid4())
    data = {
        "change_id": change_id,
        "account_id": str(uuid.uuid4()),
        "change_kind": "bind_vehicle",
        "items": items,
        "name": name,
        "phone": phone,
        "approved_at": "2032-03-01T10:00:00+08:00",
    }
    await told(notify, "counter-change-approved", "identity", "identity.counter_change.approved.v1", data)
    item = the_sms(await sink(notify, phone), phone, "change_approved")
    assert says in item["body"]
    assert item["case_id"] == f"counter-change:{change_id}"


async def test_nt01_counter_change_rejected_is_told_with_the_reason(notify: Notify) -> None:
    """ID-13 (seed §19(二)6): identity.counter_change.rejected.v1 → `change_rejected`."""
    phone, change_id = new_phone(), str(uuid.uuid4())
    data = {
        "change_id": change_id,
        "account_id": str(uuid.uuid4()),
        "change_kind": "bind_vehicle",
        "name": "张三",
        "phone": phone,
        "reason": "被绑定机动车行驶证已过有效期",
        "rejected_at": "2032-03-01T10:00:00+08:00",
    }
    await told(notify, "counter-change-rejected", "identity", "identity.counter_change.rejected.v1", data)
    item = the_sms(await sink(notify, phone), phone, "change_rejected")
    assert "未通过审核，原因：被绑定机动车行驶证已过有效期。" in item["body"]
    assert item["case_id"] == f"counter-change:{change_id}"


@pytest.mark.parametrize(
    ("reason", "item", "says"),
    [
        ("refused", "plate", "您申请补换领的机动车号牌邮寄送达时被拒收，自即日起至2033年2月28日，"),
        ("not_collected", "licence", "您申请补换领的机动车行驶证超过一个月未领取，自即日起至2033年2月28日，"),
    ],
)
async def test_nt01_delivery_ban_is_told_with_its_last_day(
    notify: Notify, reason: str, item: str, says: str
) -> None:
    """VH-07: vehicle.delivery_ban.imposed.v1 → `delivery_ban_imposed` to the case's phone."""
    phone, case_id = new_phone(), str(uuid.uuid4())
    data = {
        "id_kind": "resident_id",
        "id_number": "130102199003071233",
        "until": "2033-02-28",
        "reason": reason,
        "case_id": case_id,
        "imposed_at": "2032-03-01T10:00:00+08:00",
        "phone": phone,
        "item": item,
    }
    await told(notify, "delivery-ban", "vehicle", "vehicle.delivery_ban.imposed.v1", data)
    sms = the_sms(await sink(notify, phone), phone, "delivery_ban_imposed")
    assert says in sms["body"]
    assert "不得通过互联网办理补、换领机动车号牌、行驶证、检验合格标志和驾驶证业务。" in sms["body"]
    assert sms["case_id"] == f"delivery-ban:{case_id}"


def exam_decision(phone: str, **more: Any) -> dict[str, Any]:
    return {
        "booking_id": str(uuid.uuid4()),
        "learner_id": str(uuid.uuid4()),
        "slot_id": str(uuid.uuid4()),
        "site_name": "石家庄市第一考场",
        "exam_subject": 1,
        "starts_at": "2032-03-15T08:30:00+08:00",
        "outcome": "seated",
        "place": 12,
        "capacity": 100,
        "requests": 340,
        "priority_at": "2032-01-05T10:00:00+08:00",
        "priority_basis": "accepted",
        "phone": phone,
        "decided_at": "2032-03-10T17:00:00+08:00",
        **more,
    }


async def test_dl11_the_cutoff_tells_each_learner_seated_or_not_with_the_place_and_why(
    notify: Notify,
) -> None:
    seated, not_seated = new_phone(), new_phone()
    consumer = notify.consumer("exam-booking-decided")
    before = taken(consumer)
    first = exam_decision(seated)
    await notify.publish("license", "license.exam_booking.decided.v1", first, uuid.uuid4())
    await notify.publish("license", "license.exam_booking.decided.v1", first, uuid.uuid4())  # republished
    late = exam_decision(
        not_seated,
        outcome="not_seated",
        place=101,
        exam_subject=2,
        priority_basis="last_exam",
        priority_at="2032-02-01T09:00:00+08:00",
    )
    await notify.publish("license", "license.exam_booking.decided.v1", late, uuid.uuid4())
    await settled(consumer, before, 3)
    (row,) = await notify.rows(seated)
    assert row.template == "exam_seated"
    assert "您预约的科目一考试（石家庄市第一考场，2032年3月15日 08:30）已预约成功" in row.body
    assert (
        "在340名申请人中排第12位（考位100个，排序依据：首次预约科目一，按受理时间2032年1月5日 10:00）"
        in row.body
    )
    (row,) = await notify.rows(not_seated)
    assert row.template == "exam_not_seated"
    assert "排第101位" in row.body
    assert "按上次考试时间2032年2月1日 09:00" in row.body
    assert "请重新预约其他考试场次" in row.body


async def test_dl11_an_exam_result_is_told_with_what_follows(notify: Notify) -> None:
    failed, licensed = new_phone(), new_phone()
    consumer = notify.consumer("exam-result")
    before = taken(consumer)
    base = {
        "learner_id": str(uuid.uuid4()),
        "site_name": "石家庄市第一考场",
        "exam_at": "2032-03-15T08:30:00+08:00",
        "voided": False,
        "licence_record_id": None,
        "recorded_at": "2032-03-15T11:00:00+08:00",
    }
    await notify.publish(
        "license",
        "license.exam_result.recorded.v1",
        base
        | {
            "booking_id": str(uuid.uuid4()),
            "exam_subject": 2,
            "outcome": "failed",
            "learner_state": "learning",
            "next_subject": 2,
            "book_from": "2032-03-25",
            "road_bookings_left": 3,
            "phone": failed,
        },
        uuid.uuid4(),
    )
    await notify.publish(
        "license",
        "license.exam_result.recorded.v1",
        base
        | {
            "booking_id": str(uuid.uuid4()),
            "exam_subject": 4,
            "outcome": "passed",
            "learner_state": "licensed",
            "next_subject": None,
            "book_from": None,
            "road_bookings_left": None,
            "licence_record_id": str(uuid.uuid4()),
            "phone": licensed,
        },
        uuid.uuid4(),
    )
    await settled(consumer, before, 2)
    (row,) = await notify.rows(failed)
    assert row.template == "exam_failed"
    assert row.body.endswith(
        "您于2032年3月15日参加的科目二考试成绩不合格。可于2032年3月25日起重新预约考试（该科目剩余预约考试次数3次）。"
    )
    (row,) = await notify.rows(licensed)
    assert row.template == "exam_passed"
    assert "科目三安全文明驾驶常识考试成绩合格。您已通过全部考试科目，驾驶证已核发。" in row.body


# --- license: driving-licence applications, their bans, the periodic certificate (DL-02..DL-10) ----------


def licence_application(phone: str, state: str, **more: Any) -> dict[str, Any]:
    return {
        "application_id": str(uuid.uuid4()),
        "record_id": str(uuid.uuid4()),
        "office_code": "130100",
        "application_kind": "reissue",
        "state": state,
        "delivery": "mail",
        "phone": phone,
        "tracking_number": None,
        "reason": None,
        "deferred_to": None,
        "pickup_due": None,
        "medical_wait_until": None,
        "changed_at": "2032-03-01T10:00:00+08:00",
    } | more


@pytest.mark.parametrize(
    ("state", "more", "template", "says"),
    [
        (
            "mailed",
            {"tracking_number": "LP1A2B3C4D5E6F7A8B"},
            "delivery_mailed",
            "您申请的机动车驾驶证已交邮政寄出，邮件号LP1A2B3C4D5E6F7A8B",
        ),
        (
            "ready",
            {"delivery": "pickup", "pickup_due": "2032-04-01T10:00:00+08:00"},
            "delivery_ready_for_pickup",
            "您申请的机动车驾驶证已制作完成，请于2032年4月1日前到车辆管理所领取。",
        ),
        (
            "rejected",
            {"application_kind": "replace", "reason": "身份证号130102199003071233与登记不符"},
            "application_rejected",
            "您申请的驾驶证损毁换领业务未予受理，原因：身份证号1301**********1233与登记不符。",
        ),
        (
            "approved",
            {"application_kind": "defer_review", "delivery": None, "deferred_to": "2033-03-01"},
            "deferral_approved",
            "您申请的驾驶证延期审验已批准，延期至2033年3月1日。延期期间不得驾驶机动车。",
        ),
        (
            "awaiting_medical",
            {"application_kind": "renew", "medical_wait_until": "2032-03-31T10:00:00+08:00"},
            "medical_certificate_needed",
            "您申请的驾驶证期满换证业务需提交身体条件证明，请于2032年3月31日前到开通互联网体检业务的医院体检",
        ),
        ("accepted", {}, None, None),
    ],
)
async def test_dl02_dl09_licence_application_outcomes_are_told(
    notify: Notify, state: str, more: dict[str, Any], template: str | None, says: str | None
) -> None:
    """NT-01: license.application.state_changed.v1 → the outcome's SMS to the case's phone, or none."""
    phone = new_phone()
    data = licence_application(phone, state, **more)
    await told(notify, "licence-application", "license", "license.application.state_changed.v1", data)
    items = await sink(notify, phone)
    if template is None:
        assert items == []
        return
    sms = the_sms(items, phone, template)
    assert says is not None
    assert says in sms["body"]
    assert sms["case_id"] == f"licence-application:{data['application_id']}"


async def test_vh07_licence_delivery_ban_is_told_in_the_words_of_a_vehicle_ban(notify: Notify) -> None:
    phone, case_id = new_phone(), str(uuid.uuid4())
    data = {
        "id_kind": "resident_id",
        "id_number": "130102199003071233",
        "until": "2033-02-28",
        "reason": "refused",
        "case_id": case_id,
        "imposed_at": "2032-03-01T10:00:00+08:00",
        "phone": phone,
    }
    await told(notify, "licence-delivery-ban", "license", "license.delivery_ban.imposed.v1", data)
    sms = the_sms(await sink(notify, phone), phone, "delivery_ban_imposed")
    assert "您申请补换领的机动车驾驶证邮寄送达时被拒收，自即日起至2033年2月28日，" in sms["body"]


async def test_dl10_the_periodic_certificate_reminder_is_told_once_per_review_date(notify: Notify) -> None:
    phone, record_id = new_phone(), str(uuid.uuid4())
    data = {
        "record_id": record_id,
        "review_due": "2032-03-01",
        "submit_by": "2032-03-31",
        "reason": "age_60",
        "phone": phone,
        "told_at": "2032-03-01T02:00:00+08:00",
    }
    await told(notify, "periodic-medical", "license", "license.periodic_medical.due.v1", data)
    await told(notify, "periodic-medical", "license", "license.periodic_medical.due.v1", data)  # a new id
    sms = the_sms(await sink(notify, phone), phone, "periodic_medical_due")
    assert (
        "您的驾驶证已到审验日期（2032年3月1日），按规定须提交身体条件证明，请于2032年3月31日前" in sms["body"]
    )
    assert sms["case_id"] == f"periodic-medical:{record_id}:2032-03-01"


async def test_dl12_nt01_a_licence_reaching_12_points_is_told_once_and_other_changes_tell_nobody(
    notify: Notify,
) -> None:
    phone, record_id = new_phone(), str(uuid.uuid4())
    data = {
        "record_id": record_id,
        "number": "130102199003071233",
        "change": "state",
        "state": "full_points",
        "classes": ["C1"],
        "valid_until": "2033-03-01",
        "review_due": None,
        "medical_due": None,
        "phone": phone,
        "points": 12,
        "reason": "本记分周期累积记分达到12分",
        "version": 5,
        "changed_at": "2032-03-01T10:00:00+08:00",
    }
    await told(notify, "licence-full-points", "license", "license.record.changed.v1", data)
    await told(notify, "licence-full-points", "license", "license.record.changed.v1", data)  # a new id
    for other in ({"change": "points", "state": "valid", "points": 6}, {"change": "phone", "state": "valid"}):
        await told(notify, "licence-full-points", "license", "license.record.changed.v1", data | other)
    sms = the_sms(await sink(notify, phone), phone, "full_points_reached")
    assert "您的机动车驾驶证在本记分周期内累积记分已达12分，已记满12分。" in sms["body"]
    assert sms["case_id"] == f"full-points:{record_id}:5"


async def test_vi03_nt01_a_decision_is_told_with_its_penalty_points_and_how_to_pay(notify: Notify) -> None:
    """VI-03/VI-04: violation.decision.issued.v1 → `penalty_decision_issued` to the handling driver's
    phone: the plate, the day, the penalty, the points, the payment reference and the last day without
    a late fine; a warning has nothing to pay. Never the decision's 18-digit number (it reads as an
    identity number, which no SMS carries)."""
    phone, decision_id = new_phone(), str(uuid.uuid4())
    data = {
        "decision_id": decision_id,
        "decision_number": "130104202700012345",
        "violation_id": str(uuid.uuid4()),
        "driver_id_number": "130102199003071233",
        "plate_number": "冀A12345",
        "violation_code": "1625",
        "violated_at": "2027-02-20T18:42:00+08:00",
        "place": "石家庄市中华大街与裕华路交叉口",
        "points": 6,
        "fine_fen": 20000,
        "decided_at": "2027-03-01T09:30:00+08:00",
        "phone": phone,
        "payment_reference": "1301042027000123459",
        "pay_by": "2027-03-16",
    }
    await told(notify, "decision-issued", "violation", "violation.decision.issued.v1", data)
    sms = the_sms(await sink(notify, phone), phone, "penalty_decision_issued")
    assert "车辆冀A12345于2027年2月20日的交通违法行为，处罚决定：罚款200.00元，记6分。" in sms["body"]
    assert "请于2027年3月16日前" in sms["body"]
    assert "缴款编号1301042027000123459" in sms["body"]
    assert "130104202700012345，" not in sms["body"]
    assert sms["case_id"] == f"decision:{decision_id}"
    warned = new_phone()
    warning = data | {"decision_id": str(uuid.uuid4()), "fine_fen": 0, "points": 0, "phone": warned}
    warning |= {"payment_reference": None, "pay_by": None}
    await told(notify, "decision-issued", "violation", "violation.decision.issued.v1", warning)
    sms = the_sms(await sink(notify, warned), warned, "penalty_decision_issued")
    assert "处罚决定：警告，记0分。无需缴款。" in sms["body"]


async def test_vi04_nt01_a_paid_fine_is_told_with_the_late_fine_taken(notify: Notify) -> None:
    """VI-04: violation.payment.confirmed.v1 → `penalty_paid` to the payer's phone."""
    phone, decision_id = new_phone(), str(uuid.uuid4())
    data = {
        "payment_id": str(uuid.uuid4()),
        "decision_id": decision_id,
        "decision_number": "130104202700012345",
        "violation_id": str(uuid.uuid4()),
        "plate_number": "冀A12345",
        "bank": "sim",
        "bank_txn_id": "SIM2027031700000001",
        "channel": "counter",
        "amount_fen": 20600,
        "fine_fen": 20000,
        "late_fee_fen": 600,
        "paid_at": "2027-03-17T10:15:00+08:00",
        "booked_by": "notice",
        "phone": phone,
    }
    await told(notify, "payment-confirmed", "violation", "violation.payment.confirmed.v1", data)
    sms = the_sms(await sink(notify, phone), phone, "penalty_paid")
    assert (
        "车辆冀A12345交通违法缴纳的罚款206.00元（含加处罚款6.00元）已于2027年3月17日缴纳成功。" in sms["body"]
    )
    assert sms["case_id"] == f"decision-paid:{decision_id}"
