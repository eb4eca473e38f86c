"""Tables of the identity database (outbox, inbox and audit_log come from servicekit).

Identity numbers, names, phones, e-mail addresses and the details and forms that hold addresses are
sealed (SM4-GCM, ADR 0095); those looked up by value have a blind index (`blind_match`)."""

from sqlalchemy import (
    BigInteger,
    Boolean,
    Column,
    Date,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    String,
    Table,
    Text,
    text,
)
from sqlalchemy.dialects.postgresql import JSONB, UUID

from servicekit.crypto import normalise_id_number, normalise_phone, sealed
from servicekit.db import add_document_tables, add_workday_tables, new_metadata

metadata = new_metadata()
add_workday_tables(metadata)  # identity owns the office calendar (WD-01, ADR 0004)
add_document_tables(metadata)  # stored photos and scans (AR-01)

# Signing keys of access tokens (ADR 0010). In dev and test the private key is generated once and kept
# here so every identity process signs with the same key; in prod it comes from the secrets instead.
signing_keys = Table(
    "signing_keys",
    metadata,
    Column("kid", String(64), primary_key=True),
    Column("algorithm", String(16), nullable=False),
    Column("private_pem", Text),  # null when the private half lives in the secrets (prod)
    Column("public_jwk", JSONB, nullable=False),
    Column("created_at", DateTime(timezone=True), nullable=False),
    Column("retired_at", DateTime(timezone=True)),  # still published until tokens it signed expired
)

# One row per account: personal (owner_driver, learner, new_car_owner), unit, staff (clerks) or system.
accounts = Table(
    "accounts",
    metadata,
    Column("id", UUID(as_uuid=True), primary_key=True),
    Column("category", String(16), nullable=False),  # personal | unit | staff | system
    Column("kind", String(32), nullable=False),  # ID-01 kind, or unit kind, or staff / system
    Column("channel", String(16), nullable=False),  # online | counter (ID-02)
    Column("id_kind", String(32)),
    *sealed("accounts", "id_number", blind=normalise_id_number),  # personal: identity number; unit: agent's
    Column("credit_code", String(32)),  # unit: unified social credit code
    Column("username", String(64)),  # staff number, system client id
    *sealed("accounts", "name", nullable=False),
    *sealed("accounts", "phone", blind=normalise_phone),
    *sealed("accounts", "email"),
    Column("password_hash", Text, nullable=False),
    Column("roles", JSONB, nullable=False),
    Column("office", String(16)),
    Column("status", String(16), nullable=False),  # active | suspended | cancelled
    Column("failed_logins", Integer, nullable=False, server_default=text("0")),
    Column("locked_until", DateTime(timezone=True)),
    *sealed(
        "accounts", "details", json_value=True, nullable=False, default=lambda: {}
    ),  # mailing address, unit details
    Column("registration_id", UUID(as_uuid=True)),
    Column("created_at", DateTime(timezone=True), nullable=False),
    Column("updated_at", DateTime(timezone=True), nullable=False),
    Column("cancelled_at", DateTime(timezone=True)),
    Column("cancel_reason", String(64)),
    Column("plate_selected_at", DateTime(timezone=True)),  # ID-05: the new-car owner's pre-selection
    Column("register_by", DateTime(timezone=True)),  # ID-05: 3 working days after the pre-selection
    # ADR 0093: when the retention after cancellation ended and the account's data was de-identified.
    Column("deidentified_at", DateTime(timezone=True)),
    # ADR 0092: when the password was last set; a staff password expires 90 days after it.
    Column("password_changed_at", DateTime(timezone=True)),
    # ADR 0091: the staff's TOTP shared secret (base32), null until enrolled or after an admin's reset.
    # A secret: sealed (SM4-GCM, ADR 0095), never compared in SQL. The last step accepted, against replay.
    *sealed("accounts", "totp_secret"),
    Column("totp_last_step", BigInteger),
    Column("totp_enrolled_at", DateTime(timezone=True)),
    # One live account per person, per unit, per staff number, per client id.
    Index(
        "uq_accounts_personal_id_number",
        "id_number_bidx",
        unique=True,
        postgresql_where=text("category = 'personal' AND status <> 'cancelled'"),
    ),
    Index(
        "uq_accounts_unit_credit_code",
        "credit_code",
        unique=True,
        postgresql_where=text("category = 'unit' AND status <> 'cancelled'"),
    ),
    Index(
        "uq_accounts_username",
        "username",
        unique=True,
        postgresql_where=text("username IS NOT NULL AND status <> 'cancelled'"),
    ),
    Index(
        "ix_accounts_to_deidentify",
        "cancelled_at",
        postgresql_where=text("status = 'cancelled' AND deidentified_at IS NULL"),
    ),
)

