"""The SMS provider behind an adapter (NT-01): notify renders and records a message, a provider carries
it. The only adapter so far is the local sink of dev and test, which delivers nothing and keeps every
message in `sms_messages` (read back through `GET /api/v1/_test/sms`).

A provider answers with a receipt: `sent` (accepted; a delivery report comes later), `delivered`, or
`failed` (refused for good, with the reason: the record says so and nothing is retried). A transient
failure (provider unreachable, timeout) is an exception: the unit of work rolls back and the command is
retried by the consumer, so the record and the hand-over commit together or not at all.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from typing import Literal, Protocol

from servicekit.settings import ServiceSettings

ReceiptState = Literal["sent", "delivered", "failed"]

LOCAL_SINK = "local-sink"


@dataclass(frozen=True)
class OutgoingSms:
    id: uuid.UUID  # notify's record id: providers that take a client reference get this one
    phone: str  # 11 digits
    body: str  # rendered, signature included


@dataclass(frozen=True)
class Receipt:
    state: ReceiptState
    provider_ref: str | None = None
    failure_reason: str | None = None


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
    record messages as delivered that nobody received, so a command fails (and is retried, then parked
    in the dead-letter queue) until a real provider is configured."""
    if name == LOCAL_SINK:
        if not settings.is_test_env:
            raise ProviderNotConfigured("the local SMS sink is for dev and test; configure a provider")
        return LocalSink()
    raise ProviderNotConfigured(f"unknown SMS provider {name!r}")
