"""Tables of the violation database (outbox, inbox, audit_log and documents come from servicekit)."""

from sqlalchemy import (
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
    UniqueConstraint,
    text,
)
from sqlalchemy.dialects.postgresql import JSONB, UUID

from servicekit.crypto import normalise_id_number, sealed
from servicekit.db import add_document_tables, new_metadata

metadata = new_metadata()
add_document_tables(metadata)  # evidence images and issued decisions (AR-01)

# ADR 0096: drivers' and owners' identity numbers, names and phones are stored sealed (SM4-GCM,
# servicekit.crypto); a licence number a query looks up has a blind index beside it (`<column>_bidx`,
# HMAC-SM3), compared through `blind_match`. Plates stay in clear: intake and VI-05 look them up, and a
# plate names a vehicle, not a person.

# VI-01: camera-recorded violations (交通技术监控记录) as other police systems send them. `record_id` is the
# source's own ID: intake is idempotent by it (`content_sha256` tells a repeat from a reuse).
violations = Table(
    "violations",
    metadata,
    Column("id", UUID(as_uuid=True), primary_key=True),
    Column("record_id", String(64), nullable=False, unique=True),
    Column("source", String(64), nullable=False),  # the sending system (its token's subject)
    Column("office_code", String(6), nullable=False),  # 采集机关 / the deciding office
    Column("plate_kind", String(2), nullable=False),
    Column("plate_number", String(10), nullable=False),
    Column("violated_at", DateTime(timezone=True), nullable=False),
    Column("place", String(200), nullable=False),
    Column("violation_code", String(8), nullable=False),
    Column("description", String(200), nullable=False),
    Column("penalty", String(8), nullable=False),  # warning | fine
    Column("fine_fen", Integer, nullable=False),
    Column("points", Integer, nullable=False),
    Column("evidence_count", Integer, nullable=False),
    Column("state", String(16), nullable=False),  # open | decided
    Column("content_sha256", String(64), nullable=False),
    Column("recorded_at", DateTime(timezone=True), nullable=False),
    Column("updated_at", DateTime(timezone=True), nullable=False),
    Column("version", Integer, nullable=False, server_default=text("1")),
    Index("ix_violations_plate", "plate_number", "plate_kind", "violated_at"),
)

# VI-03: penalty decisions (处罚决定书). One in force per violation (the partial unique index), however
# many bound users try at once.
decisions = Table(
    "decisions",
    metadata,
    Column("id", UUID(as_uuid=True), primary_key=True),
    Column("number", String(18), nullable=False, unique=True),
    Column("violation_id", UUID(as_uuid=True), ForeignKey("violations.id"), nullable=False),
    Column("account_id", String(64), nullable=False),  # the handling account (token `sub`)
    # = the licence number; a data export finds the decisions by it
    *sealed("decisions", "driver_id_number", blind=normalise_id_number, nullable=False),
    *sealed("decisions", "driver_name", nullable=False),
    *sealed("decisions", "phone"),
    Column("office_code", String(6), nullable=False),
    Column("penalty", String(8), nullable=False),
    Column("fine_fen", Integer, nullable=False),
    Column("points", Integer, nullable=False),
    Column("decided_at", DateTime(timezone=True), nullable=False),
    Column("pay_by", Date, nullable=False),
    Column("payment_reference", String(20), nullable=False, unique=True),  # 缴款编号 on the voucher
    Column("payment_state", String(16), nullable=False),  # unpaid | paid | not_applicable
    Column("paid_at", DateTime(timezone=True)),
    Column("paid_fen", Integer),
    Column("late_fee_fen", Integer),
    Column("document_id", UUID(as_uuid=True)),  # the PDF as issued (documents)
    Column("revoked_at", DateTime(timezone=True)),
    Column("revocation_ground", String(32)),
    Column("updated_at", DateTime(timezone=True), nullable=False),
    Index(
        "uq_decisions_violation_in_force",
        "violation_id",
        unique=True,
        postgresql_where=text("revoked_at IS NULL"),
    ),
    Index("ix_decisions_account", "account_id", "decided_at"),
)

# VI-03: the serial of decision numbers per office and year (guarded UPDATE ... RETURNING).
decision_serials = Table(
    "decision_serials",
    metadata,
    Column("office_code", String(6), primary_key=True),
    Column("year", Integer, primary_key=True),
    Column("last", Integer, nullable=False),
)

# VI-04: online payment orders made for a bank's website; the amount holds until the end of its day.
payment_orders = Table(
    "payment_orders",
    metadata,
    Column("id", UUID(as_uuid=True), primary_key=True),
    Column("order_number", String(32), nullable=False, unique=True),
    Column("decision_id", UUID(as_uuid=True), ForeignKey("decisions.id"), nullable=False),
    Column("account_id", String(64), nullable=False),
    Column("bank", String(16), nullable=False),
    Column("amount_fen", Integer, nullable=False),
    Column("fine_fen", Integer, nullable=False),
    Column("late_fee_fen", Integer, nullable=False),
    Column("state", String(16), nullable=False),  # created | paid | expired | refund_due
    Column("created_at", DateTime(timezone=True), nullable=False),
    Column("expires_at", DateTime(timezone=True), nullable=False),
    Column("bank_txn_id", String(64)),
    Column("paid_at", DateTime(timezone=True)),
    Index("ix_payment_orders_decision", "decision_id"),
)

