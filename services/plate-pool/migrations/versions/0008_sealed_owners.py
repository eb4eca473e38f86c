"""Personal data at rest (ADR 0095): the owners' identity numbers, names, phones and residence permits
sealed (SM4-GCM); identity numbers and phones found by their blind index (HMAC-SM3), which takes over the
quotas' unique indexes and the bans' index.

Revision ID: 0008
Revises: 0007
"""

import sqlalchemy as sa
from alembic import op

from servicekit.crypto import normalise_id_number, normalise_phone
from servicekit.migrations import Seal, seal_columns, unseal_columns

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None

OPEN = sa.text("state IN ('selecting', 'session_expired', 'awaiting_sms', 'selected')")
SELECTIONS = [
    Seal("owner_id_number", blind=normalise_id_number, nullable=False),
    Seal("owner_name"),
    Seal("phone", blind=normalise_phone, nullable=False),
    Seal("residence_permit", json_value=True),
]
BANS = [Seal("owner_id_number", blind=normalise_id_number, nullable=False)]


def _quota_indexes(owner: str, phone: str) -> None:
    op.create_index("uq_selections_open_owner", "selections", [owner], unique=True, postgresql_where=OPEN)
    op.create_index("uq_selections_open_phone", "selections", [phone], unique=True, postgresql_where=OPEN)


def upgrade() -> None:
    op.drop_index("uq_selections_open_owner", table_name="selections")
    op.drop_index("uq_selections_open_phone", table_name="selections")
    seal_columns(op, "selections", SELECTIONS)
    _quota_indexes("owner_id_number_bidx", "phone_bidx")
    op.drop_index("ix_bans_owner", table_name="bans")
    seal_columns(op, "bans", BANS)
    op.create_index("ix_bans_owner", "bans", ["owner_id_number_bidx", "until"])


def downgrade() -> None:
    op.drop_index("ix_bans_owner", table_name="bans")
    unseal_columns(op, "bans", BANS)
    op.create_index("ix_bans_owner", "bans", ["owner_id_number", "until"])
    op.drop_index("uq_selections_open_owner", table_name="selections")
    op.drop_index("uq_selections_open_phone", table_name="selections")
    unseal_columns(op, "selections", SELECTIONS)
    _quota_indexes("owner_id_number", "phone")
