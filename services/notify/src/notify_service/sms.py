"""The SMS provider behind an adapter (NT-01): notify renders and records a message, a provider carries
it. Adapters: the local sink of dev and test, which delivers nothing and keeps every message in
`sms_messages` (read back through `GET /api/v1/_test/sms`), and Alibaba Cloud SMS (`aliyun.py`).

A provider answers a hand-over with a receipt: `sent` (accepted; the delivery report comes later through
the receipt callback), `delivered`, or `failed` (refused for good, e.g. a number that does not exist: the
record keeps the provider's reason and nothing is retried). A transient failure (provider unreachable,
timeout, flow control, an outage) raises `TransientSmsError` (or any exception): the dispatcher tries
again with backoff and dead-letters the message after its last attempt (see `delivery.py`).
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Literal, Protocol

from servicekit.settings import ServiceSettings

ReceiptState = Literal["sent", "delivered", "failed"]

LOCAL_SINK = "local-sink"
ALIYUN = "aliyun"


@dataclass(frozen=True)
class OutgoingSms:
    id: uuid.UUID  # notify's record id: providers that take a client reference get this one
    phone: str  # 11 digits
    body: str  # rendered, signature included
    template: str = ""  # notify's template key (providers with filed templates send key and params)
    params: Mapping[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class Receipt:
    state: ReceiptState
    provider_ref: str | None = None
    failure_reason: str | None = None


class TransientSmsError(RuntimeError):
    """The provider could not take the message now; it may later (retried with backoff)."""


class SmsProvider(Protocol):
    """An SMS gateway. `name` is stored with each message as `provider`."""

    @property
    def name(self) -> str: ...

    async def send(self, sms: OutgoingSms) -> Receipt:
        """Hand one message over. Raise on a transient failure; return `failed` on a permanent one."""
        ...


class LocalSink:
    """Dev and test: "delivers" at once by recording the message as delivered; sends nothing anywhere."""

    @property
    def name(self) -> str:
        return LOCAL_SINK

    async def send(self, sms: OutgoingSms) -> Receipt:
        return Receipt(state="delivered", provider_ref=f"{LOCAL_SINK}:{sms.id}")


class ProviderNotConfigured(RuntimeError):
    pass


def provider_for(settings: ServiceSettings, name: str) -> SmsProvider:
    """The provider a deployment is configured with. The local sink only outside prod: in prod it would
    record messages as delivered that nobody received, so sends fail (retried, then dead-lettered, never
    dropped) until a real provider is configured."""
    if name == LOCAL_SINK:
        if not settings.is_test_env:
            raise ProviderNotConfigured("the local SMS sink is for dev and test; configure a provider")
        return LocalSink()
    if name == ALIYUN:
        from notify_service.aliyun import AliyunSms
        from notify_service.settings import NotifySettings

        if not isinstance(settings, NotifySettings):
            raise ProviderNotConfigured("the aliyun adapter needs notify's settings")
        return AliyunSms.from_settings(settings.aliyun)
    raise ProviderNotConfigured(f"unknown SMS provider {name!r}")
