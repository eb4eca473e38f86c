"""counter_changes: personal counter changes through intake and review (ID-13, seed §19).

Revision ID: 0006
Revises: 0005
"""

from alembic import op
import sqlalchemy as sa
from sqlalchemy.dialects import postgresql


revision = '0006'
down_revision = '0005'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('counter_changes',
    sa.Column('id', sa.UUID(), nullable=False),
    sa.Column('account_id', sa.UUID(), nullable=False),
    sa.Column('kind', sa.String(length=24), nullable=False),
    sa.Column('stage', sa.String(length=16), nullable=False),
    sa.Column('office', sa.String(length=16), nullable=False),
    sa.Column('data', postgresql.JSONB(astext_type=sa.Text()), nullable=False),
    sa.Column('scans', postgresql.JSONB(astext_type=sa.Text()), nullable=False),
    sa.Column('registry_check', sa.String(length=16), nullable=False),
    sa.Column('deadline', sa.DateTime(timezone=True), nullable=True),
    sa.Column('return_reason', sa.Text(), nullable=True),
    sa.Column('reject_reason', sa.Text(), nullable=True),
    sa.Column('history', postgresql.JSONB(astext_type=sa.Text()), server_default=sa.text("'[]'::jsonb"), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['account_id'], ['accounts.id'], name=op.f('fk_counter_changes_account_id_accounts')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_counter_changes'))
    )
    op.create_index('ix_counter_changes_account', 'counter_changes', ['account_id', 'stage'], unique=False)
    op.create_index('ix_counter_changes_queue', 'counter_changes', ['office', 'stage', 'created_at'], unique=False)


def downgrade() -> None:
    op.drop_index('ix_counter_changes_queue', table_name='counter_changes')
    op.drop_index('ix_counter_changes_account', table_name='counter_changes')
    op.drop_table('counter_changes')
