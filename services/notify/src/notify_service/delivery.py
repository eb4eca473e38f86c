"""Every SMS from request to receipt (NT-01, NT-02): recorded, handed to the provider, retried, receipted.

1. `enqueue` (in the consumer's unit of work, with its inbox row): render, dedup on (template, case),
   apply NT-02's daily backstop to codes, insert the message `queued` and due now. Nothing is sent inside
   the consumer's transaction, so a slow or failing provider never holds a delivery or a connection.
2. `dispatch_due` (the worker's `dispatch-sms` sweep, one replica at a time): claims due messages in a
   short transaction (`FOR UPDATE SKIP LOCKED`, `attempts + 1`, due again after a lease so a sender that
   dies mid-send is covered), hands them to the provider concurrently, then records each outcome:
   `sent`/`delivered` with the provider's reference, `failed` with its reason (permanent refusals), or,
   on a transient failure, `queued` again with `next_attempt_at` pushed out by exponential backoff with
   full jitter, and `dead_lettered` after `max_attempts`. A dead-lettered message is kept, never dropped;
   `requeue_dead_letters` puts it back.
3. `apply_receipt` (the provider's delivery-report callback): `sent` → `delivered` or `failed`.

Times are the platform clock (WD-02), so tests move time instead of sleeping.
"""

from __future__ import annotations

import asyncio
import logging
import uuid
from collections.abc import Callable, Collection, Mapping
from dataclasses import dataclass
from datetime import datetime, time, timedelta

from opentelemetry import metrics
from sqlalchemy import and_, func, select, update
from sqlalchemy.dialects.postgresql import insert

from notify_service import templates
from notify_service.domain import CODE_TEMPLATE, SmsMove, SmsState, over_daily_code_cap, sources, target
from notify_service.settings import NotifySettings
from notify_service.sms import LOCAL_SINK, OutgoingSms, Receipt, SmsProvider
from notify_service.tables import sms_messages
from servicekit.clock import SHANGHAI
from servicekit.crypto import blind_in, blind_match
from servicekit.ids import new_id
from servicekit.masking import mask_phone
from servicekit.relay import backoff
from servicekit.runtime import Runtime
from servicekit.uow import UnitOfWork

log = logging.getLogger(__name__)
# One counter, the outcome as an attribute: sent, delivered, failed, retrying, dead_lettered (hand-overs),
# receipt_delivered, receipt_failed (provider reports). Dead letters are what an operator alerts on.
_outcomes = metrics.get_meter(__name__).create_counter(
    "notify.sms", description="SMS hand-overs and delivery reports by outcome"
)


async def enqueue(
    uow: UnitOfWork,
    *,
    phone: str,
    template: str,
    params: Mapping[str, str],
    case_id: str | None,
    account_id: str | None,
    requested_at: datetime,
) -> uuid.UUID | None:
    """NT-01: record one message, queued and due now. Returns its id, or None when (template, case_id)
    was recorded before (a redelivered or repeated request: never a second SMS)."""
    now = uow.now
    body = templates.render(template, params)
    state: SmsState = "queued"
    reason: str | None = None
    due: datetime | None = now
    codes_today = await _codes_on_day(uow, phone, requested_at) if template == CODE_TEMPLATE else 0
    if over_daily_code_cap(template, codes_today):
        state, reason, due = "failed", "NT-02: 10 verification codes a day to this phone already", None
    sms_id = new_id()
    claimed = await uow.session.execute(
        insert(sms_messages)
        .values(
            id=sms_id,
            phone=phone,
            template=template,
            params=dict(params),
            body=body,
            case_id=case_id,
            account_id=account_id,
            state=state,
            failure_reason=reason,
            requested_at=requested_at,
            next_attempt_at=due,
            created_at=now,
            updated_at=now,
        )
        .on_conflict_do_nothing(
            index_elements=[sms_messages.c.template, sms_messages.c.case_id],
            index_where=sms_messages.c.case_id.is_not(None),
        )
        .returning(sms_messages.c.id)
    )
    if claimed.first() is None:
        log.info("sms %s for case %s recorded before: not again", template, case_id)
        return None
    if state == "failed":
        log.warning("sms %s to %s refused: %s", template, mask_phone(phone), reason)
    return sms_id


async def _codes_on_day(uow: UnitOfWork, phone: str, moment: datetime) -> int:
    day = moment.astimezone(SHANGHAI).date()
    start = datetime.combine(day, time.min, tzinfo=SHANGHAI)
    count = await uow.session.scalar(
        select(func.count())
        .select_from(sms_messages)
        .where(
            blind_match(sms_messages.c.phone, phone),
            sms_messages.c.template == CODE_TEMPLATE,
            sms_messages.c.requested_at >= start,
            sms_messages.c.requested_at < start + timedelta(days=1),
            sms_messages.c.state != "failed",
        )
    )
    return int(count or 0)


