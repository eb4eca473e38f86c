"""Alembic, the same way in every service: each service's `migrations/env.py` is two lines that call
`run_env(SPEC)`, and its first revision calls `create_kit_tables(op)` for the outbox, inbox and audit.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from alembic import context
from sqlalchemy import MetaData, create_engine, pool, text

from servicekit import crypto
from servicekit.db import (
    AUDIT_CHAIN_TABLES,
    AUDIT_GUARD,
    AUDIT_GUARD_REENCRYPTABLE_FUNCTION,
    DOCUMENT_TABLES,
    WORKDAY_TABLES,
    add_audit_chain,
    add_document_tables,
    add_kit_tables,
    add_reencrypt_progress,
    add_workday_tables,
)
from servicekit.service import ServiceSpec

KIT_TABLES = ("outbox", "inbox", "audit_log")
MIGRATION_LOCK_KEY = 7_311_122  # any fixed number: the lock is per database


def run_env(spec: ServiceSpec) -> None:
    """The body of every service's migrations/env.py (online mode, psycopg 3 sync driver)."""
    url = context.config.get_main_option("sqlalchemy.url") or spec.settings().database.url
    crypto.install(spec.settings().data_keys())  # revisions that seal existing rows (ADR 0095)
    engine = create_engine(url, poolclass=pool.NullPool)
    with engine.connect() as connection:
        # Several api pods start at once, each migrating first: one migrates, the others wait, then find
        # the schema current (instead of failing on a duplicate and restarting).
        connection.execute(text("SELECT pg_advisory_lock(:key)"), {"key": MIGRATION_LOCK_KEY})
        connection.commit()
        try:
            context.configure(connection=connection, target_metadata=spec.metadata, compare_type=True)
            with context.begin_transaction():
                context.run_migrations()
        finally:
            connection.execute(text("SELECT pg_advisory_unlock(:key)"), {"key": MIGRATION_LOCK_KEY})
            connection.commit()
    engine.dispose()


def create_kit_tables(op: Any) -> None:
    """Revision one of every service. The kit tables as servicekit defines them now: a later change to
    them comes as a new servicekit function that each service's next revision calls, never by editing
    this one's effect."""
    metadata = MetaData(naming_convention=dict(op.get_context().opts["target_metadata"].naming_convention))
    add_kit_tables(metadata, audit_chain=False, sealed=False)
    metadata.create_all(op.get_bind(), tables=[metadata.tables[name] for name in KIT_TABLES])


def drop_kit_tables(op: Any) -> None:
    for name in reversed(KIT_TABLES):
        op.drop_table(name)


def create_audit_chain(op: Any) -> None:
    """The revision that chains a service's audit trail (AU-01, ADR 0089): `seq` and `hash` on
    audit_log, the `audit_chain` table, and the trigger that guards sealed and retained entries.
    Entries already there are left unsealed: the sealer chains them first, in id order."""
    import sqlalchemy as sa

    metadata = MetaData(naming_convention=dict(op.get_context().opts["target_metadata"].naming_convention))
    add_kit_tables(metadata, audit_chain=False, sealed=False)
    add_audit_chain(metadata)
    audit = metadata.tables["audit_log"]
    op.add_column("audit_log", sa.Column("seq", sa.BigInteger(), nullable=True))
    op.add_column("audit_log", sa.Column("hash", sa.LargeBinary(), nullable=True))
    op.create_unique_constraint(op.f("uq_audit_log_seq"), "audit_log", ["seq"])
    for index in audit.indexes:
        if index.name == "ix_audit_log_unsealed":
            index.create(op.get_bind())
    metadata.create_all(op.get_bind(), tables=[metadata.tables[name] for name in AUDIT_CHAIN_TABLES])
    op.get_bind().exec_driver_sql(AUDIT_GUARD.replace("%", "%%"))


