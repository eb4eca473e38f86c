"""ADR 0096: drivers' and owners' identity numbers, names and phones sealed (SM4-GCM, bound to
table.column). A licence binding's number moves from `ref` to its own sealed `licence_number`, with a
blind index (HMAC-SM3); `ref` keeps vehicles' ids only. Existing rows are sealed with the service's
current data key; the downgrade opens them back.

Revision ID: 0004
Revises: 0003
"""

import sqlalchemy as sa
from alembic import op

from servicekit.crypto import normalise_id_number
from servicekit.migrations import Seal, seal_columns, unseal_columns

revision = '0004'
down_revision = '0003'
branch_labels = None
depends_on = None

# table: (its key, the columns sealed)
SEALED: dict[str, tuple[tuple[str, ...], list[Seal]]] = {
    # Identity numbers get a blind index: a data export (ADR 0093) finds the rows by them.
    'decisions': (
        ('id',),
        [Seal('driver_id_number', blind=normalise_id_number), Seal('driver_name'), Seal('phone')],
    ),
    'bindings': (
        ('binding_id',),
        [Seal('licence_number', blind=normalise_id_number), Seal('holder_name')],
    ),
    'vehicle_plates': (('vehicle_id',), [Seal('owner_id_number', blind=normalise_id_number)]),
}


def upgrade() -> None:
    op.alter_column('bindings', 'ref', existing_type=sa.String(64), nullable=True)
    op.add_column('bindings', sa.Column('licence_number', sa.Text(), nullable=True))
    op.execute("UPDATE bindings SET licence_number = ref, ref = NULL WHERE record_kind = 'licence'")
    for table, (key, columns) in SEALED.items():
        seal_columns(op, table, columns, key)
    op.alter_column('decisions', 'driver_id_number_bidx', nullable=False)  # as the number is


def downgrade() -> None:
    for table, (key, columns) in SEALED.items():
        unseal_columns(op, table, columns, key)
    op.execute("UPDATE bindings SET ref = licence_number WHERE record_kind = 'licence'")
    op.drop_column('bindings', 'licence_number')
    op.alter_column('bindings', 'ref', existing_type=sa.String(64), nullable=False)