@dataclass(frozen=True)
class DispatchPolicy:
    batch: int = 100
    concurrency: int = 20
    lease: timedelta = timedelta(seconds=120)
    retry_base: timedelta = timedelta(seconds=5)
    retry_max: timedelta = timedelta(seconds=600)
    max_attempts: int = 15

    @classmethod
    def from_settings(cls, settings: NotifySettings) -> DispatchPolicy:
        return cls(
            batch=settings.dispatch_batch,
            concurrency=settings.dispatch_concurrency,
            lease=timedelta(seconds=settings.dispatch_lease_s),
            retry_base=timedelta(seconds=settings.retry_base_s),
            retry_max=timedelta(seconds=settings.retry_max_s),
            max_attempts=settings.max_attempts,
        )

    def retry_delay(self, attempts: int) -> timedelta:
        """Exponential with full jitter, from the relay's `backoff`, capped at `retry_max`."""
        return backoff(attempts - 1, _ms(self.retry_base), _ms(self.retry_max))


def _ms(delta: timedelta) -> int:
    return int(delta / timedelta(milliseconds=1))


@dataclass
class DispatchResult:
    claimed: int = 0
    handed_over: int = 0  # sent or delivered
    failed: int = 0  # refused for good
    retrying: int = 0
    dead_lettered: int = 0


async def _claim(
    runtime: Runtime, policy: DispatchPolicy, phones: Collection[str] | None
) -> tuple[datetime, list[dict[str, object]]]:
    async with runtime.uow() as uow:
        now = uow.now
        due = select(sms_messages.c.id).where(
            sms_messages.c.state.in_(sources("handed_over")), sms_messages.c.next_attempt_at <= now
        )
        if phones is not None:
            due = due.where(blind_in(sms_messages.c.phone, phones))
        due = (
            due.order_by(sms_messages.c.next_attempt_at).limit(policy.batch).with_for_update(skip_locked=True)
        )
        rows = (
            await uow.session.execute(
                update(sms_messages)
                .where(sms_messages.c.id.in_(due.scalar_subquery()))
                .values(
                    attempts=sms_messages.c.attempts + 1,
                    next_attempt_at=now + policy.lease,
                    updated_at=now,
                )
                .returning(
                    sms_messages.c.id,
                    sms_messages.c.phone,
                    sms_messages.c.body,
                    sms_messages.c.template,
                    sms_messages.c.params,
                    sms_messages.c.attempts,
                )
            )
        ).all()
        await uow.session.commit()
    return now, [dict(row._mapping) for row in rows]


async def dispatch_due(
    runtime: Runtime,
    provider: SmsProvider,
    policy: DispatchPolicy,
    *,
    phones: Collection[str] | None = None,
) -> DispatchResult:
    """One round: claim up to `policy.batch` due messages (of `phones` only, if given: an operator
    re-driving one phone, or a test keeping to its own rows), hand them over, record the outcomes."""
    result = DispatchResult()
    _, claimed = await _claim(runtime, policy, phones)
    result.claimed = len(claimed)
    if not claimed:
        return result
    gate = asyncio.Semaphore(policy.concurrency)

    async def hand_over(row: Mapping[str, object]) -> Receipt | BaseException:
        async with gate:
            try:
                return await provider.send(
                    OutgoingSms(
                        id=row["id"],  # type: ignore[arg-type]
                        phone=str(row["phone"]),
                        body=str(row["body"]),
                        template=str(row["template"]),
                        params=row["params"],  # type: ignore[arg-type]
                    )
                )
            except Exception as exc:  # every failure the provider raises is retried, then dead-lettered
                return exc

    outcomes = await asyncio.gather(*(hand_over(row) for row in claimed))
    async with runtime.uow() as uow:
        now = uow.now
        for row, outcome in zip(claimed, outcomes, strict=True):
            attempts = int(row["attempts"])  # type: ignore[call-overload]
            values: dict[str, object] = {"updated_at": now}
            if isinstance(outcome, Receipt):
                values |= {
                    "state": outcome.state,
                    "provider": provider.name,
                    "provider_ref": outcome.provider_ref,
                    "failure_reason": outcome.failure_reason,
                    "next_attempt_at": None,
                    "sent_at": None if outcome.state == "failed" else now,
                }
                if outcome.state == "delivered":
                    values["delivered_at"] = now
                values |= _forget_secrets(provider, row)
                if outcome.state == "failed":
                    result.failed += 1
                else:
                    result.handed_over += 1
            elif attempts >= policy.max_attempts:
                values |= {
                    "state": target("give_up"),
                    "provider": provider.name,
                    "last_error": repr(outcome)[:1000],
                    "next_attempt_at": None,
                }
                result.dead_lettered += 1
                log.error("sms %s dead-lettered after %d attempts: %r", row["id"], attempts, outcome)
            else:
                values |= {
                    "provider": provider.name,
                    "last_error": repr(outcome)[:1000],
                    "next_attempt_at": now + policy.retry_delay(attempts),
                }
                result.retrying += 1
            await uow.session.execute(
                update(sms_messages)
                .where(sms_messages.c.id == row["id"], sms_messages.c.state.in_(sources("handed_over")))
                .values(**values)
            )
        await uow.session.commit()
    for kind, count in (
        ("sent", result.handed_over),
        ("failed", result.failed),
        ("retrying", result.retrying),
        ("dead_lettered", result.dead_lettered),
    ):
        if count:
            _outcomes.add(count, {"provider": provider.name, "outcome": kind})
    if result.retrying or result.dead_lettered:
        log.warning("sms dispatch: %s", result)
    return result


