"""applications: the damaged item handed over (VH-06), the core number restored (VH-10), who decided.

Revision ID: 0003
Revises: 0002
"""

from alembic import op
import sqlalchemy as sa


revision = '0003'
down_revision = '0002'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column('applications', sa.Column('returned_item_received', sa.Boolean(), server_default=sa.text('false'), nullable=False))
    op.add_column('applications', sa.Column('core_number_restored', sa.Boolean(), server_default=sa.text('false'), nullable=False))
    op.add_column('applications', sa.Column('decided_by', sa.String(length=100), nullable=True))


def downgrade() -> None:
    op.drop_column('applications', 'decided_by')
    op.drop_column('applications', 'core_number_restored')
    op.drop_column('applications', 'returned_item_received')
