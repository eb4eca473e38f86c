"""data_export_parts.part sealed at rest (SM4-GCM, ADR 0095): text holding the sealed JSON.

Parts are transient (a download is offered for 7 days, then purged): the few in clear are deleted rather
than sealed here, and their exports show them missing.

Revision ID: 0012
Revises: 0011
"""

import sqlalchemy as sa
from alembic import op

revision = "0012"
down_revision = "0011"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.execute("DELETE FROM data_export_parts")
    op.alter_column("data_export_parts", "part", type_=sa.Text(), postgresql_using="part::text")


def downgrade() -> None:
    op.execute("DELETE FROM data_export_parts")
    op.alter_column(
        "data_export_parts", "part", type_=sa.dialects.postgresql.JSONB(), postgresql_using="part::jsonb"
    )
