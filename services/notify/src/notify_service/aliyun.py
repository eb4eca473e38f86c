"""Alibaba Cloud SMS (dysmsapi, API version 2017-05-25) behind notify's `SmsProvider` (NT-01).

`SendSms` is an RPC-style call: the common parameters (AccessKeyId, Action, Format, RegionId,
SignatureMethod HMAC-SHA1, SignatureNonce, SignatureVersion 1.0, Timestamp in UTC, Version) and the
action's (PhoneNumbers, SignName, TemplateCode, TemplateParam as JSON, OutId) are sorted by name,
percent-encoded (RFC 3986: only A-Z a-z 0-9 - _ . ~ unreserved, so a space is %20, `*` is %2A), joined
with `&` into the canonical query; the string to sign is `POST&%2F&` + the canonical query encoded once
more; the signature is Base64(HMAC-SHA1(AccessKeySecret + "&", that string)), sent as `Signature`.

The provider renders the text from the template it approved under `TemplateCode`; notify keeps its own
rendering (the same filed text) as the record. `OutId` carries notify's message id, so the delivery
report (`receipts.py`) finds the message even before `BizId` is stored.

Answers: `Code == "OK"` is `sent` (a delivery report follows). Codes that no retry can change (a bad
number, a parameter the template refuses, blacklisted content) are `failed` with the code and message
as the reason. Everything else (flow control, the account out of balance or suspended, a signature or
key the operators must fix, the provider's own errors, HTTP 5xx, timeouts) raises `TransientSmsError`:
retried with backoff, then dead-lettered where an operator can requeue it.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import uuid
from collections.abc import Mapping
from datetime import UTC, datetime
from urllib.parse import quote

import httpx

from notify_service.settings import AliyunSmsSettings
from notify_service.sms import ALIYUN, OutgoingSms, ProviderNotConfigured, Receipt, TransientSmsError

API_VERSION = "2017-05-25"

# Refusals no retry can change: the record says failed, with the provider's code and message.
PERMANENT_CODES = frozenset(
    {
        "isv.MOBILE_NUMBER_ILLEGAL",
        "isv.MOBILE_COUNT_OVER_LIMIT",
        "isv.TEMPLATE_MISSING_PARAMETERS",
        "isv.TEMPLATE_PARAMS_ILLEGAL",
        "isv.INVALID_PARAMETERS",
        "isv.INVALID_JSON_PARAM",
        "isv.PARAM_LENGTH_LIMIT",
        "isv.PARAM_NOT_SUPPORT_URL",
        "isv.BLACK_KEY_CONTROL_LIMIT",
        "isv.EXTEND_CODE_ERROR",
    }
)


def percent_encode(value: str) -> str:
    """Alibaba Cloud's POP encoding: RFC 3986, UTF-8, only `A-Za-z0-9-_.~` left as they are."""
    return quote(value, safe="~")


def canonical_query(params: Mapping[str, str]) -> str:
    return "&".join(f"{percent_encode(k)}={percent_encode(params[k])}" for k in sorted(params))


def string_to_sign(method: str, params: Mapping[str, str]) -> str:
    return f"{method}&{percent_encode('/')}&{percent_encode(canonical_query(params))}"


def sign(method: str, params: Mapping[str, str], access_key_secret: str) -> str:
    """The `Signature` of an RPC request (every parameter but `Signature` itself)."""
    digest = hmac.new(
        (access_key_secret + "&").encode(), string_to_sign(method, params).encode(), hashlib.sha1
    ).digest()
    return base64.b64encode(digest).decode("ascii")


def utc_timestamp(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


class AliyunSms:
    def __init__(
        self,
        *,
        endpoint: str,
        access_key_id: str,
        access_key_secret: str,
        sign_name: str,
        template_codes: Mapping[str, str],
        region_id: str = "cn-hangzhou",
        timeout_s: float = 10.0,
        transport: httpx.AsyncBaseTransport | None = None,
    ) -> None:
        if not access_key_id or not access_key_secret:
            raise ProviderNotConfigured("aliyun SMS needs an AccessKey id and secret")
        self._endpoint = endpoint
        self._key_id = access_key_id
        self._secret = access_key_secret
        self._sign_name = sign_name
        self._codes = dict(template_codes)
        self._region = region_id
        self._client = httpx.AsyncClient(timeout=timeout_s, transport=transport)

    @classmethod
    def from_settings(cls, settings: AliyunSmsSettings) -> AliyunSms:
        return cls(
            endpoint=settings.endpoint,
            access_key_id=settings.access_key_id,
            access_key_secret=settings.access_key_secret.get_secret_value(),
            sign_name=settings.sign_name,
            template_codes=settings.template_codes,
            region_id=settings.region_id,
            timeout_s=settings.timeout_s,
        )

    @property
    def name(self) -> str:
        return ALIYUN

    def request_params(self, sms: OutgoingSms, *, now: datetime, nonce: str) -> dict[str, str]:
        """The signed form of one SendSms call (every parameter, `Signature` included)."""
        code = self._codes.get(sms.template)
        if code is None:
            # A deployment gap, not the message's fault: retried until the operators file the code.
            raise TransientSmsError(f"no Aliyun TemplateCode configured for template {sms.template!r}")
        params = {
            "AccessKeyId": self._key_id,
            "Action": "SendSms",
            "Format": "JSON",
            "RegionId": self._region,
            "SignatureMethod": "HMAC-SHA1",
            "SignatureNonce": nonce,
            "SignatureVersion": "1.0",
            "Timestamp": utc_timestamp(now),
            "Version": API_VERSION,
            "PhoneNumbers": sms.phone,
            "SignName": self._sign_name,
            "TemplateCode": code,
            "TemplateParam": json.dumps(dict(sms.params), ensure_ascii=False, separators=(",", ":")),
            "OutId": str(sms.id),
        }
        params["Signature"] = sign("POST", params, self._secret)
        return params

    async def send(self, sms: OutgoingSms) -> Receipt:
        # Real time, not the platform clock: the provider refuses a timestamp far from its own clock.
        params = self.request_params(sms, now=datetime.now(UTC), nonce=str(uuid.uuid4()))
        try:
            response = await self._client.post(self._endpoint, data=params)
        except httpx.HTTPError as exc:
            raise TransientSmsError(f"aliyun unreachable: {exc!r}") from exc
        try:
            answer = response.json()
        except ValueError:
            answer = None
        if not isinstance(answer, dict) or not isinstance(answer.get("Code"), str):
            raise TransientSmsError(f"aliyun answered HTTP {response.status_code} without a result code")
        code = answer["Code"]
        message = str(answer.get("Message", ""))
        if code == "OK" and response.is_success:
            return Receipt(state="sent", provider_ref=str(answer.get("BizId") or "") or None)
        if code in PERMANENT_CODES:
            return Receipt(state="failed", failure_reason=f"{code}: {message}"[:500])
        raise TransientSmsError(f"aliyun {code}: {message}"[:500])

    async def aclose(self) -> None:
        await self._client.aclose()
