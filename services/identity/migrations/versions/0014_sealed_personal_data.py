"""Personal data at rest (ADR 0095): identity numbers, names, phones, e-mail addresses, account details and
the counter's forms sealed (SM4-GCM); identity numbers and phones looked up by value get a blind index
(HMAC-SM3), which takes over the indexes and the one-live-account-per-person constraint.

Revision ID: 0014
Revises: 0013
"""

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects.postgresql import JSONB

from servicekit.crypto import normalise_id_number, normalise_phone
from servicekit.migrations import Seal, seal_columns, unseal_columns

revision = "0014"
down_revision = "0013"
branch_labels = None
depends_on = None

LIVE_PERSON = sa.text("category = 'personal' AND status <> 'cancelled'")

ACCOUNTS = [
    Seal("id_number", blind=normalise_id_number),
    Seal("name"),
    Seal("phone", blind=normalise_phone),
    Seal("email"),
    Seal("details", json_value=True),
]
POPULATION = [Seal("id_number", blind=normalise_id_number, nullable=False), Seal("name")]
PERSON_RECORDS = [Seal("id_number", blind=normalise_id_number, nullable=False), Seal("phone")]
REGISTRATIONS = [Seal("id_number", blind=normalise_id_number, nullable=False), Seal("name"), Seal("phone"), Seal("data", json_value=True)]


def upgrade() -> None:
    op.drop_index("uq_accounts_personal_id_number", table_name="accounts")
    op.drop_index("ix_accounts_phone", table_name="accounts")
    op.alter_column("accounts", "details", server_default=None)
    seal_columns(op, "accounts", ACCOUNTS)
    op.create_index(
        "uq_accounts_personal_id_number", "accounts", ["id_number_bidx"], unique=True, postgresql_where=LIVE_PERSON
    )

    op.drop_constraint("pk_population", "population", type_="primary")
    seal_columns(op, "population", POPULATION, key=("id_number",))
    op.drop_index("ix_population_id_number_bidx", table_name="population")
    op.create_primary_key("pk_population", "population", ["id_number_bidx"])

    op.drop_index("ix_person_records_id_number", table_name="person_records")
    seal_columns(op, "person_records", PERSON_RECORDS, key=("record_kind", "ref"))
    seal_columns(op, "registrations", REGISTRATIONS)
    seal_columns(op, "licence_photos", [Seal("id_number")])
    seal_columns(op, "counter_changes", [Seal("data", json_value=True)])


def downgrade() -> None:
    unseal_columns(op, "counter_changes", [Seal("data", json_value=True)])
    unseal_columns(op, "licence_photos", [Seal("id_number")])
    unseal_columns(op, "registrations", REGISTRATIONS)
    unseal_columns(op, "person_records", PERSON_RECORDS, key=("record_kind", "ref"))
    op.create_index("ix_person_records_id_number", "person_records", ["id_number"])

    op.drop_constraint("pk_population", "population", type_="primary")
    op.create_index("ix_population_id_number_bidx", "population", ["id_number_bidx"])
    unseal_columns(op, "population", POPULATION, key=("id_number_bidx",))
    op.create_primary_key("pk_population", "population", ["id_number"])

    op.drop_index("uq_accounts_personal_id_number", table_name="accounts")
    unseal_columns(op, "accounts", ACCOUNTS)
    op.alter_column("accounts", "details", server_default=sa.text("'{}'::jsonb"), type_=JSONB())
    op.create_index("ix_accounts_phone", "accounts", ["phone"])
    op.create_index(
        "uq_accounts_personal_id_number", "accounts", ["id_number"], unique=True, postgresql_where=LIVE_PERSON
    )
