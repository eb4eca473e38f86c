"""Alembic, the same way in every service: each service's `migrations/env.py` is two lines that call
`run_env(SPEC)`, and its first revision calls `create_kit_tables(op)` for the outbox, inbox and audit.
"""

from __future__ import annotations

from typing import Any

from alembic import context
from sqlalchemy import MetaData, create_engine, pool, text

from servicekit.db import (
    DOCUMENT_TABLES,
    WORKDAY_TABLES,
    add_document_tables,
    add_kit_tables,
    add_workday_tables,
)
from servicekit.service import ServiceSpec

KIT_TABLES = ("outbox", "inbox", "audit_log")
MIGRATION_LOCK_KEY = 7_311_122  # any fixed number: the lock is per database


def run_env(spec: ServiceSpec) -> None:
    """The body of every service's migrations/env.py (online mode, psycopg 3 sync driver)."""
    url = context.config.get_main_option("sqlalchemy.url") or spec.settings().database.url
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
    add_kit_tables(metadata)
    metadata.create_all(op.get_bind(), tables=[metadata.tables[name] for name in KIT_TABLES])


def drop_kit_tables(op: Any) -> None:
    for name in reversed(KIT_TABLES):
        op.drop_table(name)


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
