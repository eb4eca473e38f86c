"""servicekit.personal (ADR 0093): what a service holds about a person, exported by any of their keys and
de-identified by the account's alone, through plain and sealed (ADR 0095) columns alike."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Iterator
from typing import Any

import pytest
from sqlalchemy import Column, Integer, LargeBinary, MetaData, String, Table, insert, select
from sqlalchemy.ext.asyncio import AsyncSession, create_async_engine

from servicekit import crypto
from servicekit.crypto import DataKeys, blind_match, normalise_id_number, normalise_phone, sealed
from servicekit.personal import DEIDENTIFIED, Holding, Person, deidentify, export_part

IDN, PHONE = "13010219900307123X", "13800138000"
OLD_ACCOUNT, NEW_ACCOUNT, OTHER = (str(uuid.uuid4()) for _ in range(3))

metadata = MetaData()
# An account's own rows, personal columns sealed with blind indexes.
bookings = Table(
    "bookings",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("account_id", String(64), nullable=False),
    *sealed("bookings", "id_number", blind=normalise_id_number),
    *sealed("bookings", "phone", blind=normalise_phone),
    *sealed("bookings", "name"),
    Column("scan", LargeBinary),
)
# The state's record about the person, plain columns.
records = Table(
    "records",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("owner_id_number", String(32), nullable=False),
    Column("owner_name", String(100), nullable=False),
)
HOLDINGS = (
    Holding(
        bookings,
        "预约",
        by={"account_id": "account_id", "id_number": "id_number", "phone": "phone"},
        erase={"id_number": DEIDENTIFIED, "phone": DEIDENTIFIED, "name": DEIDENTIFIED, "scan": None},
    ),
    Holding(records, "记录", by={"id_number": "owner_id_number"}),
)


@pytest.fixture
def keys() -> Iterator[DataKeys]:
    before = crypto.installed()
    ring = DataKeys.generate("personal")
    crypto.install(ring)
    yield ring
    crypto.install(before)


def _booking(
    id: int, account: str, id_number: str, phone: str, name: str, scan: bytes | None
) -> dict[str, Any]:
    return {
        "id": id,
        "account_id": account,
        "id_number": id_number,
        "phone": phone,
        "name": name,
        "scan": scan,
    }


@pytest.fixture
async def session(keys: DataKeys, pg_database: str) -> AsyncIterator[AsyncSession]:
    engine = create_async_engine(pg_database)
    async with engine.begin() as conn:
        await conn.run_sync(metadata.create_all)
        await conn.execute(
            insert(bookings),
            [
                # the person's old (cancelled) account, their newer one, and someone else
                _booking(1, OLD_ACCOUNT, IDN, PHONE, "张三", b"x"),
                _booking(2, NEW_ACCOUNT, IDN, PHONE, "张三", b"y"),
                _booking(3, OTHER, "130102199003071233", "13900139000", "李四", None),
            ],
        )
        await conn.execute(insert(records).values(id=1, owner_id_number=IDN, owner_name="张三"))
    async with AsyncSession(engine) as s:
        yield s
    await engine.dispose()


pytestmark = pytest.mark.integration


async def test_the_export_finds_the_persons_rows_by_any_key_through_blind_indexes(
    session: AsyncSession,
) -> None:
    part = await export_part(session, HOLDINGS, Person(account_id=OLD_ACCOUNT, id_number=IDN))
    assert sorted(r["id"] for r in part["预约"]) == [1, 2]  # both accounts' rows: the same person
    assert {r["name"] for r in part["预约"]} == {"张三"}
    assert all("scan" not in r and "phone_bidx" not in r and "id_number_bidx" not in r for r in part["预约"])
    assert part["记录"] == [{"id": 1, "owner_id_number": IDN, "owner_name": "张三"}]
    by_phone = await export_part(session, HOLDINGS, Person(account_id=str(uuid.uuid4()), phone=PHONE))
    assert sorted(r["id"] for r in by_phone["预约"]) == [1, 2]


async def test_de_identification_erases_the_accounts_rows_only_and_once(session: AsyncSession) -> None:
    person = Person(account_id=OLD_ACCOUNT, id_number=IDN, phone=PHONE)
    assert await deidentify(session, HOLDINGS, person) == {"bookings": 1}
    assert await deidentify(session, HOLDINGS, person) == {"bookings": 1}  # the same values again
    await session.commit()
    rows = {r.id: r for r in (await session.execute(select(bookings))).all()}
    assert (rows[1].id_number, rows[1].phone, rows[1].name, rows[1].scan) == (DEIDENTIFIED,) * 3 + (None,)
    assert (rows[2].id_number, rows[2].name, rows[2].scan) == (IDN, "张三", b"y")  # the newer account's
    assert rows[3].name == "李四"
    found = (await session.scalars(select(bookings.c.id).where(blind_match(bookings.c.phone, PHONE)))).all()
    assert found == [2]  # the erased row's blind index followed its value
    state = (await session.execute(select(records))).one()
    assert state.owner_name == "张三"  # the state's record is kept


def test_erasing_needs_the_accounts_column() -> None:
    with pytest.raises(ValueError, match="account"):
        Holding(records, "记录", by={"id_number": "owner_id_number"}, erase={"owner_name": DEIDENTIFIED})
