"""sms_messages: every SMS sent, with its delivery state (NT-01); one per template and case.

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
        "sms_messages",
        sa.Column("id", postgresql.UUID(as_uuid=True), nullable=False),
        sa.Column("phone", sa.String(11), nullable=False),
        sa.Column("template", sa.String(64), nullable=False),
        sa.Column("params", postgresql.JSONB(), nullable=False),
        sa.Column("body", sa.Text(), nullable=False),
        sa.Column("case_id", sa.String(100), nullable=True),
        sa.Column("account_id", sa.String(64), nullable=True),
        sa.Column("state", sa.String(16), nullable=False),
        sa.Column("provider", sa.String(32), nullable=True),
        sa.Column("provider_ref", sa.String(100), nullable=True),
        sa.Column("failure_reason", sa.Text(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_sms_messages")),
        sa.CheckConstraint(
            "state IN ('queued', 'sent', 'delivered', 'failed')", name=op.f("ck_sms_messages_state")
        ),
    )
    op.create_index(
        op.f("uq_sms_messages_template_case_id"),
        "sms_messages",
        ["template", "case_id"],
        unique=True,
        postgresql_where=sa.text("case_id IS NOT NULL"),
    )
    op.create_index(op.f("ix_sms_messages_phone_id"), "sms_messages", ["phone", "id"])


def downgrade() -> None:
    op.drop_index("ix_sms_messages_phone_id", table_name="sms_messages")
    op.drop_index("uq_sms_messages_template_case_id", table_name="sms_messages")
    op.drop_table("sms_messages")
