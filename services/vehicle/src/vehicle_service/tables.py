"""Tables of the vehicle database (outbox, inbox and audit_log come from servicekit)."""

from sqlalchemy import (
    Boolean,
    CheckConstraint,
    Column,
    Date,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    String,
    Table,
    Text,
    UniqueConstraint,
    text,
)
from sqlalchemy.dialects.postgresql import ARRAY, JSONB, UUID

from servicekit.crypto import normalise_id_number, sealed
from servicekit.db import add_document_tables, add_workday_tables, new_metadata

metadata = new_metadata()
# VH-09's intake due date counts working days: a copy of identity's office calendar (WD-01, ADR 0004).
add_workday_tables(metadata)
add_document_tables(metadata)  # a mark's insurance certificate, stored with its application (AR-01)

# ADR 0096: identity numbers, names, phones and addresses are stored sealed (SM4-GCM, servicekit.crypto);
# those a query looks up have a blind index beside them (`<column>_bidx`, HMAC-SM3), compared through
# `blind_match`. Plates, VINs and ids stay in clear: they name a vehicle or a case, not a person.

# VH-01: the vehicle record. `state` is the lifecycle (registered, transferred_out, deregistered,
# force_deregistered); `flags` the police markers that may stack (stolen, suspended, suspect, detained,
# seized, hit_and_run, locked). `version` grows with every change, so consumers can order events.
vehicles = Table(
    "vehicles",
    metadata,
    Column("id", UUID(as_uuid=True), primary_key=True),
    Column("office_code", String(6), nullable=False),
    Column("plate_kind", String(2), nullable=False),
    Column("plate_number", String(10), nullable=False),
    Column("vin", String(17), nullable=False, unique=True),
    Column("vehicle_kind", String(32), nullable=False, server_default=text("'small_car'")),
    Column("owner_id_kind", String(20), nullable=False),
    *sealed("vehicles", "owner_id_number", blind=normalise_id_number, nullable=False),
    *sealed("vehicles", "owner_name", nullable=False),
    *sealed("vehicles", "phone", nullable=False),
    # When the phone last changed (VH-11 here, or ID-06's `changed_at`): an older change arriving late
    # (the broker does not order messages) is not applied over a newer one.
    Column("phone_changed_at", DateTime(timezone=True)),
    Column("use", String(20), nullable=False),
    Column("state", String(24), nullable=False),
    Column("flags", ARRAY(String(24)), nullable=False, server_default=text("'{}'")),
    Column("inspection_valid_until", Date),
    Column("insurance_valid_until", Date),
    Column("licence_photo_stored", Boolean, nullable=False, server_default=text("false")),
    Column("plate_reissue_count", Integer, nullable=False, server_default=text("0")),
    Column("selection_id", String(64)),
    Column("registered_at", DateTime(timezone=True), nullable=False),
    Column("updated_at", DateTime(timezone=True), nullable=False),
    Column("version", Integer, nullable=False, server_default=text("1")),
    UniqueConstraint("plate_kind", "plate_number", name="uq_vehicles_plate"),
    CheckConstraint("use IN ('commercial', 'non_commercial')", name="use"),
)

# A projection of plate-pool's confirmed pre-selections (PP-08), so the counter checks PP-09 locally.
# Confirmations and cancellations arrive on separate queues, in any order: a cancellation that comes
# first leaves a row with only its state (the details stay empty), which a late confirmation never revives.
preselections = Table(
    "preselections",
    metadata,
    Column("selection_id", String(64), primary_key=True),
    Column("office_code", String(6)),
    Column("plate_number", String(10)),
    Column("vin", String(17)),
    Column("owner_id_kind", String(20)),
    *sealed("preselections", "owner_id_number", blind=normalise_id_number),  # a data export finds it
    *sealed("preselections", "owner_name"),
    *sealed("preselections", "phone"),
    Column("register_by", DateTime(timezone=True)),
    Column("state", String(16), nullable=False),  # confirmed | registered | cancelled
    Column("updated_at", DateTime(timezone=True), nullable=False),
)

# VH-13 / ADR 0044: identity's vehicle bindings as its events tell them; a booking needs a live one. An
# end arriving before its start leaves a row with `ended_at` and no `bound_at`, never a live binding.
vehicle_bindings = Table(
    "vehicle_bindings",
    metadata,
    Column("binding_id", String(64), primary_key=True),
    Column("account_id", String(64), nullable=False),  # the `sub` of the account's tokens
    Column("vehicle_ref", String(64), nullable=False),  # vehicles.id as text
    Column("owned", Boolean, nullable=False),
    Column("bound_at", DateTime(timezone=True)),
    Column("ended_at", DateTime(timezone=True)),
    Column("updated_at", DateTime(timezone=True), nullable=False),
    Index("ix_vehicle_bindings_vehicle_account", "vehicle_ref", "account_id"),
)

