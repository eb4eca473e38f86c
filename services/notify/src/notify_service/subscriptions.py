"""The messages the notify service consumes: a local tolerant model, a handler and a queue each.

Every handler only records the message (`delivery.enqueue`, in the consumer's unit of work with its inbox
row); the worker's `dispatch-sms` sweep hands it to the provider. Dedup is twofold: the inbox absorbs a
redelivered message (same CloudEvents id), and `(template, case_id)` absorbs the same outcome published
again under a new id, so an outcome is never told twice.
"""

from __future__ import annotations

import re
import unicodedata
from datetime import UTC, date, datetime, timedelta

from pydantic import BaseModel, ConfigDict, Field, model_validator

from notify_service import templates
from notify_service.delivery import enqueue
from notify_service.published import CaseId, Phone, SendSms
from servicekit.clock import SHANGHAI
from servicekit.consumer import Subscription
from servicekit.envelope import Envelope
from servicekit.masking import mask_id_number, mask_phone, mask_text
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
    """The account as the SMS names it: never a full identity number (NT-01), a phone masked; a unit's
    unified social credit code as it is (it names an organisation, not a person)."""
    if templates.looks_like_identity_number(username):
        return mask_id_number(username)
    if username.isdigit() and len(username) == 11:
        return mask_phone(username)
    return username


_LONG_DIGITS = re.compile(r"\d{15,}")


def free_text(value: str) -> str:
    """A clerk's free text (a reason) as an SMS parameter: identity numbers and phones in it masked (never
    in clear, NT-01), control characters and the signature's brackets dropped, within the template's
    length limit, so that a long or careless reason still reaches the person instead of the DLQ."""
    text = mask_text(value).replace("【", "[").replace("】", "]")
    text = "".join(ch for ch in text if unicodedata.category(ch) != "Cc" or ch in "\n\t")
    text = " ".join(text.split())
    if templates.looks_like_identity_number(text):  # a digit run mask_text did not take for a number
        text = _LONG_DIGITS.sub(lambda m: mask_id_number(m.group(0)), text)
    limit = templates.MAX_PARAM_LENGTH
    return text if len(text) <= limit else text[: limit - 1] + "…"


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
    username: str = Field(default="", max_length=64)


class RegistrationRejected(_Tolerant):
    """identity.registration.rejected.v1, as notify reads it."""

    registration_id: str = Field(min_length=1, max_length=80)
    name: str = Field(min_length=1, max_length=100)
    phone: Phone
    reason: str = Field(min_length=1, max_length=1000)  # identity takes up to 500; free_text() fits it


async def registration_approved(uow: UnitOfWork, event: RegistrationApproved, envelope: Envelope) -> None:
    """ID-09, NT-01: approved at review: the SMS names the account (masked)."""
    await enqueue(
        uow,
        phone=event.phone,
        template="registration_approved",
        # A unit's account is its credit code; without one the SMS names the phone it logs in with.
        params={"name": event.name, "account": masked_account(event.username or event.phone)},
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
        params={"name": event.name, "reason": free_text(event.reason)},
        case_id=f"registration:{event.registration_id}",
        account_id=None,  # no account was created
        requested_at=envelope.time,
    )


# ID-16 / ID-05: why an account was cancelled, as the person reads it (identity's CANCEL_REASONS).
ACCOUNT_CANCEL_REASONS = {
    "self_service": "您已通过互联网申请注销",
    "counter_request": "您已在窗口申请注销",
    "deceased": "个人用户死亡",
    "unit_dissolved": "单位已注销",
    "false_registration_data": "注册时提供虚假资料",
    "no_preselection_within_24h": "新车车主用户注册后24小时内未预选机动车号牌号码",
    "not_registered_within_3_working_days": "预选机动车号牌号码后3个工作日内未办理新车注册登记",
}


class AccountCancelled(_Tolerant):
    """identity.account.cancelled.v1, as notify reads it (no phone: a staff or system account, or an
    event from before identity added it: nobody to tell)."""

    account_id: str = Field(min_length=1, max_length=64)
    reason: str = Field(min_length=1, max_length=64)
    phone: Phone | None = None
    username: str | None = Field(default=None, max_length=64)


