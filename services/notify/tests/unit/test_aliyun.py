"""NT-01: the Alibaba Cloud SMS adapter against a local fake of its API (a real HTTP server on 127.0.0.1)
that recomputes the RPC signature and answers the provider's error codes."""

from __future__ import annotations

import base64
import hashlib
import hmac
import uuid
from datetime import UTC, datetime
from typing import Any

import pytest

from notify_service.aliyun import AliyunSms, canonical_query, percent_encode, sign, string_to_sign
from notify_service.fake_aliyun import FakeAliyun
from notify_service.sms import OutgoingSms, ProviderNotConfigured, TransientSmsError, provider_for
from notify_service.templates import render
from servicekit.settings import Environment
from servicekit.testing import PROD_TRANSIT

from ..conftest import TEMPLATE_CODES, adapter_for

APPROVED = {"name": "张三", "account": "138****8000"}


def sms(phone: str = "13800138000", template: str = "registration_approved", **params: str) -> OutgoingSms:
    values = params or APPROVED
    return OutgoingSms(
        id=uuid.uuid4(), phone=phone, body=render(template, values), template=template, params=values
    )


def test_nt01_pop_percent_encoding_leaves_only_unreserved_characters() -> None:
    assert percent_encode("a b*c~d/e+f=g&h") == "a%20b%2Ac~d%2Fe%2Bf%3Dg%26h"
    assert percent_encode("交管") == "%E4%BA%A4%E7%AE%A1"
    assert canonical_query({"b": "2", "a": "1 1"}) == "a=1%201&b=2"
    assert string_to_sign("POST", {"a": "1"}) == "POST&%2F&a%3D1"


def test_nt01_the_signature_is_hmac_sha1_of_the_string_to_sign_keyed_with_secret_and_ampersand() -> None:
    params = {"Action": "SendSms", "PhoneNumbers": "13800138000", "Timestamp": "2027-03-01T01:00:00Z"}
    expected = base64.b64encode(
        hmac.new(
            b"secret&",
            b"POST&%2F&Action%3DSendSms%26PhoneNumbers%3D13800138000%26Timestamp%3D2027-03-01T01%253A00%253A00Z",
            hashlib.sha1,
        ).digest()
    ).decode()
    assert sign("POST", params, "secret") == expected


def test_nt01_a_request_carries_every_common_and_action_parameter(fake_aliyun: FakeAliyun) -> None:
    adapter = adapter_for(fake_aliyun)
    message = sms()
    params = adapter.request_params(message, now=datetime(2027, 3, 1, 9, 0, tzinfo=UTC), nonce="n-1")
    assert {k: v for k, v in params.items() if k != "Signature"} == {
        "AccessKeyId": fake_aliyun.access_key_id,
        "Action": "SendSms",
        "Format": "JSON",
        "RegionId": "cn-hangzhou",
        "SignatureMethod": "HMAC-SHA1",
        "SignatureNonce": "n-1",
        "SignatureVersion": "1.0",
        "Timestamp": "2027-03-01T09:00:00Z",
        "Version": "2017-05-25",
        "PhoneNumbers": "13800138000",
        "SignName": "交管12123",
        "TemplateCode": TEMPLATE_CODES["registration_approved"],
        "TemplateParam": '{"name":"张三","account":"138****8000"}',
        "OutId": str(message.id),
    }


async def test_nt01_an_accepted_send_is_sent_with_the_providers_biz_id(
    aliyun: AliyunSms, fake_aliyun: FakeAliyun
) -> None:
    message = sms()
    receipt = await aliyun.send(message)
    (accepted,) = fake_aliyun.accepted
    assert (receipt.state, receipt.provider_ref) == ("sent", accepted.biz_id)
    assert (accepted.out_id, accepted.phone, accepted.params) == (str(message.id), "13800138000", APPROVED)
    assert fake_aliyun.answers == {"OK": 1}


