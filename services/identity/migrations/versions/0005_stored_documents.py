"""documents: stored photos and scans (AR-01); licence photos keep their bytes.

Revision ID: 0005
Revises: 0004
"""

from alembic import op
import sqlalchemy as sa

from servicekit.migrations import create_document_tables, drop_document_tables

revision = '0005'
down_revision = '0004'
branch_labels = None
depends_on = None


def upgrade() -> None:
    create_document_tables(op)
    op.add_column('licence_photos', sa.Column('document_id', sa.UUID(), nullable=True))
    op.create_foreign_key(
        op.f('fk_licence_photos_document_id_documents'), 'licence_photos', 'documents', ['document_id'], ['id']
    )


def downgrade() -> None:
    op.drop_constraint(op.f('fk_licence_photos_document_id_documents'), 'licence_photos', type_='foreignkey')
    op.drop_column('licence_photos', 'document_id')
    drop_document_tables(op)
