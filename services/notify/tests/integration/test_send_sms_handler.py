"""NT-01 inside notify: the send-sms handler records every message (queued), once per template and case;
the dispatcher hands it to the provider and records the outcome; the dev/test sink lists what it got.
Real PostgreSQL; no broker (the pipe is tests/e2e's). Time is a FixedClock: retries are due when the test
moves it, never by sleeping."""

from __future__ import annotations

import re
import uuid
from collections.abc import AsyncIterator
from datetime import datetime, timedelta
from typing import Any

import httpx
import pytest
from sqlalchemy import select

from notify_service.delivery import DispatchPolicy, DispatchResult, dispatch_due, requeue_dead_letters
from notify_service.main import create_app
from notify_service.sms import LOCAL_SINK, LocalSink, OutgoingSms, Receipt, SmsProvider, TransientSmsError
from notify_service.subscriptions import SmsRequested, send_sms
from notify_service.tables import sms_messages
from servicekit.clock import FixedClock
from servicekit.crypto import blind_match
from servicekit.envelope import Envelope
from servicekit.runtime import Runtime
from servicekit.testing import service_client
from servicekit.validators import mobile_phone

pytestmark = pytest.mark.integration

POLICY = DispatchPolicy(
    retry_base=timedelta(seconds=5),
    retry_max=timedelta(seconds=60),
    max_attempts=3,
    lease=timedelta(seconds=120),
)


def envelope(data: dict[str, Any], time: datetime) -> Envelope:
    return Envelope(
        id=uuid.uuid4(),
        type="notify.sms.send.v1",
        source="/identity",
        time=time,
        subject=None,
        data=data,
        trace_headers={},
    )


async def record(runtime: Runtime, data: dict[str, Any]) -> None:
    """What the consumer does after claiming the inbox row: handler in a unit of work, then commit."""
    command = SmsRequested.model_validate(data)
    async with runtime.uow() as uow:
        await send_sms(uow, command, envelope(data, uow.now))
        await uow.commit()


async def dispatch(runtime: Runtime, phone: str, provider: SmsProvider | None = None) -> DispatchResult:
    return await dispatch_due(runtime, provider or LocalSink(), POLICY, phones=[phone])


async def deliver(runtime: Runtime, data: dict[str, Any], provider: SmsProvider | None = None) -> None:
    await record(runtime, data)
    await dispatch(runtime, mobile_phone(data["phone"]), provider)


async def rows(runtime: Runtime, phone: str) -> list[Any]:
    async with runtime.engine.connect() as conn:
        result = await conn.execute(
            select(sms_messages).where(blind_match(sms_messages.c.phone, phone)).order_by(sms_messages.c.id)
        )
        return list(result.all())


def code_in(body: str) -> str:
    match = re.search(r"验证码为(\d{6})", body)
    assert match is not None, body
    return match[1]


def code_sms(phone: str, code: str = "482913", case_id: str | None = None) -> dict[str, Any]:
    return {
        "phone": phone,
        "template": "verification_code",
        "params": {"code": code, "minutes": "5"},
        "case_id": case_id,
    }


@pytest.fixture
async def client(runtime: Runtime) -> AsyncIterator[httpx.AsyncClient]:
    async with service_client(create_app()) as c:
        yield c


async def test_nt01_a_send_is_recorded_queued_then_delivered_by_the_local_sink(
    runtime: Runtime, phone: str, clock: FixedClock
) -> None:
    account_id = str(uuid.uuid4())
    await record(
        runtime,
        {
            "phone": f"+86 {phone[:3]}-{phone[3:7]}-{phone[7:]}",
            "template": "registration_approved",
            "params": {"name": "张三", "account": f"{phone[:3]}****{phone[-4:]}"},
            "case_id": f"reg-{uuid.uuid4()}",
            "account_id": account_id,
        },
    )
    (row,) = await rows(runtime, phone)
    assert (row.state, row.attempts, row.provider) == ("queued", 0, None)
    assert row.next_attempt_at == row.created_at == await clock.now()
    assert row.requested_at == await clock.now()

    clock.advance(timedelta(seconds=1))
    result = await dispatch(runtime, phone)
    assert (result.claimed, result.handed_over) == (1, 1)
    (row,) = await rows(runtime, phone)
    assert row.phone == phone
    assert row.body.startswith("【交管12123】张三，您好！")
    assert row.params == {"name": "张三", "account": f"{phone[:3]}****{phone[-4:]}"}
    assert (row.state, row.provider, row.provider_ref) == ("delivered", LOCAL_SINK, f"{LOCAL_SINK}:{row.id}")
    assert row.account_id == account_id
    assert row.failure_reason is None
    assert row.attempts == 1
    assert row.sent_at == row.delivered_at == row.updated_at == await clock.now()
    assert row.next_attempt_at is None
    assert (await dispatch(runtime, phone)).claimed == 0  # delivered: never handed over again


