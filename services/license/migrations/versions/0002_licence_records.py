"""DL-01: the licence record.

Revision ID: 0002
Revises: 0001
"""

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "licence_records",
        sa.Column("id", sa.UUID(), nullable=False),
        sa.Column("number", sa.String(length=18), nullable=False),
        sa.Column("file_number", sa.String(length=12), nullable=True),
        sa.Column("name", sa.String(length=100), nullable=False),
        sa.Column("birth_date", sa.Date(), nullable=False),
        sa.Column("classes", postgresql.ARRAY(sa.String(length=2)), nullable=False),
        sa.Column("first_issue", sa.Date(), nullable=False),
        sa.Column("valid_from", sa.Date(), nullable=False),
        sa.Column("valid_until", sa.Date(), nullable=False),
        sa.Column("review_due", sa.Date(), nullable=True),
        sa.Column("medical_due", sa.Date(), nullable=True),
        sa.Column("photo_document_id", sa.String(length=64), nullable=True),
        sa.Column("photo_valid_until", sa.Date(), nullable=True),
        sa.Column("state", sa.String(length=16), nullable=False),
        sa.Column("points", sa.Integer(), server_default=sa.text("0"), nullable=False),
        sa.Column("phone", sa.String(length=11), nullable=True),
        sa.Column("phone_changed_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("office_code", sa.String(length=6), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("version", sa.Integer(), server_default=sa.text("1"), nullable=False),
        sa.CheckConstraint(
            "state IN ('valid', 'full_points', 'suspended', 'revoked', 'cancelled')",
            name=op.f("ck_licence_records_state"),
        ),
        sa.CheckConstraint("points >= 0", name=op.f("ck_licence_records_points")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_licence_records")),
        sa.UniqueConstraint("number", name=op.f("uq_licence_records_number")),
    )
    op.create_index("ix_licence_records_valid_until", "licence_records", ["valid_until"], unique=False)


def downgrade() -> None:
    op.drop_index("ix_licence_records_valid_until", table_name="licence_records")
    op.drop_table("licence_records")
