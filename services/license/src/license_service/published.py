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
    EndReason,
    ExamOutcome,
    LearnerState,
    LicenceClass,
    LicenceState,
    MedicalPurpose,
    PeriodicReason,
    PriorityBasis,
    Subject,
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


# --- DL-11: exam appointments -----------------------------------------------------------------------

_LEARNER_ID = "0190c9a2-6b7e-7d1a-9f3e-5c2b8a4d1e81"
_BOOKING_ID = "0190c9a2-6b7e-7d1a-9f3e-5c2b8a4d1e82"
_SLOT_ID = "0190c9a2-6b7e-7d1a-9f3e-5c2b8a4d1e83"
_EXAM_AT = datetime(2027, 3, 15, 8, 30, tzinfo=SHANGHAI)


class LearnerAccepted(Event):
    message_type: ClassVar[str] = "license.learner.accepted.v1"
    summary: ClassVar[str] = (
        "An initial licence application was accepted (受理) and its applicant is a learner who may book "
        "exams (DL-11). identity's ID-04 projection reads it as an accepted `licence_application` (ADR 0052)."
    )
    learner_id: str
    application_number: str
    id_number: str
    name: str
    phone: str | None
    classes: list[LicenceClass]
    office_code: str
    accepted_at: datetime

    def subject(self) -> str:
        return self.learner_id

    @classmethod
    def example(cls) -> LearnerAccepted:
        return cls(
            learner_id=_LEARNER_ID,
            application_number="1301002027000123",
            id_number=_IDN,
            name="张三",
            phone="13800138000",
            classes=["C1"],
            office_code="130100",
            accepted_at=datetime(2027, 1, 5, 10, 0, tzinfo=SHANGHAI),
        )


class LearnerEnded(Event):
    message_type: ClassVar[str] = "license.learner.ended.v1"
    summary: ClassVar[str] = (
        "A learner's exams ended without a licence (DL-11): a fifth failed road test, or the learner permit "
        "expired; the subjects passed are void and a new application starts again."
    )
    learner_id: str
    application_number: str
    id_number: str
    reason: EndReason
    phone: str | None
    ended_at: datetime

    def subject(self) -> str:
        return self.learner_id

    @classmethod
    def example(cls) -> LearnerEnded:
        return cls(
            learner_id=_LEARNER_ID,
            application_number="1301002027000123",
            id_number=_IDN,
            reason="fifth_failure",
            phone="13800138000",
            ended_at=_AT,
        )


class ExamBookingDecided(Event):
    message_type: ClassVar[str] = "license.exam_booking.decided.v1"
    summary: ClassVar[str] = (
        "A slot's cut-off seated or did not seat a booking request (DL-11): its place in the published "
        "order, the time it ranked by and which rule gave it. notify tells the learner (NT-01)."
    )
    booking_id: str
    learner_id: str
    slot_id: str
    site_name: str
    exam_subject: Subject
    starts_at: datetime
    outcome: Literal["seated", "not_seated"]
    place: int
    capacity: int
    requests: int
    priority_at: datetime
    priority_basis: PriorityBasis
    phone: str | None
    decided_at: datetime

    def subject(self) -> str:
        return self.booking_id

    @classmethod
    def example(cls) -> ExamBookingDecided:
        return cls(
            booking_id=_BOOKING_ID,
            learner_id=_LEARNER_ID,
            slot_id=_SLOT_ID,
            site_name="石家庄市第一考场",
            exam_subject=1,
            starts_at=_EXAM_AT,
            outcome="seated",
            place=12,
            capacity=100,
            requests=340,
            priority_at=datetime(2027, 1, 5, 10, 0, tzinfo=SHANGHAI),
            priority_basis="accepted",
            phone="13800138000",
            decided_at=datetime(2027, 3, 10, 17, 0, tzinfo=SHANGHAI),
        )


class ExamBookingCancelled(Event):
    message_type: ClassVar[str] = "license.exam_booking.cancelled.v1"
    summary: ClassVar[str] = (
        "A booking ended before its exam (DL-11): a request withdrawn online before the cut-off, or a seated "
        "booking cancelled at the counter by the day before the exam (which then ranks the learner's next "
        "booking by the cancellation time)."
    )
    booking_id: str
    learner_id: str
    slot_id: str
    exam_subject: Subject
    starts_at: datetime
    state: Literal["withdrawn", "cancelled"]
    by: Literal["learner", "counter"]
    cancelled_at: datetime

    def subject(self) -> str:
        return self.booking_id

    @classmethod
    def example(cls) -> ExamBookingCancelled:
        return cls(
            booking_id=_BOOKING_ID,
            learner_id=_LEARNER_ID,
            slot_id=_SLOT_ID,
            exam_subject=2,
            starts_at=_EXAM_AT,
            state="cancelled",
            by="counter",
            cancelled_at=_AT,
        )


class ExamResultRecorded(Event):
    message_type: ClassVar[str] = "license.exam_result.recorded.v1"
    summary: ClassVar[str] = (
        "An examiner recorded a seated booking's outcome (DL-11): passed, failed, or absent (judged failed), "
        "with what follows: the next subject, the day a retake may be booked, the road-test bookings left, "
        "and whether the exams ended (a fifth failure voids the subjects passed). A pass of the last subject "
        "also issues the first licence (`license.record.issued.v1`, source `exam`). notify tells the learner."
    )
    booking_id: str
    learner_id: str
    exam_subject: Subject
    outcome: ExamOutcome
    exam_at: datetime
    site_name: str
    learner_state: LearnerState
    next_subject: Subject | None
    book_from: date | None
    road_bookings_left: int | None
    voided: bool
    licence_record_id: str | None
    phone: str | None
    recorded_at: datetime

    def subject(self) -> str:
        return self.booking_id

    @classmethod
    def example(cls) -> ExamResultRecorded:
        return cls(
            booking_id=_BOOKING_ID,
            learner_id=_LEARNER_ID,
            exam_subject=2,
            outcome="failed",
            exam_at=_EXAM_AT,
            site_name="石家庄市第一考场",
            learner_state="learning",
            next_subject=2,
            book_from=date(2027, 3, 25),
            road_bookings_left=4,
            voided=False,
            licence_record_id=None,
            phone="13800138000",
            recorded_at=datetime(2027, 3, 15, 11, 0, tzinfo=SHANGHAI),
        )


PUBLISHED: list[type[Message]] = [
    LicenceRecordIssued,
    LicenceRecordChanged,
    ApplicationStateChanged,
    DeliveryBanImposed,
    MedicalCertificateSubmitted,
    PeriodicMedicalDue,
    LearnerAccepted,
    LearnerEnded,
    ExamBookingDecided,
    ExamBookingCancelled,
    ExamResultRecorded,
]
