"""Tables of the license database (outbox, inbox and audit_log come from servicekit)."""

from sqlalchemy import (
    Boolean,
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
    Text,
    UniqueConstraint,
    text,
)
from sqlalchemy.dialects.postgresql import ARRAY, UUID

from license_service.domain import OPEN_APPLICATION_STATES
from servicekit.crypto import normalise_id_number, sealed
from servicekit.db import new_metadata

metadata = new_metadata()

# ADR 0096: identity numbers (the licence number is one), names, phones and addresses are stored sealed
# (SM4-GCM, servicekit.crypto); those a query looks up have a blind index beside them (`<column>_bidx`,
# HMAC-SM3), compared through `blind_match`, which also carries their unique and partial indexes.

# DL-01: the licence record, license's own data; other police systems issue and move it through `system`
# clients. The licence number is the holder's identity number, so URLs, event subjects and logs name the
# record by `id` instead. `state` follows domain.RECORD_MOVES;
# `points` is the current scoring cycle's total (DL-12). `version` grows with every change, so consumers
# of the record's events can drop one that arrives after a newer one.
licence_records = Table(
    "licence_records",
    metadata,
    Column("id", UUID(as_uuid=True), primary_key=True),
    # One record per number: the unique blind index, and `records.issue`'s lock and look-up by number,
    # which finds a record whose digest an older index key made too.
    *sealed("licence_records", "number", blind=normalise_id_number, nullable=False),
    Column("file_number", String(12)),  # 档案编号
    *sealed("licence_records", "name", nullable=False),
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
    *sealed("licence_records", "phone"),
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
    UniqueConstraint("number_bidx", name="uq_licence_records_number_bidx"),
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
    # the handling driver's identity (= licence) number
    *sealed("point_entries", "number", blind=normalise_id_number, nullable=False),
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
    Index("ix_point_entries_waiting_number", "number_bidx", postgresql_where=text("record_id IS NULL")),
)

# --- Applications (DL-02..DL-08), bans (VH-07), medical certificates (DL-09, DL-10), contact (DL-04) ---
# Migration 0004. ADR 0051.

OPEN_SQL = ", ".join(f"'{state}'" for state in sorted(OPEN_APPLICATION_STATES))

# An application and its clerk workflow (domain.APPLICATION_MOVES). `slot` is what the one-open-case rule
# counts (domain.slot: every card-producing kind shares "card", each deferral kind its own); the partial
# unique index holds it under concurrent requests, behind the record's row lock.
licence_applications = Table(
    "licence_applications",
    metadata,
    Column("id", UUID(as_uuid=True), primary_key=True),
    Column("record_id", UUID(as_uuid=True), ForeignKey("licence_records.id"), nullable=False),
    Column("office_code", String(6), nullable=False),
    # the holder's (the record's number): whose it is
    *sealed("licence_applications", "id_number", blind=normalise_id_number, nullable=False),
    Column("applicant_subject", String(100), nullable=False),
    Column("kind", String(16), nullable=False),
    Column("slot", String(16), nullable=False),
    Column("state", String(20), nullable=False),
    Column("delivery", String(8)),  # mail | pickup; none for a deferral
    *sealed("licence_applications", "address"),
    *sealed("licence_applications", "phone", nullable=False),
    Column("target_class", String(2)),  # DL-08
    # DL-06: the date deferred, where its chain of deferrals began, the date asked for, and why.
    Column("deferral_due", Date),
    Column("deferral_original_due", Date),
    Column("deferred_to", Date),
    Column("deferral_reason", String(16)),  # military_service | abroad | other
    Column("deferral_note", Text),
    # DL-09: the certificate the application waits for or was sent on with, and until when it waits.
    Column("medical_certificate_id", UUID(as_uuid=True)),
    Column("medical_wait_until", DateTime(timezone=True)),
    Column("photo_document_id", String(64)),  # DL-05: the photo the card is produced with
    Column("tracking_number", String(64)),
    Column("ready_at", DateTime(timezone=True)),
    Column("pickup_due", DateTime(timezone=True)),
    Column("old_card_returned", Boolean, nullable=False, server_default=text("false")),
    Column("refusal_reason", Text),
    Column("decided_by", String(100)),
    Column("created_at", DateTime(timezone=True), nullable=False),
    Column("updated_at", DateTime(timezone=True), nullable=False),
    Index("ix_licence_applications_record", "record_id"),
    Index("ix_licence_applications_office_state", "office_code", "state", "created_at"),
    Index(
        "uq_licence_applications_open_slot",
        "record_id",
        "slot",
        unique=True,
        postgresql_where=text(f"state IN ({OPEN_SQL})"),
    ),
    Index("uq_licence_applications_tracking", "tracking_number", unique=True),
)

