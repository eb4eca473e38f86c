"""The messages the violation service owns: its events, and the commands addressed to it.

Defined before the service that produces them is built (ADR 0003, ADR 0053): license counts the points of
a penalty decision (DL-12) from `violation.decision.issued.v1` and takes them off again on
`violation.decision.revoked.v1`. Each event's `subject` is the decision's id, never an identity number.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, ClassVar, Literal

from pydantic import Field

from servicekit.clock import SHANGHAI
from servicekit.messages import Event, Message

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


PUBLISHED: list[type[Message]] = [DecisionIssued, DecisionRevoked]
