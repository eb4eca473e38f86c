"""preselections: a cancellation or registration arriving before its confirmation keeps a row with its
state alone (the queues do not order one against the other), so the details become nullable.

Revision ID: 0005
Revises: 0004
"""

from alembic import op
import sqlalchemy as sa
from sqlalchemy.dialects import postgresql

revision = '0005'
down_revision = '0004'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.alter_column('preselections', 'office_code',
               existing_type=sa.VARCHAR(length=6),
               nullable=True)
    op.alter_column('preselections', 'plate_number',
               existing_type=sa.VARCHAR(length=10),
               nullable=True)
    op.alter_column('preselections', 'vin',
               existing_type=sa.VARCHAR(length=17),
               nullable=True)
    op.alter_column('preselections', 'owner_id_kind',
               existing_type=sa.VARCHAR(length=20),
               nullable=True)
    op.alter_column('preselections', 'owner_id_number',
               existing_type=sa.VARCHAR(length=32),
               nullable=True)
    op.alter_column('preselections', 'owner_name',
               existing_type=sa.VARCHAR(length=100),
               nullable=True)
    op.alter_column('preselections', 'phone',
               existing_type=sa.VARCHAR(length=11),
               nullable=True)
    op.alter_column('preselections', 'register_by',
               existing_type=postgresql.TIMESTAMP(timezone=True),
               nullable=True)


def downgrade() -> None:
    op.alter_column('preselections', 'register_by',
               existing_type=postgresql.TIMESTAMP(timezone=True),
               nullable=False)
    op.alter_column('preselections', 'phone',
               existing_type=sa.VARCHAR(length=11),
               nullable=False)
    op.alter_column('preselections', 'owner_name',
               existing_type=sa.VARCHAR(length=100),
               nullable=False)
    op.alter_column('preselections', 'owner_id_number',
               existing_type=sa.VARCHAR(length=32),
               nullable=False)
    op.alter_column('preselections', 'owner_id_kind',
               existing_type=sa.VARCHAR(length=20),
               nullable=False)
    op.alter_column('preselections', 'vin',
               existing_type=sa.VARCHAR(length=17),
               nullable=False)
    op.alter_column('preselections', 'plate_number',
               existing_type=sa.VARCHAR(length=10),
               nullable=False)
    op.alter_column('preselections', 'office_code',
               existing_type=sa.VARCHAR(length=6),
               nullable=False)
