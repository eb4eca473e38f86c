"""The messages the license service consumes: a local tolerant model, a handler and a queue each.

violation's `violation.decision.issued.v1` and `violation.decision.revoked.v1`
(DL-12, ADR 0053), on one queue (`license.record-points`) so that a decision and its revocation are
handled by one consumer; either order gives the same result (points.py).

vehicle's `vehicle.delivery_ban.imposed.v1` (VH-07): a vehicle item refused or not collected bars the
person from online reissue and replacement of the driving licence too (seed 002 §27(6)); kept beside
license's own bans in `licence_delivery_bans`, one per case, so a redelivery changes nothing.
"""

from __future__ import annotations

from datetime import UTC, date, datetime
from typing import Annotated

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field

from license_service.application_records import record_ban
from license_service.points import Decision, record_decision, revoke_decision
from servicekit.consumer import Subscription
from servicekit.envelope import Envelope
from servicekit.uow import UnitOfWork

# PostgreSQL refuses a NUL in text: such a message is refused here (dead-lettered at once, seen), not
# retried as if the database were failing.
_NO_NUL = r"^[^\x00]*$"
Id = Annotated[str, Field(min_length=1, max_length=64, pattern=_NO_NUL)]
Text = Annotated[str, Field(pattern=_NO_NUL)]
# A time the cycles can be counted for (a year 9999 would overflow the next anniversary).
Moment = Annotated[
    AwareDatetime, Field(gt=datetime(1900, 1, 1, tzinfo=UTC), lt=datetime(3000, 1, 1, tzinfo=UTC))
]


def _cut(value: str | None, size: int) -> str | None:
    """A descriptive field longer than license keeps is shortened, not refused: the points still count."""
    return value[:size] if value else None


class _Tolerant(BaseModel):
    model_config = ConfigDict(extra="ignore", frozen=True, str_strip_whitespace=True)


class DecisionIn(_Tolerant):
    """`violation.decision.issued.v1` as license reads it. Points outside 0..12 are not a decision license
    can count: the message goes to the dead-letter queue, where it is seen."""

    decision_id: Id
    decision_number: Text | None = None
    violation_id: Id
    driver_id_number: Annotated[str, Field(min_length=1, max_length=32, pattern=_NO_NUL)]
    plate_number: Text | None = None
    violation_code: Annotated[str, Field(min_length=1, max_length=16, pattern=_NO_NUL)]
    violated_at: Moment
    place: Text | None = None
    points: Annotated[int, Field(ge=0, le=12)]
    fine_fen: Annotated[int, Field(ge=0)] = 0
    decided_at: Moment

    def decision(self) -> Decision:
        return Decision(
            decision_id=self.decision_id,
            decision_number=_cut(self.decision_number, 64),
            violation_id=self.violation_id,
            number=self.driver_id_number.upper(),
            plate_number=_cut(self.plate_number, 16),
            violation_code=self.violation_code,
            violated_at=self.violated_at,
            place=_cut(self.place, 200),
            points=self.points,
            fine_fen=self.fine_fen,
            decided_at=self.decided_at,
        )


class RevocationIn(DecisionIn):
    """`violation.decision.revoked.v1` as license reads it: the decision's facts, why and when."""

    ground: Annotated[str, Field(min_length=1, max_length=32, pattern=_NO_NUL)]
    revoked_at: Moment


async def record_points(uow: UnitOfWork, event: DecisionIn, envelope: Envelope) -> None:
    """DL-12: a decision's points go onto the driver's licence; a revoked decision's come off."""
    if isinstance(event, RevocationIn):
        await revoke_decision(uow, event.decision(), event.ground, event.revoked_at)
    else:
        await record_decision(uow, event.decision())


POINTS = Subscription(
    name="record-points",
    handles={"violation.decision.issued.v1": DecisionIn, "violation.decision.revoked.v1": RevocationIn},
    handler=record_points,
    summary="DL-12: count a penalty decision's points on the driver's licence; take a revoked one's off.",
)


class VehicleDeliveryBan(_Tolerant):
    id_number: Annotated[str, Field(min_length=1, max_length=32, pattern=_NO_NUL)]
    until: date
    reason: Annotated[str, Field(min_length=1, max_length=20, pattern=_NO_NUL)]
    case_id: Annotated[str, Field(min_length=1, max_length=64, pattern=_NO_NUL)]
    imposed_at: AwareDatetime


async def keep_delivery_ban(uow: UnitOfWork, event: VehicleDeliveryBan, envelope: Envelope) -> None:
    """VH-07: vehicle's ban, kept for DL-02/DL-03 (and mailed renewals)."""
    await record_ban(
        uow,
        id_number=event.id_number,
        until=event.until,
        reason=event.reason,
        source="vehicle",
        case_id=event.case_id,
        imposed_at=event.imposed_at,
    )


DELIVERY_BANS = Subscription(
    name="keep-delivery-bans",
    handles={"vehicle.delivery_ban.imposed.v1": VehicleDeliveryBan},
    handler=keep_delivery_ban,
    summary="Keep vehicle's one-year bans: no online licence reissue or replacement meanwhile (VH-07).",
)

SUBSCRIPTIONS: list[Subscription] = [POINTS, DELIVERY_BANS]