async def test_nt01_one_message_per_template_and_case_however_often_the_command_comes(
    runtime: Runtime, phone: str
) -> None:
    case_id = f"reg-{uuid.uuid4()}"
    data = {
        "phone": phone,
        "template": "registration_rejected",
        "params": {"name": "李四", "reason": "身份证件已过有效期"},
        "case_id": case_id,
    }
    await deliver(runtime, data)
    await deliver(runtime, data)  # sent again by its producer: a new message id, the same case
    await deliver(
        runtime, data | {"template": "registration_approved", "params": {"name": "李四", "account": "x"}}
    )
    assert [(r.template, r.case_id, r.state) for r in await rows(runtime, phone)] == [
        ("registration_rejected", case_id, "delivered"),
        ("registration_approved", case_id, "delivered"),
    ]


async def test_nt01_messages_without_a_case_are_each_sent(runtime: Runtime, phone: str) -> None:
    await deliver(runtime, code_sms(phone, "111111"))
    await deliver(runtime, code_sms(phone, "222222"))
    assert [r.params["code"] for r in await rows(runtime, phone)] == ["111111", "222222"]


class Refusing:
    name = "refusing"

    async def send(self, sms: OutgoingSms) -> Receipt:
        return Receipt(state="failed", provider_ref="r-1", failure_reason="number not in service")


class Unreachable:
    name = "unreachable"

    def __init__(self) -> None:
        self.calls = 0

    async def send(self, sms: OutgoingSms) -> Receipt:
        self.calls += 1
        raise TransientSmsError("provider unreachable")


class Accepting:
    name = "accepting"

    def __init__(self) -> None:
        self.got: list[OutgoingSms] = []

    async def send(self, sms: OutgoingSms) -> Receipt:
        self.got.append(sms)
        return Receipt(state="sent", provider_ref=f"acc-{len(self.got)}")


async def test_nt02_a_verification_code_is_kept_only_until_the_provider_has_it(
    runtime: Runtime, phone: str
) -> None:
    """A one-time code is starred in the record once handed over (or refused for good); the provider got
    it whole. Other messages, and the dev/test sink's, are kept as sent."""
    provider = Accepting()
    await deliver(runtime, code_sms(phone, "482913"), provider=provider)
    await deliver(runtime, code_sms(phone, "517204"), provider=Refusing())
    handed, refused = await rows(runtime, phone)
    assert [sms.params["code"] for sms in provider.got] == ["482913"]
    assert "验证码为482913" in provider.got[0].body
    assert (handed.state, handed.params) == ("sent", {"code": "******", "minutes": "5"})
    assert "482913" not in handed.body
    assert "验证码为******" in handed.body
    assert (refused.state, refused.params["code"]) == ("failed", "******")

    other = "138" + phone[3:]  # another test phone, its own sink list
    await deliver(runtime, code_sms(other, "630518"))  # the local sink keeps it: developers read it there
    (kept,) = await rows(runtime, other)
    assert code_in(kept.body) == "630518"


async def test_nt01_a_refused_send_is_recorded_as_failed_with_the_reason(
    runtime: Runtime, phone: str
) -> None:
    await deliver(runtime, code_sms(phone), provider=Refusing())
    (row,) = await rows(runtime, phone)
    assert (row.state, row.provider, row.failure_reason) == ("failed", "refusing", "number not in service")
    assert row.sent_at is None
    assert (await dispatch(runtime, phone)).claimed == 0  # a permanent refusal is not retried


async def test_nt01_a_transient_failure_is_retried_with_backoff_on_the_platform_clock(
    runtime: Runtime, phone: str, clock: FixedClock
) -> None:
    down = Unreachable()
    await deliver(runtime, code_sms(phone, case_id=f"code-{uuid.uuid4()}"), provider=down)
    (row,) = await rows(runtime, phone)
    now = await clock.now()
    assert (row.state, row.attempts, row.provider) == ("queued", 1, "unreachable")
    assert "provider unreachable" in row.last_error
    # Backoff with full jitter: between half the base and the base for the first retry.
    assert now + POLICY.retry_base / 2 <= row.next_attempt_at <= now + POLICY.retry_base
    assert (await dispatch(runtime, phone, down)).claimed == 0  # not due yet: nothing is retried early
    assert down.calls == 1

    clock.advance(POLICY.retry_base)
    result = await dispatch(runtime, phone)  # the provider is back
    assert (result.claimed, result.handed_over) == (1, 1)
    (row,) = await rows(runtime, phone)
    assert (row.state, row.attempts, row.provider) == ("delivered", 2, LOCAL_SINK)