def drop_audit_chain(op: Any) -> None:
    op.execute("DROP TRIGGER IF EXISTS audit_log_never_truncated ON audit_log")
    op.execute("DROP TRIGGER IF EXISTS audit_log_guard ON audit_log")
    op.execute("DROP FUNCTION IF EXISTS audit_log_guard()")
    for name in reversed(AUDIT_CHAIN_TABLES):
        op.drop_table(name)
    op.drop_index("ix_audit_log_unsealed", table_name="audit_log")
    op.drop_constraint(op.f("uq_audit_log_seq"), "audit_log", type_="unique")
    op.drop_column("audit_log", "hash")
    op.drop_column("audit_log", "seq")


def create_workday_tables(op: Any) -> None:
    """The revision that brings the office calendar (WD-01) into a service that computes deadlines."""
    metadata = MetaData(naming_convention=dict(op.get_context().opts["target_metadata"].naming_convention))
    add_workday_tables(metadata)
    metadata.create_all(op.get_bind(), tables=[metadata.tables[name] for name in WORKDAY_TABLES])


def drop_workday_tables(op: Any) -> None:
    for name in reversed(WORKDAY_TABLES):
        op.drop_table(name)


def create_document_tables(op: Any) -> None:
    """The revision that brings stored documents (AR-01) into a service, with the trigger that keeps them."""
    metadata = MetaData(naming_convention=dict(op.get_context().opts["target_metadata"].naming_convention))
    add_document_tables(metadata)
    metadata.create_all(op.get_bind(), tables=[metadata.tables[name] for name in DOCUMENT_TABLES])


def drop_document_tables(op: Any) -> None:
    op.execute("DROP TABLE IF EXISTS documents")
    op.execute("DROP FUNCTION IF EXISTS documents_are_kept()")


# --- ADR 0095: sealing columns that held personal data in clear ------------------------------------------


@dataclass(frozen=True)
class Seal:
    """A column a revision seals: its name, JSON or text, and the normaliser of its blind index if it is
    looked up by value (the same as its `crypto.sealed(...)` declaration)."""

    column: str
    json_value: bool = False
    blind: crypto.Normaliser | None = None
    nullable: bool = True  # False: the blind index is NOT NULL once filled


def seal_columns(op: Any, table: str, columns: Sequence[Seal], key: Sequence[str] = ("id",)) -> int:
    """A revision's upgrade: the columns become text holding sealed values (each row's value sealed with
    the service's current data key, in batches), with a `<column>_bidx` for those looked up by value.
    An index or unique constraint on a sealed column is the revision's own to move to its blind index.
    Returns the rows rewritten."""
    import sqlalchemy as sa

    for seal in columns:
        op.alter_column(table, seal.column, type_=sa.Text(), postgresql_using=f"{seal.column}::text")
        if seal.blind is not None:
            companion = seal.column + crypto.BLIND_SUFFIX
            op.add_column(table, sa.Column(companion, sa.String(crypto.BLIND_LENGTH), nullable=True))
            op.create_index(op.f(f"ix_{table}_{companion}"), table, [companion])
    done = _rewrite(op, table, columns, key, seal=True)
    for seal in columns:
        if seal.blind is not None and not seal.nullable:
            op.alter_column(table, seal.column + crypto.BLIND_SUFFIX, nullable=False)
    return done


def unseal_columns(op: Any, table: str, columns: Sequence[Seal], key: Sequence[str] = ("id",)) -> None:
    """The downgrade of `seal_columns`: values opened back (JSON columns to jsonb), indexes dropped."""
    _rewrite(op, table, columns, key, seal=False)
    for seal in columns:
        if seal.blind is not None:
            companion = seal.column + crypto.BLIND_SUFFIX
            op.drop_index(op.f(f"ix_{table}_{companion}"), table_name=table)
            op.drop_column(table, companion)
        if seal.json_value:
            from sqlalchemy.dialects.postgresql import JSONB

            op.alter_column(table, seal.column, type_=JSONB(), postgresql_using=f"{seal.column}::jsonb")


