"""Tables of the plate-pool database (outbox, inbox and audit_log come from servicekit).

The durable side of PP-12: selections, the allocation ledger (a partial UNIQUE index makes a double
allocation impossible even if the hot state in Redis were wrong), segments, office settings, bans, appeals
and the append-only fairness log (PP-13; a trigger refuses UPDATE and DELETE).
"""

from sqlalchemy import (
    BigInteger,
    Boolean,
    CheckConstraint,
    Column,
    Date,
    DateTime,
    Index,
    Integer,
    LargeBinary,
    String,
    Table,
    Text,
    text,
)
from sqlalchemy.dialects.postgresql import JSONB, UUID

from plate_pool_service.domain import OPEN_STATES, State
from servicekit.crypto import normalise_id_number, normalise_phone, sealed
from servicekit.db import add_workday_tables, new_metadata

metadata = new_metadata()
# PP-08's register-by counts working days: a copy of identity's office calendar (WD-01, ADR 0004).
add_workday_tables(metadata)

# PP-06a: each office's counts and windows; a missing row means the seed's values (domain.SEED_SETTINGS).
office_settings = Table(
    "office_settings",
    metadata,
    Column("office_code", String(12), primary_key=True),
    Column("superior_office_code", String(12)),
    Column("name", String(100), nullable=False, server_default=""),
    Column("settings", JSONB, nullable=False),
    Column("updated_at", DateTime(timezone=True), nullable=False),
)

SEGMENT_STATES = ("planned", "approved", "published", "closed")

# PP-10: a segment of numbers, its custom patterns, its opening time and its approval trail.
segments = Table(
    "segments",
    metadata,
    Column("id", String(40), primary_key=True),
    Column("office_code", String(12), nullable=False),
    Column("prefix", String(4), nullable=False),
    Column("pattern", String(5), nullable=False),
    Column("size", Integer, nullable=False),
    Column("custom_patterns", JSONB, nullable=False),
    Column("opens_at", DateTime(timezone=True), nullable=False),
    Column("state", String(16), nullable=False),
    Column("planned_by", String(64), nullable=False),
    Column("approved_by", String(64)),
    Column("approved_at", DateTime(timezone=True)),
    Column("published_at", DateTime(timezone=True)),
    Column("pool_built_at", DateTime(timezone=True)),
    Column("created_at", DateTime(timezone=True), nullable=False),
    CheckConstraint("state IN (" + ", ".join(f"'{s}'" for s in SEGMENT_STATES) + ")", name="state"),
    Index("uq_segments_office_prefix_pattern", "office_code", "prefix", "pattern", unique=True),
)

SELECTION_STATES = tuple(State)  # domain/lifecycle.py: the lifecycle table
_OPEN = "state IN (" + ", ".join(f"'{s}'" for s in OPEN_STATES) + ")"

selections = Table(
    "selections",
    metadata,
    Column("id", UUID(as_uuid=True), primary_key=True),
    Column("account_id", String(64), nullable=False),
    Column("office_code", String(12), nullable=False),
    Column("segment_id", String(40), nullable=False),
    Column("vin", String(17), nullable=False),
    Column("vehicle_kind", String(32), nullable=False),
    Column("invoice", JSONB, nullable=False),  # number, code, date, amount_fen, photo_sha256, photo_type
    Column("invoice_photo", LargeBinary, nullable=False),
    Column("certificate_number", String(40), nullable=False),
    Column("owner_id_kind", String(32), nullable=False),
    # ADR 0095: the owner's identity number, name, phone and residence permit sealed; the number and the
    # phone found by their blind index (the quotas' unique indexes are on it). The draw never reads them.
    *sealed("selections", "owner_id_number", blind=normalise_id_number, nullable=False),
    *sealed("selections", "owner_name", nullable=False),
    *sealed("selections", "phone", blind=normalise_phone, nullable=False),
    *sealed("selections", "residence_permit", json_value=True),
    Column("state", String(20), nullable=False),
    Column("custom_left", Integer, nullable=False),
    Column("draws_left", Integer, nullable=False),
    Column("session_expires_at", DateTime(timezone=True), nullable=False),
    Column("plate_number", String(8)),
    Column("sms_deadline", DateTime(timezone=True)),
    Column("confirmed_at", DateTime(timezone=True)),
    Column("register_by", DateTime(timezone=True)),
    Column("registered_at", DateTime(timezone=True)),
    Column("cancelled_at", DateTime(timezone=True)),
    Column("cancel_reason", String(40)),
    Column("created_at", DateTime(timezone=True), nullable=False),
    Column("updated_at", DateTime(timezone=True), nullable=False),
    CheckConstraint("state IN (" + ", ".join(f"'{s}'" for s in SELECTION_STATES) + ")", name="state"),
    # PP-05/PP-06: the chances are the vehicle's, spent once: one selection per VIN, ever.
    Index("uq_selections_vin", "vin", unique=True),
    # PP-02 / PP-13 quotas: one open selection per identity number and per phone.
    Index("uq_selections_open_owner", "owner_id_number_bidx", unique=True, postgresql_where=text(_OPEN)),
    Index("uq_selections_open_phone", "phone_bidx", unique=True, postgresql_where=text(_OPEN)),
    Index("ix_selections_state_session", "state", "session_expires_at"),
    Index("ix_selections_account", "account_id", "id"),
)

