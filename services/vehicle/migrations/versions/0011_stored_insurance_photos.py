"""documents: a mark's insurance certificate is stored with its application (AR-01, VH-09); an
application waiting for it is a draft, with no intake due date yet.

Revision ID: 0011
Revises: 0010
"""

from alembic import op
import sqlalchemy as sa

from servicekit.migrations import create_document_tables, drop_document_tables

revision = '0011'
down_revision = '0010'
branch_labels = None
depends_on = None


def upgrade() -> None:
    create_document_tables(op)
    op.add_column('applications', sa.Column('insurance_photo_id', sa.UUID(), nullable=True))
    op.create_foreign_key(
        op.f('fk_applications_insurance_photo_id_documents'),
        'applications',
        'documents',
        ['insurance_photo_id'],
        ['id'],
    )
    op.alter_column('applications', 'intake_due', existing_type=sa.DateTime(timezone=True), nullable=True)


def downgrade() -> None:
    # Drafts have no intake due date and no place in the schema before this revision.
    op.execute("DELETE FROM applications WHERE state = 'draft'")
    op.alter_column('applications', 'intake_due', existing_type=sa.DateTime(timezone=True), nullable=False)
    op.drop_constraint(
        op.f('fk_applications_insurance_photo_id_documents'), 'applications', type_='foreignkey'
    )
    op.drop_column('applications', 'insurance_photo_id')
    drop_document_tables(op)
