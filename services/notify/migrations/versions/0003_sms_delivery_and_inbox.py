"""sms_messages grows into the dispatcher's queue and the in-app inbox (NT-01, NT-02).

Attempts with backoff and a dead-letter state, sent/delivered times from the provider's receipts, the
sender's request time for NT-02's per-phone windows, and the inbox's read state.

Revision ID: 0003
Revises: 0002
"""

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None

_TS = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.add_column("sms_messages", sa.Column("requested_at", _TS, nullable=True))
    op.add_column(
        "sms_messages", sa.Column("attempts", sa.Integer(), nullable=False, server_default=sa.text("0"))
    )
    op.add_column("sms_messages", sa.Column("next_attempt_at", _TS, nullable=True))
    op.add_column("sms_messages", sa.Column("last_error", sa.Text(), nullable=True))
    op.add_column("sms_messages", sa.Column("sent_at", _TS, nullable=True))
    op.add_column("sms_messages", sa.Column("delivered_at", _TS, nullable=True))
    op.add_column("sms_messages", sa.Column("read_at", _TS, nullable=True))
    op.drop_constraint(op.f("ck_sms_messages_state"), "sms_messages", type_="check")
    op.create_check_constraint(
        op.f("ck_sms_messages_state"),
        "sms_messages",
        "state IN ('queued', 'sent', 'delivered', 'failed', 'dead_lettered')",
    )
    op.create_index(
        "ix_sms_messages_due",
        "sms_messages",
        ["next_attempt_at"],
        postgresql_where=sa.text("state = 'queued'"),
    )
    op.create_index(
        "ix_sms_messages_account_id_id",
        "sms_messages",
        ["account_id", "id"],
        postgresql_where=sa.text("account_id IS NOT NULL"),
    )
    op.create_index("ix_sms_messages_provider_ref", "sms_messages", ["provider", "provider_ref"])


def downgrade() -> None:
    op.drop_index("ix_sms_messages_provider_ref", table_name="sms_messages")
    op.drop_index("ix_sms_messages_account_id_id", table_name="sms_messages")
    op.drop_index("ix_sms_messages_due", table_name="sms_messages")
    op.execute("UPDATE sms_messages SET state = 'failed' WHERE state = 'dead_lettered'")
    op.drop_constraint(op.f("ck_sms_messages_state"), "sms_messages", type_="check")
    op.create_check_constraint(
        op.f("ck_sms_messages_state"), "sms_messages", "state IN ('queued', 'sent', 'delivered', 'failed')"
    )
    for column in (
        "read_at",
        "delivered_at",
        "sent_at",
        "last_error",
        "next_attempt_at",
        "attempts",
        "requested_at",
    ):
        op.drop_column("sms_messages", column)