async def account_cancelled(uow: UnitOfWork, event: AccountCancelled, envelope: Envelope) -> None:
    """ID-16, ID-05, NT-01: the account cancelled, on request or by force, with the reason; the account
    named masked (never a full identity number, a phone masked)."""
    if event.phone is None:
        return
    await enqueue(
        uow,
        phone=event.phone,
        template="account_cancelled",
        params={
            "account": masked_account(event.username or event.phone),
            "reason": ACCOUNT_CANCEL_REASONS.get(event.reason, "按规定注销"),
        },
        case_id=f"account-cancelled:{event.account_id}",
        account_id=event.account_id,
        requested_at=envelope.time,
    )


class LicencePhotoApproved(_Tolerant):
    """identity.licence_photo.approved.v1, as notify reads it."""

    photo_id: str = Field(min_length=1, max_length=80)
    account_id: str = Field(min_length=1, max_length=64)
    phone: Phone | None = None


class LicencePhotoRejected(LicencePhotoApproved):
    """identity.licence_photo.rejected.v1, as notify reads it."""

    reason: str = Field(min_length=1, max_length=1000)


async def licence_photo_approved(uow: UnitOfWork, event: LicencePhotoApproved, envelope: Envelope) -> None:
    """ID-15, NT-01: the licence photo passed the review post's checks and is stored."""
    if event.phone is None:
        return
    await enqueue(
        uow,
        phone=event.phone,
        template="licence_photo_approved",
        params={},
        case_id=f"licence-photo:{event.photo_id}",
        account_id=event.account_id,
        requested_at=envelope.time,
    )


async def licence_photo_rejected(uow: UnitOfWork, event: LicencePhotoRejected, envelope: Envelope) -> None:
    """ID-15, NT-01: the licence photo rejected by the review post, with the reason."""
    if event.phone is None:
        return
    await enqueue(
        uow,
        phone=event.phone,
        template="licence_photo_rejected",
        params={"reason": free_text(event.reason)},
        case_id=f"licence-photo:{event.photo_id}",
        account_id=event.account_id,
        requested_at=envelope.time,
    )


class CounterChangeApproved(_Tolerant):
    """identity.counter_change.approved.v1, as notify reads it."""

    change_id: str = Field(min_length=1, max_length=80)
    account_id: str = Field(min_length=1, max_length=64)
    name: str = Field(min_length=1, max_length=200)
    phone: Phone | None = None
    items: str = Field(default="", max_length=1000)


class CounterChangeRejected(_Tolerant):
    """identity.counter_change.rejected.v1, as notify reads it."""

    change_id: str = Field(min_length=1, max_length=80)
    account_id: str = Field(min_length=1, max_length=64)
    name: str = Field(min_length=1, max_length=200)
    phone: Phone | None = None
    reason: str = Field(min_length=1, max_length=1000)


async def counter_change_approved(uow: UnitOfWork, event: CounterChangeApproved, envelope: Envelope) -> None:
    """ID-13, NT-01: a counter change approved and in effect, with its items (seed §19(二)5)."""
    if event.phone is None:
        return
    await enqueue(
        uow,
        phone=event.phone,
        template="change_approved",
        params={"name": event.name, "items": free_text(event.items or "用户信息")},
        case_id=f"counter-change:{event.change_id}",
        account_id=event.account_id,
        requested_at=envelope.time,
    )


async def counter_change_rejected(uow: UnitOfWork, event: CounterChangeRejected, envelope: Envelope) -> None:
    """ID-13, NT-01: a counter change rejected by the review post, with the reason (seed §19(二)6)."""
    if event.phone is None:
        return
    await enqueue(
        uow,
        phone=event.phone,
        template="change_rejected",
        params={"name": event.name, "reason": free_text(event.reason)},
        case_id=f"counter-change:{event.change_id}",
        account_id=event.account_id,
        requested_at=envelope.time,
    )


def occurrence(moment: datetime | None) -> str:
    """The instant an outcome happened, as the tail of its dedup key: the same outcome published again
    carries the same instant (one SMS); the same case decided again carries a new one (told again: a number
    restored by an appeal, PP-11, is confirmed, and may be cancelled, a second time)."""
    if moment is None:
        return ""
    aware = moment if moment.tzinfo is not None else moment.replace(tzinfo=SHANGHAI)
    return "@" + aware.astimezone(UTC).strftime("%Y%m%dT%H%M%S%fZ")


