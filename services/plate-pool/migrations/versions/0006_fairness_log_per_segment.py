"""PP-13 with one fairness stream per segment (ADR 0097): two segments' streams may give the same entry id,
so a drained entry is unique by (segment, stream id), no longer by stream id alone.

Revision ID: 0006
Revises: 0005
"""

import sqlalchemy as sa
from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None

_WHERE = sa.text("stream_id IS NOT NULL")


def upgrade() -> None:
    op.create_index(
        "uq_fairness_log_segment_stream_id",
        "fairness_log",
        ["segment_id", "stream_id"],
        unique=True,
        postgresql_where=_WHERE,
    )
    op.drop_index("uq_fairness_log_stream_id", table_name="fairness_log", postgresql_where=_WHERE)


def downgrade() -> None:
    op.create_index(
        "uq_fairness_log_stream_id", "fairness_log", ["stream_id"], unique=True, postgresql_where=_WHERE
    )
    op.drop_index("uq_fairness_log_segment_stream_id", table_name="fairness_log", postgresql_where=_WHERE)