def _rewrite(op: Any, table: str, columns: Sequence[Seal], key: Sequence[str], *, seal: bool) -> int:
    keys = crypto.installed()
    bind = op.get_bind()
    names = [c.column for c in columns]
    key_list = ", ".join(key)
    select_sql = f"SELECT {key_list}, {', '.join(names)} FROM {table}"  # noqa: S608 - our own names
    sets = [f"{c.column} = :{c.column}" for c in columns]
    sets += [
        f"{c.column}{crypto.BLIND_SUFFIX} = :{c.column}{crypto.BLIND_SUFFIX}"
        for c in columns
        if c.blind and seal
    ]
    where = " AND ".join(f"{k} = :k_{k}" for k in key)
    update_sql = text(f"UPDATE {table} SET {', '.join(sets)} WHERE {where}")  # noqa: S608
    done, last = 0, None
    # A key that is itself sealed changes order as it is rewritten: such a table is read in one pass.
    paged = not set(key) & set(names)
    while True:
        query = select_sql
        params: dict[str, Any] = {}
        if done and not paged:
            return done
        if last is not None:
            query += f" WHERE ({key_list}) > ({', '.join(f':l_{k}' for k in key)})"
            params = {f"l_{k}": v for k, v in zip(key, last, strict=True)}
        limit = " LIMIT 1000" if paged else ""
        rows = bind.execute(text(f"{query} ORDER BY {key_list}{limit}"), params).all()
        if not rows:
            return done
        updates = []
        for row in rows:
            values: dict[str, Any] = {f"k_{k}": row[i] for i, k in enumerate(key)}
            for offset, c in enumerate(columns):
                raw = row[len(key) + offset]
                context = f"{table}.{c.column}"
                if seal:
                    plain = None if raw is None else (json.loads(raw) if c.json_value else raw)
                    values[c.column] = keys.seal_value(plain, context, json_value=c.json_value)
                    if c.blind is not None:
                        values[c.column + crypto.BLIND_SUFFIX] = (
                            None if plain is None else keys.blind(c.blind(plain), context)
                        )
                else:
                    opened = keys.open_value(raw, context, json_value=c.json_value)
                    values[c.column] = (
                        None if opened is None else (json.dumps(opened) if c.json_value else opened)
                    )
            updates.append(values)
        bind.execute(update_sql, updates)
        done += len(rows)
        last = tuple(rows[-1][: len(key)])


def seal_kit_tables(op: Any) -> None:
    """The revision that seals the kit's tables in every service (ADR 0095): the outbox payload (events
    carry identity numbers and phones) and the audit entries' before/after; the audit guard that lets the
    re-encryption rewrite them; the re-encryption's progress table."""
    bind = op.get_bind()
    bind.exec_driver_sql(
        "ALTER TABLE audit_log DISABLE TRIGGER audit_log_guard"
    )  # sealed entries change form
    seal_columns(op, "outbox", [Seal("payload", json_value=True)])
    seal_columns(op, "audit_log", [Seal("before", json_value=True), Seal("after", json_value=True)])
    bind.exec_driver_sql("ALTER TABLE audit_log ENABLE TRIGGER audit_log_guard")
    bind.exec_driver_sql(AUDIT_GUARD_REENCRYPTABLE_FUNCTION.replace("%", "%%"))
    metadata = MetaData(naming_convention=dict(op.get_context().opts["target_metadata"].naming_convention))
    add_reencrypt_progress(metadata)
    metadata.create_all(bind, tables=[metadata.tables["reencrypt_progress"]])


def unseal_kit_tables(op: Any) -> None:
    bind = op.get_bind()
    op.drop_table("reencrypt_progress")
    bind.exec_driver_sql(
        AUDIT_GUARD.replace("CREATE FUNCTION", "CREATE OR REPLACE FUNCTION")
        .split("CREATE TRIGGER")[0]
        .replace("%", "%%")
    )
    bind.exec_driver_sql("ALTER TABLE audit_log DISABLE TRIGGER audit_log_guard")
    unseal_columns(op, "audit_log", [Seal("before", json_value=True), Seal("after", json_value=True)])
    unseal_columns(op, "outbox", [Seal("payload", json_value=True)])
    bind.exec_driver_sql("ALTER TABLE audit_log ENABLE TRIGGER audit_log_guard")
