"""ADR 0095: after a key rotation, `servicekit.reencrypt` rewrites every sealed value and blind-index digest
under the current keys, in batches, resuming where a stopped run left off; the audit chain still verifies."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import AsyncIterator, Iterator
from datetime import UTC, datetime

import psycopg
import pytest
from alembic import command
from sqlalchemy import Column, Integer, MetaData, Table, create_engine, insert, select

from servicekit import crypto
from servicekit.audit import seal, verify
from servicekit.clock import FixedClock
from servicekit.crypto import DataKeys, blind_match, key_id, normalise_id_number, normalise_phone, sealed
from servicekit.db import new_metadata
from servicekit.migrate import alembic_config
from servicekit.reencrypt import reencrypt
from servicekit.runtime import Runtime
from servicekit.service import load_spec
from servicekit.uow import Actor

from .messaging_kit import demo_settings

pytestmark = pytest.mark.integration

NOW = datetime(2027, 3, 1, 9, 30, tzinfo=UTC)
CLERK = Actor(id="J0001", role="clerk.review")
PEOPLE = 23


class Stop(Exception):
    """Stands for a run killed after some batches."""


def _metadata() -> MetaData:
    metadata = new_metadata()
    Table(
        "people",
        metadata,
        Column("id", Integer, primary_key=True),
        *sealed("people", "id_number", blind=normalise_id_number),
        *sealed("people", "phone", blind=normalise_phone),
    )
    return metadata


def _idn(i: int) -> str:
    return f"1301021990030{i:05d}"


@pytest.fixture
def restore_keys() -> Iterator[None]:
    before = crypto.installed()
    yield
    crypto.install(before)


@pytest.fixture
async def runtime(pg_database: str, amqp_url: str, restore_keys: None) -> AsyncIterator[Runtime]:
    metadata = _metadata()
    engine = create_engine(pg_database)
    metadata.create_all(engine)
    engine.dispose()
    runtime = Runtime.open(demo_settings(pg_database, amqp_url), metadata, clock=FixedClock(NOW))
    yield runtime
    await runtime.aclose()


async def _stored(runtime: Runtime, table: str, columns: str) -> list[str]:
    async with runtime.engine.connect() as conn:
        raw = await conn.get_raw_connection()
        cursor = raw.driver_connection.cursor()  # type: ignore[union-attr]
        await cursor.execute(f"SELECT {columns} FROM {table}")
        return [v for row in await cursor.fetchall() for v in row if v is not None]


async def test_rotation_rewrites_every_value_and_digest_and_a_stopped_run_resumes(runtime: Runtime) -> None:
    old = DataKeys.generate("old")
    crypto.install(old)
    people = runtime.metadata.tables["people"]
    async with runtime.engine.begin() as conn:
        await conn.execute(
            insert(people), [{"id": i, "id_number": _idn(i), "phone": f"139{i:08d}"} for i in range(PEOPLE)]
        )
    for i in range(5):
        async with runtime.uow() as uow:
            uow.audit(
                CLERK, "person.change", f"person/{i}", {"phone": f"139{i:08d}"}, {"phone": "13700000000"}
            )
            await uow.commit()
    assert await seal(runtime.engine, runtime.metadata, NOW) == 5

    new = DataKeys(old.data.rotated("new-d"), old.index.rotated("new-i"))
    crypto.install(new)
    lines: list[str] = []

    def stop_after_two(line: str) -> None:
        lines.append(line)
        if len([x for x in lines if x.startswith("people: ")]) == 2:
            raise Stop  # after people's second batch committed

    with pytest.raises(Stop):
        await reencrypt(runtime.engine, runtime.metadata, new, batch=10, report=stop_after_two)
    stored = await _stored(runtime, "people", "id_number, phone")
    assert {key_id(v) for v in stored} == {"new-d", old.data.current}  # midway: both keys in use

    lines.clear()
    result = await reencrypt(runtime.engine, runtime.metadata, new, batch=10, report=lines.append)
    assert "people: resuming after 20 rows" in lines
    people_done = next(t for t in result.tables if t.table == "people")
    assert (people_done.rows_seen, people_done.rows_rewritten) == (PEOPLE, PEOPLE)  # none twice

    # Nothing left under the old keys: the ring without them opens and finds everything.
    assert {key_id(v) for v in await _stored(runtime, "people", "id_number, phone")} == {"new-d"}
    assert {key_id(v) for v in await _stored(runtime, "people", "id_number_bidx, phone_bidx")} == {"new-i"}
    assert {key_id(v) for v in await _stored(runtime, "audit_log", "before, after")} == {"new-d"}
    crypto.install(DataKeys(new.data.without(old.data.current), new.index.without(old.index.current)))
    async with runtime.engine.connect() as conn:
        found = (await conn.execute(select(people).where(blind_match(people.c.id_number, _idn(7))))).one()
        assert (found.id, found.phone) == (7, "13900000007")
        assert len((await conn.execute(select(people))).all()) == PEOPLE
    # The chain hashes logical values: rewritten under another key, every entry still verifies.
    report = await verify(runtime.engine, runtime.metadata, "demo")
    assert report.intact, report.findings
    assert report.entries == 5

    lines.clear()
    await reencrypt(runtime.engine, runtime.metadata, new, batch=10, report=lines.append)
    assert lines == [
        f"{t}: done already ({n} rows, {n} rewritten)"
        for t, n in (("audit_log", 5), ("outbox", 0), ("people", PEOPLE))
    ]


def test_the_command_killed_midway_resumes_and_leaves_no_value_under_the_old_key(
    pg_database: str, restore_keys: None
) -> None:
    """`python -m servicekit.reencrypt --service notify`, SIGKILLed after its first batches, run again."""
    spec = load_spec("notify")
    command.upgrade(alembic_config(spec, pg_database), "head")
    old = crypto.installed()  # the run's keys: the ones notify's settings hold in the tests
    outbox = spec.metadata.tables["outbox"]
    rows = 3000
    engine = create_engine(pg_database)
    with engine.begin() as conn:
        conn.execute(
            insert(outbox),
            [
                {
                    "id": f"00000000-0000-7000-8000-{i:012d}",
                    "exchange": "tms.commands",
                    "routing_key": "notify.sms.send.v1",
                    "payload": {"phone": f"139{i:08d}", "template": "code"},
                    "occurred_at": NOW,
                    "published_at": NOW,
                }
                for i in range(rows)
            ],
        )
    engine.dispose()
    new = DataKeys(old.data.rotated("cli-d"), old.index.rotated("cli-i"))
    env = {
        **os.environ,
        "TMS_NOTIFY__DATABASE__URL": pg_database,
        "TMS_NOTIFY__CRYPTO__DATA_KEYS": new.data.spec(),
        "TMS_NOTIFY__CRYPTO__INDEX_KEYS": new.index.spec(),
    }
    args = [sys.executable, "-m", "servicekit.reencrypt", "--service", "notify", "--batch", "50"]
    first = subprocess.Popen(args, env=env, stdout=subprocess.PIPE, text=True)
    assert first.stdout is not None
    for line in first.stdout:
        if line.startswith("outbox: ") and "rows" in line and int(line.split()[1]) >= 200:
            first.kill()  # no clean stop: whatever the batch in flight did is rolled back
            break
    first.wait(timeout=60)
    assert first.returncode != 0

    with psycopg.connect(pg_database.replace("+psycopg", "")) as raw:
        kids = [key_id(row[0]) for row in raw.execute("SELECT payload FROM outbox").fetchall()]
    assert 200 <= kids.count("cli-d") < rows  # stopped midway

    second = subprocess.run(args, env=env, capture_output=True, text=True, timeout=300, check=True)
    assert "outbox: resuming after" in second.stdout
    assert f"outbox: done ({rows} rows" in second.stdout
    with psycopg.connect(pg_database.replace("+psycopg", "")) as raw:
        stored = [row[0] for row in raw.execute("SELECT payload FROM outbox").fetchall()]
        progress = raw.execute(
            "SELECT rows_seen, finished FROM reencrypt_progress WHERE table_name = 'outbox'"
        ).fetchall()
    assert {key_id(v) for v in stored} == {"cli-d"}
    assert progress == [(rows, True)]
    assert not any(f"139{i:08d}" in v for v in stored for i in (0, 42, rows - 1))
    crypto.install(DataKeys(new.data.without(old.data.current), new.index))
    assert new.open_value(stored[0], "outbox.payload", json_value=True)["template"] == "code"
