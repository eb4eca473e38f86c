"""The messages the license service owns: its events, and the commands addressed to it.

Every event's `subject` is the record's (or case's) id, never the licence number: that is the holder's
identity number. The payload carries the number for the consumers that need it (identity's ID-03
projection, other police systems).
"""

from __future__ import annotations

from datetime import date, datetime
from typing import ClassVar, Literal

from license_service.domain import (
    ApplicationKind,
    ApplicationState,
    Conclusion,
    Delivery,
    LicenceClass,
    LicenceState,
    MedicalPurpose,
    PeriodicReason,
)
from servicekit.clock import SHANGHAI
from servicekit.messages import Event, Message

_AT = datetime(2027, 3, 1, 9, 30, tzinfo=SHANGHAI)
_RECORD_ID = "0190c9a2-6b7e-7d1a-9f3e-5c2b8a4d1e80"
_IDN = "130102199003071233"

# Where a record came from: a police system's issue, an office's bulk import, or DL-11's last passed
# subject (the first licence, which turns the learner into a driver, ID-07).
IssueSource = Literal["police_system", "import", "exam"]
# What a change was about, so a consumer reads only what concerns it.
RecordChange = Literal["state", "details", "validity", "classes", "phone", "photo", "points"]


class LicenceRecordIssued(Event):
    message_type: ClassVar[str] = "license.record.issued.v1"
    summary: ClassVar[str] = (
        "A driving-licence record came onto the platform (DL-01): issued by a police system, imported, or "
        "the first licence after the last exam subject (DL-11). identity's ID-03/ID-07 projection reads it."
    )
    record_id: str
    number: str
    name: str
    classes: list[LicenceClass]
    state: LicenceState
    valid_until: date
    phone: str | None
    office_code: str
    source: IssueSource
    version: int
    issued_at: datetime

    def subject(self) -> str:
        return self.record_id

    @classmethod
    def example(cls) -> LicenceRecordIssued:
        return cls(
            record_id=_RECORD_ID,
            number=_IDN,
            name="张三",
            classes=["C1"],
            state="valid",
            valid_until=date(2033, 3, 1),
            phone="13800138000",
            office_code="130100",
            source="exam",
            version=1,
            issued_at=_AT,
        )


class LicenceRecordChanged(Event):
    message_type: ClassVar[str] = "license.record.changed.v1"
    summary: ClassVar[str] = (
        "A driving-licence record changed (DL-01): its state (DL-12 full points, suspension, revocation, "
        "DL-13 cancellation, which identity answers by unbinding, ID-14), validity, classes, phone, photo "
        "or points. The record as it now is; `version` orders the changes."
    )
    record_id: str
    number: str
    change: RecordChange
    state: LicenceState
    classes: list[LicenceClass]
    valid_until: date
    review_due: date | None
    medical_due: date | None
    phone: str | None
    points: int
    reason: str | None
    version: int
    changed_at: datetime

    def subject(self) -> str:
        return self.record_id

    @classmethod
    def example(cls) -> LicenceRecordChanged:
        return cls(
            record_id=_RECORD_ID,
            number=_IDN,
            change="state",
            state="cancelled",
            classes=["C1"],
            valid_until=date(2033, 3, 1),
            review_due=None,
            medical_due=None,
            phone="13800138000",
            points=0,
            reason="本人申请注销",
            version=4,
            changed_at=_AT,
        )


# --- Applications (DL-02..DL-08), bans (VH-07), medical certificates (DL-09, DL-10): ADR 0051 ---------

_APPLICATION_ID = "0190c9a2-6b7e-7d1a-9f3e-5c2b8a4d1e91"


