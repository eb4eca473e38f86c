"""Personal data at rest (ADR 0095): the outbox payload and the audit entries' before/after sealed
(SM4-GCM), the audit guard that lets a re-encryption rewrite them, the re-encryption's progress table.

Revision ID: 0007
Revises: 0006
"""

from alembic import op

from servicekit.migrations import seal_kit_tables, unseal_kit_tables

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None


def upgrade() -> None:
    seal_kit_tables(op)


def downgrade() -> None:
    unseal_kit_tables(op)