# Refresh tokens: only a hash is kept; each use rotates the token inside its family, and a second use
# of a rotated token revokes the whole family (reuse detection).
refresh_tokens = Table(
    "refresh_tokens",
    metadata,
    Column("id", UUID(as_uuid=True), primary_key=True),
    Column("family_id", UUID(as_uuid=True), nullable=False),
    Column("account_id", UUID(as_uuid=True), ForeignKey("accounts.id"), nullable=False),
    Column("token_hash", String(64), nullable=False, unique=True),
    Column("channel", String(16), nullable=False),
    Column("issued_at", DateTime(timezone=True), nullable=False),
    Column("expires_at", DateTime(timezone=True), nullable=False),
    Column("used_at", DateTime(timezone=True)),
    Column("revoked_at", DateTime(timezone=True)),
    Index("ix_refresh_tokens_family", "family_id"),
    Index("ix_refresh_tokens_account", "account_id"),
)

# ADR 0082: every revocation mark identity writes to Redis, kept here as well (same transaction), so a Redis
# that lost them gets them back from identity's worker (`revocation_marks`). Real time, as Redis's TTLs.
token_revocations = Table(
    "token_revocations",
    metadata,
    Column("key", String(200), primary_key=True),  # tms:revoked:{<account id>}:acct or :sid:<family id>
    Column("value", String(20), nullable=False),
    Column("expires_at", DateTime(timezone=True), nullable=False),
    Index("ix_token_revocations_expires_at", "expires_at"),
)

# ADR 0091: the server-side challenge that joins the steps of a staff sign-in (password, second factor,
# new password): single use (each step spends it and hands out the next), bound to its account, short-lived.
# Only a hash of the challenge is kept. `totp_secret` is the secret offered at enrolment, kept here until
# the first code confirms it (then it moves to the account); sealed as the account's is.
sign_in_challenges = Table(
    "sign_in_challenges",
    metadata,
    Column("id", UUID(as_uuid=True), primary_key=True),
    Column("token_hash", String(64), nullable=False, unique=True),
    Column("account_id", UUID(as_uuid=True), ForeignKey("accounts.id"), nullable=False),
    Column("step", String(16), nullable=False),  # enrol | second_factor | new_password
    *sealed("sign_in_challenges", "totp_secret"),
    Column("created_at", DateTime(timezone=True), nullable=False),
    Column("expires_at", DateTime(timezone=True), nullable=False),
    Column("used_at", DateTime(timezone=True)),
    Index("ix_sign_in_challenges_account", "account_id"),
)

# The population registry (人口信息库) as the dev/test adapter sees it: another police system in prod.
population = Table(
    "population",
    metadata,
    *sealed("population", "id_number", blind=normalise_id_number, nullable=False, blind_primary_key=True),
    *sealed("population", "name", nullable=False),
    Column("sex", String(1), nullable=False),
    Column("birth_date", Date, nullable=False),
    Column("status", String(16), nullable=False),  # normal | deceased | emigrated
    # ID-10: disqualifying conditions (licence regulation art. 12 items 3, 4, 9) recorded for the person.
    Column("disqualifications", JSONB, nullable=False, server_default=text("'[]'::jsonb")),
    Column("photo_ref", String(200)),
)

