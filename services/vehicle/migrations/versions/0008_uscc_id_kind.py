"""A unit's identity kind is `uscc`, the platform's one word for it (servicekit.vocabulary, ADR 0045):
pre-selections projected from plate-pool's events while it wrote `social_credit_code` are rewritten, so
the counter can register them.

Revision ID: 0008
Revises: 0007
"""

from alembic import op


revision = '0008'
down_revision = '0007'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.execute("UPDATE preselections SET owner_id_kind = 'uscc' WHERE owner_id_kind = 'social_credit_code'")


def downgrade() -> None:
    pass  # which rows had the old word is not kept; `uscc` is what vehicle has always accepted
