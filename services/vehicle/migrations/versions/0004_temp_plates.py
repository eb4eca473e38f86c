"""Temporary plates by car dealers (VH-12): qualifications, collections of blanks, issued plates.

Revision ID: 0004
Revises: 0003
"""

from alembic import op
import sqlalchemy as sa
from sqlalchemy.dialects import postgresql

revision = '0004'
down_revision = '0003'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('temp_plate_dealers',
    sa.Column('id', sa.UUID(), nullable=False),
    sa.Column('account_subject', sa.String(length=100), nullable=False),
    sa.Column('office_code', sa.String(length=6), nullable=False),
    sa.Column('uscc', sa.String(length=18), nullable=False),
    sa.Column('name', sa.String(length=200), nullable=False),
    sa.Column('legal_rep_name', sa.String(length=100), nullable=False),
    sa.Column('legal_rep_phone', sa.String(length=11), nullable=False),
    sa.Column('authorised', postgresql.ARRAY(sa.String(length=100)), nullable=False),
    sa.Column('documents', postgresql.JSONB(astext_type=sa.Text()), nullable=False),
    sa.Column('quota', sa.Integer(), nullable=False),
    sa.Column('state', sa.String(length=16), nullable=False),
    sa.Column('valid_from', sa.Date(), nullable=False),
    sa.Column('valid_until', sa.Date(), nullable=False),
    sa.Column('mismatch_count', sa.Integer(), server_default=sa.text('0'), nullable=False),
    sa.Column('damaged_count', sa.Integer(), server_default=sa.text('0'), nullable=False),
    sa.Column('damaged_outstanding', sa.Integer(), server_default=sa.text('0'), nullable=False),
    sa.Column('state_reason', sa.Text(), nullable=True),
    sa.Column('cancelled_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_temp_plate_dealers'))
    )
    op.create_index('ix_temp_plate_dealers_account', 'temp_plate_dealers', ['account_subject'], unique=False)
    op.create_index('ix_temp_plate_dealers_uscc', 'temp_plate_dealers', ['uscc'], unique=False)
    op.create_table('temp_plate_collections',
    sa.Column('id', sa.UUID(), nullable=False),
    sa.Column('dealer_id', sa.UUID(), nullable=False),
    sa.Column('quantity', sa.Integer(), nullable=False),
    sa.Column('damaged_returned', sa.Integer(), nullable=False),
    sa.Column('check_state', sa.String(length=16), nullable=False),
    sa.Column('recalled', sa.Integer(), server_default=sa.text('0'), nullable=False),
    sa.Column('collected_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('checked_at', sa.DateTime(timezone=True), nullable=True),
    sa.CheckConstraint('quantity > 0 AND damaged_returned >= 0', name=op.f('ck_temp_plate_collections_quantities')),
    sa.ForeignKeyConstraint(['dealer_id'], ['temp_plate_dealers.id'], name=op.f('fk_temp_plate_collections_dealer_id_temp_plate_dealers')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_temp_plate_collections'))
    )
    op.create_table('temp_plates',
    sa.Column('id', sa.UUID(), nullable=False),
    sa.Column('dealer_id', sa.UUID(), nullable=False),
    sa.Column('number', sa.String(length=16), nullable=False),
    sa.Column('vin', sa.String(length=17), nullable=False),
    sa.Column('brand', sa.String(length=60), nullable=False),
    sa.Column('model', sa.String(length=60), nullable=False),
    sa.Column('owner_id_kind', sa.String(length=20), nullable=False),
    sa.Column('owner_id_number', sa.String(length=32), nullable=False),
    sa.Column('owner_name', sa.String(length=100), nullable=False),
    sa.Column('phone', sa.String(length=11), nullable=False),
    sa.Column('issued_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('valid_until', sa.Date(), nullable=False),
    sa.Column('state', sa.String(length=16), nullable=False),
    sa.ForeignKeyConstraint(['dealer_id'], ['temp_plate_dealers.id'], name=op.f('fk_temp_plates_dealer_id_temp_plate_dealers')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_temp_plates')),
    sa.UniqueConstraint('number', name=op.f('uq_temp_plates_number'))
    )
    op.create_index('ix_temp_plates_vin', 'temp_plates', ['vin'], unique=False)


def downgrade() -> None:
    op.drop_index('ix_temp_plates_vin', table_name='temp_plates')
    op.drop_table('temp_plates')
    op.drop_table('temp_plate_collections')
    op.drop_index('ix_temp_plate_dealers_uscc', table_name='temp_plate_dealers')
    op.drop_index('ix_temp_plate_dealers_account', table_name='temp_plate_dealers')
    op.drop_table('temp_plate_dealers')
