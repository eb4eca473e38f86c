"""vehicle_bindings: identity's vehicle bindings, projected from its events; VH-13 books only bound vehicles.

Revision ID: 0007
Revises: 0006
"""

from alembic import op
import sqlalchemy as sa


revision = '0007'
down_revision = '0006'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        'vehicle_bindings',
        sa.Column('binding_id', sa.String(length=64), nullable=False),
        sa.Column('account_id', sa.String(length=64), nullable=False),
        sa.Column('vehicle_ref', sa.String(length=64), nullable=False),
        sa.Column('owned', sa.Boolean(), nullable=False),
        sa.Column('bound_at', sa.DateTime(timezone=True), nullable=True),
        sa.Column('ended_at', sa.DateTime(timezone=True), nullable=True),
        sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint('binding_id', name=op.f('pk_vehicle_bindings')),
    )
    op.create_index(
        'ix_vehicle_bindings_vehicle_account', 'vehicle_bindings', ['vehicle_ref', 'account_id'], unique=False
    )


def downgrade() -> None:
    op.drop_index('ix_vehicle_bindings_vehicle_account', table_name='vehicle_bindings')
    op.drop_table('vehicle_bindings')