class SelectionConfirmed(_Tolerant):
    """plate-pool.selection.confirmed.v1, as notify reads it."""

    selection_id: str = Field(min_length=1, max_length=80)
    plate_number: str = Field(min_length=7, max_length=8)
    phone: Phone
    account_id: str | None = Field(default=None, max_length=64)
    certificate_number: str = Field(min_length=1, max_length=64)
    register_by: date | datetime
    confirmed_at: datetime | None = None


class SelectionCancelled(_Tolerant):
    """plate-pool.selection.cancelled.v1, as notify reads it."""

    selection_id: str = Field(min_length=1, max_length=80)
    plate_number: str | None = Field(default=None, max_length=8)
    vin: str = Field(min_length=6, max_length=17)
    account_id: str | None = Field(default=None, max_length=64)
    phone: Phone
    reason: str = Field(min_length=1, max_length=64)
    ban_until: date | None = None
    cancelled_at: datetime | None = None


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
        case_id=f"selection:{event.selection_id}{occurrence(event.confirmed_at)}",
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
        # One cancellation SMS per cancellation of the selection, whichever of the two templates told it.
        case_id=f"selection-cancelled:{event.selection_id}{occurrence(event.cancelled_at)}",
        account_id=event.account_id,
        requested_at=envelope.time,
    )


def chinese_slot(moment: datetime) -> str:
    local = moment.astimezone(SHANGHAI)
    return f"{chinese_date(local)} {local:%H:%M}"


class InspectionBooked(_Tolerant):
    """vehicle.inspection_booking.booked.v1, as notify reads it."""

    booking_id: str = Field(min_length=1, max_length=80)
    plate_number: str = Field(min_length=1, max_length=16)
    station_name: str = Field(min_length=1, max_length=100)
    starts_at: datetime
    phone: Phone
    account_id: str | None = Field(
        default=None, max_length=64
    )  # the holder's inbox; absent from older producers


class InspectionCancelled(InspectionBooked):
    """vehicle.inspection_booking.cancelled.v1, as notify reads it."""

    by: str = Field(min_length=1, max_length=16)
    reason: str | None = Field(default=None, max_length=200)


async def inspection_booked(uow: UnitOfWork, event: InspectionBooked, envelope: Envelope) -> None:
    """VH-13, NT-01: an appointment made."""
    await enqueue(
        uow,
        phone=event.phone,
        template="appointment_made",
        params={
            "business": f"机动车安全技术检验（{event.plate_number}）",
            "place": event.station_name,
            "slot": chinese_slot(event.starts_at),
        },
        case_id=f"inspection-booking:{event.booking_id}",
        account_id=event.account_id,
        requested_at=envelope.time,
    )


async def inspection_cancelled(uow: UnitOfWork, event: InspectionCancelled, envelope: Envelope) -> None:
    """VH-14, NT-01: an appointment cancelled because its station suspended or stopped service. A holder's
    own cancellation is not told back to them."""
    if event.by != "station":
        return
    await enqueue(
        uow,
        phone=event.phone,
        template="appointment_cancelled",
        params={
            "station": event.station_name,
            "business": f"机动车安全技术检验（{event.plate_number}）",
            "slot": chinese_slot(event.starts_at),
            "reason": event.reason or "检验站暂停或停止服务",
        },
        case_id=f"inspection-booking-cancelled:{event.booking_id}",
        account_id=event.account_id,
        requested_at=envelope.time,
    )


ITEMS = {"plate": "机动车号牌", "licence": "机动车行驶证", "mark": "检验合格标志"}
BUSINESS = {"reissue": "补领", "replace": "换领"}
PICKUP_WINDOW = timedelta(days=30)  # VH-07: not picked up within one month


class ApplicationStateChanged(_Tolerant):
    """vehicle.application.state_changed.v1, as notify reads it."""

    application_id: str = Field(min_length=1, max_length=80)
    item: str = Field(min_length=1, max_length=16)
    application_kind: str = Field(min_length=1, max_length=16)
    state: str = Field(min_length=1, max_length=32)
    phone: Phone
    tracking_number: str | None = Field(default=None, max_length=40)
    reason: str | None = Field(default=None, max_length=200)
    changed_at: datetime
    pickup_due: datetime | None = None  # vehicle's own deadline when it sends one
    account_id: str | None = Field(default=None, max_length=64)  # the applicant's inbox, when sent


