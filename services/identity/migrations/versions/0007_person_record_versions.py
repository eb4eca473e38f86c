"""person_records.version: the producer's version of a record, so that a late older event is dropped
(licence records from license's events, ADR 0050).

Revision ID: 0007
Revises: 0006
"""

import sqlalchemy as sa
from alembic import op

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("person_records", sa.Column("version", sa.Integer(), nullable=True))


def downgrade() -> None:
    op.drop_column("person_records", "version")
