"""ADR 0096: revision 0008 seals the rows already there (an import's lines, JSON, among them), keeps one
record per number through the blind index, and its downgrade opens them back."""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime

import pytest
from alembic import command
from sqlalchemy import Engine, create_engine, select, text
from sqlalchemy.exc import IntegrityError

from license_service.service import SPEC
from license_service.tables import licence_import_lines, licence_records
from servicekit.crypto import blind_match
from servicekit.migrate import alembic_config, drop_test_database, ensure_database
from servicekit.testing import new_phone, new_resident_id

BEFORE = "0007"  # the revision before the sealing one
RECORD = (
    "INSERT INTO licence_records (id, number, name, birth_date, classes, first_issue, valid_from, "
    "valid_until, state, office_code, phone, created_at, updated_at) VALUES (:id, :number, '李四', "
    "'1990-01-01', '{C1}', '2015-01-01', '2021-01-01', '2031-01-01', 'valid', '130100', :phone, :now, :now)"
)


@pytest.fixture
def scratch() -> Iterator[Engine]:
    """A database of its own, migrated to just before the sealing revision."""
    url = SPEC.settings().database.url.replace("_test", "_sealing_test")
    drop_test_database("license", url)
    ensure_database(url)
    command.upgrade(alembic_config(SPEC, url), BEFORE)
    engine = create_engine(url)
    yield engine
    engine.dispose()
    drop_test_database("license", url)


def dump(engine: Engine, table: str) -> str:
    """The table's rows as a dump shows them, stored bytes and all."""
    with engine.connect() as conn:
        return " ".join(conn.execute(text(f"SELECT row_to_json(t)::text FROM {table} t")).scalars())


def test_the_sealing_revision_seals_existing_rows_and_its_downgrade_opens_them(scratch: Engine) -> None:
    number, phone, now = new_resident_id(), new_phone(), datetime.now(UTC)
    record_id, import_id = uuid.uuid4(), uuid.uuid4()
    raw = {"number": number, "name": "李四", "phone": phone}
    with scratch.begin() as conn:
        conn.execute(text(RECORD), {"id": record_id, "number": number, "phone": phone, "now": now})
        conn.execute(
            text(
                "INSERT INTO licence_imports (id, state, submitted_by, total, created_at, updated_at) "
                "VALUES (:id, 'running', 'importer', 1, :now, :now)"
            ),
            {"id": import_id, "now": now},
        )
        conn.execute(
            text(
                "INSERT INTO licence_import_lines (import_id, line, raw, outcome) "
                "VALUES (:id, 2, CAST(:raw AS jsonb), 'pending')"
            ),
            {"id": import_id, "raw": json.dumps(raw, ensure_ascii=False)},
        )
    assert number in dump(scratch, "licence_records")
    assert number in dump(scratch, "licence_import_lines")

    config = alembic_config(SPEC, scratch.url.render_as_string(False))
    command.upgrade(config, "0008")
    for table in ("licence_records", "licence_import_lines"):
        stored = dump(scratch, table)
        assert all(clear not in stored for clear in (number, phone, "李四")), stored
    with scratch.connect() as conn:
        row = conn.execute(select(licence_records).where(blind_match(licence_records.c.number, number))).one()
        line = conn.execute(select(licence_import_lines)).one()
    assert (row.id, row.number, row.name, row.phone) == (record_id, number, "李四", phone)
    assert line.raw == raw
    # DL-01: a second record of the number is refused by the unique blind index.
    with pytest.raises(IntegrityError), scratch.begin() as conn:
        conn.execute(licence_records.insert().values(dict(row._mapping) | {"id": uuid.uuid4()}))

    command.downgrade(config, BEFORE)
    with scratch.connect() as conn:
        clear = conn.execute(text("SELECT number, name, phone FROM licence_records")).one()
        raw_again = conn.execute(text("SELECT raw FROM licence_import_lines")).scalar_one()
    assert (tuple(clear), raw_again) == ((number, "李四", phone), raw)
