"""The messages the plate-pool service owns (ADR 0003 fixes the selection events' fields)."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any, ClassVar, Literal

from pydantic import BaseModel

from plate_pool_service.domain import voucher_number
from servicekit.messages import Event, Message
from servicekit.vocabulary import IdKind

_AT = datetime.fromisoformat("2027-03-01T09:12:00+08:00")


class Owner(BaseModel):
    id_kind: IdKind  # the platform's one vocabulary (servicekit.vocabulary, ADR 0045)
    id_number: str
    name: str


class SelectionConfirmed(Event):
    message_type: ClassVar[str] = "plate-pool.selection.confirmed.v1"
    summary: ClassVar[str] = (
        "A number was pre-selected and confirmed by SMS; register within 3 working days (PP-08)."
    )

    selection_id: str
    office_code: str
    plate_number: str
    vin: str
    owner: Owner
    phone: str
    account_id: str
    # PP-08: the pre-selection certificate's number (预选号凭证编号, `domain.voucher_number`), which the
    # success SMS names and the counter finds the selection by; not the vehicle's 合格证 number.
    certificate_number: str
    confirmed_at: datetime
    register_by: datetime

    def subject(self) -> str:
        return self.selection_id

    @classmethod
    def of_selection(
        cls, row: Any, *, plate_number: str, confirmed_at: datetime, register_by: datetime
    ) -> SelectionConfirmed:
        """From a `selections` row: the confirmation and an appeal's restored number publish the same."""
        return cls(
            selection_id=str(row.id),
            office_code=row.office_code,
            plate_number=plate_number,
            vin=row.vin,
            owner=Owner(id_kind=row.owner_id_kind, id_number=row.owner_id_number, name=row.owner_name),
            phone=row.phone,
            account_id=row.account_id,
            certificate_number=voucher_number(row.id),
            confirmed_at=confirmed_at,
            register_by=register_by,
        )

    @classmethod
    def example(cls) -> SelectionConfirmed:
        return cls(
            selection_id="0190c9a2-6b7e-7d1a-9f3e-5c2b8a4d1e70",
            office_code="130100",
            plate_number="冀A3K7Q9",
            vin="LFV2A21K8A3043116",
            owner=Owner(id_kind="resident_id", id_number="130102199003071233", name="张三"),
            phone="13800138000",
            account_id="0190c9a2-6b7e-7d1a-9f3e-5c2b8a4d1e61",
            certificate_number="0190c9a2-6b7e-7d1a-9f3e-5c2b8a4d1e70",
            confirmed_at=_AT,
            register_by=datetime.fromisoformat("2027-03-04T23:59:59.999999+08:00"),
        )


class SelectionRegistered(Event):
    message_type: ClassVar[str] = "plate-pool.selection.registered.v1"
    summary: ClassVar[str] = "A pre-selected number was used at the car's first registration (VH-15, PP-09)."

    selection_id: str
    plate_number: str
    vin: str
    account_id: str
    registered_at: datetime

    def subject(self) -> str:
        return self.selection_id

    @classmethod
    def example(cls) -> SelectionRegistered:
        return cls(
            selection_id="0190c9a2-6b7e-7d1a-9f3e-5c2b8a4d1e70",
            plate_number="冀A3K7Q9",
            vin="LFV2A21K8A3043116",
            account_id="0190c9a2-6b7e-7d1a-9f3e-5c2b8a4d1e61",
            registered_at=_AT,
        )


class SelectionCancelled(Event):
    message_type: ClassVar[str] = "plate-pool.selection.cancelled.v1"
    summary: ClassVar[str] = "A pre-selection was cancelled, with the ban it carries if any (PP-09)."

    selection_id: str
    plate_number: str | None
    vin: str
    account_id: str
    phone: str
    reason: Literal["not_registered_in_time", "registration_mismatch", "abandoned", "appeal_decided"]
    ban_until: date | None
    cancelled_at: datetime

    def subject(self) -> str:
        return self.selection_id

    @classmethod
    def example(cls) -> SelectionCancelled:
        return cls(
            selection_id="0190c9a2-6b7e-7d1a-9f3e-5c2b8a4d1e70",
            plate_number="冀A3K7Q9",
            vin="LFV2A21K8A3043116",
            account_id="0190c9a2-6b7e-7d1a-9f3e-5c2b8a4d1e61",
            phone="13800138000",
            reason="not_registered_in_time",
            ban_until=date(2029, 3, 5),
            cancelled_at=_AT,
        )


class PoolLow(Event):
    message_type: ClassVar[str] = "plate-pool.pool.low.v1"
    summary: ClassVar[str] = "An office's available pool fell under its floor of 50,000 numbers (PP-10)."

    office_code: str
    available: int
    threshold: int
    detected_at: datetime

    def subject(self) -> str:
        return self.office_code

    @classmethod
    def example(cls) -> PoolLow:
        return cls(office_code="130100", available=49_870, threshold=50_000, detected_at=_AT)


PUBLISHED: list[type[Message]] = [
    SelectionConfirmed,
    SelectionRegistered,
    SelectionCancelled,
    PoolLow,
]
