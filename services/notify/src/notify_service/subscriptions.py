"""The messages the notify service consumes: a local tolerant model, a handler and a queue each.

Every handler only records the message (`delivery.enqueue`, in the consumer's unit of work with its inbox
row); the worker's `dispatch-sms` sweep hands it to the provider. Dedup is twofold: the inbox absorbs a
redelivered message (same CloudEvents id), and `(template, case_id)` absorbs the same outcome published
again under a new id, so an outcome is never told twice.
"""

from __future__ import annotations

from datetime import date, datetime

from pydantic import BaseModel, ConfigDict, Field, model_validator

from notify_service import templates
from notify_service.delivery import enqueue
from notify_service.published import CaseId, Phone, SendSms
from servicekit.clock import SHANGHAI
from servicekit.consumer import Subscription
from servicekit.envelope import Envelope
from servicekit.masking import mask_id_number, mask_phone
from servicekit.uow import UnitOfWork


class SmsRequested(BaseModel):
    """notify's reading of `notify.sms.send.v1`: fields it does not know are ignored (a sender may be
    newer), the ones it uses are checked. A command that fails here is poison: straight to the DLQ."""

    model_config = ConfigDict(extra="ignore", frozen=True)

    phone: Phone
    template: str
    params: dict[str, str]
    case_id: CaseId | None = None
    account_id: str | None = None

    @model_validator(mode="after")
    def _params_fit_the_template(self) -> SmsRequested:
        templates.check(self.template, self.params)
        return self


async def send_sms(uow: UnitOfWork, command: SmsRequested, envelope: Envelope) -> None:
    """NT-01: render and record the message, queued for the provider (NT-02's backstop for codes)."""
    await enqueue(
        uow,
        phone=command.phone,
        template=command.template,
        params=command.params,
        case_id=command.case_id,
        account_id=command.account_id,
        requested_at=envelope.time,
    )


def send_sms_subscription() -> Subscription:
    return Subscription(
        name="send-sms",
        kind="command",
        handles={SendSms.message_type: SmsRequested},
        handler=send_sms,
        summary="Render, record and queue an SMS for the provider (NT-01).",
    )


# --- events whose outcomes the rules say are told by SMS (ADR 0003) -------------------------------------


class _Tolerant(BaseModel):
    model_config = ConfigDict(extra="ignore", frozen=True)


def masked_account(username: str) -> str:
    """The account as the SMS names it: never a full identity number (NT-01), a phone masked."""
    if templates.looks_like_identity_number(username):
        return mask_id_number(username)
    if username.isdigit() and len(username) == 11:
        return mask_phone(username)
    return username


def chinese_date(moment: date | datetime) -> str:
    if isinstance(moment, datetime):
        aware = moment if moment.tzinfo is not None else moment.replace(tzinfo=SHANGHAI)
        day = aware.astimezone(SHANGHAI).date()
    else:
        day = moment
    return f"{day.year}年{day.month}月{day.day}日"


class RegistrationApproved(_Tolerant):
    """identity.registration.approved.v1, as notify reads it."""

    registration_id: str = Field(min_length=1, max_length=80)
    account_id: str = Field(min_length=1, max_length=64)
    name: str = Field(min_length=1, max_length=100)
    phone: Phone
    username: str = Field(min_length=1, max_length=64)


class RegistrationRejected(_Tolerant):
    """identity.registration.rejected.v1, as notify reads it."""

    registration_id: str = Field(min_length=1, max_length=80)
    name: str = Field(min_length=1, max_length=100)
    phone: Phone
    reason: str = Field(min_length=1, max_length=200)


async def registration_approved(uow: UnitOfWork, event: RegistrationApproved, envelope: Envelope) -> None:
    """ID-09, NT-01: approved at review: the SMS names the account (masked)."""
    await enqueue(
        uow,
        phone=event.phone,
        template="registration_approved",
        params={"name": event.name, "account": masked_account(event.username)},
        case_id=f"registration:{event.registration_id}",
        account_id=event.account_id,
        requested_at=envelope.time,
    )


async def registration_rejected(uow: UnitOfWork, event: RegistrationRejected, envelope: Envelope) -> None:
    """ID-09, NT-01: rejected at review: the SMS gives the reason."""
    await enqueue(
        uow,
        phone=event.phone,
        template="registration_rejected",
        params={"name": event.name, "reason": event.reason},
        case_id=f"registration:{event.registration_id}",
        account_id=None,  # no account was created
        requested_at=envelope.time,
    )


