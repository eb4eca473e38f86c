"""DL-12: point entries from violation's penalty decisions, and the day a record's points roll over.

Revision ID: 0006
Revises: 0002
"""

from alembic import op
import sqlalchemy as sa


revision = "0006"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("licence_records", sa.Column("points_review_on", sa.Date(), nullable=True))
    op.create_index(
        "ix_licence_records_points_review_on", "licence_records", ["points_review_on"], unique=False
    )
    op.create_table(
        "point_entries",
        sa.Column("id", sa.UUID(), nullable=False),
        sa.Column("decision_id", sa.String(length=64), nullable=False),
        sa.Column("decision_number", sa.String(length=64), nullable=True),
        sa.Column("violation_id", sa.String(length=64), nullable=False),
        sa.Column("number", sa.String(length=32), nullable=False),
        sa.Column("record_id", sa.UUID(), nullable=True),
        sa.Column("plate_number", sa.String(length=16), nullable=True),
        sa.Column("violation_code", sa.String(length=16), nullable=False),
        sa.Column("violated_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("place", sa.String(length=200), nullable=True),
        sa.Column("points", sa.SmallInteger(), nullable=False),
        sa.Column("fine_fen", sa.Integer(), nullable=False),
        sa.Column("decided_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("received_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("revoked_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("revoke_ground", sa.String(length=32), nullable=True),
        sa.Column("cleared_at", sa.DateTime(timezone=True), nullable=True),
        sa.CheckConstraint("points BETWEEN 1 AND 12", name=op.f("ck_point_entries_points")),
        sa.CheckConstraint("fine_fen >= 0", name=op.f("ck_point_entries_fine_fen")),
        sa.ForeignKeyConstraint(
            ["record_id"],
            ["licence_records.id"],
            name=op.f("fk_point_entries_record_id_licence_records"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_point_entries")),
        sa.UniqueConstraint("decision_id", name=op.f("uq_point_entries_decision_id")),
    )
    op.create_index(
        "ix_point_entries_record_id_decided_at", "point_entries", ["record_id", "decided_at"], unique=False
    )
    op.create_index(
        "ix_point_entries_waiting_number",
        "point_entries",
        ["number"],
        unique=False,
        postgresql_where=sa.text("record_id IS NULL"),
    )


def downgrade() -> None:
    op.drop_index("ix_point_entries_waiting_number", table_name="point_entries")
    op.drop_index("ix_point_entries_record_id_decided_at", table_name="point_entries")
    op.drop_table("point_entries")
    op.drop_index("ix_licence_records_points_review_on", table_name="licence_records")
    op.drop_column("licence_records", "points_review_on")