# VH-07: the one-year bans on online reissue and replacement: vehicle's (its `delivery_ban` event) and
# ours (a licence refused at the door or not collected). One ban per case.
licence_delivery_bans = Table(
    "licence_delivery_bans",
    metadata,
    Column("id", UUID(as_uuid=True), primary_key=True),
    *sealed("licence_delivery_bans", "id_number", blind=normalise_id_number, nullable=False),
    Column("until", Date, nullable=False),
    Column("reason", String(20), nullable=False),  # refused | not_collected
    Column("source", String(10), nullable=False),  # vehicle | license
    Column("case_id", String(64), nullable=False, unique=True),
    Column("imposed_at", DateTime(timezone=True), nullable=False),
)

# DL-09: the medical certificates (身体条件证明) hospitals submit; DL-10's periodic ones among them.
medical_certificates = Table(
    "medical_certificates",
    metadata,
    Column("id", UUID(as_uuid=True), primary_key=True),
    *sealed("medical_certificates", "id_number", blind=normalise_id_number, nullable=False),
    *sealed("medical_certificates", "name", nullable=False),
    Column("record_id", UUID(as_uuid=True), ForeignKey("licence_records.id")),
    Column("hospital_subject", String(100), nullable=False),
    Column("hospital_code", String(32)),  # the unit's unified social credit code (ADR 0012)
    Column("purpose", String(20), nullable=False),
    Column("conclusion", String(8), nullable=False),  # fit | unfit
    Column("examined_on", Date, nullable=False),
    Column("valid_until", Date, nullable=False),
    *sealed("medical_certificates", "doctor"),
    *sealed("medical_certificates", "remarks"),  # about the person's health
    # The application it sent on (a fit certificate serves one application; a periodic one none).
    Column("used_by", UUID(as_uuid=True)),
    Column("submitted_at", DateTime(timezone=True), nullable=False),
    CheckConstraint("conclusion IN ('fit', 'unfit')", name="conclusion"),
    Index("ix_medical_certificates_hospital", "hospital_subject", "submitted_at"),
)

# DL-10: each holder is told once per review date that a periodic certificate is due.
medical_reminders = Table(
    "medical_reminders",
    metadata,
    Column("record_id", UUID(as_uuid=True), ForeignKey("licence_records.id"), primary_key=True),
    Column("review_due", Date, primary_key=True),
    Column("reason", String(8), nullable=False),  # age_60 | c5
    Column("submit_by", Date, nullable=False),
    Column("told_at", DateTime(timezone=True), nullable=False),
    Column("satisfied_by", UUID(as_uuid=True)),  # the certificate that answered it
)

# DL-04: the driver's mailing address (the phone is on the record); the default address of a mailed card.
licence_contacts = Table(
    "licence_contacts",
    metadata,
    Column("record_id", UUID(as_uuid=True), ForeignKey("licence_records.id"), primary_key=True),
    *sealed("licence_contacts", "address", nullable=False),
    Column("updated_at", DateTime(timezone=True), nullable=False),
)

# DL-05 / ID-15: every licence photo identity's review post approved, as `identity.licence_photo.approved.v1`
# carried it. The record holds the newest current one; one approved before its holder's record came onto
# the platform waits here and is taken up when the record is issued.
licence_photos = Table(
    "licence_photos",
    metadata,
    Column("photo_id", String(64), primary_key=True),  # identity's photo id (its stored photo, AR-01)
    *sealed("licence_photos", "number", blind=normalise_id_number, nullable=False),
    Column("approved_at", DateTime(timezone=True), nullable=False),
    Column("valid_until", Date, nullable=False),
    Column("received_at", DateTime(timezone=True), nullable=False),
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
    # the line as read, column by column (number, name, phone among them)
    *sealed("licence_import_lines", "raw", json_value=True, nullable=False),
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
    *sealed("exam_learners", "id_number", blind=normalise_id_number, nullable=False),
    *sealed("exam_learners", "name", nullable=False),
    Column("birth_date", Date, nullable=False),
    *sealed("exam_learners", "phone"),
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
        "id_number_bidx",
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
    *sealed("exam_bookings", "id_number", blind=normalise_id_number, nullable=False),  # whose it is
    *sealed("exam_bookings", "phone"),
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
)
