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


# --- DL-11: exam appointments (ADR 0052) ------------------------------------------------------------

# A learner (学员): an initial licence application accepted (受理) by the office's licence-application
# system, fed by a `system` client. It carries the DL-11 ranking inputs (acceptance, last exam, last
# cancellation, last absence) and the waiting rules' state (learner permit, ten-day retry, road-test
# bookings). One application in its exams per person (the partial unique index).
exam_learners = Table(
    "exam_learners",
    metadata,
    Column("id", UUID(as_uuid=True), primary_key=True),
    Column("application_number", String(32), nullable=False, unique=True),  # 受理流水号
    Column("id_number", String(18), nullable=False),
    Column("name", String(100), nullable=False),
    Column("birth_date", Date, nullable=False),
    Column("phone", String(11)),
    Column("classes", ARRAY(String(2)), nullable=False),
    Column("office_code", String(6), nullable=False),
    Column("accepted_at", DateTime(timezone=True), nullable=False),
    Column("state", String(12), nullable=False),
    Column("ended_reason", String(24)),
    Column("passed", ARRAY(SmallInteger), nullable=False, server_default=text("'{}'")),
    Column("permit_issued_on", Date),  # 学习驾驶证明
    Column("permit_valid_until", Date),
    Column("last_exam_at", DateTime(timezone=True)),
    Column("last_cancelled_at", DateTime(timezone=True)),
    Column("last_absent_at", DateTime(timezone=True)),
    Column("retry_from", Date),
    Column("road_bookings_2", SmallInteger, nullable=False, server_default=text("0")),
    Column("road_bookings_3", SmallInteger, nullable=False, server_default=text("0")),
    Column("licence_record_id", UUID(as_uuid=True)),
    Column("created_at", DateTime(timezone=True), nullable=False),
    Column("updated_at", DateTime(timezone=True), nullable=False),
    CheckConstraint("state IN ('learning', 'licensed', 'ended')", name="state"),
    Index(
        "uq_exam_learners_learning_id_number",
        "id_number",
        unique=True,
        postgresql_where=text("state = 'learning'"),
    ),
)

# An examination venue (考场) and the subjects it examines.
exam_sites = Table(
    "exam_sites",
    metadata,
    Column("id", UUID(as_uuid=True), primary_key=True),
    Column("name", String(100), nullable=False),
    Column("address", String(300), nullable=False),
    Column("office_code", String(6), nullable=False),
    Column("subjects", ARRAY(SmallInteger), nullable=False),
    Column("created_at", DateTime(timezone=True), nullable=False),
    Index("ix_exam_sites_office_code", "office_code"),
)

# A published slot (考试场次): one subject, the classes it examines, capacity, the booking window and the
# cut-off at which the sweep seats the first `capacity` requests in the published order. `requests` and
# `seated` are written by the decision; until then requests are counted, never kept in a hot counter (a
# counter would serialise every booking on this row).
exam_slots = Table(
    "exam_slots",
    metadata,
    Column("id", UUID(as_uuid=True), primary_key=True),
    Column("site_id", UUID(as_uuid=True), ForeignKey("exam_sites.id"), nullable=False),
    Column("subject", SmallInteger, nullable=False),
    Column("classes", ARRAY(String(2)), nullable=False),
    Column("starts_at", DateTime(timezone=True), nullable=False),
    Column("capacity", Integer, nullable=False),
    Column("booking_opens_at", DateTime(timezone=True), nullable=False),
    Column("cutoff_at", DateTime(timezone=True), nullable=False),
    Column("state", String(12), nullable=False),
    Column("requests", Integer),
    Column("seated", Integer),
    Column("decided_at", DateTime(timezone=True)),
    Column("created_at", DateTime(timezone=True), nullable=False),
    CheckConstraint("subject BETWEEN 1 AND 4", name="subject"),
    CheckConstraint("capacity > 0", name="capacity"),
    CheckConstraint("booking_opens_at < cutoff_at AND cutoff_at <= starts_at", name="times"),
    CheckConstraint("state IN ('open', 'decided')", name="state"),
    CheckConstraint("seated IS NULL OR seated <= capacity", name="seated"),
    Index("ix_exam_slots_site_starts", "site_id", "starts_at"),
    Index("ix_exam_slots_due", "cutoff_at", postgresql_where=text("state = 'open'")),
)

# A booking: a request until the cut-off, then seated or not, then its outcome (domain.BOOKING_MOVES).
# The ranking inputs are kept as they were when it was asked for (they cannot change while it is open: one
# open booking per subject, subjects in order), with the time and basis they give, so the place and its
# reason can be shown at any moment. `place` is final once the slot is decided.
exam_bookings = Table(
    "exam_bookings",
    metadata,
    Column("id", UUID(as_uuid=True), primary_key=True),
    Column("slot_id", UUID(as_uuid=True), ForeignKey("exam_slots.id"), nullable=False),
    Column("learner_id", UUID(as_uuid=True), ForeignKey("exam_learners.id"), nullable=False),
    Column("subject", SmallInteger, nullable=False),
    Column("id_number", String(18), nullable=False),  # whose it is (object-level access)
    Column("phone", String(11)),
    Column("state", String(12), nullable=False),
    Column("requested_at", DateTime(timezone=True), nullable=False),
    Column("accepted_at", DateTime(timezone=True), nullable=False),
    Column("last_exam_at", DateTime(timezone=True)),
    Column("last_cancelled_at", DateTime(timezone=True)),
    Column("last_absent_at", DateTime(timezone=True)),
    Column("priority_at", DateTime(timezone=True), nullable=False),
    Column("priority_basis", String(12), nullable=False),
    Column("place", Integer),
    Column("decided_at", DateTime(timezone=True)),
    Column("ended_at", DateTime(timezone=True)),  # withdrawn, cancelled or its result recorded
    Column("ended_by", String(64)),
    Column("updated_at", DateTime(timezone=True), nullable=False),
    CheckConstraint(
        "state IN ('requested', 'seated', 'not_seated', 'withdrawn', 'cancelled', 'passed', 'failed', "
        "'absent')",
        name="state",
    ),
    CheckConstraint(
        "priority_basis IN ('accepted', 'last_exam', 'cancelled', 'absent')", name="priority_basis"
    ),
    # DL-11: one open booking per learner and subject, whatever arrives at once.
    Index(
        "uq_exam_bookings_open_subject",
        "learner_id",
        "subject",
        unique=True,
        postgresql_where=text("state IN ('requested', 'seated')"),
    ),
    # The published order within a slot: the provisional place is a count along it.
    Index(
        "ix_exam_bookings_slot_order",
        "slot_id",
        "priority_at",
        "requested_at",
        "id",
        postgresql_where=text("state = 'requested'"),
    ),
    Index("ix_exam_bookings_slot_place", "slot_id", "place"),
    Index("ix_exam_bookings_id_number", "id_number", "requested_at"),
)
