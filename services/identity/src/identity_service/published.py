"""The messages the identity service owns: its events (fixed by ADR 0003), and the commands addressed to it.

An event's subject is the aggregate's id (registration or account), never an identity number or a phone.
"""

from __future__ import annotations

import datetime as dt
from datetime import datetime
from typing import ClassVar, Literal

from pydantic import BaseModel

from servicekit import personal
from servicekit.clock import SHANGHAI
from servicekit.messages import Event, Message
from servicekit.vocabulary import IdKind

_EXAMPLE_TIME = datetime(2027, 3, 1, 9, 30, tzinfo=SHANGHAI)


class PersonPhoneChanged(Event):
    """ID-06: a counter registration replaced the phone on the person's vehicle and licence records."""

    message_type: ClassVar[str] = "identity.person.phone_changed.v1"
    summary: ClassVar[str] = (
        "A counter registration replaced the person's phone: vehicle and license apply it to their records "
        "(ID-06)."
    )

    id_kind: IdKind  # the platform's one vocabulary (servicekit.vocabulary, ADR 0045)
    id_number: str
    name: str
    phone: str
    registration_id: str
    changed_at: datetime

    def subject(self) -> str:
        return self.registration_id

    @classmethod
    def example(cls) -> PersonPhoneChanged:
        return cls(
            id_kind="resident_id",
            id_number="130102199003071233",
            name="张三",
            phone="13800138000",
            registration_id="0190c9a2-6b7e-7d1a-9f3e-5c2b8a4d1e60",
            changed_at=_EXAMPLE_TIME,
        )


class RegistrationApproved(Event):
    """ID-09 / ID-11: a counter registration was approved and its account created (notify sends the SMS)."""

    message_type: ClassVar[str] = "identity.registration.approved.v1"
    summary: ClassVar[str] = "A counter registration was approved and the account created (ID-09, ID-11)."

    registration_id: str
    account_id: str
    account_kind: Literal["personal", "unit"]
    name: str
    phone: str
    username: str
    approved_at: datetime

    def subject(self) -> str:
        return self.registration_id

    @classmethod
    def example(cls) -> RegistrationApproved:
        return cls(
            registration_id="0190c9a2-6b7e-7d1a-9f3e-5c2b8a4d1e60",
            account_id="0190c9a2-6b7e-7d1a-9f3e-5c2b8a4d1e61",
            account_kind="personal",
            name="张三",
            phone="13800138000",
            username="138****8000",
            approved_at=_EXAMPLE_TIME,
        )


class RegistrationRejected(Event):
    """ID-09: the review post rejected a counter registration; the reason goes to the person by SMS."""

    message_type: ClassVar[str] = "identity.registration.rejected.v1"
    summary: ClassVar[str] = "The review post rejected a counter registration, with the reason (ID-09)."

    registration_id: str
    name: str
    phone: str
    reason: str
    rejected_at: datetime

    def subject(self) -> str:
        return self.registration_id

    @classmethod
    def example(cls) -> RegistrationRejected:
        return cls(
            registration_id="0190c9a2-6b7e-7d1a-9f3e-5c2b8a4d1e60",
            name="张三",
            phone="13800138000",
            reason="现场照片与人口信息库照片不符",
            rejected_at=_EXAMPLE_TIME,
        )


class AccountCancelled(Event):
    """ID-16 / ID-05: an account was cancelled, on request or by force; notify tells its phone (NT-01)."""

    message_type: ClassVar[str] = "identity.account.cancelled.v1"
    summary: ClassVar[str] = (
        "An account was cancelled, on request or by force (ID-05, ID-16); notify tells the registered "
        "phone (NT-01)."
    )

    account_id: str
    reason: str
    cancelled_at: datetime
    # Added for NT-01 (optional, so not breaking): the registered phone (None for staff and system
    # accounts) and the account's login name as the SMS names it (a unit's credit code, else the phone).
    phone: str | None = None
    username: str | None = None

    def subject(self) -> str:
        return self.account_id

    @classmethod
    def example(cls) -> AccountCancelled:
        return cls(
            account_id="0190c9a2-6b7e-7d1a-9f3e-5c2b8a4d1e61",
            reason="self_service",
            cancelled_at=_EXAMPLE_TIME,
            phone="13800138000",
            username="13800138000",
        )


