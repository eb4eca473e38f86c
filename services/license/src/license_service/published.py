"""The messages the license service owns: its events, and the commands addressed to it.

Every event's `subject` is the record's (or case's) id, never the licence number: that is the holder's
identity number. The payload carries the number for the consumers that need it (identity's ID-03
projection, other police systems).
"""

from __future__ import annotations

from datetime import date, datetime
from typing import ClassVar, Literal

from license_service.domain import LicenceClass, LicenceState
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


PUBLISHED: list[type[Message]] = [LicenceRecordIssued, LicenceRecordChanged]
