"""DL-11: exam appointments: learners, sites, slots, bookings (ADR 0052).

Revision ID: 0005
Revises: 0003 (the merge order: 0002, 0006, 0004, 0003, 0005)
"""

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision = "0005"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "exam_learners",
        sa.Column("id", sa.UUID(), nullable=False),
        sa.Column("application_number", sa.String(length=32), nullable=False),
        sa.Column("id_number", sa.String(length=18), nullable=False),
        sa.Column("name", sa.String(length=100), nullable=False),
        sa.Column("birth_date", sa.Date(), nullable=False),
        sa.Column("phone", sa.String(length=11), nullable=True),
        sa.Column("classes", postgresql.ARRAY(sa.String(length=2)), nullable=False),
        sa.Column("office_code", sa.String(length=6), nullable=False),
        sa.Column("accepted_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("state", sa.String(length=12), nullable=False),
        sa.Column("ended_reason", sa.String(length=24), nullable=True),
        sa.Column("passed", postgresql.ARRAY(sa.SmallInteger()), server_default=sa.text("'{}'"), nullable=False),
        sa.Column("permit_issued_on", sa.Date(), nullable=True),
        sa.Column("permit_valid_until", sa.Date(), nullable=True),
        sa.Column("last_exam_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("last_cancelled_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("last_absent_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("retry_from", sa.Date(), nullable=True),
        sa.Column("road_bookings_2", sa.SmallInteger(), server_default=sa.text("0"), nullable=False),
        sa.Column("road_bookings_3", sa.SmallInteger(), server_default=sa.text("0"), nullable=False),
        sa.Column("licence_record_id", sa.UUID(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.CheckConstraint("state IN ('learning', 'licensed', 'ended')", name=op.f("ck_exam_learners_state")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_exam_learners")),
        sa.UniqueConstraint("application_number", name=op.f("uq_exam_learners_application_number")),
    )
    op.create_index(
        "uq_exam_learners_learning_id_number",
        "exam_learners",
        ["id_number"],
        unique=True,
        postgresql_where=sa.text("state = 'learning'"),
    )
    op.create_table(
        "exam_sites",
        sa.Column("id", sa.UUID(), nullable=False),
        sa.Column("name", sa.String(length=100), nullable=False),
        sa.Column("address", sa.String(length=300), nullable=False),
        sa.Column("office_code", sa.String(length=6), nullable=False),
        sa.Column("subjects", postgresql.ARRAY(sa.SmallInteger()), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_exam_sites")),
    )
    op.create_index("ix_exam_sites_office_code", "exam_sites", ["office_code"], unique=False)
    op.create_table(
        "exam_slots",
        sa.Column("id", sa.UUID(), nullable=False),
        sa.Column("site_id", sa.UUID(), nullable=False),
        sa.Column("subject", sa.SmallInteger(), nullable=False),
        sa.Column("classes", postgresql.ARRAY(sa.String(length=2)), nullable=False),
        sa.Column("starts_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("capacity", sa.Integer(), nullable=False),
        sa.Column("booking_opens_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("cutoff_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("state", sa.String(length=12), nullable=False),
        sa.Column("requests", sa.Integer(), nullable=True),
        sa.Column("seated", sa.Integer(), nullable=True),
        sa.Column("decided_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.CheckConstraint("subject BETWEEN 1 AND 4", name=op.f("ck_exam_slots_subject")),
        sa.CheckConstraint("capacity > 0", name=op.f("ck_exam_slots_capacity")),
        sa.CheckConstraint(
            "booking_opens_at < cutoff_at AND cutoff_at <= starts_at", name=op.f("ck_exam_slots_times")
        ),
        sa.CheckConstraint("state IN ('open', 'decided')", name=op.f("ck_exam_slots_state")),
        sa.CheckConstraint("seated IS NULL OR seated <= capacity", name=op.f("ck_exam_slots_seated")),
        sa.ForeignKeyConstraint(["site_id"], ["exam_sites.id"], name=op.f("fk_exam_slots_site_id_exam_sites")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_exam_slots")),
    )
    op.create_index("ix_exam_slots_site_starts", "exam_slots", ["site_id", "starts_at"], unique=False)
    op.create_index(
        "ix_exam_slots_due", "exam_slots", ["cutoff_at"], unique=False, postgresql_where=sa.text("state = 'open'")
    )
    op.create_table(
        "exam_bookings",
        sa.Column("id", sa.UUID(), nullable=False),
        sa.Column("slot_id", sa.UUID(), nullable=False),
        sa.Column("learner_id", sa.UUID(), nullable=False),
        sa.Column("subject", sa.SmallInteger(), nullable=False),
        sa.Column("id_number", sa.String(length=18), nullable=False),
        sa.Column("phone", sa.String(length=11), nullable=True),
        sa.Column("state", sa.String(length=12), nullable=False),
        sa.Column("requested_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("accepted_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("last_exam_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("last_cancelled_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("last_absent_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("priority_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("priority_basis", sa.String(length=12), nullable=False),
        sa.Column("place", sa.Integer(), nullable=True),
        sa.Column("decided_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("ended_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("ended_by", sa.String(length=64), nullable=True),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.CheckConstraint(
            "state IN ('requested', 'seated', 'not_seated', 'withdrawn', 'cancelled', 'passed', 'failed', "
            "'absent')",
            name=op.f("ck_exam_bookings_state"),
        ),
        sa.CheckConstraint(
            "priority_basis IN ('accepted', 'last_exam', 'cancelled', 'absent')",
            name=op.f("ck_exam_bookings_priority_basis"),
        ),
        sa.ForeignKeyConstraint(
            ["learner_id"], ["exam_learners.id"], name=op.f("fk_exam_bookings_learner_id_exam_learners")
        ),
        sa.ForeignKeyConstraint(["slot_id"], ["exam_slots.id"], name=op.f("fk_exam_bookings_slot_id_exam_slots")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_exam_bookings")),
    )
    op.create_index(
        "uq_exam_bookings_open_subject",
        "exam_bookings",
        ["learner_id", "subject"],
        unique=True,
        postgresql_where=sa.text("state IN ('requested', 'seated')"),
    )
    op.create_index(
        "ix_exam_bookings_slot_order",
        "exam_bookings",
        ["slot_id", "priority_at", "requested_at", "id"],
        unique=False,
        postgresql_where=sa.text("state = 'requested'"),
    )
    op.create_index("ix_exam_bookings_slot_place", "exam_bookings", ["slot_id", "place"], unique=False)
    op.create_index("ix_exam_bookings_id_number", "exam_bookings", ["id_number", "requested_at"], unique=False)


def downgrade() -> None:
    op.drop_table("exam_bookings")
    op.drop_table("exam_slots")
    op.drop_index("ix_exam_sites_office_code", table_name="exam_sites")
    op.drop_table("exam_sites")
    op.drop_index("uq_exam_learners_learning_id_number", table_name="exam_learners")
    op.drop_table("exam_learners")
