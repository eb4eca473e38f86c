"""ADR 0096: revision 0013 seals the rows already there, and its downgrade opens them back; a sealed
number's blind index follows it on an upsert."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from datetime import UTC, datetime

import pytest
from alembic import command
from sqlalchemy import Engine, create_engine, select, text

from servicekit.crypto import blind_match
from servicekit.migrate import alembic_config, drop_test_database, ensure_database
from servicekit.runtime import Runtime
from servicekit.testing import new_phone, new_resident_id
from vehicle_service import records
from vehicle_service.service import SPEC
from vehicle_service.tables import delivery_bans, preselections, vehicles

from .factories import new_plate, new_vin

BEFORE = "0012"  # the revision before the sealing one


@pytest.fixture
def scratch() -> Iterator[Engine]:
    """A database of its own, migrated to just before the sealing revision."""
    url = SPEC.settings().database.url.replace("_test", "_sealing_test")
    drop_test_database("vehicle", url)
    ensure_database(url)
    command.upgrade(alembic_config(SPEC, url), BEFORE)
    engine = create_engine(url)
    yield engine
    engine.dispose()
    drop_test_database("vehicle", url)


def dump(engine: Engine, table: str) -> str:
    """The table's rows as a dump shows them, stored bytes and all."""
    with engine.connect() as conn:
        return " ".join(conn.execute(text(f"SELECT row_to_json(t)::text FROM {table} t")).scalars())


def test_the_sealing_revision_seals_existing_rows_and_its_downgrade_opens_them(scratch: Engine) -> None:
    owner, phone, now = new_resident_id(), new_phone(), datetime.now(UTC)
    vehicle_id = uuid.uuid4()
    with scratch.begin() as conn:
        conn.execute(
            text(
                "INSERT INTO vehicles (id, office_code, plate_kind, plate_number, vin, owner_id_kind, "
                "owner_id_number, owner_name, phone, use, state, registered_at, updated_at) VALUES (:id, "
                "'130100', '02', :plate, :vin, 'resident_id', :owner, '张三', :phone, 'non_commercial', "
                "'registered', :now, :now)"
            ),
            {
                "id": vehicle_id,
                "plate": new_plate(),
                "vin": new_vin(),
                "owner": owner,
                "phone": phone,
                "now": now,
            },
        )
        conn.execute(
            text(
                "INSERT INTO delivery_bans (id, id_kind, id_number, until, reason, case_id, imposed_at) "
                "VALUES (:id, 'resident_id', :owner, '2028-01-01', 'refused', :case, :now)"
            ),
            {"id": uuid.uuid4(), "owner": owner, "case": str(uuid.uuid4()), "now": now},
        )
    assert owner in dump(scratch, "vehicles")
    assert owner in dump(scratch, "delivery_bans")

    command.upgrade(alembic_config(SPEC, scratch.url.render_as_string(False)), "0013")
    for table in ("vehicles", "delivery_bans"):
        stored = dump(scratch, table)
        assert all(clear not in stored for clear in (owner, phone, "张三")), stored
    with scratch.connect() as conn:
        row = conn.execute(select(vehicles).where(blind_match(vehicles.c.owner_id_number, owner))).one()
        ban = conn.execute(select(delivery_bans).where(blind_match(delivery_bans.c.id_number, owner))).one()
    assert (row.id, row.owner_id_number, row.owner_name, row.phone) == (vehicle_id, owner, "张三", phone)
    assert ban.id_number == owner

    command.downgrade(alembic_config(SPEC, scratch.url.render_as_string(False)), BEFORE)
    with scratch.connect() as conn:
        clear = conn.execute(text("SELECT owner_id_number, owner_name, phone FROM vehicles")).one()
    assert tuple(clear) == (owner, "张三", phone)


async def test_a_preselection_told_again_keeps_its_blind_index_in_step(runtime: Runtime) -> None:
    """A confirmation told again (the PP-08 projection's upsert) rewrites the sealed owner and its digest
    together: the projection is found by the owner it now names, not by the one before."""
    selection, first, second = f"sel-{uuid.uuid4().hex[:12]}", new_resident_id(), new_resident_id()
    for owner in (first, second):
        async with runtime.uow() as uow:
            await records.upsert_preselection(
                uow,
                selection_id=selection,
                office_code="130100",
                plate_number=new_plate(),
                vin=new_vin(),
                owner_id_kind="resident_id",
                owner_id_number=owner,
                owner_name="张三",
                phone=new_phone(),
                state="confirmed",
            )
            await uow.commit()
    async with runtime.engine.connect() as conn:
        by_second = await conn.scalar(
            select(preselections.c.selection_id).where(blind_match(preselections.c.owner_id_number, second))
        )
        by_first = await conn.scalar(
            select(preselections.c.selection_id).where(blind_match(preselections.c.owner_id_number, first))
        )
    assert (by_second, by_first) == (selection, None)
