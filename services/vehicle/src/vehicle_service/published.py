"""The messages the vehicle service owns (EV-01, VH-16).

The first seven are fixed by docs/adr/0003-cross-service-events.md (identity, plate-pool and license read
them); the others are this service's own state changes for other police systems and notify. Every event's
`subject` is the id of its aggregate, never an identity number or a phone.
"""

from __future__ import annotations

from datetime import date, datetime
from typing import ClassVar, Literal

from pydantic import BaseModel, ConfigDict

from servicekit.clock import SHANGHAI
from servicekit.messages import Event, Message
from servicekit.vocabulary import IdKind

_AT = datetime(2027, 3, 1, 9, 30, tzinfo=SHANGHAI)
_VEHICLE_ID = "0190c9a2-6b7e-7d1a-9f3e-5c2b8a4d1e70"
_IDN = "130102199003071233"


class OwnerRef(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    id_kind: IdKind  # the platform's one vocabulary (servicekit.vocabulary, ADR 0045)
    id_number: str
    name: str


_OWNER = OwnerRef(id_kind="resident_id", id_number=_IDN, name="张三")


class VehicleRegistered(Event):
    message_type: ClassVar[str] = "vehicle.vehicle.registered.v1"
    summary: ClassVar[str] = (
        "A new vehicle was registered at the counter (VH-15). With a `selection_id`, the counter found it "
        "as pre-selected (PP-09, decided here once): plate-pool settles the selection (ADR 0045)."
    )
    vehicle_id: str
    office_code: str
    plate_number: str
    plate_kind: str
    vin: str
    owner: OwnerRef
    phone: str
    use: Literal["commercial", "non_commercial"]
    selection_id: str | None
    registered_at: datetime

    def subject(self) -> str:
        return self.vehicle_id

    @classmethod
    def example(cls) -> VehicleRegistered:
        return cls(
            vehicle_id=_VEHICLE_ID,
            office_code="130100",
            plate_number="冀A12345",
            plate_kind="02",
            vin="LSVAU218XN2183294",
            owner=_OWNER,
            phone="13800138000",
            use="non_commercial",
            selection_id="0190c9a2-6b7e-7d1a-9f3e-5c2b8a4d1e71",
            registered_at=_AT,
        )


class VehicleImported(Event):
    message_type: ClassVar[str] = "vehicle.vehicle.imported.v1"
    summary: ClassVar[str] = (
        "An existing vehicle record was brought onto the platform by an office's bulk import (VH-01); "
        "identity's owner projection (ID-03) reads it like a registration."
    )
    vehicle_id: str
    office_code: str
    plate_number: str
    plate_kind: str
    vin: str
    owner: OwnerRef
    phone: str
    use: Literal["commercial", "non_commercial"]
    state: str
    flags: list[str]
    imported_at: datetime

    def subject(self) -> str:
        return self.vehicle_id

    @classmethod
    def example(cls) -> VehicleImported:
        return cls(
            vehicle_id=_VEHICLE_ID,
            office_code="130100",
            plate_number="冀A12345",
            plate_kind="02",
            vin="LSVAU218XN2183294",
            owner=_OWNER,
            phone="13800138000",
            use="non_commercial",
            state="registered",
            flags=[],
            imported_at=_AT,
        )


class VehicleTransferred(Event):
    message_type: ClassVar[str] = "vehicle.vehicle.transferred.v1"
    summary: ClassVar[str] = "A vehicle changed owner (VH-16); identity unbinds it from other users (ID-14)."
    vehicle_id: str
    plate_number: str
    vin: str
    previous_owner_id_number: str
    owner: OwnerRef
    phone: str
    transferred_at: datetime

    def subject(self) -> str:
        return self.vehicle_id

    @classmethod
    def example(cls) -> VehicleTransferred:
        return cls(
            vehicle_id=_VEHICLE_ID,
            plate_number="冀A12345",
            vin="LSVAU218XN2183294",
            previous_owner_id_number=_IDN,
            owner=OwnerRef(id_kind="resident_id", id_number="130102198805061238", name="李四"),
            phone="13900139000",
            transferred_at=_AT,
        )


class VehicleDeregistered(Event):
    message_type: ClassVar[str] = "vehicle.vehicle.deregistered.v1"
    summary: ClassVar[str] = "A vehicle was deregistered (VH-16); identity unbinds it (ID-14)."
    vehicle_id: str
    plate_number: str
    vin: str
    owner_id_number: str
    deregistered_at: datetime

    def subject(self) -> str:
        return self.vehicle_id

    @classmethod
    def example(cls) -> VehicleDeregistered:
        return cls(
            vehicle_id=_VEHICLE_ID,
            plate_number="冀A12345",
            vin="LSVAU218XN2183294",
            owner_id_number=_IDN,
            deregistered_at=_AT,
        )


class VehicleUseChanged(Event):
    message_type: ClassVar[str] = "vehicle.vehicle.use_changed.v1"
    summary: ClassVar[str] = (
        "A vehicle's use changed (VH-16); commercial to non-commercial unbinds it from others (ID-14)."
    )
    vehicle_id: str
    plate_number: str
    owner_id_number: str
    from_use: Literal["commercial", "non_commercial"]
    to_use: Literal["commercial", "non_commercial"]
    changed_at: datetime

    def subject(self) -> str:
        return self.vehicle_id

    @classmethod
    def example(cls) -> VehicleUseChanged:
        return cls(
            vehicle_id=_VEHICLE_ID,
            plate_number="冀A12345",
            owner_id_number=_IDN,
            from_use="commercial",
            to_use="non_commercial",
            changed_at=_AT,
        )


class VehicleContactChanged(Event):
    message_type: ClassVar[str] = "vehicle.vehicle.contact_changed.v1"
    summary: ClassVar[str] = "The owner's phone on a vehicle record changed (VH-11, ID-06); read by ID-03."
    vehicle_id: str
    plate_number: str
    owner_id_number: str
    phone: str
    changed_at: datetime

    def subject(self) -> str:
        return self.vehicle_id

    @classmethod
    def example(cls) -> VehicleContactChanged:
        return cls(
            vehicle_id=_VEHICLE_ID,
            plate_number="冀A12345",
            owner_id_number=_IDN,
            phone="13900139000",
            changed_at=_AT,
        )


class VehicleStateChanged(Event):
    message_type: ClassVar[str] = "vehicle.vehicle.state_changed.v1"
    summary: ClassVar[str] = (
        "A vehicle's police markers or lifecycle state changed (VH-01, VH-03): stolen, suspended, locked, ..."
    )
    vehicle_id: str
    plate_number: str
    owner_id_number: str
    state: str
    flags: list[str]
    changed_at: datetime

    def subject(self) -> str:
        return self.vehicle_id

    @classmethod
    def example(cls) -> VehicleStateChanged:
        return cls(
            vehicle_id=_VEHICLE_ID,
            plate_number="冀A12345",
            owner_id_number=_IDN,
            state="registered",
            flags=["locked"],
            changed_at=_AT,
        )


class VehicleValidityChanged(Event):
    message_type: ClassVar[str] = "vehicle.vehicle.validity_changed.v1"
    summary: ClassVar[str] = "A vehicle's inspection or compulsory-insurance valid-until changed (VH-01)."
    vehicle_id: str
    plate_number: str
    owner_id_number: str
    inspection_valid_until: date | None
    insurance_valid_until: date | None
    changed_at: datetime

    def subject(self) -> str:
        return self.vehicle_id

    @classmethod
    def example(cls) -> VehicleValidityChanged:
        return cls(
            vehicle_id=_VEHICLE_ID,
            plate_number="冀A12345",
            owner_id_number=_IDN,
            inspection_valid_until=date(2029, 3, 31),
            insurance_valid_until=date(2028, 2, 28),
            changed_at=_AT,
        )


class RegistrationRefused(Event):
    message_type: ClassVar[str] = "vehicle.registration.refused.v1"
    summary: ClassVar[str] = (
        "The counter refused a first registration because it differs from the pre-selection (PP-09); "
        "plate-pool may cancel the selection as registration_mismatch (ADR 0040)."
    )
    selection_id: str
    office_code: str
    vin: str
    mismatched: list[str]
    refused_at: datetime

    def subject(self) -> str:
        return self.selection_id

    @classmethod
    def example(cls) -> RegistrationRefused:
        return cls(
            selection_id="0190c9a2-6b7e-7d1a-9f3e-5c2b8a4d1e71",
            office_code="130100",
            vin="LSVAU218XN2183294",
            mismatched=["phone"],
            refused_at=_AT,
        )


class InspectionBooked(Event):
    message_type: ClassVar[str] = "vehicle.inspection_booking.booked.v1"
    summary: ClassVar[str] = "An inspection appointment was made (VH-13); notify tells the holder (NT-01)."
    booking_id: str
    vehicle_id: str
    plate_number: str
    station_id: str
    station_name: str
    starts_at: datetime
    phone: str
    booked_at: datetime
    # Added in v1 (optional): the holder's platform account, so that notify keeps the message in its inbox.
    account_id: str | None = None

    def subject(self) -> str:
        return self.booking_id

    @classmethod
    def example(cls) -> InspectionBooked:
        return cls(
            booking_id="0190c9a2-6b7e-7d1a-9f3e-5c2b8a4d1e72",
            vehicle_id=_VEHICLE_ID,
            plate_number="冀A12345",
            station_id="0190c9a2-6b7e-7d1a-9f3e-5c2b8a4d1e73",
            station_name="石家庄市第一机动车检测站",
            starts_at=datetime(2027, 3, 8, 9, 0, tzinfo=SHANGHAI),
            phone="13800138000",
            booked_at=_AT,
            account_id="0190c9a2-6b7e-7d1a-9f3e-5c2b8a4d1e61",
        )


class InspectionCancelled(Event):
    message_type: ClassVar[str] = "vehicle.inspection_booking.cancelled.v1"
    summary: ClassVar[str] = (
        "An inspection appointment was cancelled by its holder (VH-13) or because its station suspended "
        "or stopped service (VH-14); notify tells the holder (NT-01)."
    )
    booking_id: str
    vehicle_id: str
    plate_number: str
    station_id: str
    station_name: str
    starts_at: datetime
    phone: str
    by: Literal["holder", "station"]
    reason: str | None
    cancelled_at: datetime
    # Added in v1 (optional): the holder's platform account, so that notify keeps the message in its inbox.
    account_id: str | None = None

    def subject(self) -> str:
        return self.booking_id

    @classmethod
    def example(cls) -> InspectionCancelled:
        return cls(
            booking_id="0190c9a2-6b7e-7d1a-9f3e-5c2b8a4d1e72",
            vehicle_id=_VEHICLE_ID,
            plate_number="冀A12345",
            station_id="0190c9a2-6b7e-7d1a-9f3e-5c2b8a4d1e73",
            station_name="石家庄市第一机动车检测站",
            starts_at=datetime(2027, 3, 8, 9, 0, tzinfo=SHANGHAI),
            phone="13800138000",
            by="station",
            reason="设备故障",
            cancelled_at=_AT,
            account_id="0190c9a2-6b7e-7d1a-9f3e-5c2b8a4d1e61",
        )


class StationStateChanged(Event):
    message_type: ClassVar[str] = "vehicle.inspection_station.state_changed.v1"
    summary: ClassVar[str] = (
        "An inspection station suspended, stopped or resumed taking appointments (VH-14), published."
    )
    station_id: str
    name: str
    city_code: str
    state: Literal["open", "suspended", "closed"]
    reason: str | None
    affected_bookings: int
    changed_at: datetime

    def subject(self) -> str:
        return self.station_id

    @classmethod
    def example(cls) -> StationStateChanged:
        return cls(
            station_id="0190c9a2-6b7e-7d1a-9f3e-5c2b8a4d1e73",
            name="石家庄市第一机动车检测站",
            city_code="130100",
            state="suspended",
            reason="设备故障",
            affected_bookings=12,
            changed_at=_AT,
        )


class InspectionPlanPublished(Event):
    message_type: ClassVar[str] = "vehicle.inspection_plan.published.v1"
    summary: ClassVar[str] = "The province published a station's inspection plan (VH-14)."
    plan_id: str
    station_id: str
    station_name: str
    city_code: str
    first_day: date
    last_day: date
    other_cities: bool
    slots: int
    capacity: int
    published_at: datetime

    def subject(self) -> str:
        return self.plan_id

    @classmethod
    def example(cls) -> InspectionPlanPublished:
        return cls(
            plan_id="0190c9a2-6b7e-7d1a-9f3e-5c2b8a4d1e74",
            station_id="0190c9a2-6b7e-7d1a-9f3e-5c2b8a4d1e73",
            station_name="石家庄市第一机动车检测站",
            city_code="130100",
            first_day=date(2027, 3, 8),
            last_day=date(2027, 4, 7),
            other_cities=True,
            slots=240,
            capacity=4800,
            published_at=_AT,
        )


class ApplicationStateChanged(Event):
    message_type: ClassVar[str] = "vehicle.application.state_changed.v1"
    summary: ClassVar[str] = (
        "A plate, vehicle licence or inspection mark reissue/replacement moved on (VH-02..VH-10): "
        "submitted, accepted, rejected, produced, mailed, ready, delivered, picked_up, refused, "
        "not_collected, withdrawn; notify tells the applicant (NT-01)."
    )
    application_id: str
    vehicle_id: str
    plate_number: str
    item: Literal["plate", "licence", "mark"]
    application_kind: Literal["reissue", "replace"]
    delivery: Literal["mail", "pickup"]
    state: str
    phone: str
    tracking_number: str | None
    reason: str | None
    changed_at: datetime
    # When `ready`: the end of the one-month pickup window (VH-07), as vehicle computes it.
    pickup_due: datetime | None = None
    # Added in v1 (optional): the applicant's platform account, so that notify keeps the message in its inbox.
    account_id: str | None = None

    def subject(self) -> str:
        return self.application_id

    @classmethod
    def example(cls) -> ApplicationStateChanged:
        return cls(
            application_id="0190c9a2-6b7e-7d1a-9f3e-5c2b8a4d1e75",
            vehicle_id=_VEHICLE_ID,
            plate_number="冀A12345",
            item="plate",
            application_kind="reissue",
            delivery="mail",
            state="mailed",
            phone="13800138000",
            tracking_number="EMS1234567890",
            reason=None,
            changed_at=_AT,
            account_id="0190c9a2-6b7e-7d1a-9f3e-5c2b8a4d1e61",
        )


class DeliveryBanImposed(Event):
    message_type: ClassVar[str] = "vehicle.delivery_ban.imposed.v1"
    summary: ClassVar[str] = (
        "Delivery refused or not collected within a month: no online reissue/replace of plates, vehicle "
        "licence, inspection mark or driving licence for a year (VH-07; license applies it by DL-02/03; "
        "notify tells the phone, NT-01)."
    )
    id_kind: IdKind
    id_number: str
    until: date
    reason: Literal["refused", "not_collected"]
    case_id: str
    imposed_at: datetime
    # Added for NT-01 (optional, so not breaking): the case's phone (the registered one unless the
    # applicant gave another) and the item whose delivery failed; notify tells the ban to that phone.
    phone: str | None = None
    item: Literal["plate", "licence", "mark"] | None = None

    def subject(self) -> str:
        return self.case_id

    @classmethod
    def example(cls) -> DeliveryBanImposed:
        return cls(
            id_kind="resident_id",
            id_number=_IDN,
            until=date(2028, 2, 29),
            reason="refused",
            case_id="0190c9a2-6b7e-7d1a-9f3e-5c2b8a4d1e75",
            imposed_at=_AT,
            phone="13800138000",
            item="plate",
        )


class DealerStateChanged(Event):
    message_type: ClassVar[str] = "vehicle.temp_plate_dealer.state_changed.v1"
    summary: ClassVar[str] = (
        "A car dealer's temporary-plate qualification was granted, renewed, suspended or cancelled (VH-12)."
    )
    dealer_id: str
    uscc: str
    name: str
    state: Literal["active", "suspended", "cancelled"]
    change: Literal["qualified", "renewed", "suspended", "reinstated", "cancelled"]
    reason: str | None
    valid_until: date
    changed_at: datetime

    def subject(self) -> str:
        return self.dealer_id

    @classmethod
    def example(cls) -> DealerStateChanged:
        return cls(
            dealer_id="0190c9a2-6b7e-7d1a-9f3e-5c2b8a4d1e76",
            uscc="91130100MA0CB7YW10",
            name="石家庄某某汽车销售服务有限公司",
            state="cancelled",
            change="cancelled",
            reason="review_missed",
            valid_until=date(2028, 2, 29),
            changed_at=_AT,
        )


class TempPlateIssued(Event):
    message_type: ClassVar[str] = "vehicle.temp_plate.issued.v1"
    summary: ClassVar[str] = (
        "A dealer issued a temporary plate for a new car within its authorisation (VH-12)."
    )
    temp_plate_id: str
    dealer_id: str
    number: str
    vin: str
    brand: str
    model: str
    owner: OwnerRef
    valid_until: date
    issued_at: datetime

    def subject(self) -> str:
        return self.temp_plate_id

    @classmethod
    def example(cls) -> TempPlateIssued:
        return cls(
            temp_plate_id="0190c9a2-6b7e-7d1a-9f3e-5c2b8a4d1e77",
            dealer_id="0190c9a2-6b7e-7d1a-9f3e-5c2b8a4d1e76",
            number="冀A·T12345",
            vin="LSVAU218XN2183294",
            brand="大众",
            model="朗逸",
            owner=_OWNER,
            valid_until=date(2027, 3, 15),
            issued_at=_AT,
        )


PUBLISHED: list[type[Message]] = [
    VehicleRegistered,
    VehicleImported,
    VehicleTransferred,
    VehicleDeregistered,
    VehicleUseChanged,
    VehicleContactChanged,
    VehicleStateChanged,
    VehicleValidityChanged,
    RegistrationRefused,
    InspectionBooked,
    InspectionCancelled,
    StationStateChanged,
    InspectionPlanPublished,
    ApplicationStateChanged,
    DeliveryBanImposed,
    DealerStateChanged,
    TempPlateIssued,
]