@pytest.mark.parametrize(
    ("overrides", "code"),
    [
        ({"access_key_secret": "not-the-secret"}, "SignatureDoesNotMatch"),
        ({"access_key_id": "LTAI-unknown"}, "InvalidAccessKeyId.NotFound"),
        ({"sign_name": "别的签名"}, "isv.SMS_SIGNATURE_ILLEGAL"),
        ({"template_codes": {"registration_approved": "SMS_0"}}, "isv.SMS_TEMPLATE_ILLEGAL"),
    ],
)
async def test_nt01_configuration_errors_are_transient_so_messages_wait_for_the_fix(
    fake_aliyun: FakeAliyun, overrides: dict[str, Any], code: str
) -> None:
    adapter = adapter_for(fake_aliyun, **overrides)
    with pytest.raises(TransientSmsError, match=code.replace(".", r"\.")):
        await adapter.send(sms())
    await adapter.aclose()
    assert fake_aliyun.accepted == []
    assert fake_aliyun.answers == {code: 1}


async def test_nt01_a_template_without_a_filed_code_is_not_sent(fake_aliyun: FakeAliyun) -> None:
    adapter = adapter_for(fake_aliyun, template_codes={})
    with pytest.raises(TransientSmsError, match="no Aliyun TemplateCode"):
        await adapter.send(sms())
    await adapter.aclose()
    assert sum(fake_aliyun.answers.values()) == 0


async def test_nt01_an_illegal_number_is_a_permanent_failure_with_the_providers_reason(
    aliyun: AliyunSms, fake_aliyun: FakeAliyun
) -> None:
    # Valid for notify's rules, refused by the operator's: the provider's word is final.
    receipt = await aliyun.send(sms(phone="1380013800"))
    assert receipt.state == "failed"
    assert receipt.failure_reason == "isv.MOBILE_NUMBER_ILLEGAL: 非法手机号"


async def test_nt01_missing_template_parameters_are_a_permanent_failure(
    aliyun: AliyunSms, fake_aliyun: FakeAliyun
) -> None:
    message = OutgoingSms(
        id=uuid.uuid4(),
        phone="13800138000",
        body="",
        template="registration_approved",
        params={"name": "张三"},
    )
    receipt = await aliyun.send(message)
    assert receipt.state == "failed"
    assert receipt.failure_reason is not None
    assert receipt.failure_reason.startswith("isv.TEMPLATE_MISSING_PARAMETERS")


@pytest.mark.parametrize(
    ("mode", "code"), [("outage", "isp.SYSTEM_ERROR"), ("flow_control", "isv.BUSINESS_LIMIT_CONTROL")]
)
async def test_nt01_an_outage_or_flow_control_is_transient(
    aliyun: AliyunSms, fake_aliyun: FakeAliyun, mode: str, code: str
) -> None:
    fake_aliyun.mode = mode
    with pytest.raises(TransientSmsError, match=code.replace(".", r"\.")):
        await aliyun.send(sms())
    fake_aliyun.mode = "up"
    assert (await aliyun.send(sms())).state == "sent"


async def test_nt01_an_unreachable_provider_is_transient(fake_aliyun: FakeAliyun) -> None:
    endpoint = fake_aliyun.endpoint
    fake_aliyun.stop()
    adapter = adapter_for(fake_aliyun, endpoint=endpoint) if False else None
    adapter = AliyunSms(
        endpoint=endpoint,
        access_key_id="k",
        access_key_secret="s",
        sign_name="交管12123",
        template_codes=TEMPLATE_CODES,
        timeout_s=2.0,
    )
    with pytest.raises(TransientSmsError, match="unreachable"):
        await adapter.send(sms())
    await adapter.aclose()


async def test_nt01_every_request_has_a_fresh_nonce(aliyun: AliyunSms, fake_aliyun: FakeAliyun) -> None:
    for _ in range(3):
        assert (await aliyun.send(sms())).state == "sent"
    assert "SignatureNonceUsed" not in fake_aliyun.answers


def test_nt01_the_aliyun_adapter_is_chosen_by_settings_and_needs_a_key() -> None:
    from notify_service.settings import NotifySettings

    base = {
        "TMS_ENV": Environment.prod.value,
        "secret_key": "prod-secret",
        "receipt_token": "prod-receipt",
        "sms_provider": "aliyun",
    } | PROD_TRANSIT
    with pytest.raises(ProviderNotConfigured):
        provider_for(NotifySettings.model_validate(base), "aliyun")
    configured = NotifySettings.model_validate(
        base
        | {"aliyun": {"access_key_id": "LTAI-x", "access_key_secret": "y", "template_codes": TEMPLATE_CODES}}
    )
    assert provider_for(configured, "aliyun").name == "aliyun"