class LicencePhotoApproved(Event):
    """ID-15 / DL-05: the review post approved a licence photo; license stores it with the licence."""

    message_type: ClassVar[str] = "identity.licence_photo.approved.v1"
    summary: ClassVar[str] = (
        "The review post approved a licence photo submitted online; license stores it (ID-15, DL-05)."
    )

    photo_id: str
    account_id: str
    id_kind: IdKind
    id_number: str
    photo_ref: str
    format: str
    approved_at: datetime
    phone: str | None = None  # the account's registered phone: notify tells it (NT-01); optional, added later

    def subject(self) -> str:
        return self.photo_id

    @classmethod
    def example(cls) -> LicencePhotoApproved:
        return cls(
            photo_id="0190c9a2-6b7e-7d1a-9f3e-5c2b8a4d1e62",
            account_id="0190c9a2-6b7e-7d1a-9f3e-5c2b8a4d1e61",
            id_kind="resident_id",
            id_number="130102199003071233",
            photo_ref="photos/0190c9a2-6b7e-7d1a-9f3e-5c2b8a4d1e62.jpg",
            format="jpeg",
            approved_at=_EXAMPLE_TIME,
            phone="13800138000",
        )


class LicencePhotoRejected(Event):
    """ID-15: the review post rejected a licence photo, with the reason; notify tells the phone (NT-01)."""

    message_type: ClassVar[str] = "identity.licence_photo.rejected.v1"
    summary: ClassVar[str] = (
        "The review post rejected a licence photo submitted online, with the reason (ID-15); notify tells "
        "the registered phone (NT-01)."
    )

    photo_id: str
    account_id: str
    phone: str | None  # None for an account without a phone
    reason: str
    rejected_at: datetime

    def subject(self) -> str:
        return self.photo_id

    @classmethod
    def example(cls) -> LicencePhotoRejected:
        return cls(
            photo_id="0190c9a2-6b7e-7d1a-9f3e-5c2b8a4d1e62",
            account_id="0190c9a2-6b7e-7d1a-9f3e-5c2b8a4d1e61",
            phone="13800138000",
            reason="照片模糊，无法辨认",
            rejected_at=_EXAMPLE_TIME,
        )


class BindingCreated(Event):
    """ID-12 / ID-13: an account bound a vehicle, online (own) or at the counter (own or not, at most 3)."""

    message_type: ClassVar[str] = "identity.binding.created.v1"
    summary: ClassVar[str] = (
        "An account bound a vehicle, online or at the counter (ID-12, ID-13); vehicle lets the account book "
        "its inspection (VH-13)."
    )

    binding_id: str
    account_id: str  # the `sub` of the account's tokens
    record_kind: Literal["vehicle"]
    ref: str  # the vehicle's id in vehicle (`vehicle_id` of its events)
    owned: bool
    channel: Literal["online", "counter"]
    at: datetime

    def subject(self) -> str:
        return self.binding_id

    @classmethod
    def example(cls) -> BindingCreated:
        return cls(
            binding_id="0190c9a2-6b7e-7d1a-9f3e-5c2b8a4d1e63",
            account_id="0190c9a2-6b7e-7d1a-9f3e-5c2b8a4d1e61",
            record_kind="vehicle",
            ref="0190c9a2-6b7e-7d1a-9f3e-5c2b8a4d1e64",
            owned=True,
            channel="online",
            at=_EXAMPLE_TIME,
        )


class BindingEnded(Event):
    """ID-12 / ID-14 / ID-16: a vehicle binding ended: unbound by the user, automatically (transfer,
    deregistration, commercial to non-commercial) or with its account."""

    message_type: ClassVar[str] = "identity.binding.ended.v1"
    summary: ClassVar[str] = (
        "A vehicle binding ended: unbound by the user (ID-12), automatically (ID-14) or with its account "
        "(ID-16)."
    )

    binding_id: str
    account_id: str
    record_kind: Literal["vehicle"]
    ref: str
    owned: bool
    reason: str  # by_user | transferred | deregistered | use_changed | account_cancelled
    at: datetime

    def subject(self) -> str:
        return self.binding_id

    @classmethod
    def example(cls) -> BindingEnded:
        return cls(
            binding_id="0190c9a2-6b7e-7d1a-9f3e-5c2b8a4d1e63",
            account_id="0190c9a2-6b7e-7d1a-9f3e-5c2b8a4d1e61",
            record_kind="vehicle",
            ref="0190c9a2-6b7e-7d1a-9f3e-5c2b8a4d1e64",
            owned=True,
            reason="by_user",
            at=_EXAMPLE_TIME,
        )


