"""Tables of the notify database (outbox, inbox and audit_log come from servicekit)."""

from sqlalchemy import CheckConstraint, Column, DateTime, Index, Integer, String, Table, Text, text
from sqlalchemy.dialects.postgresql import UUID

from notify_service.domain import SMS_STATES
from servicekit.crypto import normalise_phone, sealed
from servicekit.db import new_metadata

metadata = new_metadata()

# queued: waiting for (another) hand-over; sent: the provider accepted it, its receipt is awaited;
# delivered: the provider's receipt says the phone got it; failed: refused for good, with the provider's
# reason; dead_lettered: every attempt failed transiently: kept, never dropped, requeued by an operator.

# Every SMS notify sends, with its delivery state (NT-01). One row per template and case: a command that
# comes again (redelivered, or sent twice by its producer) finds the row and sends nothing. The row is also
# the dispatcher's queue (state queued, next_attempt_at due) and the in-app inbox (account_id, read_at).
sms_messages = Table(
    "sms_messages",
    metadata,
    Column("id", UUID(as_uuid=True), primary_key=True),  # UUIDv7: time-ordered
    # ADR 0095: the phone, the template's values and the text sent sealed; the phone found by its blind index
    *sealed("sms_messages", "phone", blind=normalise_phone, nullable=False),
    Column("template", String(64), nullable=False),
    *sealed("sms_messages", "params", json_value=True, nullable=False),
    *sealed("sms_messages", "body", nullable=False),
    Column("case_id", String(100)),
    Column("account_id", String(64)),
    Column("state", String(16), nullable=False),
    Column("provider", String(32)),
    Column("provider_ref", String(100)),
    Column("failure_reason", Text),
    Column("created_at", DateTime(timezone=True), nullable=False),  # platform clock
    Column("updated_at", DateTime(timezone=True), nullable=False),  # platform clock
    # When the sender asked (the message's CloudEvents time): NT-02's per-phone windows count from it.
    Column("requested_at", DateTime(timezone=True)),
    Column("attempts", Integer, nullable=False, server_default=text("0")),
    Column("next_attempt_at", DateTime(timezone=True)),  # platform clock; due when state is queued
    Column("last_error", Text),  # the latest transient failure
    Column("sent_at", DateTime(timezone=True)),
    Column("delivered_at", DateTime(timezone=True)),
    Column("read_at", DateTime(timezone=True)),  # the in-app inbox's read state
    CheckConstraint(
        "state IN (" + ", ".join(f"'{state}'" for state in SMS_STATES) + ")",
        name="state",
    ),
    Index(
        "uq_sms_messages_template_case_id",
        "template",
        "case_id",
        unique=True,
        postgresql_where=text("case_id IS NOT NULL"),
    ),
    Index("ix_sms_messages_phone_id", "phone_bidx", "id"),
    Index(
        "ix_sms_messages_due",
        "next_attempt_at",
        postgresql_where=text("state = 'queued'"),
    ),
    Index(
        "ix_sms_messages_account_id_id",
        "account_id",
        "id",
        postgresql_where=text("account_id IS NOT NULL"),
    ),
    Index("ix_sms_messages_provider_ref", "provider", "provider_ref"),
)