# VH-14: inspection stations and the plans their city files with the province.
inspection_stations = Table(
    "inspection_stations",
    metadata,
    Column("id", UUID(as_uuid=True), primary_key=True),
    Column("name", String(200), nullable=False),
    Column("address", String(300), nullable=False),
    Column("city_code", String(6), nullable=False),
    Column("vehicle_kinds", ARRAY(String(32)), nullable=False),
    Column("max_axle_load_kg", Integer),
    Column("brake_kinds", ARRAY(String(32)), nullable=False, server_default=text("'{}'")),
    Column("state", String(16), nullable=False),  # open | suspended | closed
    Column("state_reason", Text),
    Column("created_at", DateTime(timezone=True), nullable=False),
    Column("updated_at", DateTime(timezone=True), nullable=False),
)

inspection_plans = Table(
    "inspection_plans",
    metadata,
    Column("id", UUID(as_uuid=True), primary_key=True),
    Column("station_id", UUID(as_uuid=True), ForeignKey("inspection_stations.id"), nullable=False),
    Column("first_day", Date, nullable=False),
    Column("last_day", Date, nullable=False),
    Column("times", JSONB, nullable=False),  # [{"start": "09:00", "end": "10:00", "capacity": 20}]
    Column("other_cities", Boolean, nullable=False),  # bookable from other cities of the province
    Column("state", String(16), nullable=False),  # filed | published
    Column("published_at", DateTime(timezone=True)),
    Column("created_at", DateTime(timezone=True), nullable=False),
)

inspection_slots = Table(
    "inspection_slots",
    metadata,
    Column("id", UUID(as_uuid=True), primary_key=True),
    Column("station_id", UUID(as_uuid=True), ForeignKey("inspection_stations.id"), nullable=False),
    Column("plan_id", UUID(as_uuid=True), ForeignKey("inspection_plans.id"), nullable=False),
    Column("day", Date, nullable=False),
    Column("starts_at", DateTime(timezone=True), nullable=False),
    Column("ends_at", DateTime(timezone=True), nullable=False),
    Column("capacity", Integer, nullable=False),
    Column("booked", Integer, nullable=False, server_default=text("0")),
    Column("other_cities", Boolean, nullable=False),
    # The database itself refuses an overbooking, whatever the code above it does (VH-14).
    CheckConstraint("booked >= 0 AND booked <= capacity", name="capacity"),
    UniqueConstraint("station_id", "starts_at", name="uq_inspection_slots_station_start"),
    Index("ix_inspection_slots_station_day", "station_id", "day"),
)

inspection_bookings = Table(
    "inspection_bookings",
    metadata,
    Column("id", UUID(as_uuid=True), primary_key=True),
    Column("slot_id", UUID(as_uuid=True), ForeignKey("inspection_slots.id"), nullable=False),
    Column("station_id", UUID(as_uuid=True), ForeignKey("inspection_stations.id"), nullable=False),
    Column("vehicle_id", UUID(as_uuid=True), ForeignKey("vehicles.id"), nullable=False),
    *sealed("inspection_bookings", "holder_id_number", blind=normalise_id_number, nullable=False),
    Column("holder_subject", String(100), nullable=False),
    *sealed("inspection_bookings", "phone", nullable=False),
    Column("state", String(24), nullable=False),  # booked | cancelled | cancelled_by_station
    Column("created_at", DateTime(timezone=True), nullable=False),
    Column("updated_at", DateTime(timezone=True), nullable=False),
    # One live booking per vehicle.
    Index(
        "uq_inspection_bookings_vehicle_live",
        "vehicle_id",
        unique=True,
        postgresql_where=text("state = 'booked'"),
    ),
    Index("ix_inspection_bookings_slot", "slot_id"),
)

# VH-02..VH-10: reissue and replacement applications and their office workflow.
applications = Table(
    "applications",
    metadata,
    Column("id", UUID(as_uuid=True), primary_key=True),
    Column("vehicle_id", UUID(as_uuid=True), ForeignKey("vehicles.id"), nullable=False),
    Column("office_code", String(6), nullable=False),
    *sealed("applications", "applicant_id_number", blind=normalise_id_number, nullable=False),
    Column("applicant_subject", String(100), nullable=False),
    Column("item", String(16), nullable=False),  # plate | licence | mark
    Column("kind", String(16), nullable=False),  # reissue (lost) | replace (damaged)
    Column("delivery", String(16), nullable=False),  # mail | pickup
    *sealed("applications", "address"),
    *sealed("applications", "phone", nullable=False),
    Column("temp_plate", Boolean, nullable=False, server_default=text("false")),
    Column("insurance_photo_ref", String(200)),  # before AR-01: a reference the client gave, kept as it was
    # VH-09 / AR-01: a mark's insurance certificate, stored with the application (case application:<id>)
    Column("insurance_photo_id", UUID(as_uuid=True), ForeignKey("documents.id")),
    Column("state", String(24), nullable=False),
    Column("intake_due", DateTime(timezone=True)),  # VH-09: from its submission; a draft has none
    Column("ready_at", DateTime(timezone=True)),
    Column("pickup_due", DateTime(timezone=True)),
    Column("tracking_number", String(64)),
    Column("archived", Boolean, nullable=False, server_default=text("false")),
    Column("returned_item_destroyed", Boolean, nullable=False, server_default=text("false")),
    # VH-06: the damaged plate or licence was handed over (to the postman or the counter).
    Column("returned_item_received", Boolean, nullable=False, server_default=text("false")),
    # VH-10: after a refusal or missed pickup, an archived case has its certificate core number restored.
    Column("core_number_restored", Boolean, nullable=False, server_default=text("false")),
    Column("decided_by", String(100)),
    Column("refusal_reason", Text),
    Column("created_at", DateTime(timezone=True), nullable=False),
    Column("updated_at", DateTime(timezone=True), nullable=False),
    Index("ix_applications_state_office", "state", "office_code"),
    # VH-02: one open case per vehicle and item (the vehicle's row lock serialises it; migration 0009).
    Index(
        "uq_applications_vehicle_item_open",
        "vehicle_id",
        "item",
        unique=True,
        postgresql_where=text("state IN ('submitted', 'accepted', 'produced', 'mailed', 'ready')"),
    ),
)