# ID-03 projection: the vehicles, licences and licence applications recorded for each identity number,
# fed by vehicle's and license's events (licence applications by a `system` client until a producer
# publishes them, ADR 0050). Never asked synchronously.
person_records = Table(
    "person_records",
    metadata,
    Column("record_kind", String(24), primary_key=True),  # vehicle | licence | licence_application
    Column("ref", String(64), primary_key=True),  # vehicle id, licence record id (license's), application id
    *sealed(
        "person_records", "id_number", blind=normalise_id_number, nullable=False
    ),  # owner, holder, applicant
    *sealed("person_records", "phone"),
    Column("state", String(24), nullable=False),  # vehicle: registered | transferred | deregistered ...
    Column("plate_number", String(16)),
    Column("vin", String(17)),
    Column("use", String(16)),  # commercial | non_commercial (vehicles)
    Column("updated_at", DateTime(timezone=True), nullable=False),
    # The producer's version of the record where its events carry one (licences): a late older event is
    # dropped. Null for what comes without (vehicles, the system feed, the demo's placeholders).
    Column("version", Integer),
)

# Bindings (ID-07, ID-12 to ID-14): what an account has bound, own or not, and to which unit a licence is.
bindings = Table(
    "bindings",
    metadata,
    Column("id", UUID(as_uuid=True), primary_key=True),
    Column("account_id", UUID(as_uuid=True), ForeignKey("accounts.id"), nullable=False),
    Column("record_kind", String(24), nullable=False),  # vehicle | licence
    Column("ref", String(64), nullable=False),
    Column("owned", Boolean, nullable=False),
    Column("channel", String(16), nullable=False),  # online | counter
    Column("unit_account_id", UUID(as_uuid=True)),  # ID-07: a licence bound to a unit
    Column("created_at", DateTime(timezone=True), nullable=False),
    Column("unbound_at", DateTime(timezone=True)),
    Column("unbind_reason", String(64)),
    Index(
        "uq_bindings_live",
        "account_id",
        "record_kind",
        "ref",
        unique=True,
        postgresql_where=text("unbound_at IS NULL"),
    ),
    Index("ix_bindings_ref", "record_kind", "ref"),
)

# Counter registrations (ID-09, ID-11): one case through intake, review and archive.
registrations = Table(
    "registrations",
    metadata,
    Column("id", UUID(as_uuid=True), primary_key=True),
    Column("category", String(16), nullable=False),  # personal | unit
    Column("stage", String(16), nullable=False),  # intake | review | archive | filed | rejected
    Column("office", String(16), nullable=False),
    *sealed(
        "registrations", "id_number", blind=normalise_id_number, nullable=False
    ),  # the person, or the unit's agent
    *sealed("registrations", "name", nullable=False),
    *sealed("registrations", "phone", nullable=False),
    *sealed("registrations", "data", json_value=True, nullable=False),  # the form's entries (address, ...)
    Column("scans", JSONB, nullable=False),  # photo and scans: [{"kind", "ref"}]
    Column("password_hash", Text, nullable=False),  # set by the person on the counter's keypad
    Column("registry_check", String(16), nullable=False),  # passed | pending (registry unreachable)
    Column("deadline", DateTime(timezone=True)),  # the current stage's working-day deadline (WD-01)
    Column("return_reason", Text),
    Column("reject_reason", Text),
    Column("account_id", UUID(as_uuid=True)),
    Column("filed_items", JSONB),
    Column("history", JSONB, nullable=False, server_default=text("'[]'::jsonb")),
    Column("created_at", DateTime(timezone=True), nullable=False),
    Column("updated_at", DateTime(timezone=True), nullable=False),
    Index("ix_registrations_stage", "office", "stage", "created_at"),
)

