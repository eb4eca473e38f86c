"""office calendar: plate-pool's copy of identity's official days per year (WD-01, ADR 0004).

Revision ID: 0004
Revises: 0003
"""

from alembic import op

from servicekit.migrations import create_workday_tables, drop_workday_tables

revision = '0004'
down_revision = '0003'
branch_labels = None
depends_on = None


def upgrade() -> None:
    create_workday_tables(op)


def downgrade() -> None:
    drop_workday_tables(op)