class LicenceBindingCreated(Event):
    """ID-12: an account bound its own driving licence. violation lets a personal user with a bound licence
    handle camera violations (VI-02, ADR 0060)."""

    message_type: ClassVar[str] = "identity.licence_binding.created.v1"
    summary: ClassVar[str] = (
        "An account bound its own driving licence (ID-12); violation lets it handle camera violations of "
        "its bound vehicles (VI-02). `licence_number` is the holder's identity number."
    )

    binding_id: str
    account_id: str
    licence_number: str
    holder_name: str
    channel: Literal["online", "counter"]
    at: datetime

    def subject(self) -> str:
        return self.binding_id

    @classmethod
    def example(cls) -> LicenceBindingCreated:
        return cls(
            binding_id="0190c9a2-6b7e-7d1a-9f3e-5c2b8a4d1e65",
            account_id="0190c9a2-6b7e-7d1a-9f3e-5c2b8a4d1e61",
            licence_number="130102199003071233",
            holder_name="张三",
            channel="online",
            at=_EXAMPLE_TIME,
        )


class LicenceBindingEnded(Event):
    """ID-12 / ID-14 / ID-16: a licence binding ended: unbound by the user, the licence cancelled (DL-13),
    or with its account."""

    message_type: ClassVar[str] = "identity.licence_binding.ended.v1"
    summary: ClassVar[str] = (
        "A driving licence binding ended: unbound by the user (ID-12), the licence cancelled (ID-14, DL-13) "
        "or with its account (ID-16)."
    )

    binding_id: str
    account_id: str
    licence_number: str
    reason: str  # by_user | cancelled | account_cancelled
    at: datetime

    def subject(self) -> str:
        return self.binding_id

    @classmethod
    def example(cls) -> LicenceBindingEnded:
        return cls(
            binding_id="0190c9a2-6b7e-7d1a-9f3e-5c2b8a4d1e65",
            account_id="0190c9a2-6b7e-7d1a-9f3e-5c2b8a4d1e61",
            licence_number="130102199003071233",
            reason="by_user",
            at=_EXAMPLE_TIME,
        )


class OfficialDay(BaseModel):
    date: dt.date
    working: bool  # false: a holiday off; true: an adjusted working day (调休)
    name: str = ""


class WorkdayYearSet(Event):
    """WD-01 (ADR 0004): an admin set a year's official days in the office calendar identity owns."""

    message_type: ClassVar[str] = "identity.workday_calendar.year_set.v1"
    summary: ClassVar[str] = (
        "An admin set (or set again) a year's holidays and adjusted working days: the whole year, which "
        "replaces any earlier copy; services computing working-day deadlines keep it (WD-01, ADR 0004)."
    )

    year: int
    source: str
    days: list[OfficialDay]
    set_at: datetime

    def subject(self) -> str:
        return str(self.year)

    @classmethod
    def example(cls) -> WorkdayYearSet:
        return cls(
            year=2027,
            source="国务院办公厅关于2027年部分节假日安排的通知",
            days=[
                OfficialDay(date=dt.date(2027, 1, 1), working=False, name="元旦"),
                OfficialDay(date=dt.date(2027, 2, 20), working=True, name="春节调休"),
            ],
            set_at=_EXAMPLE_TIME,
        )


PUBLISHED: list[type[Message]] = [
    PersonPhoneChanged,
    RegistrationApproved,
    RegistrationRejected,
    AccountCancelled,
    LicencePhotoApproved,
    LicencePhotoRejected,
    BindingCreated,
    BindingEnded,
    LicenceBindingCreated,
    LicenceBindingEnded,
    WorkdayYearSet,
]


# --- ID-13 / seed §19: personal counter changes reviewed; notify sends `change_approved` / `change_rejected`.


