"""The messages the violation service owns: its events, and the commands addressed to it.

The decision events were defined before the service was built (ADR 0003, ADR 0053): license counts the
points of a penalty decision (DL-12) from `violation.decision.issued.v1` and takes them off again on
`violation.decision.revoked.v1`; their fields stay, new ones are optional. Each event's `subject` is the
violation's, decision's or payment's id, never an identity number. ADR 0060 adds the rest: a recorded
violation (VI-01), a confirmed payment (VI-04), and the command other police systems send camera records
with (VI-01).
"""

from __future__ import annotations

import base64
from datetime import date, datetime
from typing import Annotated, ClassVar, Literal

from pydantic import AfterValidator, AwareDatetime, Field

from servicekit.clock import SHANGHAI
from servicekit.messages import Command, Event, Message
from servicekit.validators import plate_number

_DECISION_ID = "0190d3f1-2c4a-7e6b-8a9d-3f1e5b7c9d20"
_VIOLATION_ID = "0190d3e8-9b1c-7f2a-b4d6-1a2b3c4d5e6f"
_IDN = "130102199003071233"

# 一次记分的分值 of 《道路交通安全违法行为记分管理办法》 (12, 9, 6, 3 or 1); 0 for a decision without points.
Points = Annotated[int, Field(ge=0, le=12)]
# Why a decision was revoked (撤销): administrative review (行政复议), a court (行政诉讼), or the traffic
# authority's own correction on supervision (执法监督).
RevocationGround = Literal["administrative_review", "litigation", "supervision"]


class DecisionIssued(Event):
    message_type: ClassVar[str] = "violation.decision.issued.v1"
    summary: ClassVar[str] = (
        "A penalty decision (处罚决定书) was issued for a violation (VI-03): the handling driver confirmed "
        "it online, or another police system decided it. license counts its points on the driver's "
        "licence (DL-12); other police systems receive it (VI-05). `driver_id_number` is the handling "
        "driver's identity number, which is their licence number; `fine_fen` is the fine in fen."
    )
    decision_id: str
    decision_number: str  # 处罚决定书编号
    violation_id: str
    driver_id_number: str
    plate_number: str
    violation_code: str  # 违法代码
    violated_at: datetime
    place: str
    points: Points
    fine_fen: Annotated[int, Field(ge=0)]
    decided_at: datetime
    # Added with the service (optional, ADR 0060): whom notify tells (NT-01), the voucher's reference and
    # the last day without a late fine (VI-04). None for a warning's reference and day.
    phone: str | None = None
    payment_reference: str | None = None
    pay_by: date | None = None

    def subject(self) -> str:
        return self.decision_id

    @classmethod
    def example(cls) -> DecisionIssued:
        return cls(
            decision_id=_DECISION_ID,
            decision_number="130104202700012345",
            violation_id=_VIOLATION_ID,
            driver_id_number=_IDN,
            plate_number="冀A12345",
            violation_code="1625",
            violated_at=datetime(2027, 2, 20, 18, 42, tzinfo=SHANGHAI),
            place="石家庄市中华大街与裕华路交叉口",
            points=6,
            fine_fen=20000,
            decided_at=datetime(2027, 3, 1, 9, 30, tzinfo=SHANGHAI),
            phone="13800138000",
            payment_reference="1301042027000123459",
            pay_by=date(2027, 3, 16),
        )


class DecisionRevoked(Event):
    message_type: ClassVar[str] = "violation.decision.revoked.v1"
    summary: ClassVar[str] = (
        "A penalty decision was revoked (撤销) on administrative review, by a court, or on the authority's "
        "own correction: its points come off the driver's licence (DL-12). A decision changed (变更) is "
        "published as the old one revoked and a new one issued with its own id. The decision's facts are "
        "repeated, so a revocation that arrives before its decision can be understood alone."
    )
    decision_id: str
    decision_number: str
    violation_id: str
    driver_id_number: str
    plate_number: str
    violation_code: str
    violated_at: datetime
    points: Points
    fine_fen: Annotated[int, Field(ge=0)]
    decided_at: datetime
    ground: RevocationGround
    revoked_at: datetime

    def subject(self) -> str:
        return self.decision_id

    @classmethod
    def example(cls) -> DecisionRevoked:
        issued = DecisionIssued.example()
        return cls(
            decision_id=issued.decision_id,
            decision_number=issued.decision_number,
            violation_id=issued.violation_id,
            driver_id_number=issued.driver_id_number,
            plate_number=issued.plate_number,
            violation_code=issued.violation_code,
            violated_at=issued.violated_at,
            points=issued.points,
            fine_fen=issued.fine_fen,
            decided_at=issued.decided_at,
            ground="administrative_review",
            revoked_at=datetime(2027, 4, 12, 15, 0, tzinfo=SHANGHAI),
        )


