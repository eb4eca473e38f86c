"""`python -m servicekit.migrate <service> [...]`: create the service's database if it is missing (dev and
test only: in prod the database is provisioned, and the service's role cannot create databases), then
upgrade it to the newest revision. Running it twice changes nothing.
"""

from __future__ import annotations

import argparse
import os
import sys

import psycopg
from alembic import command
from alembic.config import Config
from sqlalchemy.engine import make_url

from servicekit.service import SERVICE_NAMES, ServiceSpec, load_spec
from servicekit.settings import Environment

ADMIN_URL = os.environ.get("TMS_PG_ADMIN_URL", "postgresql://postgres@127.0.0.1:5432/postgres")


def ensure_database(url: str) -> bool:
    """Create the database and its owner role when missing. Returns True if it made anything."""
    target = make_url(url)
    made = False
    with psycopg.connect(ADMIN_URL, autocommit=True) as conn:
        role = target.username
        if role and conn.execute("SELECT 1 FROM pg_roles WHERE rolname = %s", (role,)).fetchone() is None:
            conn.execute(f'CREATE ROLE "{role}" LOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE')
            made = True
        if (
            conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", (target.database,)).fetchone()
            is None
        ):
            conn.execute(f'CREATE DATABASE "{target.database}" OWNER "{role or "postgres"}"')
            made = True
    return made


def allow_movable_clock(url: str) -> None:
    """Dev and test only: the audit trail's guard may take the platform clock a sweep names (it can be
    moved there, WD-02) instead of the database's own (ADR 0089). New sessions see it."""
    database = make_url(url).database
    with psycopg.connect(ADMIN_URL, autocommit=True) as conn:
        conn.execute(f"ALTER DATABASE \"{database}\" SET tms.movable_clock = 'on'")


def drop_test_database(name: str, url: str | None = None) -> bool:
    """Test environment only: drop the service's test database, so a test session starts from an empty
    one (nothing left by earlier runs, by another branch or by an uncommitted migration); `migrate`
    makes it again. Returns True when there was one to drop."""
    url = url or load_spec(name).settings().database.url
    database = make_url(url).database
    if not database or not database.endswith("_test"):
        raise ValueError(f"refusing to drop {database!r}: only test databases are dropped")
    with psycopg.connect(ADMIN_URL, autocommit=True) as admin:
        if admin.execute("SELECT 1 FROM pg_database WHERE datname = %s", (database,)).fetchone() is None:
            return False
        try:
            admin.execute(f'DROP DATABASE "{database}"')
        except psycopg.errors.ObjectInUse:
            # Another test session is using it right now: leave it to that session.
            print(f"{name}: {database} is in use by another session; kept", flush=True)
            return False
    return True


def alembic_config(spec: ServiceSpec, url: str) -> Config:
    config = Config(str(spec.root / "alembic.ini"))
    config.set_main_option("script_location", str(spec.root / "migrations"))
    config.set_main_option("sqlalchemy.url", url.replace("%", "%%"))
    return config


def migrate(name: str, url: str | None = None) -> None:
    spec = load_spec(name)
    settings = spec.settings()
    url = url or settings.database.url
    if settings.env is not Environment.prod and ensure_database(url):
        print(f"{name}: created database {make_url(url).database}", flush=True)
    if settings.env is not Environment.prod:
        allow_movable_clock(url)
    command.upgrade(alembic_config(spec, url), "head")
    print(f"{name}: database {make_url(url).database} at the newest revision", flush=True)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("services", nargs="*", help=f"default: all of {', '.join(SERVICE_NAMES)}")
    args = parser.parse_args(argv)
    for name in args.services or SERVICE_NAMES:
        migrate(name)
    return 0


if __name__ == "__main__":
    sys.exit(main())