# VI-04: every payment a bank says it took (by a verified notice or its statement), whatever it did here:
# the platform's ledger of bank money, which the daily reconciliation compares with the statement.
bank_transactions = Table(
    "bank_transactions",
    metadata,
    Column("id", UUID(as_uuid=True), primary_key=True),
    Column("bank", String(16), nullable=False),
    Column("bank_txn_id", String(64), nullable=False),
    Column("order_number", String(32)),
    Column("payment_reference", String(20)),
    Column("decision_id", UUID(as_uuid=True)),
    Column("amount_fen", Integer, nullable=False),
    Column("paid_at", DateTime(timezone=True), nullable=False),
    Column("paid_on", Date, nullable=False),  # the bank's business day (Shanghai), the statement's day
    # booked | amount_mismatch | duplicate_payment | unknown_order
    Column("outcome", String(24), nullable=False),
    Column("received_via", String(16), nullable=False),  # notice | reconciliation
    Column("recorded_at", DateTime(timezone=True), nullable=False),
    UniqueConstraint("bank", "bank_txn_id", name="uq_bank_transactions_bank_txn"),
    Index("ix_bank_transactions_day", "bank", "paid_on"),
)

# VI-04: every notice received, verified or not (forged and replayed ones too): what arrived, and what it
# did. Kept for the audit and the reconciliation's report.
bank_notices = Table(
    "bank_notices",
    metadata,
    Column("id", UUID(as_uuid=True), primary_key=True),
    Column("bank", String(16), nullable=False),
    Column("received_at", DateTime(timezone=True), nullable=False),
    Column("signature_ok", Boolean, nullable=False),
    Column("bank_txn_id", String(64)),
    Column("outcome", String(24), nullable=False),
    Column("body", Text, nullable=False),
)

# VI-04: the daily reconciliations against a bank's statement file, with what they found and repaired.
reconciliations = Table(
    "reconciliations",
    metadata,
    Column("id", UUID(as_uuid=True), primary_key=True),
    Column("bank", String(16), nullable=False),
    Column("day", Date, nullable=False),
    Column("statement_sha256", String(64), nullable=False),
    Column("lines", Integer, nullable=False),
    Column(
        "differences", JSONB, nullable=False
    ),  # [{kind, bank_txn_id, statement_fen, platform_fen, repair}]
    Column("ran_at", DateTime(timezone=True), nullable=False),
    Column("ran_by", String(64), nullable=False),
    Index("ix_reconciliations_day", "bank", "day"),
)

# VI-01: bulk intake, one row per batch: its progress as it runs (lines read, taken, repeated, refused).
intake_batches = Table(
    "intake_batches",
    metadata,
    Column("id", UUID(as_uuid=True), primary_key=True),
    Column("source", String(64), nullable=False),
    Column("state", String(16), nullable=False),  # running | done
    Column("expected", Integer),
    Column("lines", Integer, nullable=False),
    Column("created", Integer, nullable=False),
    Column("repeated", Integer, nullable=False),
    Column("refused", Integer, nullable=False),
    Column("errors", JSONB, nullable=False),  # [{line, code, detail}], the first 1000
    Column("runs", Integer, nullable=False),
    Column("started_at", DateTime(timezone=True), nullable=False),
    Column("updated_at", DateTime(timezone=True), nullable=False),
    Column("finished_at", DateTime(timezone=True)),
)

# VI-02/VI-05 projections, fed by identity's and vehicle's events (ADR 0060): which account has bound which
# vehicle (own or not) and which licence, and each vehicle's plate.
bindings = Table(
    "bindings",
    metadata,
    Column("binding_id", String(64), primary_key=True),
    Column("account_id", String(64), nullable=False),
    Column("record_kind", String(16), nullable=False),  # vehicle | licence
    Column("ref", String(64)),  # a vehicle's: its id in vehicle (a licence's: none)
    *sealed("bindings", "licence_number", blind=normalise_id_number),  # a licence's: its number
    Column("owned", Boolean, nullable=False),
    *sealed("bindings", "holder_name"),  # licences: the holder's name, for the decision
    Column("bound_at", DateTime(timezone=True)),
    Column("ended_at", DateTime(timezone=True)),
    Column("updated_at", DateTime(timezone=True), nullable=False),
    Index("ix_bindings_account", "account_id", "record_kind"),
    Index("ix_bindings_ref", "record_kind", "ref"),
)

vehicle_plates = Table(
    "vehicle_plates",
    metadata,
    Column("vehicle_id", String(64), primary_key=True),
    Column("plate_kind", String(2), nullable=False),
    Column("plate_number", String(10), nullable=False),
    *sealed("vehicle_plates", "owner_id_number", blind=normalise_id_number),
    Column("updated_at", DateTime(timezone=True), nullable=False),
    Index("ix_vehicle_plates_plate", "plate_number", "plate_kind"),
)