# PP-12: the ledger of confirmed allocations. The partial UNIQUE index is the last word: whatever Redis
# says, no number is allocated twice in an office while an allocation of it is active.
allocations = Table(
    "allocations",
    metadata,
    Column("id", UUID(as_uuid=True), primary_key=True),
    Column("selection_id", UUID(as_uuid=True), nullable=False),
    Column("office_code", String(12), nullable=False),
    Column("segment_id", String(40), nullable=False),
    Column("number_index", Integer, nullable=False),
    Column("plate_number", String(8), nullable=False),
    Column("allocated_at", DateTime(timezone=True), nullable=False),
    Column("released_at", DateTime(timezone=True)),
    Column("release_reason", String(40)),
    Index(
        "uq_allocations_active_number",
        "office_code",
        "plate_number",
        unique=True,
        postgresql_where=text("released_at IS NULL"),
    ),
    Index(
        "uq_allocations_active_selection",
        "selection_id",
        unique=True,
        postgresql_where=text("released_at IS NULL"),
    ),
    Index("ix_allocations_segment", "segment_id", "released_at"),
)

# PP-13: every draw, verify, hold, release and confirmation; insert-only (trigger in migration 0002).
fairness_log = Table(
    "fairness_log",
    metadata,
    Column("id", BigInteger, primary_key=True, autoincrement=True),
    # the entry of its segment's Redis stream it came from (idempotent drain; ids repeat across streams)
    Column("stream_id", String(40)),
    Column("at", DateTime(timezone=True), nullable=False),  # platform clock
    Column("op", String(16), nullable=False),
    Column("selection_id", String(40)),
    Column("segment_id", String(40)),
    Column("held", JSONB, nullable=False, server_default=text("'[]'::jsonb")),
    Column("released", JSONB, nullable=False, server_default=text("'[]'::jsonb")),
    Column("detail", JSONB, nullable=False, server_default=text("'{}'::jsonb")),
    Index(
        "uq_fairness_log_segment_stream_id",
        "segment_id",
        "stream_id",
        unique=True,
        postgresql_where=text("stream_id IS NOT NULL"),
    ),
    Index("ix_fairness_log_selection", "selection_id", "id"),
)

# PP-09: no online pre-selection for 2 years; lifted only by an appeal (PP-11).
bans = Table(
    "bans",
    metadata,
    Column("id", UUID(as_uuid=True), primary_key=True),
    *sealed("bans", "owner_id_number", blind=normalise_id_number, nullable=False),
    Column("selection_id", UUID(as_uuid=True), nullable=False),
    Column("until", Date, nullable=False),
    Column("reason", String(40), nullable=False),
    Column("lifted", Boolean, nullable=False, server_default=text("false")),
    Column("created_at", DateTime(timezone=True), nullable=False),
    Index("ix_bans_owner", "owner_id_number_bidx", "until"),
)

APPEAL_STATES = ("filed", "upheld", "rejected")

# PP-11: a user's appeal of an outcome, decided by a clerk.
appeals = Table(
    "appeals",
    metadata,
    Column("id", UUID(as_uuid=True), primary_key=True),
    Column("selection_id", UUID(as_uuid=True), nullable=False),
    Column("account_id", String(64), nullable=False),
    Column("reason", Text, nullable=False),
    Column("state", String(16), nullable=False),
    Column("remedy", String(24)),
    Column("decision_note", Text),
    Column("decided_by", String(64)),
    Column("created_at", DateTime(timezone=True), nullable=False),
    Column("decided_at", DateTime(timezone=True)),
    CheckConstraint("state IN (" + ", ".join(f"'{s}'" for s in APPEAL_STATES) + ")", name="state"),
    Index("ix_appeals_selection", "selection_id"),
)