# ID-15: licence photos submitted online (DL-05) and their review by the review post within 1 working day.
licence_photos = Table(
    "licence_photos",
    metadata,
    Column("id", UUID(as_uuid=True), primary_key=True),
    Column("account_id", UUID(as_uuid=True), ForeignKey("accounts.id"), nullable=False),
    *sealed("licence_photos", "id_number", nullable=False),
    Column("office", String(16), nullable=False),
    Column("photo_ref", String(200), nullable=False),
    Column("format", String(8), nullable=False),
    Column("state", String(16), nullable=False),  # pending | approved | rejected
    Column("submitted_at", DateTime(timezone=True), nullable=False),
    Column("deadline", DateTime(timezone=True), nullable=False),
    Column("reviewed_by", String(64)),
    Column("reviewed_at", DateTime(timezone=True)),
    Column("reject_reason", Text),
    # AR-01: the stored bytes (servicekit.documents, case "licence_photo:<id>"); null for the references
    # submitted before photos were stored.
    Column("document_id", UUID(as_uuid=True), ForeignKey("documents.id")),
    Index("ix_licence_photos_queue", "office", "state", "submitted_at"),
    Index("ix_licence_photos_account", "account_id"),
)

# ID-13 / seed §19: a personal user's counter change (binding a vehicle, changing details) through the intake
# and review posts, reviewed within 1 working day. The scans (the owner's identity document and vehicle
# licence for another's vehicle) are kept as references until the kit's document store exists.
counter_changes = Table(
    "counter_changes",
    metadata,
    Column("id", UUID(as_uuid=True), primary_key=True),
    Column("account_id", UUID(as_uuid=True), ForeignKey("accounts.id"), nullable=False),
    Column("kind", String(24), nullable=False),  # bind_vehicle | details
    Column("stage", String(16), nullable=False),  # intake | review | approved | rejected
    Column("office", String(16), nullable=False),
    # bind_vehicle: ref, owned; details: the new values (phone, address): sealed, so read, not queried
    *sealed("counter_changes", "data", json_value=True, nullable=False),
    Column("scans", JSONB, nullable=False),  # [{"kind", "ref"}]
    Column("registry_check", String(16), nullable=False),  # passed | pending
    Column("deadline", DateTime(timezone=True)),
    Column("return_reason", Text),
    Column("reject_reason", Text),
    Column("history", JSONB, nullable=False, server_default=text("'[]'::jsonb")),
    Column("created_at", DateTime(timezone=True), nullable=False),
    Column("updated_at", DateTime(timezone=True), nullable=False),
    Index("ix_counter_changes_queue", "office", "stage", "created_at"),
    Index("ix_counter_changes_account", "account_id", "stage"),
)

# PIPL art. 45 (ADR 0093): a person's data export. identity asks every service that holds data about the
# person (`identity.data_export.requested.v1`) and collects the parts they send back; one export in
# `collecting` per account at a time (the partial unique index holds it under concurrent requests).
data_exports = Table(
    "data_exports",
    metadata,
    Column("id", UUID(as_uuid=True), primary_key=True),
    Column("account_id", UUID(as_uuid=True), ForeignKey("accounts.id"), nullable=False),
    Column("state", String(16), nullable=False),  # collecting | done
    Column("expected", JSONB, nullable=False),  # the services asked, in order
    Column("requested_at", DateTime(timezone=True), nullable=False),
    Column("deadline_at", DateTime(timezone=True), nullable=False),  # after it, a silent service is missing
    Column("completed_at", DateTime(timezone=True)),
    Index("ix_data_exports_account", "account_id", "requested_at"),
    Index(
        "uq_data_exports_collecting",
        "account_id",
        unique=True,
        postgresql_where=text("state = 'collecting'"),
    ),
)

data_export_parts = Table(
    "data_export_parts",
    metadata,
    Column("export_id", UUID(as_uuid=True), ForeignKey("data_exports.id"), primary_key=True),
    Column("service", String(32), primary_key=True),
    # The person's data, as each service sent it: sealed at rest (SM4-GCM, ADR 0095) like its sources.
    *sealed("data_export_parts", "part", json_value=True, nullable=False),
    Column("received_at", DateTime(timezone=True), nullable=False),
)
