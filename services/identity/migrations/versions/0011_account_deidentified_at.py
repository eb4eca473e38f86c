"""accounts.deidentified_at: a cancelled account's data de-identified after its retention (PIPL art. 47,
ADR 0093); the sweep's partial index finds the accounts still to do.

Revision ID: 0011
Revises: 0010
"""

import sqlalchemy as sa
from alembic import op

revision = "0011"
down_revision = "0010"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("accounts", sa.Column("deidentified_at", sa.DateTime(timezone=True), nullable=True))
    op.create_index(
        "ix_accounts_to_deidentify",
        "accounts",
        ["cancelled_at"],
        postgresql_where=sa.text("status = 'cancelled' AND deidentified_at IS NULL"),
    )


def downgrade() -> None:
    op.drop_index("ix_accounts_to_deidentify", "accounts")
    op.drop_column("accounts", "deidentified_at")
