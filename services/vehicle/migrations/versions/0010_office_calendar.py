"""office calendar: vehicle's copy of identity's official days per year (WD-01, ADR 0004).

Revision ID: 0010
Revises: 0009
"""

from alembic import op

from servicekit.migrations import create_workday_tables, drop_workday_tables

revision = '0010'
down_revision = '0009'
branch_labels = None
depends_on = None


def upgrade() -> None:
    create_workday_tables(op)


def downgrade() -> None:
    drop_workday_tables(op)
