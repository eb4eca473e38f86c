"""Tables of the notify database (outbox, inbox and audit_log come from servicekit)."""

from sqlalchemy import CheckConstraint, Column, DateTime, Index, String, Table, Text, text
from sqlalchemy.dialects.postgresql import JSONB, UUID

from servicekit.db import new_metadata

metadata = new_metadata()

SMS_STATES = ("queued", "sent", "delivered", "failed")

# Every SMS notify sends, with its delivery state (NT-01). One row per template and case: a command that
# comes again (redelivered, or sent twice by its producer) finds the row and sends nothing.
sms_messages = Table(
    "sms_messages",
    metadata,
    Column("id", UUID(as_uuid=True), primary_key=True),  # UUIDv7: time-ordered
    Column("phone", String(11), nullable=False),
    Column("template", String(64), nullable=False),
    Column("params", JSONB, nullable=False),
    Column("body", Text, nullable=False),
    Column("case_id", String(100)),
    Column("account_id", String(64)),
    Column("state", String(16), nullable=False),
    Column("provider", String(32)),
    Column("provider_ref", String(100)),
    Column("failure_reason", Text),
    Column("created_at", DateTime(timezone=True), nullable=False),  # platform clock
    Column("updated_at", DateTime(timezone=True), nullable=False),  # platform clock
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
    Index("ix_sms_messages_phone_id", "phone", "id"),
)