async def application_state_changed(
    uow: UnitOfWork, event: ApplicationStateChanged, envelope: Envelope
) -> None:
    """VH-05, VH-09, NT-01: a reissue/replacement mailed (with the tracking number), ready for pickup (with
    the VH-07 deadline), or refused at intake (with the reason). Other states are not told by SMS."""
    item = ITEMS.get(event.item, event.item)
    case_id = f"vehicle-application:{event.application_id}"
    if event.state == "mailed" and event.tracking_number:
        template, params = "delivery_mailed", {"item": item, "tracking": event.tracking_number.upper()}
    elif event.state == "ready":
        deadline = chinese_date(event.pickup_due or event.changed_at + PICKUP_WINDOW)
        template, params = "delivery_ready_for_pickup", {"item": item, "pickup_by": deadline}
    elif event.state == "rejected":
        template = "application_rejected"
        params = {
            "item": item,
            "business": BUSINESS.get(event.application_kind, event.application_kind),
            "reason": event.reason or "申请材料不符合规定",
        }
    else:
        return
    await enqueue(
        uow,
        phone=event.phone,
        template=template,
        params=params,
        case_id=case_id,
        account_id=event.account_id,
        requested_at=envelope.time,
    )


# VH-07: why the delivery failed, as the applicant reads it.
BAN_REASONS = {"refused": "邮寄送达时被拒收", "not_collected": "超过一个月未领取"}


class DeliveryBanImposed(_Tolerant):
    """vehicle.delivery_ban.imposed.v1, as notify reads it (no phone: an event from before vehicle added
    it: nobody to tell)."""

    case_id: str = Field(min_length=1, max_length=80)
    until: date
    reason: str = Field(min_length=1, max_length=32)
    phone: Phone | None = None
    item: str | None = Field(default=None, max_length=16)


async def delivery_ban_imposed(uow: UnitOfWork, event: DeliveryBanImposed, envelope: Envelope) -> None:
    """VH-07, NT-01: a refused delivery or a missed pickup bars online reissue and replacement (plates,
    vehicle licence, inspection mark, driving licence) for a year: the applicant is told until when."""
    if event.phone is None:
        return
    await enqueue(
        uow,
        phone=event.phone,
        template="delivery_ban_imposed",
        params={
            "item": ITEMS.get(event.item or "", "证件"),
            "reason": BAN_REASONS.get(event.reason, "未按规定领取"),
            "until": chinese_date(event.until),
        },
        case_id=f"delivery-ban:{event.case_id}",
        account_id=None,
        requested_at=envelope.time,
    )


# --- license: driving-licence applications, their bans, the periodic medical certificate --------------

LICENCE = "机动车驾驶证"
# DL-02..DL-08: the business as the applicant reads it, after "驾驶证".
LICENCE_BUSINESS = {
    "reissue": "遗失补领",
    "replace": "损毁换领",
    "defer_renewal": "延期换证",
    "defer_medical": "延期提交身体条件证明",
    "defer_review": "延期审验",
    "renew": "期满换证",
    "over_age": "超龄换证",
}


class LicenceApplicationStateChanged(_Tolerant):
    """license.application.state_changed.v1, as notify reads it."""

    application_id: str = Field(min_length=1, max_length=80)
    application_kind: str = Field(min_length=1, max_length=16)
    state: str = Field(min_length=1, max_length=32)
    phone: Phone
    tracking_number: str | None = Field(default=None, max_length=40)
    reason: str | None = Field(default=None, max_length=1000)
    deferred_to: date | None = None
    pickup_due: datetime | None = None
    medical_wait_until: datetime | None = None
    changed_at: datetime