# VH-07: one-year bans on online reissue/replace after a refused delivery or a missed pickup.
delivery_bans = Table(
    "delivery_bans",
    metadata,
    Column("id", UUID(as_uuid=True), primary_key=True),
    Column("id_kind", String(20), nullable=False),
    *sealed("delivery_bans", "id_number", blind=normalise_id_number, nullable=False),
    Column("until", Date, nullable=False),
    Column("reason", String(20), nullable=False),
    Column("case_id", String(64), nullable=False, unique=True),
    Column("imposed_at", DateTime(timezone=True), nullable=False),
)

# VH-12: car dealers delegated to issue temporary plates, the blanks they collect, the plates they issue.
temp_plate_dealers = Table(
    "temp_plate_dealers",
    metadata,
    Column("id", UUID(as_uuid=True), primary_key=True),
    Column("account_subject", String(100), nullable=False),  # the dealer's unit account (token subject)
    Column("office_code", String(6), nullable=False),
    Column("uscc", String(18), nullable=False),
    Column("name", String(200), nullable=False),
    *sealed("temp_plate_dealers", "legal_rep_name", nullable=False),
    *sealed("temp_plate_dealers", "legal_rep_phone", nullable=False),
    Column("authorised", ARRAY(String(100)), nullable=False),  # "品牌" or "品牌/型号"
    Column("documents", JSONB, nullable=False),
    Column("quota", Integer, nullable=False),
    Column("state", String(16), nullable=False),  # active | suspended | cancelled
    Column("valid_from", Date, nullable=False),
    Column("valid_until", Date, nullable=False),
    Column("mismatch_count", Integer, nullable=False, server_default=text("0")),
    Column("damaged_count", Integer, nullable=False, server_default=text("0")),
    Column("damaged_outstanding", Integer, nullable=False, server_default=text("0")),
    Column("state_reason", Text),
    Column("cancelled_at", DateTime(timezone=True)),
    Column("created_at", DateTime(timezone=True), nullable=False),
    Column("updated_at", DateTime(timezone=True), nullable=False),
    Index("ix_temp_plate_dealers_uscc", "uscc"),
    # VH-12: one live qualification per unit, also when two reviews of it race (migration 0009).
    Index(
        "uq_temp_plate_dealers_uscc_live",
        "uscc",
        unique=True,
        postgresql_where=text("state IN ('active', 'suspended')"),
    ),
    Index("ix_temp_plate_dealers_account", "account_subject"),
)

temp_plate_collections = Table(
    "temp_plate_collections",
    metadata,
    Column("id", UUID(as_uuid=True), primary_key=True),
    Column("dealer_id", UUID(as_uuid=True), ForeignKey("temp_plate_dealers.id"), nullable=False),
    Column("quantity", Integer, nullable=False),
    Column("damaged_returned", Integer, nullable=False),
    Column("check_state", String(16), nullable=False),  # passed | pending | failed
    Column("recalled", Integer, nullable=False, server_default=text("0")),
    Column("collected_at", DateTime(timezone=True), nullable=False),
    Column("checked_at", DateTime(timezone=True)),
    CheckConstraint("quantity > 0 AND damaged_returned >= 0", name="quantities"),
)

temp_plates = Table(
    "temp_plates",
    metadata,
    Column("id", UUID(as_uuid=True), primary_key=True),
    Column("dealer_id", UUID(as_uuid=True), ForeignKey("temp_plate_dealers.id"), nullable=False),
    Column("number", String(16), nullable=False, unique=True),
    Column("vin", String(17), nullable=False),
    Column("brand", String(60), nullable=False),
    Column("model", String(60), nullable=False),
    Column("owner_id_kind", String(20), nullable=False),
    *sealed("temp_plates", "owner_id_number", blind=normalise_id_number, nullable=False),
    *sealed("temp_plates", "owner_name", nullable=False),
    *sealed("temp_plates", "phone", nullable=False),
    Column("issued_at", DateTime(timezone=True), nullable=False),
    Column("valid_until", Date, nullable=False),
    Column("state", String(16), nullable=False),  # issued | registered | mismatch
    Index("ix_temp_plates_vin", "vin"),
)
