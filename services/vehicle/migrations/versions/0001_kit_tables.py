"""The kit tables every service has: outbox, inbox, audit_log.

Revision ID: 0001
"""

from alembic import op

from servicekit.migrations import create_kit_tables, drop_kit_tables

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    create_kit_tables(op)


def downgrade() -> None:
    drop_kit_tables(op)
