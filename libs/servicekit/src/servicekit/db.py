"""Database plumbing every service shares: the naming convention, the engine, and the tables of the kit
(outbox, inbox, audit) that live in each service's own database beside its business tables.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import (
    DDL,
    BigInteger,
    Boolean,
    Column,
    Date,
    DateTime,
    Index,
    Integer,
    LargeBinary,
    MetaData,
    SmallInteger,
    String,
    Table,
    Text,
    event,
    func,
    text,
)
from sqlalchemy.dialects.postgresql import INET, JSONB, UUID
from sqlalchemy.ext.asyncio import AsyncEngine, async_sessionmaker, create_async_engine
from sqlalchemy.ext.asyncio import AsyncSession as AsyncSession

from servicekit import crypto
from servicekit.settings import DatabaseSettings

NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}

OUTBOX_CHANNEL = "tms_outbox"


def new_metadata() -> MetaData:
    """A service's metadata, with the kit's tables already in it."""
    metadata = MetaData(naming_convention=NAMING_CONVENTION)
    add_kit_tables(metadata)
    return metadata


def add_kit_tables(metadata: MetaData, *, audit_chain: bool = True, sealed: bool = True) -> None:
    """The kit's tables. `audit_chain=False`: as revision one of every service made them, before the
    audit trail was chained (`servicekit.migrations.create_kit_tables` keeps that revision's effect).
    `sealed=False`: before the outbox payload and the audit before/after were sealed (ADR 0095): events
    and audit entries carry identity numbers, phones and names."""
    payload: list[Column[Any]] = (
        crypto.sealed("outbox", "payload", json_value=True, nullable=False)
        if sealed
        else [Column("payload", JSONB, nullable=False)]
    )
    before_after: list[Column[Any]] = (
        [
            *crypto.sealed("audit_log", "before", json_value=True),
            *crypto.sealed("audit_log", "after", json_value=True),
        ]
        if sealed
        else [Column("before", JSONB), Column("after", JSONB)]
    )
    Table(
        "outbox",
        metadata,
        Column("id", UUID(as_uuid=True), primary_key=True),  # UUIDv7: time-ordered, the CloudEvents id
        Column("exchange", String(128), nullable=False),
        Column("routing_key", String(200), nullable=False),
        Column("subject", String(200)),
        *payload,
        Column("headers", JSONB, nullable=False, server_default=text("'{}'::jsonb")),  # traceparent, ...
        Column("occurred_at", DateTime(timezone=True), nullable=False),  # platform clock
        Column("created_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
        Column("published_at", DateTime(timezone=True)),
        Column("attempts", Integer, nullable=False, server_default=text("0")),
        Column("next_attempt_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
        Column("last_error", Text),
        Index(
            "ix_outbox_pending",
            "next_attempt_at",
            postgresql_where=text("published_at IS NULL"),
        ),
    )
    Table(
        "inbox",
        metadata,
        Column("message_id", UUID(as_uuid=True), primary_key=True),
        Column("handler", String(128), primary_key=True),
        Column("message_type", String(200), nullable=False),
        Column("processed_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
    )
    Table(
        "audit_log",
        metadata,
        Column("id", BigInteger, primary_key=True, autoincrement=True),
        Column("at", DateTime(timezone=True), nullable=False),  # platform clock
        Column("actor", String(100), nullable=False),  # account id, staff number or system client id
        Column("role", String(40), nullable=False),
        Column("action", String(100), nullable=False),
        Column("target", String(200), nullable=False),
        Column("source_ip", INET),
        Column("request_id", String(64)),
        *before_after,
        Index("ix_audit_log_target_at", "target", "at"),
        Index("ix_audit_log_actor_at", "actor", "at"),
    )
    if audit_chain:
        add_audit_chain(metadata, AUDIT_GUARD_REENCRYPTABLE if sealed else AUDIT_GUARD)
    if sealed:
        add_reencrypt_progress(metadata)


def add_reencrypt_progress(metadata: MetaData) -> None:
    """Where `python -m servicekit.reencrypt` is, per table, for the keys it rewrites to (ADR 0095): a
    run stopped midway resumes after the last row it committed."""
    Table(
        "reencrypt_progress",
        metadata,
        Column("target", String(200), primary_key=True),  # "<data kid>/<index kid>": one run per rotation
        Column("table_name", String(100), primary_key=True),
        Column("last_key", JSONB),  # the primary key of the last row done, in key order
        Column("rows_seen", BigInteger, nullable=False, server_default=text("0")),
        Column("rows_rewritten", BigInteger, nullable=False, server_default=text("0")),
        Column("finished", Boolean, nullable=False, server_default=text("false")),
        Column("updated_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
    )


AUDIT_CHAIN_TABLES = ("audit_chain",)

# AU-01 (ADR 0089): entries are inserted unsealed; the sealer alone sets `seq` and `hash`, once. A sealed
# entry is never updated; an entry is deleted only when sealed and older than the retention (183 days; the
# retention sweep moves the chain's anchor in the same transaction). The platform clock may be moved in dev
# and test: there (database setting `tms.movable_clock`, set by `servicekit.migrate` outside prod) the
# sweep's `tms.audit_now` is the clock it deletes by; elsewhere the database's own. The table's owner can
# still drop this trigger: it stops a bug or an injected statement, and the chain is what detects the rest.
AUDIT_RETENTION_DAYS = 183
AUDIT_GUARD = f"""
CREATE FUNCTION audit_log_guard() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    horizon timestamptz := now();
BEGIN
    IF TG_OP = 'INSERT' THEN
        IF NEW.seq IS NOT NULL OR NEW.hash IS NOT NULL THEN
            RAISE EXCEPTION USING ERRCODE = 'integrity_constraint_violation',
                MESSAGE = 'audit entries are written unsealed (AU-01)';
        END IF;
        RETURN NEW;
    ELSIF TG_OP = 'UPDATE' THEN
        IF OLD.seq IS NOT NULL OR OLD.hash IS NOT NULL OR NEW.seq IS NULL OR NEW.hash IS NULL
            OR (NEW.id, NEW.at, NEW.actor, NEW.role, NEW.action, NEW.target, NEW.source_ip,
                NEW.request_id, NEW.before, NEW.after)
            IS DISTINCT FROM (OLD.id, OLD.at, OLD.actor, OLD.role, OLD.action, OLD.target, OLD.source_ip,
                OLD.request_id, OLD.before, OLD.after) THEN
            RAISE EXCEPTION USING ERRCODE = 'integrity_constraint_violation',
                MESSAGE = 'audit entry ' || OLD.id || ' can only be sealed, once (AU-01)';
        END IF;
        RETURN NEW;
    ELSIF TG_OP = 'DELETE' THEN
        IF current_setting('tms.movable_clock', true) = 'on' THEN
            horizon := coalesce(nullif(current_setting('tms.audit_now', true), '')::timestamptz, now());
        END IF;
        IF OLD.seq IS NULL OR OLD.at > horizon - interval '{AUDIT_RETENTION_DAYS} days' THEN
            RAISE EXCEPTION USING ERRCODE = 'integrity_constraint_violation',
                MESSAGE = 'audit entry ' || OLD.id || ' is within its retention (AU-01)';
        END IF;
        RETURN OLD;
    END IF;
    RAISE EXCEPTION USING ERRCODE = 'integrity_constraint_violation',
        MESSAGE = 'the audit trail is never truncated (AU-01)';
END $$;
CREATE TRIGGER audit_log_guard BEFORE INSERT OR UPDATE OR DELETE ON audit_log
    FOR EACH ROW EXECUTE FUNCTION audit_log_guard();
CREATE TRIGGER audit_log_never_truncated BEFORE TRUNCATE ON audit_log
    FOR EACH STATEMENT EXECUTE FUNCTION audit_log_guard();
"""


# ADR 0095: the guard once before/after are sealed: it also lets the re-encryption (`tms.reencrypt` on in
# its transaction) rewrite them under the current key. The chain still catches a changed logical value.
AUDIT_GUARD_REENCRYPTABLE_FUNCTION = f"""
CREATE OR REPLACE FUNCTION audit_log_guard() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    horizon timestamptz := now();
BEGIN
    IF TG_OP = 'INSERT' THEN
        IF NEW.seq IS NOT NULL OR NEW.hash IS NOT NULL THEN
            RAISE EXCEPTION USING ERRCODE = 'integrity_constraint_violation',
                MESSAGE = 'audit entries are written unsealed (AU-01)';
        END IF;
        RETURN NEW;
    ELSIF TG_OP = 'UPDATE' THEN
        -- ADR 0095: after a key rotation the re-encryption rewrites an entry's before/after under the new
        -- key and nothing else; their logical values, which the chain hashes, stay the same.
        IF current_setting('tms.reencrypt', true) = 'on'
            AND (NEW.id, NEW.at, NEW.actor, NEW.role, NEW.action, NEW.target, NEW.source_ip,
                NEW.request_id, NEW.seq, NEW.hash)
            IS NOT DISTINCT FROM (OLD.id, OLD.at, OLD.actor, OLD.role, OLD.action, OLD.target, OLD.source_ip,
                OLD.request_id, OLD.seq, OLD.hash) THEN
            RETURN NEW;
        END IF;
        IF OLD.seq IS NOT NULL OR OLD.hash IS NOT NULL OR NEW.seq IS NULL OR NEW.hash IS NULL
            OR (NEW.id, NEW.at, NEW.actor, NEW.role, NEW.action, NEW.target, NEW.source_ip,
                NEW.request_id, NEW.before, NEW.after)
            IS DISTINCT FROM (OLD.id, OLD.at, OLD.actor, OLD.role, OLD.action, OLD.target, OLD.source_ip,
                OLD.request_id, OLD.before, OLD.after) THEN
            RAISE EXCEPTION USING ERRCODE = 'integrity_constraint_violation',
                MESSAGE = 'audit entry ' || OLD.id || ' can only be sealed, once (AU-01)';
        END IF;
        RETURN NEW;
    ELSIF TG_OP = 'DELETE' THEN
        IF current_setting('tms.movable_clock', true) = 'on' THEN
            horizon := coalesce(nullif(current_setting('tms.audit_now', true), '')::timestamptz, now());
        END IF;
        IF OLD.seq IS NULL OR OLD.at > horizon - interval '{AUDIT_RETENTION_DAYS} days' THEN
            RAISE EXCEPTION USING ERRCODE = 'integrity_constraint_violation',
                MESSAGE = 'audit entry ' || OLD.id || ' is within its retention (AU-01)';
        END IF;
        RETURN OLD;
    END IF;
    RAISE EXCEPTION USING ERRCODE = 'integrity_constraint_violation',
        MESSAGE = 'the audit trail is never truncated (AU-01)';
END $$;
"""
AUDIT_GUARD_REENCRYPTABLE = (
    AUDIT_GUARD_REENCRYPTABLE_FUNCTION
    + """CREATE TRIGGER audit_log_guard BEFORE INSERT OR UPDATE OR DELETE ON audit_log
    FOR EACH ROW EXECUTE FUNCTION audit_log_guard();
CREATE TRIGGER audit_log_never_truncated BEFORE TRUNCATE ON audit_log
    FOR EACH STATEMENT EXECUTE FUNCTION audit_log_guard();
"""
)


def add_audit_chain(metadata: MetaData, guard: str = AUDIT_GUARD) -> None:
    """AU-01's chain (ADR 0089): `seq` and `hash` on each entry, set by the sealer; the chain's head and
    its anchor (where the retention sweep cut it) in `audit_chain`, one row."""
    audit = metadata.tables["audit_log"]
    audit.append_column(Column("seq", BigInteger, unique=True))  # position in the chain, from 1
    audit.append_column(Column("hash", LargeBinary))  # SM3(previous hash || canonical entry), 32 bytes
    Index("ix_audit_log_unsealed", audit.c.id, postgresql_where=text("seq IS NULL"))
    Table(
        "audit_chain",
        metadata,
        Column("id", SmallInteger, primary_key=True, autoincrement=False),  # always 1
        Column("head_seq", BigInteger, nullable=False),
        Column("head_hash", LargeBinary, nullable=False),
        Column("anchor_seq", BigInteger, nullable=False),  # the last entry removed by the retention sweep
        Column("anchor_hash", LargeBinary, nullable=False),  # its hash: the first kept entry's previous
        Column("anchor_at", DateTime(timezone=True)),
        Column("sealed_at", DateTime(timezone=True)),  # platform clock of the last seal
    )
    event.listen(audit, "after_create", DDL(guard.replace("%", "%%")).execute_if(dialect="postgresql"))  # type: ignore[no-untyped-call]


WORKDAY_TABLES = ("office_calendar_years", "office_calendar_days")


def add_workday_tables(metadata: MetaData) -> None:
    """The office calendar (WD-01): the official days of each year an admin has set. Opt-in: a service
    that computes working-day deadlines calls this in its tables.py and `create_workday_tables(op)` in a
    revision (docs/adr/0004-office-calendar.md)."""
    Table(
        "office_calendar_years",
        metadata,
        Column("year", Integer, primary_key=True),  # a row here: the year is set (complete), not partial
        Column("source", Text, nullable=False),  # e.g. the State Council notice 国办发明电〔2026〕N号
        Column("set_by", String(100), nullable=False),
        Column("set_at", DateTime(timezone=True), nullable=False),  # platform clock
    )
    Table(
        "office_calendar_days",
        metadata,
        Column("day", Date, primary_key=True),
        Column("year", Integer, nullable=False),
        Column("working", Boolean, nullable=False),  # false: holiday off; true: adjusted working day 调休
        Column("name", String(100), nullable=False, server_default=text("''")),  # 春节, 国庆节调休, ...
        Index("ix_office_calendar_days_year", "year"),
    )


DOCUMENT_TABLES = ("documents",)

# AR-01: a stored document is kept with its case. The kit has no way to delete one, and the database
# refuses it too (an archive purge, when the retention rules come, is a migration of its own); the bytes
# and their identity (case, owner, type, size, hash) never change after the upload.
_DOCUMENTS_KEPT = DDL(  # type: ignore[no-untyped-call]
    """
    CREATE FUNCTION documents_are_kept() RETURNS trigger LANGUAGE plpgsql AS $$
    BEGIN
        RAISE EXCEPTION 'documents are kept with their case (AR-01): %% refused', TG_OP
            USING ERRCODE = 'integrity_constraint_violation';
    END $$;
    CREATE TRIGGER documents_are_kept BEFORE DELETE OR UPDATE ON documents
        FOR EACH ROW EXECUTE FUNCTION documents_are_kept();
    CREATE TRIGGER documents_are_never_truncated BEFORE TRUNCATE ON documents
        FOR EACH STATEMENT EXECUTE FUNCTION documents_are_kept();
    """
)


def add_document_tables(metadata: MetaData) -> None:
    """Stored scans and photos (AR-01): the bytes in `content` (bytea) or in an S3-compatible store
    (`s3_key`), by the service's `documents` settings. Opt-in like `add_workday_tables`."""
    documents = Table(
        "documents",
        metadata,
        Column("id", UUID(as_uuid=True), primary_key=True),
        Column("case_ref", String(200), nullable=False),  # the case it is kept with: "licence_photo:<id>"
        Column("owner", String(100), nullable=False),  # whose it is (an account id), for entitlement checks
        Column("kind", String(40), nullable=False),  # what it is: licence_photo, identity_document, ...
        Column("media_type", String(40), nullable=False),  # sniffed from the bytes, never the client's word
        Column("size", Integer, nullable=False),
        Column("sha256", String(64), nullable=False),
        Column("backend", String(8), nullable=False),  # db | s3
        Column("content", LargeBinary),  # backend db
        Column("s3_bucket", String(63)),  # backend s3
        Column("s3_key", String(300)),
        Column("created_by", String(100), nullable=False),
        Column("created_at", DateTime(timezone=True), nullable=False),  # platform clock
        Index("ix_documents_case_ref", "case_ref"),
    )
    event.listen(documents, "after_create", _DOCUMENTS_KEPT.execute_if(dialect="postgresql"))


def create_engine(settings: DatabaseSettings) -> AsyncEngine:
    return create_async_engine(
        settings.url,
        pool_size=settings.pool_size,
        max_overflow=settings.max_overflow,
        pool_pre_ping=True,
        # A server that went away answers nothing: without these a request waits on a dropped packet for
        # the kernel's retransmissions (minutes), where it should answer 503 within seconds (ADR 0088).
        pool_timeout=settings.pool_timeout_s,
        connect_args={
            "connect_timeout": settings.connect_timeout_s,
            "tcp_user_timeout": settings.tcp_user_timeout_ms,
            "keepalives": 1,
            "keepalives_idle": 10,
            "keepalives_interval": 3,
            "keepalives_count": 3,
        },
        echo=settings.echo,
    )


def sessionmaker(engine: AsyncEngine) -> async_sessionmaker[AsyncSession]:
    return async_sessionmaker(engine, expire_on_commit=False)


def psycopg_dsn(sqlalchemy_url: str) -> str:
    """The plain libpq URL psycopg wants for its own connections (LISTEN, bootstrap)."""
    return sqlalchemy_url.replace("postgresql+psycopg://", "postgresql://", 1)
