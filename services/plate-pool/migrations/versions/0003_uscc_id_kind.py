"""A unit's identity kind is `uscc`, the platform's one word for it (servicekit.vocabulary, ADR 0045):
selections stored before with `social_credit_code` are rewritten.

Revision ID: 0003
Revises: 0002
"""

from alembic import op

revision = '0003'
down_revision = '0002'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.execute("UPDATE selections SET owner_id_kind = 'uscc' WHERE owner_id_kind = 'social_credit_code'")


def downgrade() -> None:
    # Before 0003 plate-pool wrote every unit's kind as `social_credit_code`.
    op.execute("UPDATE selections SET owner_id_kind = 'social_credit_code' WHERE owner_id_kind = 'uscc'")