class ApplicationStateChanged(Event):
    message_type: ClassVar[str] = "license.application.state_changed.v1"
    summary: ClassVar[str] = (
        "A licence application moved on (DL-02 reissue, DL-03 replacement, DL-06 deferrals, DL-07 renewal, "
        "DL-08 over-age exchange): awaiting_medical (DL-09), submitted, approved (a deferral, with "
        "`deferred_to`), accepted, rejected (with the reason), produced, mailed (tracking number), ready "
        "(pick-up due), delivered, picked_up, refused, not_collected, archived. notify tells the applicant "
        "(NT-01)."
    )
    application_id: str
    record_id: str
    office_code: str
    application_kind: ApplicationKind
    state: ApplicationState
    delivery: Delivery | None
    phone: str
    tracking_number: str | None
    reason: str | None
    deferred_to: date | None
    pickup_due: datetime | None
    medical_wait_until: datetime | None
    changed_at: datetime

    def subject(self) -> str:
        return self.application_id

    @classmethod
    def example(cls) -> ApplicationStateChanged:
        return cls(
            application_id=_APPLICATION_ID,
            record_id=_RECORD_ID,
            office_code="130100",
            application_kind="renew",
            state="mailed",
            delivery="mail",
            phone="13800138000",
            tracking_number="LP1A2B3C4D5E6F7A8B",
            reason=None,
            deferred_to=None,
            pickup_due=None,
            medical_wait_until=None,
            changed_at=_AT,
        )


class DeliveryBanImposed(Event):
    message_type: ClassVar[str] = "license.delivery_ban.imposed.v1"
    summary: ClassVar[str] = (
        "A new driving licence was refused at the door or not collected within a month: no online "
        "reissue/replace of plates, vehicle licence, inspection mark or driving licence for a year (VH-07, "
        "as vehicle's own ban; notify tells the phone, NT-01)."
    )
    id_kind: Literal["resident_id"]
    id_number: str
    until: date
    reason: Literal["refused", "not_collected"]
    case_id: str
    imposed_at: datetime
    phone: str | None

    def subject(self) -> str:
        return self.case_id

    @classmethod
    def example(cls) -> DeliveryBanImposed:
        return cls(
            id_kind="resident_id",
            id_number=_IDN,
            until=date(2028, 2, 29),
            reason="not_collected",
            case_id=_APPLICATION_ID,
            imposed_at=_AT,
            phone="13800138000",
        )


class MedicalCertificateSubmitted(Event):
    message_type: ClassVar[str] = "license.medical_certificate.submitted.v1"
    summary: ClassVar[str] = (
        "A hospital enabled for online medicals submitted a medical certificate (身体条件证明, DL-09; a "
        "periodic one, DL-10): for other police systems (first applications, transfer-in, reinstatement)."
    )
    certificate_id: str
    id_number: str
    record_id: str | None
    hospital_code: str | None
    purpose: MedicalPurpose
    conclusion: Conclusion
    examined_on: date
    valid_until: date
    submitted_at: datetime

    def subject(self) -> str:
        return self.certificate_id

    @classmethod
    def example(cls) -> MedicalCertificateSubmitted:
        return cls(
            certificate_id="0190c9a2-6b7e-7d1a-9f3e-5c2b8a4d1e95",
            id_number=_IDN,
            record_id=_RECORD_ID,
            hospital_code="12130100MA0HQ8PT3A",
            purpose="renewal",
            conclusion="fit",
            examined_on=date(2027, 2, 27),
            valid_until=date(2027, 8, 26),
            submitted_at=_AT,
        )


class PeriodicMedicalDue(Event):
    message_type: ClassVar[str] = "license.periodic_medical.due.v1"
    summary: ClassVar[str] = (
        "A holder aged 60 or over, or holding C5, reached the review date: a medical certificate is due "
        "through a hospital by `submit_by` (DL-10). Once per record and review date; notify tells the phone."
    )
    record_id: str
    review_due: date
    submit_by: date
    reason: PeriodicReason
    phone: str | None
    told_at: datetime

    def subject(self) -> str:
        return self.record_id

    @classmethod
    def example(cls) -> PeriodicMedicalDue:
        return cls(
            record_id=_RECORD_ID,
            review_due=date(2027, 3, 1),
            submit_by=date(2027, 3, 31),
            reason="age_60",
            phone="13800138000",
            told_at=_AT,
        )


PUBLISHED: list[type[Message]] = [
    LicenceRecordIssued,
    LicenceRecordChanged,
    ApplicationStateChanged,
    DeliveryBanImposed,
    MedicalCertificateSubmitted,
    PeriodicMedicalDue,
]