async def licence_application_state_changed(
    uow: UnitOfWork, event: LicenceApplicationStateChanged, envelope: Envelope
) -> None:
    """DL-02..DL-09, NT-01: a licence mailed (tracking number) or ready (the VH-07 deadline), an
    application refused with the reason, a deferral granted with its date, an application waiting for a
    hospital's certificate (until when). Other states are not told by SMS."""
    business = LICENCE_BUSINESS.get(event.application_kind, "驾驶证业务")
    params: dict[str, str]
    if event.state == "mailed" and event.tracking_number:
        template, params = "delivery_mailed", {"item": LICENCE, "tracking": event.tracking_number.upper()}
    elif event.state == "ready":
        deadline = chinese_date(event.pickup_due or event.changed_at + PICKUP_WINDOW)
        template, params = "delivery_ready_for_pickup", {"item": LICENCE, "pickup_by": deadline}
    elif event.state == "rejected":
        template = "application_rejected"
        params = {
            "item": "驾驶证",
            "business": business,
            "reason": free_text(event.reason or "申请不符合规定"),
        }
    elif event.state == "approved" and event.deferred_to is not None:
        template, params = (
            "deferral_approved",
            {"business": business, "until": chinese_date(event.deferred_to)},
        )
    elif event.state == "awaiting_medical" and event.medical_wait_until is not None:
        template = "medical_certificate_needed"
        params = {"business": business, "wait_until": chinese_date(event.medical_wait_until)}
    else:
        return
    await enqueue(
        uow,
        phone=event.phone,
        template=template,
        params=params,
        case_id=f"licence-application:{event.application_id}",
        account_id=None,
        requested_at=envelope.time,
    )


class LicenceDeliveryBanImposed(_Tolerant):
    """license.delivery_ban.imposed.v1, as notify reads it."""

    case_id: str = Field(min_length=1, max_length=80)
    until: date
    reason: str = Field(min_length=1, max_length=32)
    phone: Phone | None = None


async def licence_delivery_ban_imposed(
    uow: UnitOfWork, event: LicenceDeliveryBanImposed, envelope: Envelope
) -> None:
    """VH-07, NT-01: a driving licence refused at the door or not collected: the same year's ban as a
    vehicle item's, told in the same words."""
    if event.phone is None:
        return
    await enqueue(
        uow,
        phone=event.phone,
        template="delivery_ban_imposed",
        params={
            "item": LICENCE,
            "reason": BAN_REASONS.get(event.reason, "未按规定领取"),
            "until": chinese_date(event.until),
        },
        case_id=f"delivery-ban:{event.case_id}",
        account_id=None,
        requested_at=envelope.time,
    )


class PeriodicMedicalDue(_Tolerant):
    """license.periodic_medical.due.v1, as notify reads it."""

    record_id: str = Field(min_length=1, max_length=80)
    review_due: date
    submit_by: date
    phone: Phone | None = None


async def periodic_medical_due(uow: UnitOfWork, event: PeriodicMedicalDue, envelope: Envelope) -> None:
    """DL-10, NT-01: a holder aged 60 or over, or holding C5, reached the review date: a certificate is due
    through a hospital. Once per record and review date."""
    if event.phone is None:
        return
    await enqueue(
        uow,
        phone=event.phone,
        template="periodic_medical_due",
        params={"review_date": chinese_date(event.review_due), "submit_by": chinese_date(event.submit_by)},
        case_id=f"periodic-medical:{event.record_id}:{event.review_due.isoformat()}",
        account_id=None,
        requested_at=envelope.time,
    )


class LicenceRecordChanged(_Tolerant):
    """license.record.changed.v1, as notify reads it: only a move to full points is told."""

    record_id: str = Field(min_length=1, max_length=80)
    change: str = Field(min_length=1, max_length=16)
    state: str = Field(min_length=1, max_length=16)
    points: int = Field(ge=0)
    phone: Phone | None = None
    version: int = Field(ge=1)


async def licence_record_changed(uow: UnitOfWork, event: LicenceRecordChanged, envelope: Envelope) -> None:
    """DL-12, NT-01: the holder whose licence reached 12 points in its cycle is told that it is flagged
    and what follows (the full-points study and exam). Any other change of the record tells nobody; the
    record's version keys the message, so a redelivery tells once."""
    if event.change != "state" or event.state != "full_points" or event.phone is None:
        return
    await enqueue(
        uow,
        phone=event.phone,
        template="full_points_reached",
        params={"points": str(event.points)},
        case_id=f"full-points:{event.record_id}:{event.version}",
        account_id=None,
        requested_at=envelope.time,
    )


