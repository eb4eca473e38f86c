"""DL-01 bulk import (its jobs and every line with its outcome) and DL-05's approved licence photos.

Revision ID: 0003
Revises: 0004
"""

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision = "0003"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "licence_photos",
        sa.Column("photo_id", sa.String(length=64), nullable=False),
        sa.Column("number", sa.String(length=18), nullable=False),
        sa.Column("approved_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("valid_until", sa.Date(), nullable=False),
        sa.Column("received_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("photo_id", name=op.f("pk_licence_photos")),
    )
    op.create_index("ix_licence_photos_number", "licence_photos", ["number", "approved_at"], unique=False)
    op.create_table(
        "licence_imports",
        sa.Column("id", sa.UUID(), nullable=False),
        sa.Column("office_code", sa.String(length=6), nullable=True),
        sa.Column("state", sa.String(length=16), nullable=False),
        sa.Column("submitted_by", sa.String(length=64), nullable=False),
        sa.Column("total", sa.Integer(), nullable=False),
        sa.Column("issued", sa.Integer(), server_default=sa.text("0"), nullable=False),
        sa.Column("updated", sa.Integer(), server_default=sa.text("0"), nullable=False),
        sa.Column("unchanged", sa.Integer(), server_default=sa.text("0"), nullable=False),
        sa.Column("failed", sa.Integer(), server_default=sa.text("0"), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("finished_at", sa.DateTime(timezone=True), nullable=True),
        sa.CheckConstraint("state IN ('running', 'done')", name=op.f("ck_licence_imports_state")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_licence_imports")),
    )
    op.create_index(
        "ix_licence_imports_running",
        "licence_imports",
        ["created_at"],
        unique=False,
        postgresql_where=sa.text("state = 'running'"),
    )
    op.create_table(
        "licence_import_lines",
        sa.Column("import_id", sa.UUID(), nullable=False),
        sa.Column("line", sa.Integer(), nullable=False),
        sa.Column("raw", postgresql.JSONB(astext_type=sa.Text()), nullable=False),
        sa.Column("outcome", sa.String(length=12), nullable=False),
        sa.Column("field", sa.String(length=32), nullable=True),
        sa.Column("reason", sa.Text(), nullable=True),
        sa.Column("record_id", sa.UUID(), nullable=True),
        sa.CheckConstraint(
            "outcome IN ('pending', 'issued', 'updated', 'unchanged', 'failed')",
            name=op.f("ck_licence_import_lines_outcome"),
        ),
        sa.ForeignKeyConstraint(
            ["import_id"],
            ["licence_imports.id"],
            name=op.f("fk_licence_import_lines_import_id_licence_imports"),
        ),
        sa.PrimaryKeyConstraint("import_id", "line", name=op.f("pk_licence_import_lines")),
    )
    op.create_index(
        "ix_licence_import_lines_pending",
        "licence_import_lines",
        ["import_id", "line"],
        unique=False,
        postgresql_where=sa.text("outcome = 'pending'"),
    )


def downgrade() -> None:
    op.drop_index("ix_licence_import_lines_pending", table_name="licence_import_lines")
    op.drop_table("licence_import_lines")
    op.drop_index("ix_licence_imports_running", table_name="licence_imports")
    op.drop_table("licence_imports")
    op.drop_index("ix_licence_photos_number", table_name="licence_photos")
    op.drop_table("licence_photos")
