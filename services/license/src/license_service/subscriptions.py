"""The messages the license service consumes: a local tolerant model, a handler and a queue each.

vehicle's `vehicle.delivery_ban.imposed.v1` (VH-07): a vehicle item refused or not collected bars the
person from online reissue and replacement of the driving licence too (seed 002 §27(6)); kept beside
license's own bans in `licence_delivery_bans`, one per case, so a redelivery changes nothing.
"""

from __future__ import annotations

from datetime import date
from typing import Annotated

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field

from license_service.application_records import record_ban
from servicekit.consumer import Subscription
from servicekit.envelope import Envelope
from servicekit.uow import UnitOfWork


class _Tolerant(BaseModel):
    model_config = ConfigDict(extra="ignore", frozen=True)


# PostgreSQL refuses a NUL in text: such a message is refused by the model (dead-lettered at once, seen),
# not retried as if the database were failing; a value longer than its column likewise.
_NO_NUL = r"^[^\x00]*$"


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

SUBSCRIPTIONS: list[Subscription] = [DELIVERY_BANS]