async def test_nt01_after_the_last_attempt_a_message_is_dead_lettered_kept_and_requeueable(
    runtime: Runtime, phone: str, clock: FixedClock
) -> None:
    down = Unreachable()
    await record(runtime, code_sms(phone))
    for _ in range(POLICY.max_attempts):
        assert (await dispatch(runtime, phone, down)).claimed == 1
        clock.advance(POLICY.retry_max)
    (row,) = await rows(runtime, phone)
    assert (row.state, row.attempts, row.next_attempt_at) == ("dead_lettered", POLICY.max_attempts, None)
    assert "provider unreachable" in row.last_error
    assert (await dispatch(runtime, phone, down)).claimed == 0
    assert down.calls == POLICY.max_attempts

    assert await requeue_dead_letters(runtime, [row.id]) == 1
    assert (await dispatch(runtime, phone)).handed_over == 1
    (row,) = await rows(runtime, phone)
    assert (row.state, row.attempts) == ("delivered", 1)


async def test_nt02_notify_refuses_an_eleventh_code_a_day_to_one_phone(
    runtime: Runtime, phone: str, clock: FixedClock
) -> None:
    """NT-02's daily limit is the issuer's (servicekit.verification); notify is the backstop (ADR 0030)."""
    for n in range(11):
        await record(runtime, code_sms(phone, f"{n:06d}"))
        clock.advance(timedelta(seconds=61))
    await dispatch(runtime, phone)
    states = [(r.params["code"], r.state) for r in await rows(runtime, phone)]
    assert [s for _, s in states[:10]] == ["delivered"] * 10
    assert states[10] == ("000010", "failed")
    (eleventh,) = [r for r in await rows(runtime, phone) if r.params["code"] == "000010"]
    assert eleventh.failure_reason.startswith("NT-02")
    assert eleventh.attempts == 0  # never handed to the provider


async def test_nt01_the_test_sink_lists_a_phones_messages_newest_first(
    runtime: Runtime, client: httpx.AsyncClient, phone: str
) -> None:
    for code in ("111111", "222222", "333333"):
        await deliver(runtime, code_sms(phone, code))
    await deliver(runtime, code_sms("139" + phone[3:][::-1]))  # someone else's
    r = await client.get("/api/v1/_test/sms", params={"phone": f"+86{phone}"})
    assert r.status_code == 200
    body = r.json()
    assert body["next_cursor"] is None
    assert [code_in(item["body"]) for item in body["items"]] == ["333333", "222222", "111111"]
    item = body["items"][0]
    assert set(item) == {"id", "phone", "template", "body", "state", "created_at", "case_id"}
    assert (item["phone"], item["template"], item["state"], item["case_id"]) == (
        phone,
        "verification_code",
        "delivered",
        None,
    )
    assert item["created_at"].endswith("+08:00")


async def test_nt01_the_test_sink_pages_with_a_cursor(
    runtime: Runtime, client: httpx.AsyncClient, phone: str
) -> None:
    for code in ("111111", "222222", "333333"):
        await deliver(runtime, code_sms(phone, code))
    first = (await client.get("/api/v1/_test/sms", params={"phone": phone, "limit": 2})).json()
    assert len(first["items"]) == 2
    assert first["next_cursor"]
    rest = (
        await client.get(
            "/api/v1/_test/sms", params={"phone": phone, "limit": 2, "cursor": first["next_cursor"]}
        )
    ).json()
    assert [code_in(i["body"]) for i in first["items"] + rest["items"]] == ["333333", "222222", "111111"]
    assert rest["next_cursor"] is None
    bad = await client.get("/api/v1/_test/sms", params={"phone": phone, "cursor": "not-a-cursor"})
    assert (bad.status_code, bad.json()["code"]) == (422, "INVALID_CURSOR")


@pytest.mark.parametrize(
    "query", [{}, {"phone": "010-12345678"}, {"phone": "abc"}, {"phone": "13800138000", "limit": 0}]
)
async def test_nt01_the_test_sink_validates_its_query(
    client: httpx.AsyncClient, query: dict[str, Any]
) -> None:
    r = await client.get("/api/v1/_test/sms", params=query)
    assert r.status_code == 422
    assert r.json()["code"] == "VALIDATION_FAILED"


async def test_nt01_a_dispatcher_that_dies_mid_send_loses_nothing(
    runtime: Runtime, phone: str, clock: FixedClock
) -> None:
    """Claimed (attempts + 1, leased) and never recorded, as when the worker is killed during the
    provider call: after the lease the message is due again and goes out."""
    from notify_service.delivery import _claim

    await record(runtime, code_sms(phone))
    _, claimed = await _claim(runtime, POLICY, [phone])  # ... and the process dies here
    assert len(claimed) == 1
    assert (await dispatch(runtime, phone)).claimed == 0  # leased: no second dispatcher takes it
    clock.advance(POLICY.lease)
    assert (await dispatch(runtime, phone)).handed_over == 1
    (row,) = await rows(runtime, phone)
    assert (row.state, row.attempts) == ("delivered", 2)
