"""Staff sign-in (ADR 0091, 0092): the TOTP secret and last accepted step, when the password was set,
and the challenges that join the steps of a staff sign-in.

`password_changed_at` of the accounts that exist is unknown: it starts at this upgrade, so no staff
member is asked for a new password by the upgrade itself.

Revision ID: 0009
Revises: 0008
"""

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects.postgresql import UUID

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("accounts", sa.Column("password_changed_at", sa.DateTime(timezone=True), nullable=True))
    op.execute("UPDATE accounts SET password_changed_at = now()")
    op.add_column("accounts", sa.Column("totp_secret", sa.Text(), nullable=True))
    op.add_column("accounts", sa.Column("totp_last_step", sa.BigInteger(), nullable=True))
    op.add_column("accounts", sa.Column("totp_enrolled_at", sa.DateTime(timezone=True), nullable=True))
    op.create_table(
        "sign_in_challenges",
        sa.Column("id", UUID(as_uuid=True), nullable=False),
        sa.Column("token_hash", sa.String(64), nullable=False),
        sa.Column("account_id", UUID(as_uuid=True), nullable=False),
        sa.Column("step", sa.String(16), nullable=False),
        sa.Column("totp_secret", sa.Text(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("used_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["account_id"], ["accounts.id"], name=op.f("fk_sign_in_challenges_account_id_accounts")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_sign_in_challenges")),
        sa.UniqueConstraint("token_hash", name=op.f("uq_sign_in_challenges_token_hash")),
    )
    op.create_index("ix_sign_in_challenges_account", "sign_in_challenges", ["account_id"])


def downgrade() -> None:
    op.drop_index("ix_sign_in_challenges_account", "sign_in_challenges")
    op.drop_table("sign_in_challenges")
    for column in ("totp_enrolled_at", "totp_last_step", "totp_secret", "password_changed_at"):
        op.drop_column("accounts", column)
