"""Camera-recorded violations (VI-01), decisions and their serials (VI-03), payment orders, bank
transactions and notices, reconciliations (VI-04), bulk intake progress, the binding and plate
projections (VI-02, VI-05), and stored documents (evidence, issued decisions; AR-01).

Revision ID: 0002
Revises: 0001
"""

from alembic import op
import sqlalchemy as sa
from sqlalchemy.dialects import postgresql

from servicekit.migrations import create_document_tables, drop_document_tables

revision = '0002'
down_revision = '0001'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('bank_notices',
    sa.Column('id', sa.UUID(), nullable=False),
    sa.Column('bank', sa.String(length=16), nullable=False),
    sa.Column('received_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('signature_ok', sa.Boolean(), nullable=False),
    sa.Column('bank_txn_id', sa.String(length=64), nullable=True),
    sa.Column('outcome', sa.String(length=24), nullable=False),
    sa.Column('body', sa.Text(), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_bank_notices'))
    )
    op.create_table('bank_transactions',
    sa.Column('id', sa.UUID(), nullable=False),
    sa.Column('bank', sa.String(length=16), nullable=False),
    sa.Column('bank_txn_id', sa.String(length=64), nullable=False),
    sa.Column('order_number', sa.String(length=32), nullable=True),
    sa.Column('payment_reference', sa.String(length=20), nullable=True),
    sa.Column('decision_id', sa.UUID(), nullable=True),
    sa.Column('amount_fen', sa.Integer(), nullable=False),
    sa.Column('paid_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('paid_on', sa.Date(), nullable=False),
    sa.Column('outcome', sa.String(length=24), nullable=False),
    sa.Column('received_via', sa.String(length=16), nullable=False),
    sa.Column('recorded_at', sa.DateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_bank_transactions')),
    sa.UniqueConstraint('bank', 'bank_txn_id', name='uq_bank_transactions_bank_txn')
    )
    op.create_index('ix_bank_transactions_day', 'bank_transactions', ['bank', 'paid_on'], unique=False)
    op.create_table('bindings',
    sa.Column('binding_id', sa.String(length=64), nullable=False),
    sa.Column('account_id', sa.String(length=64), nullable=False),
    sa.Column('record_kind', sa.String(length=16), nullable=False),
    sa.Column('ref', sa.String(length=64), nullable=False),
    sa.Column('owned', sa.Boolean(), nullable=False),
    sa.Column('holder_name', sa.String(length=100), nullable=True),
    sa.Column('bound_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('ended_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('binding_id', name=op.f('pk_bindings'))
    )
    op.create_index('ix_bindings_account', 'bindings', ['account_id', 'record_kind'], unique=False)
    op.create_index('ix_bindings_ref', 'bindings', ['record_kind', 'ref'], unique=False)
    op.create_table('decision_serials',
    sa.Column('office_code', sa.String(length=6), nullable=False),
    sa.Column('year', sa.Integer(), nullable=False),
    sa.Column('last', sa.Integer(), nullable=False),
    sa.PrimaryKeyConstraint('office_code', 'year', name=op.f('pk_decision_serials'))
    )
    create_document_tables(op)
    op.create_table('intake_batches',
    sa.Column('id', sa.UUID(), nullable=False),
    sa.Column('source', sa.String(length=64), nullable=False),
    sa.Column('state', sa.String(length=16), nullable=False),
    sa.Column('expected', sa.Integer(), nullable=True),
    sa.Column('lines', sa.Integer(), nullable=False),
    sa.Column('created', sa.Integer(), nullable=False),
    sa.Column('repeated', sa.Integer(), nullable=False),
    sa.Column('refused', sa.Integer(), nullable=False),
    sa.Column('errors', postgresql.JSONB(astext_type=sa.Text()), nullable=False),
    sa.Column('runs', sa.Integer(), nullable=False),
    sa.Column('started_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('finished_at', sa.DateTime(timezone=True), nullable=True),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_intake_batches'))
    )
    op.create_table('reconciliations',
    sa.Column('id', sa.UUID(), nullable=False),
    sa.Column('bank', sa.String(length=16), nullable=False),
    sa.Column('day', sa.Date(), nullable=False),
    sa.Column('statement_sha256', sa.String(length=64), nullable=False),
    sa.Column('lines', sa.Integer(), nullable=False),
    sa.Column('differences', postgresql.JSONB(astext_type=sa.Text()), nullable=False),
    sa.Column('ran_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('ran_by', sa.String(length=64), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_reconciliations'))
    )
    op.create_index('ix_reconciliations_day', 'reconciliations', ['bank', 'day'], unique=False)
    op.create_table('vehicle_plates',
    sa.Column('vehicle_id', sa.String(length=64), nullable=False),
    sa.Column('plate_kind', sa.String(length=2), nullable=False),
    sa.Column('plate_number', sa.String(length=10), nullable=False),
    sa.Column('owner_id_number', sa.String(length=32), nullable=True),
    sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('vehicle_id', name=op.f('pk_vehicle_plates'))
    )
    op.create_index('ix_vehicle_plates_plate', 'vehicle_plates', ['plate_number', 'plate_kind'], unique=False)
    op.create_table('violations',
    sa.Column('id', sa.UUID(), nullable=False),
    sa.Column('record_id', sa.String(length=64), nullable=False),
    sa.Column('source', sa.String(length=64), nullable=False),
    sa.Column('office_code', sa.String(length=6), nullable=False),
    sa.Column('plate_kind', sa.String(length=2), nullable=False),
    sa.Column('plate_number', sa.String(length=10), nullable=False),
    sa.Column('violated_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('place', sa.String(length=200), nullable=False),
    sa.Column('violation_code', sa.String(length=8), nullable=False),
    sa.Column('description', sa.String(length=200), nullable=False),
    sa.Column('penalty', sa.String(length=8), nullable=False),
    sa.Column('fine_fen', sa.Integer(), nullable=False),
    sa.Column('points', sa.Integer(), nullable=False),
    sa.Column('evidence_count', sa.Integer(), nullable=False),
    sa.Column('state', sa.String(length=16), nullable=False),
    sa.Column('content_sha256', sa.String(length=64), nullable=False),
    sa.Column('recorded_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('version', sa.Integer(), server_default=sa.text('1'), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_violations')),
    sa.UniqueConstraint('record_id', name=op.f('uq_violations_record_id'))
    )
    op.create_index('ix_violations_plate', 'violations', ['plate_number', 'plate_kind', 'violated_at'], unique=False)
    op.create_table('decisions',
    sa.Column('id', sa.UUID(), nullable=False),
    sa.Column('number', sa.String(length=18), nullable=False),
    sa.Column('violation_id', sa.UUID(), nullable=False),
    sa.Column('account_id', sa.String(length=64), nullable=False),
    sa.Column('driver_id_number', sa.String(length=32), nullable=False),
    sa.Column('driver_name', sa.String(length=100), nullable=False),
    sa.Column('phone', sa.String(length=11), nullable=True),
    sa.Column('office_code', sa.String(length=6), nullable=False),
    sa.Column('penalty', sa.String(length=8), nullable=False),
    sa.Column('fine_fen', sa.Integer(), nullable=False),
    sa.Column('points', sa.Integer(), nullable=False),
    sa.Column('decided_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('pay_by', sa.Date(), nullable=False),
    sa.Column('payment_reference', sa.String(length=20), nullable=False),
    sa.Column('payment_state', sa.String(length=16), nullable=False),
    sa.Column('paid_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('paid_fen', sa.Integer(), nullable=True),
    sa.Column('late_fee_fen', sa.Integer(), nullable=True),
    sa.Column('document_id', sa.UUID(), nullable=True),
    sa.Column('revoked_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('revocation_ground', sa.String(length=32), nullable=True),
    sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['violation_id'], ['violations.id'], name=op.f('fk_decisions_violation_id_violations')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_decisions')),
    sa.UniqueConstraint('number', name=op.f('uq_decisions_number')),
    sa.UniqueConstraint('payment_reference', name=op.f('uq_decisions_payment_reference'))
    )
    op.create_index('ix_decisions_account', 'decisions', ['account_id', 'decided_at'], unique=False)
    op.create_index('uq_decisions_violation_in_force', 'decisions', ['violation_id'], unique=True, postgresql_where=sa.text('revoked_at IS NULL'))
    op.create_table('payment_orders',
    sa.Column('id', sa.UUID(), nullable=False),
    sa.Column('order_number', sa.String(length=32), nullable=False),
    sa.Column('decision_id', sa.UUID(), nullable=False),
    sa.Column('account_id', sa.String(length=64), nullable=False),
    sa.Column('bank', sa.String(length=16), nullable=False),
    sa.Column('amount_fen', sa.Integer(), nullable=False),
    sa.Column('fine_fen', sa.Integer(), nullable=False),
    sa.Column('late_fee_fen', sa.Integer(), nullable=False),
    sa.Column('state', sa.String(length=16), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('expires_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('bank_txn_id', sa.String(length=64), nullable=True),
    sa.Column('paid_at', sa.DateTime(timezone=True), nullable=True),
    sa.ForeignKeyConstraint(['decision_id'], ['decisions.id'], name=op.f('fk_payment_orders_decision_id_decisions')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_payment_orders')),
    sa.UniqueConstraint('order_number', name=op.f('uq_payment_orders_order_number'))
    )
    op.create_index('ix_payment_orders_decision', 'payment_orders', ['decision_id'], unique=False)


def downgrade() -> None:
    op.drop_index('ix_payment_orders_decision', table_name='payment_orders')
    op.drop_table('payment_orders')
    op.drop_index('uq_decisions_violation_in_force', table_name='decisions', postgresql_where=sa.text('revoked_at IS NULL'))
    op.drop_index('ix_decisions_account', table_name='decisions')
    op.drop_table('decisions')
    op.drop_index('ix_violations_plate', table_name='violations')
    op.drop_table('violations')
    op.drop_index('ix_vehicle_plates_plate', table_name='vehicle_plates')
    op.drop_table('vehicle_plates')
    op.drop_index('ix_reconciliations_day', table_name='reconciliations')
    op.drop_table('reconciliations')
    op.drop_table('intake_batches')
    drop_document_tables(op)
    op.drop_table('decision_serials')
    op.drop_index('ix_bindings_ref', table_name='bindings')
    op.drop_index('ix_bindings_account', table_name='bindings')
    op.drop_table('bindings')
    op.drop_index('ix_bank_transactions_day', table_name='bank_transactions')
    op.drop_table('bank_transactions')
    op.drop_table('bank_notices')