# DL-11: the exam subjects and why a request ranked where it did, as the learner reads them.
EXAM_SUBJECTS = {1: "科目一", 2: "科目二", 3: "科目三道路驾驶技能", 4: "科目三安全文明驾驶常识"}
EXAM_BASES = {
    "accepted": "首次预约科目一，按受理时间",
    "last_exam": "按上次考试时间",
    "cancelled": "按取消已预约考试的时间",
    "absent": "按缺考时间",
}


class ExamBookingDecided(_Tolerant):
    """license.exam_booking.decided.v1, as notify reads it."""

    booking_id: str = Field(min_length=1, max_length=80)
    site_name: str = Field(min_length=1, max_length=100)
    exam_subject: int = Field(ge=1, le=4)
    starts_at: datetime
    outcome: str = Field(min_length=1, max_length=16)
    place: int = Field(ge=1)
    capacity: int = Field(ge=1)
    requests: int = Field(ge=1)
    priority_at: datetime
    priority_basis: str = Field(min_length=1, max_length=16)
    phone: Phone | None = None


class ExamResultRecorded(_Tolerant):
    """license.exam_result.recorded.v1, as notify reads it."""

    booking_id: str = Field(min_length=1, max_length=80)
    exam_subject: int = Field(ge=1, le=4)
    outcome: str = Field(min_length=1, max_length=16)
    exam_at: datetime
    learner_state: str = Field(min_length=1, max_length=16)
    next_subject: int | None = Field(default=None, ge=1, le=4)
    book_from: date | None = None
    road_bookings_left: int | None = None
    voided: bool = False
    phone: Phone | None = None


async def exam_booking_decided(uow: UnitOfWork, event: ExamBookingDecided, envelope: Envelope) -> None:
    """DL-11, NT-01: the cut-off seated the request or not: the place among the requests and its reason."""
    if event.phone is None:
        return
    basis = EXAM_BASES.get(event.priority_basis, "按排序规则")
    await enqueue(
        uow,
        phone=event.phone,
        template="exam_seated" if event.outcome == "seated" else "exam_not_seated",
        params={
            "subject": EXAM_SUBJECTS[event.exam_subject],
            "place": event.site_name,
            "slot": chinese_slot(event.starts_at),
            "requests": str(event.requests),
            "rank": str(event.place),
            "capacity": str(event.capacity),
            "basis": f"{basis}{chinese_slot(event.priority_at)}",
        },
        case_id=f"exam-booking:{event.booking_id}",
        account_id=None,
        requested_at=envelope.time,
    )


def exam_next_step(event: ExamResultRecorded) -> str:
    """DL-11: what follows a result, in words: the licence, the next subject and from when, a retake's
    wait and the road-test bookings left, or the end of the exams."""
    if event.learner_state == "licensed":
        return "您已通过全部考试科目，驾驶证已核发。"
    if event.voided:
        return "该科目预约考试已满五次仍不合格，已考试合格的其他科目成绩作废，如需考试请重新申请。"
    if event.next_subject is None:
        return "本次考试申请已终止。"
    when = f"可于{chinese_date(event.book_from)}起" if event.book_from else "可通过交管12123"
    if event.outcome == "passed":
        return f"下一科目为{EXAM_SUBJECTS[event.next_subject]}，{when}预约考试。"
    left = f"（该科目剩余预约考试次数{event.road_bookings_left}次）" if event.road_bookings_left else ""
    return f"{when}重新预约考试{left}。"


async def exam_result_recorded(uow: UnitOfWork, event: ExamResultRecorded, envelope: Envelope) -> None:
    """DL-11, NT-01: the outcome of an exam (passed, failed, absent: judged failed) and what follows."""
    if event.phone is None:
        return
    template = {"passed": "exam_passed", "absent": "exam_absent"}.get(event.outcome, "exam_failed")
    await enqueue(
        uow,
        phone=event.phone,
        template=template,
        params={
            "day": chinese_date(event.exam_at),
            "subject": EXAM_SUBJECTS[event.exam_subject],
            "next": exam_next_step(event),
        },
        case_id=f"exam-result:{event.booking_id}",
        account_id=None,
        requested_at=envelope.time,
    )


# --- violation: penalty decisions and payments (VI-03, VI-04) ------------------------------------