class ViolationRecorded(Event):
    message_type: ClassVar[str] = "violation.violation.recorded.v1"
    summary: ClassVar[str] = (
        "A camera-recorded violation (交通技术监控记录) was taken from another police system (VI-01), "
        "once per record ID; other police systems receive it (VI-05). `fine_fen` in fen; "
        "`evidence_count` images are kept with it."
    )
    violation_id: str
    record_id: str
    office_code: str
    plate_kind: str
    plate_number: str
    violated_at: datetime
    place: str
    violation_code: str
    penalty: Literal["warning", "fine"]
    fine_fen: Annotated[int, Field(ge=0)]
    points: Points
    evidence_count: Annotated[int, Field(ge=0)]
    recorded_at: datetime

    def subject(self) -> str:
        return self.violation_id

    @classmethod
    def example(cls) -> ViolationRecorded:
        return cls(
            violation_id=_VIOLATION_ID,
            record_id="1301040000202702201842000001",
            office_code="130104",
            plate_kind="02",
            plate_number="冀A12345",
            violated_at=datetime(2027, 2, 20, 18, 42, tzinfo=SHANGHAI),
            place="石家庄市中华大街与裕华路交叉口",
            violation_code="1625",
            penalty="fine",
            fine_fen=20000,
            points=6,
            evidence_count=3,
            recorded_at=datetime(2027, 2, 21, 8, 0, tzinfo=SHANGHAI),
        )


class PaymentConfirmed(Event):
    message_type: ClassVar[str] = "violation.payment.confirmed.v1"
    summary: ClassVar[str] = (
        "A decision's fine was paid (VI-04): a bank's verified notice, or the daily reconciliation when the "
        "notice was lost, booked it. `amount_fen` = `fine_fen` + `late_fee_fen` (加处罚款). notify tells the "
        "payer (NT-01); other police systems receive it (VI-05)."
    )
    payment_id: str  # the bank transaction's id here
    decision_id: str
    decision_number: str
    violation_id: str
    plate_number: str
    bank: str
    bank_txn_id: str
    channel: Literal["online", "counter"]
    amount_fen: Annotated[int, Field(gt=0)]
    fine_fen: Annotated[int, Field(gt=0)]
    late_fee_fen: Annotated[int, Field(ge=0)]
    paid_at: datetime
    booked_by: Literal["notice", "reconciliation"]
    phone: str | None = None

    def subject(self) -> str:
        return self.decision_id

    @classmethod
    def example(cls) -> PaymentConfirmed:
        return cls(
            payment_id="0190d3f4-1a2b-7c3d-8e4f-5a6b7c8d9e01",
            decision_id=_DECISION_ID,
            decision_number="130104202700012345",
            violation_id=_VIOLATION_ID,
            plate_number="冀A12345",
            bank="sim",
            bank_txn_id="SIM2027030100000001",
            channel="online",
            amount_fen=20000,
            fine_fen=20000,
            late_fee_fen=0,
            paid_at=datetime(2027, 3, 2, 10, 15, tzinfo=SHANGHAI),
            booked_by="notice",
            phone="13800138000",
        )


def _base64_image(value: str) -> str:
    try:
        base64.b64decode(value, validate=True)
    except ValueError:
        raise ValueError("evidence images are base64 (RFC 4648, no line breaks)") from None
    return value


def _plain_text(value: str) -> str:
    # PostgreSQL refuses NUL, and no place or description holds control characters: a clear 422, not a 500.
    if any(ord(ch) < 32 or ord(ch) == 127 for ch in value):
        raise ValueError("control characters are not allowed")
    return value


PlainText = Annotated[str, Field(min_length=1, max_length=200), AfterValidator(_plain_text)]
EvidenceImage = Annotated[str, Field(min_length=8, max_length=8_000_000), AfterValidator(_base64_image)]


class SubmitCameraRecord(Command):
    message_type: ClassVar[str] = "violation.camera_record.submit.v1"
    summary: ClassVar[str] = (
        "Another police system hands violation a camera-recorded violation (VI-01), as `POST "
        "/api/v1/violations` does: taken once per `record_id` (a repeat changes nothing; the same ID with "
        "other facts is refused and dead-lettered). `evidence` holds 1 to 6 JPEG or PNG images, base64."
    )
    record_id: Annotated[str, Field(min_length=1, max_length=64, pattern=r"^[0-9A-Za-z_-]+$")]
    office_code: Annotated[str, Field(pattern=r"^\d{6}$")]
    plate_kind: Annotated[str, Field(pattern=r"^\d{2}$")]
    plate_number: Annotated[str, AfterValidator(plate_number)]
    violated_at: AwareDatetime
    place: PlainText
    violation_code: Annotated[str, Field(pattern=r"^\d{4,5}$")]
    description: PlainText
    penalty: Literal["warning", "fine"]
    fine_fen: Annotated[int, Field(ge=0, le=100_000_000)]
    points: Points
    evidence: Annotated[list[EvidenceImage], Field(min_length=1, max_length=6)]

    def subject(self) -> str:
        return self.record_id

    @classmethod
    def example(cls) -> SubmitCameraRecord:
        recorded = ViolationRecorded.example()
        return cls(
            record_id=recorded.record_id,
            office_code=recorded.office_code,
            plate_kind=recorded.plate_kind,
            plate_number=recorded.plate_number,
            violated_at=recorded.violated_at,
            place=recorded.place,
            violation_code=recorded.violation_code,
            description="驾驶机动车违反道路交通信号灯通行的",
            penalty="fine",
            fine_fen=20000,
            points=6,
            evidence=[base64.b64encode(b"\x89PNG\r\n\x1a\n" + bytes(16)).decode()],
        )


PUBLISHED: list[type[Message]] = [
    DecisionIssued,
    DecisionRevoked,
    ViolationRecorded,
    PaymentConfirmed,
    SubmitCameraRecord,
]
