"""Migrations: idempotent; a dropped test database is made again."""

from __future__ import annotations

import psycopg
import pytest
from sqlalchemy.engine import make_url

from servicekit.migrate import drop_test_database, migrate
from servicekit.service import load_spec

pytestmark = pytest.mark.integration

SERVICE = "violation"  # a skeleton no other test suite writes to


def _plain(url: str) -> str:
    return make_url(url).set(drivername="postgresql").render_as_string(False)


def test_a_dropped_test_database_is_made_again_by_migrate() -> None:
    url = load_spec(SERVICE).settings().database.url
    migrate(SERVICE)
    migrate(SERVICE)  # twice: nothing to do the second time
    assert drop_test_database(SERVICE) is True
    assert drop_test_database(SERVICE) is False  # already gone
    migrate(SERVICE)
    with psycopg.connect(_plain(url)) as conn:
        assert conn.execute("SELECT version_num FROM alembic_version").fetchone() is not None


def test_only_test_databases_are_ever_dropped() -> None:
    with pytest.raises(ValueError, match="only test databases"):
        drop_test_database(SERVICE, "postgresql+psycopg://violation@127.0.0.1:5432/violation")


def test_a_test_database_another_session_uses_is_kept() -> None:
    url = load_spec(SERVICE).settings().database.url
    migrate(SERVICE)
    with psycopg.connect(_plain(url)):  # another test session, connected
        assert drop_test_database(SERVICE) is False
    assert drop_test_database(SERVICE) is True
    migrate(SERVICE)