def yuan(fen: int) -> str:
    return f"{fen // 100}.{fen % 100:02d}"


class DecisionIssued(_Tolerant):
    """violation.decision.issued.v1, as notify reads it (no phone: nobody to tell)."""

    decision_id: str = Field(min_length=1, max_length=64)
    decision_number: str = Field(pattern=r"^\d{18}$")
    plate_number: str = Field(min_length=1, max_length=10)
    violated_at: datetime
    points: int = Field(ge=0, le=12)
    fine_fen: int = Field(ge=0)
    phone: Phone | None = None
    payment_reference: str | None = Field(default=None, pattern=r"^\d{19}$")
    pay_by: date | None = None


async def decision_issued(uow: UnitOfWork, event: DecisionIssued, envelope: Envelope) -> None:
    """VI-03, NT-01: the driver who handled a violation online is told the penalty and the points, and
    for a fine the payment reference and the last day without a late fine (VI-04)."""
    if event.phone is None:
        return
    penalty = f"罚款{yuan(event.fine_fen)}元" if event.fine_fen else "警告"
    payment = "无需缴款。"
    if event.fine_fen and event.pay_by is not None and event.payment_reference is not None:
        payment = (
            f"请于{chinese_date(event.pay_by)}前持缴款凭证到代收银行或通过网上银行缴纳罚款"
            f"（缴款编号{event.payment_reference}），逾期每日按罚款数额的3%加处罚款。"
        )
    await enqueue(
        uow,
        phone=event.phone,
        template="penalty_decision_issued",
        params={
            "plate": event.plate_number,
            "violated_on": chinese_date(event.violated_at),
            "penalty": penalty,
            "points": str(event.points),
            "payment": payment,
        },
        case_id=f"decision:{event.decision_id}",
        account_id=None,
        requested_at=envelope.time,
    )


class PaymentConfirmed(_Tolerant):
    """violation.payment.confirmed.v1, as notify reads it."""

    decision_id: str = Field(min_length=1, max_length=64)
    plate_number: str = Field(min_length=1, max_length=10)
    amount_fen: int = Field(gt=0)
    late_fee_fen: int = Field(ge=0)
    paid_at: datetime
    phone: Phone | None = None


