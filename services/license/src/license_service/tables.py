"""Tables of the license database (outbox, inbox and audit_log come from servicekit)."""

from sqlalchemy import (
    CheckConstraint,
    Column,
    Date,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    SmallInteger,
    String,
    Table,
    text,
)
from sqlalchemy.dialects.postgresql import ARRAY, UUID

from servicekit.db import new_metadata

metadata = new_metadata()

# DL-01: the licence record, license's own data; other police systems issue and move it through `system`
# clients. The licence number is the holder's identity number, so URLs, event subjects and logs name the
# record by `id` instead. `state` follows domain.RECORD_MOVES;
# `points` is the current scoring cycle's total (DL-12). `version` grows with every change, so consumers
# of the record's events can drop one that arrives after a newer one.
licence_records = Table(
    "licence_records",
    metadata,
    Column("id", UUID(as_uuid=True), primary_key=True),
    Column("number", String(18), nullable=False, unique=True),
    Column("file_number", String(12)),  # 档案编号
    Column("name", String(100), nullable=False),
    Column("birth_date", Date, nullable=False),
    Column("classes", ARRAY(String(2)), nullable=False),
    Column("first_issue", Date, nullable=False),
    Column("valid_from", Date, nullable=False),
    Column("valid_until", Date, nullable=False),
    Column("review_due", Date),  # 审验日期
    Column("medical_due", Date),  # 提交身体条件证明日期
    Column("photo_document_id", String(64)),  # DL-05, from identity's approval
    Column("photo_valid_until", Date),
    Column("state", String(16), nullable=False),
    Column("points", Integer, nullable=False, server_default=text("0")),
    # DL-12: the day `points` must be computed again (its cycle's end), for the roll-over sweep; NULL when
    # no counted entry is in the current cycle or a later one, so a licence without points is never swept.
    Column("points_review_on", Date),
    Column("phone", String(11)),
    # When the phone last changed (ID-06's `changed_at` or a record update): a late, older change is not
    # applied over a newer one.
    Column("phone_changed_at", DateTime(timezone=True)),
    Column("office_code", String(6), nullable=False),
    Column("created_at", DateTime(timezone=True), nullable=False),
    Column("updated_at", DateTime(timezone=True), nullable=False),
    Column("version", Integer, nullable=False, server_default=text("1")),
    CheckConstraint("state IN ('valid', 'full_points', 'suspended', 'revoked', 'cancelled')", name="state"),
    CheckConstraint("points >= 0", name="points"),
    Index("ix_licence_records_valid_until", "valid_until"),
    Index("ix_licence_records_points_review_on", "points_review_on"),
)

# DL-12: one row per penalty decision (处罚决定书) with points, from violation's
# `violation.decision.issued.v1`; `decision_id` is unique, so a decision published or delivered twice
# counts once. `record_id` is NULL while no record has the driver's number: the entry waits and is
# attached when the record is issued (points.adopt_waiting). A revoked decision (撤销, from
# `violation.decision.revoked.v1`) keeps its row with `revoked_at`, and a revocation that arrives first
# leaves that row for the decision to find. `cleared_at`: the full-points study and exam cleared it.
point_entries = Table(
    "point_entries",
    metadata,
    Column("id", UUID(as_uuid=True), primary_key=True),
    Column("decision_id", String(64), nullable=False, unique=True),
    Column("decision_number", String(64)),  # 处罚决定书编号
    Column("violation_id", String(64), nullable=False),
    Column("number", String(32), nullable=False),  # the handling driver's identity (= licence) number
    Column("record_id", UUID(as_uuid=True), ForeignKey("licence_records.id")),
    Column("plate_number", String(16)),
    Column("violation_code", String(16), nullable=False),
    Column("violated_at", DateTime(timezone=True), nullable=False),
    Column("place", String(200)),
    Column("points", SmallInteger, nullable=False),
    Column("fine_fen", Integer, nullable=False),
    Column("decided_at", DateTime(timezone=True), nullable=False),
    Column("received_at", DateTime(timezone=True), nullable=False),
    Column("revoked_at", DateTime(timezone=True)),
    Column("revoke_ground", String(32)),
    Column("cleared_at", DateTime(timezone=True)),
    CheckConstraint("points BETWEEN 1 AND 12", name="points"),
    CheckConstraint("fine_fen >= 0", name="fine_fen"),
    Index("ix_point_entries_record_id_decided_at", "record_id", "decided_at"),
    Index("ix_point_entries_waiting_number", "number", postgresql_where=text("record_id IS NULL")),
)
