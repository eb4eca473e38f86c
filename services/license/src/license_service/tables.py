"""Tables of the license database (outbox, inbox and audit_log come from servicekit)."""

from sqlalchemy import CheckConstraint, Column, Date, DateTime, Index, Integer, String, Table, text
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
)