async def payment_confirmed(uow: UnitOfWork, event: PaymentConfirmed, envelope: Envelope) -> None:
    """VI-04, NT-01: the payer is told the fine is paid, with any late fine taken (one SMS per decision:
    a fine is paid once)."""
    if event.phone is None:
        return
    await enqueue(
        uow,
        phone=event.phone,
        template="penalty_paid",
        params={
            "plate": event.plate_number,
            "amount": yuan(event.amount_fen),
            "late_fee": yuan(event.late_fee_fen),
            "paid_on": chinese_date(event.paid_at),
        },
        case_id=f"decision-paid:{event.decision_id}",
        account_id=None,
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
    "identity.account.cancelled.v1": Subscription(
        name="account-cancelled",
        handles={"identity.account.cancelled.v1": AccountCancelled},
        handler=account_cancelled,
        summary="Tell the person their account was cancelled, with the reason (ID-16, ID-05, NT-01).",
    ),
    "identity.licence_photo.approved.v1": Subscription(
        name="licence-photo-approved",
        handles={"identity.licence_photo.approved.v1": LicencePhotoApproved},
        handler=licence_photo_approved,
        summary="Tell the person their licence photo passed review and is stored (ID-15, NT-01).",
    ),
    "identity.licence_photo.rejected.v1": Subscription(
        name="licence-photo-rejected",
        handles={"identity.licence_photo.rejected.v1": LicencePhotoRejected},
        handler=licence_photo_rejected,
        summary="Tell the person why their licence photo was rejected (ID-15, NT-01).",
    ),
    "identity.counter_change.approved.v1": Subscription(
        name="counter-change-approved",
        handles={"identity.counter_change.approved.v1": CounterChangeApproved},
        handler=counter_change_approved,
        summary="Tell the person a counter change was approved, with its items (ID-13, NT-01).",
    ),
    "identity.counter_change.rejected.v1": Subscription(
        name="counter-change-rejected",
        handles={"identity.counter_change.rejected.v1": CounterChangeRejected},
        handler=counter_change_rejected,
        summary="Tell the person why a counter change was rejected (ID-13, NT-01).",
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
    "vehicle.inspection_booking.booked.v1": Subscription(
        name="inspection-booked",
        handles={"vehicle.inspection_booking.booked.v1": InspectionBooked},
        handler=inspection_booked,
        summary="Tell the holder an inspection appointment was made (VH-13, NT-01).",
    ),
    "vehicle.inspection_booking.cancelled.v1": Subscription(
        name="inspection-cancelled",
        handles={"vehicle.inspection_booking.cancelled.v1": InspectionCancelled},
        handler=inspection_cancelled,
        summary="Tell the holder a station cancelled their inspection appointment (VH-14, NT-01).",
    ),
    "vehicle.application.state_changed.v1": Subscription(
        name="vehicle-application",
        handles={"vehicle.application.state_changed.v1": ApplicationStateChanged},
        handler=application_state_changed,
        summary="Tell the applicant a reissue was mailed, is ready, or was refused (VH-05, VH-09, NT-01).",
    ),
    "vehicle.delivery_ban.imposed.v1": Subscription(
        name="delivery-ban",
        handles={"vehicle.delivery_ban.imposed.v1": DeliveryBanImposed},
        handler=delivery_ban_imposed,
        summary="Tell the applicant of the one-year ban on online reissue after a failed delivery (VH-07).",
    ),
    "license.application.state_changed.v1": Subscription(
        name="licence-application",
        handles={"license.application.state_changed.v1": LicenceApplicationStateChanged},
        handler=licence_application_state_changed,
        summary=(
            "Tell the applicant a licence was mailed or is ready, an application refused or waiting for a "
            "medical certificate, a deferral granted (DL-02..DL-09, NT-01)."
        ),
    ),
    "license.delivery_ban.imposed.v1": Subscription(
        name="licence-delivery-ban",
        handles={"license.delivery_ban.imposed.v1": LicenceDeliveryBanImposed},
        handler=licence_delivery_ban_imposed,
        summary="Tell the holder of the one-year ban after a licence delivery failed (VH-07, NT-01).",
    ),
    "license.periodic_medical.due.v1": Subscription(
        name="periodic-medical",
        handles={"license.periodic_medical.due.v1": PeriodicMedicalDue},
        handler=periodic_medical_due,
        summary="Remind a holder at 60+ or with C5 that a medical certificate is due (DL-10, NT-01).",
    ),
    "license.record.changed.v1": Subscription(
        name="licence-full-points",
        handles={"license.record.changed.v1": LicenceRecordChanged},
        handler=licence_record_changed,
        summary="Tell the holder the licence reached 12 points and what follows (DL-12, NT-01).",
    ),
    "license.exam_booking.decided.v1": Subscription(
        name="exam-booking-decided",
        handles={"license.exam_booking.decided.v1": ExamBookingDecided},
        handler=exam_booking_decided,
        summary="Tell the learner whether the cut-off seated their exam request, the place and why (DL-11).",
    ),
    "license.exam_result.recorded.v1": Subscription(
        name="exam-result",
        handles={"license.exam_result.recorded.v1": ExamResultRecorded},
        handler=exam_result_recorded,
        summary="Tell the learner an exam's outcome and what follows (DL-11, NT-01).",
    ),
    "violation.decision.issued.v1": Subscription(
        name="decision-issued",
        handles={"violation.decision.issued.v1": DecisionIssued},
        handler=decision_issued,
        summary="Tell the driver the penalty decision, its points and how to pay (VI-03, VI-04, NT-01).",
    ),
    "violation.payment.confirmed.v1": Subscription(
        name="payment-confirmed",
        handles={"violation.payment.confirmed.v1": PaymentConfirmed},
        handler=payment_confirmed,
        summary="Tell the payer the fine is paid (VI-04, NT-01).",
    ),
}

# The contract tests refuse a consumed type that no service publishes: an event subscription is listed
# here only once its producer's published.py publishes the type (ADR 0003). All of them do now.
PRODUCED: tuple[str, ...] = tuple(EVENT_SUBSCRIPTIONS)

SUBSCRIPTIONS: list[Subscription] = [
    send_sms_subscription(),
    *(EVENT_SUBSCRIPTIONS[message_type] for message_type in PRODUCED),
]
