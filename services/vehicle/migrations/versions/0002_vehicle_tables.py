"""Vehicle records (VH-01), pre-selection projection (PP-09), inspection stations, plans, slots and
bookings (VH-13/14), reissue applications (VH-02..10) and delivery bans (VH-07).

Revision ID: 0002
Revises: 0001
"""

from alembic import op
import sqlalchemy as sa
from sqlalchemy.dialects import postgresql

revision = '0002'
down_revision = '0001'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('delivery_bans',
    sa.Column('id', sa.UUID(), nullable=False),
    sa.Column('id_kind', sa.String(length=20), nullable=False),
    sa.Column('id_number', sa.String(length=32), nullable=False),
    sa.Column('until', sa.Date(), nullable=False),
    sa.Column('reason', sa.String(length=20), nullable=False),
    sa.Column('case_id', sa.String(length=64), nullable=False),
    sa.Column('imposed_at', sa.DateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_delivery_bans')),
    sa.UniqueConstraint('case_id', name=op.f('uq_delivery_bans_case_id'))
    )
    op.create_index('ix_delivery_bans_id_number', 'delivery_bans', ['id_number'], unique=False)
    op.create_table('inspection_stations',
    sa.Column('id', sa.UUID(), nullable=False),
    sa.Column('name', sa.String(length=200), nullable=False),
    sa.Column('address', sa.String(length=300), nullable=False),
    sa.Column('city_code', sa.String(length=6), nullable=False),
    sa.Column('vehicle_kinds', postgresql.ARRAY(sa.String(length=32)), nullable=False),
    sa.Column('max_axle_load_kg', sa.Integer(), nullable=True),
    sa.Column('brake_kinds', postgresql.ARRAY(sa.String(length=32)), server_default=sa.text("'{}'"), nullable=False),
    sa.Column('state', sa.String(length=16), nullable=False),
    sa.Column('state_reason', sa.Text(), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_inspection_stations'))
    )
    op.create_table('preselections',
    sa.Column('selection_id', sa.String(length=64), nullable=False),
    sa.Column('office_code', sa.String(length=6), nullable=False),
    sa.Column('plate_number', sa.String(length=10), nullable=False),
    sa.Column('vin', sa.String(length=17), nullable=False),
    sa.Column('owner_id_kind', sa.String(length=20), nullable=False),
    sa.Column('owner_id_number', sa.String(length=32), nullable=False),
    sa.Column('owner_name', sa.String(length=100), nullable=False),
    sa.Column('phone', sa.String(length=11), nullable=False),
    sa.Column('register_by', sa.DateTime(timezone=True), nullable=False),
    sa.Column('state', sa.String(length=16), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('selection_id', name=op.f('pk_preselections'))
    )
    op.create_table('vehicles',
    sa.Column('id', sa.UUID(), nullable=False),
    sa.Column('office_code', sa.String(length=6), nullable=False),
    sa.Column('plate_kind', sa.String(length=2), nullable=False),
    sa.Column('plate_number', sa.String(length=10), nullable=False),
    sa.Column('vin', sa.String(length=17), nullable=False),
    sa.Column('vehicle_kind', sa.String(length=32), server_default=sa.text("'small_car'"), nullable=False),
    sa.Column('owner_id_kind', sa.String(length=20), nullable=False),
    sa.Column('owner_id_number', sa.String(length=32), nullable=False),
    sa.Column('owner_name', sa.String(length=100), nullable=False),
    sa.Column('phone', sa.String(length=11), nullable=False),
    sa.Column('use', sa.String(length=20), nullable=False),
    sa.Column('state', sa.String(length=24), nullable=False),
    sa.Column('flags', postgresql.ARRAY(sa.String(length=24)), server_default=sa.text("'{}'"), nullable=False),
    sa.Column('inspection_valid_until', sa.Date(), nullable=True),
    sa.Column('insurance_valid_until', sa.Date(), nullable=True),
    sa.Column('licence_photo_stored', sa.Boolean(), server_default=sa.text('false'), nullable=False),
    sa.Column('plate_reissue_count', sa.Integer(), server_default=sa.text('0'), nullable=False),
    sa.Column('selection_id', sa.String(length=64), nullable=True),
    sa.Column('registered_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('version', sa.Integer(), server_default=sa.text('1'), nullable=False),
    sa.CheckConstraint("use IN ('commercial', 'non_commercial')", name=op.f('ck_vehicles_use')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_vehicles')),
    sa.UniqueConstraint('plate_kind', 'plate_number', name='uq_vehicles_plate'),
    sa.UniqueConstraint('vin', name=op.f('uq_vehicles_vin'))
    )
    op.create_index('ix_vehicles_owner_id_number', 'vehicles', ['owner_id_number'], unique=False)
    op.create_table('applications',
    sa.Column('id', sa.UUID(), nullable=False),
    sa.Column('vehicle_id', sa.UUID(), nullable=False),
    sa.Column('office_code', sa.String(length=6), nullable=False),
    sa.Column('applicant_id_number', sa.String(length=32), nullable=False),
    sa.Column('applicant_subject', sa.String(length=100), nullable=False),
    sa.Column('item', sa.String(length=16), nullable=False),
    sa.Column('kind', sa.String(length=16), nullable=False),
    sa.Column('delivery', sa.String(length=16), nullable=False),
    sa.Column('address', sa.Text(), nullable=True),
    sa.Column('phone', sa.String(length=11), nullable=False),
    sa.Column('temp_plate', sa.Boolean(), server_default=sa.text('false'), nullable=False),
    sa.Column('insurance_photo_ref', sa.String(length=200), nullable=True),
    sa.Column('state', sa.String(length=24), nullable=False),
    sa.Column('intake_due', sa.DateTime(timezone=True), nullable=False),
    sa.Column('ready_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('pickup_due', sa.DateTime(timezone=True), nullable=True),
    sa.Column('tracking_number', sa.String(length=64), nullable=True),
    sa.Column('archived', sa.Boolean(), server_default=sa.text('false'), nullable=False),
    sa.Column('returned_item_destroyed', sa.Boolean(), server_default=sa.text('false'), nullable=False),
    sa.Column('refusal_reason', sa.Text(), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['vehicle_id'], ['vehicles.id'], name=op.f('fk_applications_vehicle_id_vehicles')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_applications'))
    )
    op.create_index('ix_applications_applicant', 'applications', ['applicant_id_number'], unique=False)
    op.create_index('ix_applications_state_office', 'applications', ['state', 'office_code'], unique=False)
    op.create_table('inspection_plans',
    sa.Column('id', sa.UUID(), nullable=False),
    sa.Column('station_id', sa.UUID(), nullable=False),
    sa.Column('first_day', sa.Date(), nullable=False),
    sa.Column('last_day', sa.Date(), nullable=False),
    sa.Column('times', postgresql.JSONB(astext_type=sa.Text()), nullable=False),
    sa.Column('other_cities', sa.Boolean(), nullable=False),
    sa.Column('state', sa.String(length=16), nullable=False),
    sa.Column('published_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['station_id'], ['inspection_stations.id'], name=op.f('fk_inspection_plans_station_id_inspection_stations')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_inspection_plans'))
    )
    op.create_table('inspection_slots',
    sa.Column('id', sa.UUID(), nullable=False),
    sa.Column('station_id', sa.UUID(), nullable=False),
    sa.Column('plan_id', sa.UUID(), nullable=False),
    sa.Column('day', sa.Date(), nullable=False),
    sa.Column('starts_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('ends_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('capacity', sa.Integer(), nullable=False),
    sa.Column('booked', sa.Integer(), server_default=sa.text('0'), nullable=False),
    sa.Column('other_cities', sa.Boolean(), nullable=False),
    sa.CheckConstraint('booked >= 0 AND booked <= capacity', name=op.f('ck_inspection_slots_capacity')),
    sa.ForeignKeyConstraint(['plan_id'], ['inspection_plans.id'], name=op.f('fk_inspection_slots_plan_id_inspection_plans')),
    sa.ForeignKeyConstraint(['station_id'], ['inspection_stations.id'], name=op.f('fk_inspection_slots_station_id_inspection_stations')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_inspection_slots')),
    sa.UniqueConstraint('station_id', 'starts_at', name='uq_inspection_slots_station_start')
    )
    op.create_index('ix_inspection_slots_station_day', 'inspection_slots', ['station_id', 'day'], unique=False)
    op.create_table('inspection_bookings',
    sa.Column('id', sa.UUID(), nullable=False),
    sa.Column('slot_id', sa.UUID(), nullable=False),
    sa.Column('station_id', sa.UUID(), nullable=False),
    sa.Column('vehicle_id', sa.UUID(), nullable=False),
    sa.Column('holder_id_number', sa.String(length=32), nullable=False),
    sa.Column('holder_subject', sa.String(length=100), nullable=False),
    sa.Column('phone', sa.String(length=11), nullable=False),
    sa.Column('state', sa.String(length=24), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['slot_id'], ['inspection_slots.id'], name=op.f('fk_inspection_bookings_slot_id_inspection_slots')),
    sa.ForeignKeyConstraint(['station_id'], ['inspection_stations.id'], name=op.f('fk_inspection_bookings_station_id_inspection_stations')),
    sa.ForeignKeyConstraint(['vehicle_id'], ['vehicles.id'], name=op.f('fk_inspection_bookings_vehicle_id_vehicles')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_inspection_bookings'))
    )
    op.create_index('ix_inspection_bookings_holder', 'inspection_bookings', ['holder_id_number'], unique=False)
    op.create_index('ix_inspection_bookings_slot', 'inspection_bookings', ['slot_id'], unique=False)
    op.create_index('uq_inspection_bookings_vehicle_live', 'inspection_bookings', ['vehicle_id'], unique=True, postgresql_where=sa.text("state = 'booked'"))


def downgrade() -> None:
    op.drop_index('uq_inspection_bookings_vehicle_live', table_name='inspection_bookings', postgresql_where=sa.text("state = 'booked'"))
    op.drop_index('ix_inspection_bookings_slot', table_name='inspection_bookings')
    op.drop_index('ix_inspection_bookings_holder', table_name='inspection_bookings')
    op.drop_table('inspection_bookings')
    op.drop_index('ix_inspection_slots_station_day', table_name='inspection_slots')
    op.drop_table('inspection_slots')
    op.drop_table('inspection_plans')
    op.drop_index('ix_applications_state_office', table_name='applications')
    op.drop_index('ix_applications_applicant', table_name='applications')
    op.drop_table('applications')
    op.drop_index('ix_vehicles_owner_id_number', table_name='vehicles')
    op.drop_table('vehicles')
    op.drop_table('preselections')
    op.drop_table('inspection_stations')
    op.drop_index('ix_delivery_bans_id_number', table_name='delivery_bans')
    op.drop_table('delivery_bans')
