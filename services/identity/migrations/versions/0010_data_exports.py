"""data_exports and data_export_parts: a person's data export (PIPL art. 45, ADR 0093).

Revision ID: 0010
Revises: 0009
"""

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects.postgresql import JSONB, UUID

revision = "0010"
down_revision = "0009"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "data_exports",
        sa.Column("id", UUID(as_uuid=True), primary_key=True),
        sa.Column("account_id", UUID(as_uuid=True), sa.ForeignKey("accounts.id"), nullable=False),
        sa.Column("state", sa.String(16), nullable=False),
        sa.Column("expected", JSONB, nullable=False),
        sa.Column("requested_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("deadline_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("completed_at", sa.DateTime(timezone=True)),
    )
    op.create_index("ix_data_exports_account", "data_exports", ["account_id", "requested_at"])
    op.create_index(
        "uq_data_exports_collecting",
        "data_exports",
        ["account_id"],
        unique=True,
        postgresql_where=sa.text("state = 'collecting'"),
    )
    op.create_table(
        "data_export_parts",
        sa.Column("export_id", UUID(as_uuid=True), sa.ForeignKey("data_exports.id"), primary_key=True),
        sa.Column("service", sa.String(32), primary_key=True),
        sa.Column("part", JSONB, nullable=False),
        sa.Column("received_at", sa.DateTime(timezone=True), nullable=False),
    )


def downgrade() -> None:
    op.drop_table("data_export_parts")
    op.drop_table("data_exports")
