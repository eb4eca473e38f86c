"""Migrations: idempotent, and a test database at a revision the code does not know is made anew."""

from __future__ import annotations

import psycopg
import pytest
from sqlalchemy.engine import make_url

from servicekit.migrate import ADMIN_URL, migrate, reset_if_revision_unknown
from servicekit.service import load_spec

pytestmark = pytest.mark.integration

SERVICE = "violation"  # a skeleton no other test suite writes to


def _plain(url: str) -> str:
    return make_url(url).set(drivername="postgresql").render_as_string(False)


def test_unknown_revision_resets_the_test_database_and_migrate_makes_it_again() -> None:
    url = load_spec(SERVICE).settings().database.url
    migrate(SERVICE)
    migrate(SERVICE)  # twice: nothing to do the second time
    assert reset_if_revision_unknown(SERVICE) is False  # at a known revision: left alone
    with psycopg.connect(_plain(url), autocommit=True) as conn:
        conn.execute("UPDATE alembic_version SET version_num = '9999_from_elsewhere'")
    assert reset_if_revision_unknown(SERVICE) is True
    with psycopg.connect(ADMIN_URL) as admin:
        gone = admin.execute(
            "SELECT 1 FROM pg_database WHERE datname = %s", (make_url(url).database,)
        ).fetchone()
    assert gone is None
    migrate(SERVICE)
    with psycopg.connect(_plain(url)) as conn:
        assert conn.execute("SELECT version_num FROM alembic_version").fetchone() is not None


def test_only_test_databases_are_ever_reset() -> None:
    with pytest.raises(ValueError, match="only test databases"):
        reset_if_revision_unknown(SERVICE, "postgresql+psycopg://violation@127.0.0.1:5432/violation")