class CounterChangeApproved(Event):
    """ID-13: the review post approved a personal counter change, now in effect; the SMS names the items."""

    message_type: ClassVar[str] = "identity.counter_change.approved.v1"
    summary: ClassVar[str] = "The review post approved a personal counter change (ID-13, seed §19)."

    change_id: str
    account_id: str
    change_kind: Literal["bind_vehicle", "details"]
    items: str  # the SMS's {items}, e.g. 绑定非本人机动车冀A12345
    name: str
    phone: str
    approved_at: datetime

    def subject(self) -> str:
        return self.change_id

    @classmethod
    def example(cls) -> CounterChangeApproved:
        return cls(
            change_id="0190c9a2-6b7e-7d1a-9f3e-5c2b8a4d1e65",
            account_id="0190c9a2-6b7e-7d1a-9f3e-5c2b8a4d1e61",
            change_kind="bind_vehicle",
            items="绑定非本人机动车冀A12345",
            name="张三",
            phone="13800138000",
            approved_at=_EXAMPLE_TIME,
        )


class CounterChangeRejected(Event):
    """ID-13: the review post rejected a personal counter change; the reason goes to the person by SMS."""

    message_type: ClassVar[str] = "identity.counter_change.rejected.v1"
    summary: ClassVar[str] = "The review post rejected a personal counter change, with the reason (ID-13)."

    change_id: str
    account_id: str
    change_kind: Literal["bind_vehicle", "details"]
    name: str
    phone: str
    reason: str
    rejected_at: datetime

    def subject(self) -> str:
        return self.change_id

    @classmethod
    def example(cls) -> CounterChangeRejected:
        return cls(
            change_id="0190c9a2-6b7e-7d1a-9f3e-5c2b8a4d1e65",
            account_id="0190c9a2-6b7e-7d1a-9f3e-5c2b8a4d1e61",
            change_kind="bind_vehicle",
            name="张三",
            phone="13800138000",
            reason="被绑定机动车行驶证已过有效期",
            rejected_at=_EXAMPLE_TIME,
        )


PUBLISHED.extend([CounterChangeApproved, CounterChangeRejected])


# --- PIPL art. 45 / 47 (ADR 0093): the person's rights, answered by every service that holds their data.


class DataExportRequested(Event):
    """A person asked for what the platform holds about them: each service sends identity its part
    (`identity.data_export.add_part.v1`). The keys are how each service finds the person's rows."""

    message_type: ClassVar[str] = personal.EXPORT_REQUESTED
    summary: ClassVar[str] = (
        "A person asked for a copy of their data (PIPL art. 45): every service holding any answers with "
        "its part."
    )

    export_id: str
    account_id: str
    account_kind: Literal["personal", "unit"]
    id_number: str | None  # the person's identity number, or the unit's credit code
    phone: str | None
    requested_at: datetime

    def subject(self) -> str:
        return self.export_id

    @classmethod
    def example(cls) -> DataExportRequested:
        return cls(
            export_id="0190c9a2-6b7e-7d1a-9f3e-5c2b8a4d1e66",
            account_id="0190c9a2-6b7e-7d1a-9f3e-5c2b8a4d1e61",
            account_kind="personal",
            id_number="130102199003071233",
            phone="13800138000",
            requested_at=_EXAMPLE_TIME,
        )


class AddDataExportPart(personal.ExportPart):
    """One service's part of a person's data export, addressed to identity (which owns the schema)."""


class AccountDeidentified(Event):
    """A cancelled account's retention ended and identity de-identified it: every service holding rows
    that are the account's de-identifies its own. Carries the account id alone."""

    message_type: ClassVar[str] = personal.ACCOUNT_DEIDENTIFIED
    summary: ClassVar[str] = (
        "A cancelled account's retention ended (PIPL art. 47): services de-identify the rows that are the "
        "account's."
    )

    account_id: str
    cancelled_at: datetime
    deidentified_at: datetime

    def subject(self) -> str:
        return self.account_id

    @classmethod
    def example(cls) -> AccountDeidentified:
        return cls(
            account_id="0190c9a2-6b7e-7d1a-9f3e-5c2b8a4d1e61",
            cancelled_at=_EXAMPLE_TIME,
            deidentified_at=_EXAMPLE_TIME + dt.timedelta(days=180),
        )


PUBLISHED.extend([DataExportRequested, AddDataExportPart, AccountDeidentified])
