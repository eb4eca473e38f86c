"""ADR 0096: identity numbers, names, phones and addresses sealed (SM4-GCM, bound to table.column); the
identity numbers a query looks up get a blind index (HMAC-SM3) in `<column>_bidx`. Existing rows are
sealed with the service's current data key; the downgrade opens them back.

Revision ID: 0013
Revises: 0012
"""

from alembic import op

from servicekit.crypto import normalise_id_number
from servicekit.migrations import Seal, seal_columns, unseal_columns

revision = '0013'
down_revision = '0012'
branch_labels = None
depends_on = None

# Every identity number gets a blind index: a query or a data export (ADR 0093) finds its rows by it.
ID = Seal('owner_id_number', blind=normalise_id_number)
OWNER = [ID, Seal('owner_name'), Seal('phone')]

# table: (its key, the columns sealed)
SEALED: dict[str, tuple[tuple[str, ...], list[Seal]]] = {
    'vehicles': (('id',), OWNER),
    'preselections': (('selection_id',), OWNER),
    'inspection_bookings': (('id',), [Seal('holder_id_number', blind=normalise_id_number), Seal('phone')]),
    'applications': (
        ('id',),
        [Seal('applicant_id_number', blind=normalise_id_number), Seal('address'), Seal('phone')],
    ),
    'delivery_bans': (('id',), [Seal('id_number', blind=normalise_id_number)]),
    'temp_plate_dealers': (('id',), [Seal('legal_rep_name'), Seal('legal_rep_phone')]),
    'temp_plates': (('id',), OWNER),
}
# The b-tree indexes on clear identity numbers: their lookups go through the blind index now.
CLEAR_INDEXES = {
    'vehicles': ('ix_vehicles_owner_id_number', 'owner_id_number'),
    'inspection_bookings': ('ix_inspection_bookings_holder', 'holder_id_number'),
    'applications': ('ix_applications_applicant', 'applicant_id_number'),
    'delivery_bans': ('ix_delivery_bans_id_number', 'id_number'),
}


NOT_NULL = [
    ('vehicles', 'owner_id_number'),
    ('inspection_bookings', 'holder_id_number'),
    ('applications', 'applicant_id_number'),
    ('delivery_bans', 'id_number'),
    ('temp_plates', 'owner_id_number'),
]


def upgrade() -> None:
    for table, (index, _column) in CLEAR_INDEXES.items():
        op.drop_index(index, table_name=table)
    for table, (key, columns) in SEALED.items():
        seal_columns(op, table, columns, key)
    for table, column in NOT_NULL:
        op.alter_column(table, column + '_bidx', nullable=False)  # as the number is


def downgrade() -> None:
    for table, (key, columns) in SEALED.items():
        unseal_columns(op, table, columns, key)
    for table, (index, column) in CLEAR_INDEXES.items():
        op.create_index(index, table, [column])
