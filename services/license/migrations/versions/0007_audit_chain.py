"""The audit trail chained by SM3 (AU-01, ADR 0089): seq and hash on audit_log, the audit_chain table,
and the trigger that guards sealed and retained entries.

Revision ID: 0007
Revises: 0005
"""

from alembic import op

from servicekit.migrations import create_audit_chain, drop_audit_chain

revision = "0007"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    create_audit_chain(op)


def downgrade() -> None:
    drop_audit_chain(op)
