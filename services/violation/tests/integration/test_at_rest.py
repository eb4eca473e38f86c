"""ADR 0096: revision 0004 moves a licence binding's number out of `ref` and seals it with the rows
already there, and its downgrade puts them back in clear."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from datetime import UTC, datetime

import pytest
from alembic import command
from sqlalchemy import Engine, create_engine, select, text

from servicekit.crypto import blind_match
from servicekit.migrate import alembic_config, drop_test_database, ensure_database
from servicekit.testing import new_resident_id
from violation_service.service import SPEC
from violation_service.tables import bindings, vehicle_plates

from .factories import new_plate

BEFORE = "0003"  # the revision before the sealing one
BINDING = (
    "INSERT INTO bindings (binding_id, account_id, record_kind, ref, owned, holder_name, bound_at, "
    "updated_at) VALUES (:id, :account, :kind, :ref, true, :name, :now, :now)"
)


@pytest.fixture
def scratch() -> Iterator[Engine]:
    """A database of its own, migrated to just before the sealing revision."""
    url = SPEC.settings().database.url.replace("_test", "_sealing_test")
    drop_test_database("violation", url)
    ensure_database(url)
    command.upgrade(alembic_config(SPEC, url), BEFORE)
    engine = create_engine(url)
    yield engine
    engine.dispose()
    drop_test_database("violation", url)


def dump(engine: Engine, table: str) -> str:
    """The table's rows as a dump shows them, stored bytes and all."""
    with engine.connect() as conn:
        return " ".join(conn.execute(text(f"SELECT row_to_json(t)::text FROM {table} t")).scalars())


def test_the_sealing_revision_seals_existing_rows_and_its_downgrade_opens_them(scratch: Engine) -> None:
    number, account, now = new_resident_id(), str(uuid.uuid4()), datetime.now(UTC)
    vehicle_id = str(uuid.uuid4())
    with scratch.begin() as conn:
        licence = {"id": "b1", "account": account, "kind": "licence", "ref": number, "name": "王五"}
        conn.execute(text(BINDING), licence | {"now": now})
        vehicle = {"id": "b2", "account": account, "kind": "vehicle", "ref": vehicle_id, "name": None}
        conn.execute(text(BINDING), vehicle | {"now": now})
        conn.execute(
            text(
                "INSERT INTO vehicle_plates (vehicle_id, plate_kind, plate_number, owner_id_number, "
                "updated_at) VALUES (:id, '02', :plate, :owner, :now)"
            ),
            {"id": vehicle_id, "plate": new_plate(), "owner": number, "now": now},
        )
    assert number in dump(scratch, "bindings")

    config = alembic_config(SPEC, scratch.url.render_as_string(False))
    command.upgrade(config, "0004")
    for table in ("bindings", "vehicle_plates"):
        stored = dump(scratch, table)
        assert all(clear not in stored for clear in (number, "王五")), stored
    with scratch.connect() as conn:
        found = conn.execute(select(bindings).where(blind_match(bindings.c.licence_number, number))).one()
        car = conn.execute(select(bindings).where(bindings.c.ref == vehicle_id)).one()
        plate = conn.execute(
            select(vehicle_plates).where(blind_match(vehicle_plates.c.owner_id_number, number))
        ).one()
    assert (found.binding_id, found.ref, found.licence_number, found.holder_name) == (
        "b1",
        None,
        number,
        "王五",
    )
    assert (car.binding_id, car.licence_number) == ("b2", None)
    assert plate.vehicle_id == vehicle_id

    command.downgrade(config, BEFORE)
    with scratch.connect() as conn:
        clear = conn.execute(
            text("SELECT binding_id, ref, holder_name FROM bindings ORDER BY binding_id")
        ).all()
    assert [tuple(row) for row in clear] == [("b1", number, "王五"), ("b2", vehicle_id, None)]
