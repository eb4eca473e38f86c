"""NT-01: the `notify.sms.send.v1` command as notify owns it, reads it, and documents it."""

from __future__ import annotations

import uuid

import httpx
import pytest
from pydantic import ValidationError

from notify_service.main import create_app
from notify_service.published import PUBLISHED, SendSms
from notify_service.service import SPEC
from notify_service.settings import NotifySettings
from notify_service.sms import LOCAL_SINK, LocalSink, OutgoingSms, ProviderNotConfigured, provider_for
from notify_service.subscriptions import SUBSCRIPTIONS, SmsRequested
from servicekit.asyncapi import service_document
from servicekit.settings import Environment
from servicekit.testing import PROD_TRANSIT


def test_nt01_send_sms_is_a_command_to_notify_on_its_commands_exchange() -> None:
    assert SendSms in PUBLISHED
    assert SendSms.kind == "command"
    assert SendSms.message_type == "notify.sms.send.v1"
    assert SendSms.exchange() == "notify.commands"
    example = SendSms.example()
    assert SendSms.model_validate(example.model_dump(mode="json")) == example
    assert example.subject() == example.case_id


def test_nt01_phone_is_normalised_to_eleven_digits() -> None:
    command = SendSms(
        phone="+86 138-0013-8000", template="verification_code", params={"code": "123456", "minutes": "5"}
    )
    assert command.phone == "13800138000"


@pytest.mark.parametrize(
    "changes",
    [
        {"phone": "010-12345678"},  # a landline
        {"phone": "+1 202 555 0100"},
        {"template": "no_such_template"},
        {"params": {"name": "张三"}},
        {"params": {"name": "张三", "account": "130102199003071233"}},
        {"case_id": ""},
        {"surprise": "field"},  # the owner's model is strict
    ],
)
def test_nt01_send_sms_refuses_what_notify_cannot_send(changes: dict[str, object]) -> None:
    data = SendSms.example().model_dump(mode="json") | changes
    with pytest.raises(ValidationError):
        SendSms.model_validate(data)


def test_nt01_notify_reads_the_command_tolerantly_but_checks_what_it_uses() -> None:
    data = SendSms.example().model_dump(mode="json")
    seen = SmsRequested.model_validate(data | {"added_by_a_newer_sender": 1})
    assert seen.phone == "13800138000"
    assert seen.case_id == data["case_id"]
    with pytest.raises(ValidationError):  # poison: straight to the dead-letter queue
        SmsRequested.model_validate(data | {"params": {"name": "张三"}})


def test_nt01_the_send_sms_queue_takes_the_command() -> None:
    (subscription,) = [s for s in SUBSCRIPTIONS if s.kind == "command"]
    assert subscription.name == "send-sms"
    assert subscription.kind == "command"
    assert subscription.queue("notify").main == "notify.send-sms"
    assert set(subscription.handles) == {"notify.sms.send.v1"}


def test_nt01_asyncapi_shows_notify_receiving_the_command() -> None:
    doc = service_document(SPEC, {SendSms.message_type: SendSms})
    operation = doc["operations"]["receive_notify_sms_send_v1"]
    assert operation["action"] == "receive"
    channel = doc["channels"]["notify_sms_send_v1"]
    assert channel["bindings"]["amqp"]["exchange"]["name"] == "notify.commands"
    payload = doc["components"]["messages"]["notify_sms_send_v1"]["payload"]
    assert set(payload["required"]) == {"phone", "template", "params"}
    assert "verification_code" in payload["properties"]["template"]["enum"]


async def test_nt01_local_sink_delivers_at_once() -> None:
    sms_id = uuid.uuid4()
    receipt = await LocalSink().send(OutgoingSms(id=sms_id, phone="13800138000", body="【交管12123】测试"))
    assert receipt.state == "delivered"
    assert receipt.provider_ref == f"{LOCAL_SINK}:{sms_id}"


def _settings(env: Environment) -> NotifySettings:
    # By its alias and without the environment's sources: `NotifySettings(env=...)` would be overridden by
    # TMS_ENV=test from the environment (the field is read by its alias only).
    settings = NotifySettings.model_validate(
        {"TMS_ENV": env.value, "secret_key": "prod-secret", "receipt_token": "prod-receipt"} | PROD_TRANSIT
    )
    assert settings.env is env
    return settings


def test_nt01_the_local_sink_is_refused_in_prod() -> None:
    assert isinstance(provider_for(_settings(Environment.test), LOCAL_SINK), LocalSink)
    with pytest.raises(ProviderNotConfigured):
        provider_for(_settings(Environment.prod), LOCAL_SINK)
    with pytest.raises(ProviderNotConfigured):
        provider_for(_settings(Environment.test), "no-such-provider")


async def test_nt01_the_test_sink_route_is_absent_in_prod() -> None:
    prod, test = create_app(_settings(Environment.prod)), create_app(_settings(Environment.test))
    assert "/api/v1/_test/sms" not in prod.openapi()["paths"]
    assert "/api/v1/_test/sms" in test.openapi()["paths"]
    transport = httpx.ASGITransport(app=prod)  # no lifespan needed: nothing answers but the 404
    async with httpx.AsyncClient(transport=transport, base_url="http://notify") as client:
        response = await client.get("/api/v1/_test/sms", params={"phone": "13800138000"})
    assert response.status_code == 404
    assert response.headers["content-type"] == "application/problem+json"


def test_nt01_notify_consumes_every_outcome_event_the_producers_address_to_it() -> None:
    consumed = {t: s.name for s in SUBSCRIPTIONS if s.kind == "event" for t in s.handles}
    assert consumed == {
        "identity.registration.approved.v1": "registration-approved",
        "identity.registration.rejected.v1": "registration-rejected",
        "identity.account.cancelled.v1": "account-cancelled",
        "identity.licence_photo.approved.v1": "licence-photo-approved",
        "identity.licence_photo.rejected.v1": "licence-photo-rejected",
        "identity.counter_change.approved.v1": "counter-change-approved",
        "identity.counter_change.rejected.v1": "counter-change-rejected",
        "vehicle.delivery_ban.imposed.v1": "delivery-ban",
        "plate-pool.selection.confirmed.v1": "selection-confirmed",
        "plate-pool.selection.cancelled.v1": "selection-cancelled",
        "vehicle.inspection_booking.booked.v1": "inspection-booked",
        "vehicle.inspection_booking.cancelled.v1": "inspection-cancelled",
        "vehicle.application.state_changed.v1": "vehicle-application",
        "license.exam_booking.decided.v1": "exam-booking-decided",
        "license.exam_result.recorded.v1": "exam-result",
        "license.application.state_changed.v1": "licence-application",
        "license.delivery_ban.imposed.v1": "licence-delivery-ban",
        "license.periodic_medical.due.v1": "periodic-medical",
        "license.record.changed.v1": "licence-full-points",
        "violation.decision.issued.v1": "decision-issued",
        "violation.payment.confirmed.v1": "payment-confirmed",
    }
