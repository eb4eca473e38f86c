"""What the broker-side fault proofs share: identity's real messages written to its outbox, and the
reconciliation of what was produced against what each consumer's inbox and business tables show.

The messages are the platform's own (identity's `published.py` and `commands.py`), emitted in identity's
unit of work exactly as its api does, so the outbox rows, the relay, the envelopes, the topology and the
consumers' handlers are the real ones. Each kind has a countable effect in the consumer's database:

- `notify.sms.send.v1` with `verification_code` and no case: one SMS row per command, and nothing in
  notify dedupes it but the inbox, so a second effect would show as a second row for the phone;
- `identity.registration.approved.v1`: notify's SMS for the registration's case (one, by its unique key);
- `identity.binding.created.v1` / `ended.v1`: vehicle's projection of the binding (`bound_at`/`ended_at`).
"""

from __future__ import annotations

import secrets
import uuid
from collections import Counter, defaultdict
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import pytest
from sqlalchemy import func, select

from identity_service.commands import SendSms
from identity_service.published import BindingCreated, BindingEnded, RegistrationApproved
from notify_service.tables import sms_messages
from servicekit.crypto import blind_in
from servicekit.messages import Message
from servicekit.runtime import Runtime
from servicekit.service import ServiceSpec
from vehicle_service.tables import vehicle_bindings

CODE = SendSms.message_type
APPROVED = RegistrationApproved.message_type
BOUND = BindingCreated.message_type
UNBOUND = BindingEnded.message_type


@contextmanager
def progress(config: pytest.Config) -> Iterator[Any]:
    """`say(...)` prints at once, through pytest's capture: a long proof shows where it is."""
    capture = config.pluginmanager.getplugin("capturemanager")

    def say(*parts: object) -> None:
        with capture.global_and_fixture_disabled():
            print("  [proof]", datetime.now(UTC).strftime("%H:%M:%S"), *parts, flush=True)

    yield say


def phone_for(run: str, n: int) -> str:
    """A mobile number of this run: `139` + 4 digits of the run + 4 of the message."""
    return f"139{run}{n:04d}"


@dataclass
class Ledger:
    """What this run produced: message ids by type, and the keys the effects are counted by."""

    run: str = field(default_factory=lambda: f"{secrets.randbelow(10_000):04d}")
    ids: dict[str, list[uuid.UUID]] = field(default_factory=lambda: defaultdict(list))
    code_phones: list[str] = field(default_factory=list)
    approved_cases: list[str] = field(default_factory=list)
    bindings: list[str] = field(default_factory=list)
    ended: list[str] = field(default_factory=list)
    _n: int = 0

    def next_messages(self, count: int, at: datetime) -> list[Message]:
        """`count` messages, the four kinds in turn (an end follows its binding's start)."""
        messages: list[Message] = []
        for _ in range(count):
            n, self._n = self._n, self._n + 1
            kind = n % 5
            if kind in (0, 1):
                phone = phone_for(self.run, n)
                self.code_phones.append(phone)
                messages.append(
                    SendSms(
                        phone=phone,
                        template="verification_code",
                        params={"code": f"{n % 1_000_000:06d}", "minutes": "5"},
                    )
                )
            elif kind == 2:
                registration = str(uuid.uuid4())
                self.approved_cases.append(f"registration:{registration}")
                messages.append(
                    RegistrationApproved(
                        registration_id=registration,
                        account_id=str(uuid.uuid4()),
                        account_kind="personal",
                        name="沈十七",
                        phone=phone_for(self.run, n),
                        username=phone_for(self.run, n)[:3] + "****" + phone_for(self.run, n)[-4:],
                        approved_at=at,
                    )
                )
            elif kind == 3:
                binding = str(uuid.uuid4())
                self.bindings.append(binding)
                messages.append(_binding(BindingCreated, binding, at))
            else:
                binding = self.bindings[-1]
                self.ended.append(binding)
                messages.append(_binding(BindingEnded, binding, at))
        return messages

    async def emit(self, identity: Runtime, messages: Sequence[Message]) -> None:
        async with identity.uow() as uow:
            uow.emit(*messages)
            ids = list(await uow.commit())
        for message, message_id in zip(messages, ids, strict=True):
            self.ids[message.message_type].append(message_id)

    @property
    def produced(self) -> int:
        return sum(len(ids) for ids in self.ids.values())


