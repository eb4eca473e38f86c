"""Tables of the license database (outbox, inbox and audit_log come from servicekit)."""

from sqlalchemy import (
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
    text,
)
from sqlalchemy.dialects.postgresql import ARRAY, JSONB, UUID

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

# DL-05 / ID-15: every licence photo identity's review post approved, as `identity.licence_photo.approved.v1`
# carried it. The record holds the newest current one; one approved before its holder's record came onto
# the platform waits here and is taken up when the record is issued.
licence_photos = Table(
    "licence_photos",
    metadata,
    Column("photo_id", String(64), primary_key=True),  # identity's photo id (its stored photo, AR-01)
    Column("number", String(18), nullable=False),
    Column("approved_at", DateTime(timezone=True), nullable=False),
    Column("valid_until", Date, nullable=False),
    Column("received_at", DateTime(timezone=True), nullable=False),
    Index("ix_licence_photos_number", "number", "approved_at"),
)

# DL-01 bulk import: an office's existing records, sent as one CSV by a `system` client and worked through
# by the worker in batches, so that progress can be read while it runs. Every line of the file is kept with
# its outcome (issued, updated, unchanged, failed with the field and the reason): nothing is lost, and the
# same file sent again issues nothing twice.
licence_imports = Table(
    "licence_imports",
    metadata,
    Column("id", UUID(as_uuid=True), primary_key=True),
    Column("office_code", String(6)),  # for lines that name none
    Column("state", String(16), nullable=False),  # running | done
    Column("submitted_by", String(64), nullable=False),
    Column("total", Integer, nullable=False),
    Column("issued", Integer, nullable=False, server_default=text("0")),
    Column("updated", Integer, nullable=False, server_default=text("0")),
    Column("unchanged", Integer, nullable=False, server_default=text("0")),
    Column("failed", Integer, nullable=False, server_default=text("0")),
    Column("created_at", DateTime(timezone=True), nullable=False),
    Column("updated_at", DateTime(timezone=True), nullable=False),
    Column("finished_at", DateTime(timezone=True)),
    CheckConstraint("state IN ('running', 'done')", name="state"),
    Index("ix_licence_imports_running", "created_at", postgresql_where=text("state = 'running'")),
)

licence_import_lines = Table(
    "licence_import_lines",
    metadata,
    Column("import_id", UUID(as_uuid=True), ForeignKey("licence_imports.id"), primary_key=True),
    Column("line", Integer, primary_key=True),  # the line of the file (the header is line 1)
    Column("raw", JSONB, nullable=False),  # the line as read, column by column
    Column("outcome", String(12), nullable=False),  # pending | issued | updated | unchanged | failed
    Column("field", String(32)),
    Column("reason", Text),
    Column("record_id", UUID(as_uuid=True)),
    CheckConstraint("outcome IN ('pending', 'issued', 'updated', 'unchanged', 'failed')", name="outcome"),
    Index(
        "ix_licence_import_lines_pending",
        "import_id",
        "line",
        postgresql_where=text("outcome = 'pending'"),
    ),
)