class SelectionConfirmed(_Tolerant):
    """plate-pool.selection.confirmed.v1, as notify reads it."""

    selection_id: str = Field(min_length=1, max_length=80)
    plate_number: str = Field(min_length=7, max_length=8)
    phone: Phone
    account_id: str | None = Field(default=None, max_length=64)
    certificate_number: str = Field(min_length=1, max_length=64)
    register_by: date | datetime


class SelectionCancelled(_Tolerant):
    """plate-pool.selection.cancelled.v1, as notify reads it."""

    selection_id: str = Field(min_length=1, max_length=80)
    plate_number: str | None = Field(default=None, max_length=8)
    vin: str = Field(min_length=6, max_length=17)
    account_id: str | None = Field(default=None, max_length=64)
    phone: Phone
    reason: str = Field(min_length=1, max_length=64)
    ban_until: date | None = None


# PP-09's reasons as the citizen reads them.
CANCELLATION_REASONS = {
    "not_registered_in_time": "未在3个工作日内办理注册登记",
    "registration_mismatch": "注册登记时车辆识别代号或机动车所有人身份信息、手机号码与预选信息不一致",
    "abandoned": "您已放弃该预选号牌",
    "appeal_decided": "申诉已处理",
}


async def selection_confirmed(uow: UnitOfWork, event: SelectionConfirmed, envelope: Envelope) -> None:
    """PP-08, NT-01: the pre-selection success SMS, with the certificate and the registration deadline."""
    await enqueue(
        uow,
        phone=event.phone,
        template="selection_confirmed",
        params={
            "plate": event.plate_number,
            "certificate": event.certificate_number,
            "register_by": chinese_date(event.register_by),
        },
        case_id=f"selection:{event.selection_id}",
        account_id=event.account_id,
        requested_at=envelope.time,
    )


async def selection_cancelled(uow: UnitOfWork, event: SelectionCancelled, envelope: Envelope) -> None:
    """PP-09, NT-01: the number cancelled, with the reason, and the 2-year ban where there is one."""
    params = {
        "plate": event.plate_number or "（未选定）",
        "vin_tail": event.vin[-6:].upper(),
        "reason": CANCELLATION_REASONS.get(event.reason, event.reason),
    }
    template = "selection_cancelled"
    if event.ban_until is not None:
        template = "selection_cancelled_banned"
        params["ban_until"] = chinese_date(event.ban_until)
    await enqueue(
        uow,
        phone=event.phone,
        template=template,
        params=params,
        # One cancellation SMS per selection, whichever of the two templates told it.
        case_id=f"selection-cancelled:{event.selection_id}",
        account_id=event.account_id,
        requested_at=envelope.time,
    )


EVENT_SUBSCRIPTIONS: dict[str, Subscription] = {
    "identity.registration.approved.v1": Subscription(
        name="registration-approved",
        handles={"identity.registration.approved.v1": RegistrationApproved},
        handler=registration_approved,
        summary="Tell the person their counter registration was approved, with the account (ID-09, NT-01).",
    ),
    "identity.registration.rejected.v1": Subscription(
        name="registration-rejected",
        handles={"identity.registration.rejected.v1": RegistrationRejected},
        handler=registration_rejected,
        summary="Tell the person why their counter registration was rejected (ID-09, NT-01).",
    ),
    "plate-pool.selection.confirmed.v1": Subscription(
        name="selection-confirmed",
        handles={"plate-pool.selection.confirmed.v1": SelectionConfirmed},
        handler=selection_confirmed,
        summary="The pre-selection success SMS (PP-08, NT-01).",
    ),
    "plate-pool.selection.cancelled.v1": Subscription(
        name="selection-cancelled",
        handles={"plate-pool.selection.cancelled.v1": SelectionCancelled},
        handler=selection_cancelled,
        summary="Tell the user a pre-selected number was cancelled, and of any ban (PP-09, NT-01).",
    ),
}

# The contract tests refuse a consumed type that no service publishes: an event subscription is listed
# here only once its producer's published.py publishes the type (ADR 0003). None does yet.
PRODUCED: tuple[str, ...] = ()

SUBSCRIPTIONS: list[Subscription] = [
    send_sms_subscription(),
    *(EVENT_SUBSCRIPTIONS[message_type] for message_type in PRODUCED),
]