def _binding(kind: type[BindingCreated] | type[BindingEnded], binding: str, at: datetime) -> Message:
    common = {"binding_id": binding, "account_id": str(uuid.uuid4()), "record_kind": "vehicle", "owned": True}
    ref = str(uuid.uuid5(uuid.NAMESPACE_URL, binding))
    if kind is BindingCreated:
        return BindingCreated(**common, ref=ref, channel="online", at=at)
    return BindingEnded(**common, ref=ref, reason="by_user", at=at)


def handlers_of(message_type: str, consumers: Sequence[ServiceSpec]) -> list[tuple[ServiceSpec, str]]:
    """Every (consuming service, handler) subscribed to `message_type`."""
    return [
        (spec, subscription.name)
        for spec in consumers
        for subscription in spec.subscriptions
        if message_type in subscription.handles
    ]


@dataclass
class Reconciliation:
    per_type: dict[str, dict[str, int]]
    lost: int  # produced, and some subscribed handler never consumed it
    unpublished: int  # outbox rows still pending

    @property
    def settled(self) -> bool:
        return self.lost == 0 and self.unpublished == 0


async def reconcile(
    ledger: Ledger, identity: Runtime, consumers: dict[str, Runtime], specs: Sequence[ServiceSpec]
) -> Reconciliation:
    """The producer's outbox rows against every subscribed handler's inbox rows, per message type."""
    outbox = identity.metadata.tables["outbox"]
    per_type: dict[str, dict[str, int]] = {}
    lost = unpublished = 0
    for message_type, ids in sorted(ledger.ids.items()):
        async with identity.engine.connect() as conn:
            rows = (
                await conn.execute(
                    select(outbox.c.published_at.is_not(None), func.count())
                    .where(outbox.c.id.in_(ids))
                    .group_by(outbox.c.published_at.is_not(None))
                )
            ).all()
        in_outbox = {bool(published): int(count) for published, count in rows}
        unpublished += in_outbox.get(False, 0)
        seen: dict[uuid.UUID, int] = defaultdict(int)
        handlers = handlers_of(message_type, specs)
        for spec, handler in handlers:
            inbox = spec.metadata.tables["inbox"]
            async with consumers[spec.name].engine.connect() as conn:
                consumed = await conn.scalars(
                    select(inbox.c.message_id).where(
                        inbox.c.handler == handler,
                        inbox.c.message_type == message_type,
                        inbox.c.message_id.in_(ids),
                    )
                )
                for message_id in consumed:
                    seen[message_id] += 1
        everywhere = sum(1 for message_id in ids if seen.get(message_id, 0) == len(handlers))
        per_type[message_type] = {
            "produced": sum(in_outbox.values()),
            "consumed": everywhere,
            "handlers": len(handlers),
            "deliveries": sum(seen.values()),
        }
        lost += len(ids) - everywhere
    return Reconciliation(per_type, lost, unpublished)


@dataclass
class Effects:
    double: int  # a key with more than one effect
    missing: int  # a consumed message whose effect is not there


async def count_effects(ledger: Ledger, notify: Runtime, vehicle: Runtime | None) -> Effects:
    double = missing = 0
    async with notify.engine.connect() as conn:
        # sealed (ADR 0095): found by the blind index, counted here
        per_phone = Counter(
            phone
            for (phone,) in await conn.execute(
                select(sms_messages.c.phone).where(
                    blind_in(sms_messages.c.phone, ledger.code_phones),
                    sms_messages.c.template == "verification_code",
                )
            )
        )
        per_case = dict(
            (
                await conn.execute(
                    select(sms_messages.c.case_id, func.count())
                    .where(sms_messages.c.case_id.in_(ledger.approved_cases))
                    .group_by(sms_messages.c.case_id)
                )
            ).all()
        )
    for keys, counts in ((ledger.code_phones, per_phone), (ledger.approved_cases, per_case)):
        double += sum(max(0, counts.get(key, 0) - 1) for key in keys)
        missing += sum(1 for key in keys if counts.get(key, 0) == 0)
    if vehicle is not None:
        async with vehicle.engine.connect() as conn:
            rows = (
                await conn.execute(
                    select(
                        vehicle_bindings.c.binding_id,
                        vehicle_bindings.c.bound_at,
                        vehicle_bindings.c.ended_at,
                    ).where(vehicle_bindings.c.binding_id.in_(ledger.bindings))
                )
            ).all()
        projected = {row.binding_id: row for row in rows}
        missing += sum(1 for b in ledger.bindings if b not in projected or projected[b].bound_at is None)
        missing += sum(1 for b in ledger.ended if b not in projected or projected[b].ended_at is None)
    return Effects(double, missing)