def _forget_secrets(provider: SmsProvider, row: Mapping[str, object]) -> dict[str, object]:
    """Once the provider has the message (or refused it for good), a one-time code has no further use
    here: the row keeps it starred, so a database reader cannot take over an account within its 5
    minutes. The local sink of dev and test keeps codes: reading them there is its purpose."""
    template = templates.template_for(str(row["template"]))
    if not template.secret or provider.name == LOCAL_SINK:
        return {}
    params, body = template.redacted(row["params"])  # type: ignore[arg-type]
    return {"params": params, "body": body}


async def dispatch_all_due(
    runtime: Runtime,
    provider: SmsProvider,
    policy: DispatchPolicy,
    *,
    phones: Collection[str] | None = None,
) -> int:
    """Rounds until nothing is due (a full batch suggests more): the sweep's body. Returns the claims."""
    total = 0
    while True:
        result = await dispatch_due(runtime, provider, policy, phones=phones)
        total += result.claimed
        if result.claimed < policy.batch:
            return total


async def apply_receipt(
    runtime: Runtime,
    *,
    provider: str,
    message_id: uuid.UUID | None,
    provider_ref: str | None,
    delivered: bool,
    reason: str | None,
) -> bool:
    """A delivery report: `sent` (or `queued`/`dead_lettered` after lost answers) becomes `delivered` or
    `failed`.
    Found by notify's own id (the provider's OutId) or else by the provider's reference. Returns whether
    a message changed; a repeated or unknown report changes nothing."""
    if message_id is None and not provider_ref:
        return False
    match = (
        sms_messages.c.id == message_id
        if message_id is not None
        else and_(sms_messages.c.provider == provider, sms_messages.c.provider_ref == provider_ref)
    )
    async with runtime.uow() as uow:
        now = uow.now
        values: dict[str, object] = {"updated_at": now, "next_attempt_at": None}
        move: SmsMove = "receipt_delivered" if delivered else "receipt_failed"
        values["state"] = target(move)
        if delivered:
            values |= {"delivered_at": now, "failure_reason": None}
        else:
            values["failure_reason"] = (reason or "undelivered")[:500]
        if provider_ref:
            values["provider_ref"] = provider_ref[:100]
        changed = await uow.session.execute(
            update(sms_messages)
            .where(match, sms_messages.c.state.in_(sources(move)))
            .values(**values)
            .returning(sms_messages.c.id)
        )
        ids = changed.scalars().all()
        await uow.session.commit()
    if ids:
        _outcomes.add(
            1, {"provider": provider, "outcome": "receipt_" + ("delivered" if delivered else "failed")}
        )
    return bool(ids)


async def requeue_dead_letters(runtime: Runtime, ids: list[uuid.UUID] | None = None) -> int:
    """Put dead-lettered messages (all, or those named) back in the queue, due now, attempts reset."""
    async with runtime.uow() as uow:
        count = await requeue_in(uow, ids)
        await uow.commit()
    return count


async def requeue_in(uow: UnitOfWork, ids: list[uuid.UUID] | None) -> int:
    """`requeue_dead_letters` inside the caller's unit of work (so its audit entry commits with it)."""
    now = uow.now
    query = update(sms_messages).where(sms_messages.c.state.in_(sources("requeue")))
    if ids is not None:
        query = query.where(sms_messages.c.id.in_(ids))
    changed = await uow.session.execute(
        query.values(state=target("requeue"), attempts=0, next_attempt_at=now, updated_at=now).returning(
            sms_messages.c.id
        )
    )
    return len(changed.scalars().all())


ProviderFactory = Callable[[], SmsProvider]
