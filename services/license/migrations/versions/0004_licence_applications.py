"""Licence applications and their clerk workflow (DL-02..DL-08), the delivery bans (VH-07), hospitals'
medical certificates (DL-09) and DL-10's reminders, the driver's mailing address (DL-04). ADR 0051.

Revision ID: 0004
Revises: 0006
"""

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0006"
branch_labels = None
depends_on = None

OPEN = "state IN ('accepted', 'awaiting_medical', 'mailed', 'produced', 'ready', 'submitted')"


def upgrade() -> None:
    op.create_table(
        "licence_applications",
        sa.Column("id", sa.UUID(), nullable=False),
        sa.Column("record_id", sa.UUID(), nullable=False),
        sa.Column("office_code", sa.String(length=6), nullable=False),
        sa.Column("id_number", sa.String(length=18), nullable=False),
        sa.Column("applicant_subject", sa.String(length=100), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("slot", sa.String(length=16), nullable=False),
        sa.Column("state", sa.String(length=20), nullable=False),
        sa.Column("delivery", sa.String(length=8), nullable=True),
        sa.Column("address", sa.Text(), nullable=True),
        sa.Column("phone", sa.String(length=11), nullable=False),
        sa.Column("target_class", sa.String(length=2), nullable=True),
        sa.Column("deferral_due", sa.Date(), nullable=True),
        sa.Column("deferral_original_due", sa.Date(), nullable=True),
        sa.Column("deferred_to", sa.Date(), nullable=True),
        sa.Column("deferral_reason", sa.String(length=16), nullable=True),
        sa.Column("deferral_note", sa.Text(), nullable=True),
        sa.Column("medical_certificate_id", sa.UUID(), nullable=True),
        sa.Column("medical_wait_until", sa.DateTime(timezone=True), nullable=True),
        sa.Column("photo_document_id", sa.String(length=64), nullable=True),
        sa.Column("tracking_number", sa.String(length=64), nullable=True),
        sa.Column("ready_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("pickup_due", sa.DateTime(timezone=True), nullable=True),
        sa.Column("old_card_returned", sa.Boolean(), server_default=sa.text("false"), nullable=False),
        sa.Column("refusal_reason", sa.Text(), nullable=True),
        sa.Column("decided_by", sa.String(length=100), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["record_id"], ["licence_records.id"], name=op.f("fk_licence_applications_record_id_licence_records")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_licence_applications")),
    )
    op.create_index("ix_licence_applications_record", "licence_applications", ["record_id"])
    op.create_index("ix_licence_applications_id_number", "licence_applications", ["id_number", "created_at"])
    op.create_index(
        "ix_licence_applications_office_state", "licence_applications", ["office_code", "state", "created_at"]
    )
    op.create_index(
        "uq_licence_applications_open_slot",
        "licence_applications",
        ["record_id", "slot"],
        unique=True,
        postgresql_where=sa.text(OPEN),
    )
    op.create_index(
        "uq_licence_applications_tracking", "licence_applications", ["tracking_number"], unique=True
    )
    op.create_table(
        "licence_delivery_bans",
        sa.Column("id", sa.UUID(), nullable=False),
        sa.Column("id_number", sa.String(length=32), nullable=False),
        sa.Column("until", sa.Date(), nullable=False),
        sa.Column("reason", sa.String(length=20), nullable=False),
        sa.Column("source", sa.String(length=10), nullable=False),
        sa.Column("case_id", sa.String(length=64), nullable=False),
        sa.Column("imposed_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_licence_delivery_bans")),
        sa.UniqueConstraint("case_id", name=op.f("uq_licence_delivery_bans_case_id")),
    )
    op.create_index("ix_licence_delivery_bans_id_number", "licence_delivery_bans", ["id_number"])
    op.create_table(
        "medical_certificates",
        sa.Column("id", sa.UUID(), nullable=False),
        sa.Column("id_number", sa.String(length=18), nullable=False),
        sa.Column("name", sa.String(length=100), nullable=False),
        sa.Column("record_id", sa.UUID(), nullable=True),
        sa.Column("hospital_subject", sa.String(length=100), nullable=False),
        sa.Column("hospital_code", sa.String(length=32), nullable=True),
        sa.Column("purpose", sa.String(length=20), nullable=False),
        sa.Column("conclusion", sa.String(length=8), nullable=False),
        sa.Column("examined_on", sa.Date(), nullable=False),
        sa.Column("valid_until", sa.Date(), nullable=False),
        sa.Column("doctor", sa.String(length=100), nullable=True),
        sa.Column("remarks", sa.Text(), nullable=True),
        sa.Column("used_by", sa.UUID(), nullable=True),
        sa.Column("submitted_at", sa.DateTime(timezone=True), nullable=False),
        sa.CheckConstraint("conclusion IN ('fit', 'unfit')", name=op.f("ck_medical_certificates_conclusion")),
        sa.ForeignKeyConstraint(
            ["record_id"], ["licence_records.id"], name=op.f("fk_medical_certificates_record_id_licence_records")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_medical_certificates")),
    )
    op.create_index("ix_medical_certificates_id_number", "medical_certificates", ["id_number", "examined_on"])
    op.create_index(
        "ix_medical_certificates_hospital", "medical_certificates", ["hospital_subject", "submitted_at"]
    )
    op.create_table(
        "medical_reminders",
        sa.Column("record_id", sa.UUID(), nullable=False),
        sa.Column("review_due", sa.Date(), nullable=False),
        sa.Column("reason", sa.String(length=8), nullable=False),
        sa.Column("submit_by", sa.Date(), nullable=False),
        sa.Column("told_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("satisfied_by", sa.UUID(), nullable=True),
        sa.ForeignKeyConstraint(
            ["record_id"], ["licence_records.id"], name=op.f("fk_medical_reminders_record_id_licence_records")
        ),
        sa.PrimaryKeyConstraint("record_id", "review_due", name=op.f("pk_medical_reminders")),
    )
    op.create_table(
        "licence_contacts",
        sa.Column("record_id", sa.UUID(), nullable=False),
        sa.Column("address", sa.Text(), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["record_id"], ["licence_records.id"], name=op.f("fk_licence_contacts_record_id_licence_records")
        ),
        sa.PrimaryKeyConstraint("record_id", name=op.f("pk_licence_contacts")),
    )


def downgrade() -> None:
    op.drop_table("licence_contacts")
    op.drop_table("medical_reminders")
    op.drop_index("ix_medical_certificates_hospital", table_name="medical_certificates")
    op.drop_index("ix_medical_certificates_id_number", table_name="medical_certificates")
    op.drop_table("medical_certificates")
    op.drop_index("ix_licence_delivery_bans_id_number", table_name="licence_delivery_bans")
    op.drop_table("licence_delivery_bans")
    op.drop_index("uq_licence_applications_tracking", table_name="licence_applications")
    op.drop_index("uq_licence_applications_open_slot", table_name="licence_applications")
    op.drop_index("ix_licence_applications_office_state", table_name="licence_applications")
    op.drop_index("ix_licence_applications_id_number", table_name="licence_applications")
    op.drop_index("ix_licence_applications_record", table_name="licence_applications")
    op.drop_table("licence_applications")
