"""Personal data at rest (ADR 0095): each SMS's phone, template values and text sealed (SM4-GCM); the
phone found by its blind index (HMAC-SM3), which takes over the per-phone index.

Revision ID: 0006
Revises: 0005
"""

from alembic import op

from servicekit.crypto import normalise_phone
from servicekit.migrations import Seal, seal_columns, unseal_columns

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None

SMS = [
    Seal("phone", blind=normalise_phone, nullable=False),
    Seal("params", json_value=True),
    Seal("body"),
]


def upgrade() -> None:
    op.drop_index("ix_sms_messages_phone_id", table_name="sms_messages")
    seal_columns(op, "sms_messages", SMS)
    op.create_index("ix_sms_messages_phone_id", "sms_messages", ["phone_bidx", "id"])


def downgrade() -> None:
    op.drop_index("ix_sms_messages_phone_id", table_name="sms_messages")
    unseal_columns(op, "sms_messages", SMS)
    op.create_index("ix_sms_messages_phone_id", "sms_messages", ["phone", "id"])
