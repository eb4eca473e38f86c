"""ADR 0095: the revision that seals the kit's tables converts the rows already there (the outbox payload,
the audit entries' before/after), the audit chain sealed before it still verifies, and it goes back down."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import psycopg
import pytest
from alembic import command
from sqlalchemy import MetaData, select
from sqlalchemy.ext.asyncio import create_async_engine

from servicekit import crypto
from servicekit.audit import seal, verify
from servicekit.db import NAMING_CONVENTION, add_kit_tables
from servicekit.migrate import alembic_config
from servicekit.service import load_spec

pytestmark = pytest.mark.integration

NOW = datetime(2027, 3, 1, 9, 30, tzinfo=UTC)
SERVICE, BEFORE = "notify", "0004"  # notify's revision before the kit tables were sealed
PHONE, IDN = "13912345678", "13010219900307123X"
PAYLOAD = {"phone": PHONE, "params": {"code": "123456"}, "name": "张三"}


def _plain(url: str) -> str:
    return url.replace("+psycopg", "")


def _unsealed_metadata() -> MetaData:
    metadata = MetaData(naming_convention=NAMING_CONVENTION)
    add_kit_tables(metadata, sealed=False)
    return metadata


async def test_existing_outbox_and_audit_rows_are_sealed_and_the_chain_still_verifies(
    pg_database: str,
) -> None:
    spec = load_spec(SERVICE)
    config = alembic_config(spec, pg_database)
    command.upgrade(config, BEFORE)
    with psycopg.connect(_plain(pg_database), autocommit=True) as raw:
        raw.execute(
            "INSERT INTO outbox (id, exchange, routing_key, payload, occurred_at) VALUES "
            "('00000000-0000-7000-8000-000000000001', 'tms.commands', 'notify.sms.send.v1', %s, now())",
            (json.dumps(PAYLOAD),),
        )
        for i in range(3):
            raw.execute(
                "INSERT INTO audit_log (at, actor, role, action, target, before, after) "
                "VALUES (%s, 'J0001', 'clerk', 'person.change', %s, %s, %s)",
                (NOW, f"person/{i}", json.dumps({"id_number": IDN}), json.dumps({"phone": PHONE})),
            )
    engine = create_async_engine(pg_database)
    try:
        assert await seal(engine, _unsealed_metadata(), NOW) == 3  # chained while still in clear

        command.upgrade(config, "head")
        with psycopg.connect(_plain(pg_database)) as raw:
            stored = [
                v
                for row in raw.execute(
                    "SELECT payload FROM outbox UNION ALL SELECT before FROM audit_log "
                    "UNION ALL SELECT after FROM audit_log"
                ).fetchall()
                for v in row
            ]
        assert len(stored) == 7
        assert {crypto.key_id(v) for v in stored} == {crypto.installed().data.current}
        assert not [v for v in stored if PHONE in v or IDN in v or "张三" in v]

        outbox = spec.metadata.tables["outbox"]
        async with engine.connect() as conn:
            assert (
                await conn.execute(select(outbox.c.payload))
            ).scalar_one() == PAYLOAD  # what the relay sends
        report = await verify(engine, spec.metadata, SERVICE)
        assert report.intact, report.findings
        assert report.entries == 3

        command.downgrade(config, BEFORE)
        with psycopg.connect(_plain(pg_database)) as raw:
            assert raw.execute("SELECT payload FROM outbox").fetchone() == (PAYLOAD,)
            assert raw.execute("SELECT DISTINCT after FROM audit_log").fetchall() == [({"phone": PHONE},)]
        assert (await verify(engine, _unsealed_metadata(), SERVICE)).intact
    finally:
        await engine.dispose()
