"""ADR 0096: identity numbers (the licence number is one), names, phones, addresses, a certificate's
doctor and remarks, and an import's lines as read, sealed (SM4-GCM, bound to table.column); the numbers a
query looks up get a blind index (HMAC-SM3) in `<column>_bidx`, which carries their unique and partial
indexes. Existing rows are sealed with the service's current data key; the downgrade opens them back.

Revision ID: 0008
Revises: 0007
"""

import sqlalchemy as sa
from alembic import op

from servicekit.crypto import normalise_id_number
from servicekit.migrations import Seal, seal_columns, unseal_columns

revision = '0008'
down_revision = '0007'
branch_labels = None
depends_on = None


def _number(name: str) -> Seal:
    return Seal(name, blind=normalise_id_number)


# table: (its key, the columns sealed)
SEALED: dict[str, tuple[tuple[str, ...], list[Seal]]] = {
    'licence_records': (('id',), [_number('number'), Seal('name'), Seal('phone')]),
    'point_entries': (('id',), [_number('number')]),
    'licence_applications': (('id',), [_number('id_number'), Seal('address'), Seal('phone')]),
    'licence_delivery_bans': (('id',), [_number('id_number')]),
    'medical_certificates': (
        ('id',),
        [_number('id_number'), Seal('name'), Seal('doctor'), Seal('remarks')],
    ),
    'licence_contacts': (('record_id',), [Seal('address')]),
    'licence_photos': (('photo_id',), [_number('number')]),
    'licence_import_lines': (('import_id', 'line'), [Seal('raw', json_value=True)]),
    'exam_learners': (('id',), [_number('id_number'), Seal('name'), Seal('phone')]),
    'exam_bookings': (('id',), [_number('id_number'), Seal('phone')]),
}
# (table, index, columns): the b-tree indexes on clear numbers; lookups go through the blind index now.
CLEAR_INDEXES = [
    ('licence_applications', 'ix_licence_applications_id_number', ['id_number', 'created_at']),
    ('licence_delivery_bans', 'ix_licence_delivery_bans_id_number', ['id_number']),
    ('medical_certificates', 'ix_medical_certificates_id_number', ['id_number', 'examined_on']),
    ('licence_photos', 'ix_licence_photos_number', ['number', 'approved_at']),
    ('exam_bookings', 'ix_exam_bookings_id_number', ['id_number', 'requested_at']),
]
WAITING = sa.text('record_id IS NULL')
LEARNING = sa.text("state = 'learning'")


def upgrade() -> None:
    op.drop_constraint('uq_licence_records_number', 'licence_records', type_='unique')
    op.drop_index('ix_point_entries_waiting_number', table_name='point_entries')
    op.drop_index('uq_exam_learners_learning_id_number', table_name='exam_learners')
    for table, index, _columns in CLEAR_INDEXES:
        op.drop_index(index, table_name=table)
    for table, (key, columns) in SEALED.items():
        seal_columns(op, table, columns, key)
        for seal in columns:
            if seal.blind is not None:
                op.alter_column(table, seal.column + '_bidx', nullable=False)  # as the number is
    # DL-01: one record per number; DL-12: the entries waiting for a record; DL-11: one learning
    # application per person.
    op.create_unique_constraint('uq_licence_records_number_bidx', 'licence_records', ['number_bidx'])
    op.create_index(
        'ix_point_entries_waiting_number', 'point_entries', ['number_bidx'], postgresql_where=WAITING
    )
    op.create_index(
        'uq_exam_learners_learning_id_number',
        'exam_learners',
        ['id_number_bidx'],
        unique=True,
        postgresql_where=LEARNING,
    )


def downgrade() -> None:
    op.drop_constraint('uq_licence_records_number_bidx', 'licence_records', type_='unique')
    op.drop_index('ix_point_entries_waiting_number', table_name='point_entries')
    op.drop_index('uq_exam_learners_learning_id_number', table_name='exam_learners')
    for table, (key, columns) in SEALED.items():
        unseal_columns(op, table, columns, key)
    for table, index, columns in CLEAR_INDEXES:
        op.create_index(index, table, columns)
    op.create_unique_constraint('uq_licence_records_number', 'licence_records', ['number'])
    op.create_index('ix_point_entries_waiting_number', 'point_entries', ['number'], postgresql_where=WAITING)
    op.create_index(
        'uq_exam_learners_learning_id_number',
        'exam_learners',
        ['id_number'],
        unique=True,
        postgresql_where=LEARNING,
    )
