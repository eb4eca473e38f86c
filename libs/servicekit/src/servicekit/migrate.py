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
from alembic.script import ScriptDirectory
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


def reset_if_revision_unknown(name: str, url: str | None = None) -> bool:
    """Test environment only: drop the service's test database when it stands at a revision this code
    does not know (left by a branch or an uncommitted migration), so the next `migrate` starts it anew
    instead of failing. Returns True when it dropped the database."""
    spec = load_spec(name)
    url = url or spec.settings().database.url
    database = make_url(url).database
    if not database or not database.endswith("_test"):
        raise ValueError(f"refusing to reset {database!r}: only test databases are reset")
    known = {
        revision.revision
        for revision in ScriptDirectory.from_config(alembic_config(spec, url)).walk_revisions()
    }
    with psycopg.connect(ADMIN_URL, autocommit=True) as admin:
        if admin.execute("SELECT 1 FROM pg_database WHERE datname = %s", (database,)).fetchone() is None:
            return False
    with psycopg.connect(make_url(url).set(drivername="postgresql").render_as_string(False)) as conn:
        exists = conn.execute("SELECT to_regclass('alembic_version')").fetchone()
        current = (
            {row[0] for row in conn.execute("SELECT version_num FROM alembic_version")}
            if exists and exists[0]
            else set()
        )
    if current <= known:
        return False
    with psycopg.connect(ADMIN_URL, autocommit=True) as admin:
        admin.execute(f'DROP DATABASE "{database}" WITH (FORCE)')
    print(f"{name}: dropped {database} (at unknown revision {sorted(current - known)})", flush=True)
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
