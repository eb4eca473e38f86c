"""AU-01 (ADR 0089): the audit trail is chained by SM3, sealed by one sealer at a time, guarded by a trigger,
and `verify` names any altered or removed entry."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta

import psycopg
import pytest
from cryptography.hazmat.primitives import hashes
from sqlalchemy import select, text

from servicekit.audit import GENESIS, Checkpoint, canonical_entry, entry_hash, retain, seal, verify
from servicekit.clock import FixedClock
from servicekit.migrate import allow_movable_clock
from servicekit.runtime import Runtime
from servicekit.uow import Actor

from .messaging_kit import create_tables, demo_metadata, demo_settings

pytestmark = pytest.mark.integration

NOW = datetime(2027, 3, 1, 9, 30, tzinfo=UTC)
CLERK = Actor(id="J0001", role="clerk.review", source_ip="10.1.2.3", request_id="req-1")


@pytest.fixture
async def runtime(pg_database: str, amqp_url: str) -> AsyncIterator[Runtime]:
    metadata = demo_metadata()
    create_tables(pg_database, metadata)
    runtime = Runtime.open(demo_settings(pg_database, amqp_url), metadata, clock=FixedClock(NOW))
    yield runtime
    await runtime.aclose()


async def write(runtime: Runtime, n: int, start: int = 0) -> None:
    for i in range(start, start + n):
        async with runtime.uow() as uow:
            uow.audit(CLERK, "registration.approve", f"registration/{i}", {"state": "review"}, {"i": i})
            await uow.commit()


async def sql_as_owner(runtime: Runtime, statement: str) -> None:
    """What someone holding the database's owner role could do: the trigger off, a change, the trigger on."""
    async with runtime.engine.begin() as conn:
        await conn.execute(text("ALTER TABLE audit_log DISABLE TRIGGER audit_log_guard"))
        await conn.execute(text(statement))
        await conn.execute(text("ALTER TABLE audit_log ENABLE TRIGGER audit_log_guard"))


async def test_au01_entries_are_chained_by_sm3_in_id_order(runtime: Runtime) -> None:
    await write(runtime, 3)
    assert await seal(runtime.engine, runtime.metadata, NOW) == 3
    assert await seal(runtime.engine, runtime.metadata, NOW) == 0  # nothing left to seal
    audit = runtime.metadata.tables["audit_log"]
    async with runtime.engine.connect() as conn:
        rows = (await conn.execute(select(audit).order_by(audit.c.id))).mappings().all()
        head = (await conn.execute(text("SELECT head_seq, head_hash FROM audit_chain"))).one()
    previous = GENESIS
    for expected_seq, row in enumerate(rows, start=1):
        assert row["seq"] == expected_seq
        digest = hashes.Hash(hashes.SM3())
        digest.update(previous + canonical_entry(row))
        previous = digest.finalize()
        assert row["hash"] == previous
    assert (head.head_seq, bytes(head.head_hash)) == (3, previous)
    report = await verify(runtime.engine, runtime.metadata, "demo")
    assert report.intact
    assert (report.entries, report.unsealed) == (3, 0)


async def test_au01_concurrent_writers_and_sealers_never_fork_the_chain(runtime: Runtime) -> None:
    async def writer(i: int) -> None:
        await write(runtime, 5, start=i * 5)

    async def sealer() -> int:
        total = 0
        for _ in range(5):
            total += await seal(runtime.engine, runtime.metadata, NOW, batch=3)
            await asyncio.sleep(0)
        return total

    results = await asyncio.gather(*(writer(i) for i in range(4)), sealer(), sealer())
    await seal(runtime.engine, runtime.metadata, NOW)
    async with runtime.engine.connect() as conn:
        seqs = (await conn.execute(text("SELECT seq FROM audit_log ORDER BY seq"))).scalars().all()
    assert seqs == list(range(1, 21))
    assert sum(r for r in results if isinstance(r, int)) <= 20
    report = await verify(runtime.engine, runtime.metadata, "demo")
    assert report.intact
    assert report.entries == 20


async def test_au01_altered_entry_is_found_by_verify(runtime: Runtime) -> None:
    await write(runtime, 5)
    await seal(runtime.engine, runtime.metadata, NOW)
    await sql_as_owner(runtime, """UPDATE audit_log SET after = '{"i": 99}' WHERE seq = 3""")
    report = await verify(runtime.engine, runtime.metadata, "demo")
    assert not report.intact
    assert [(f.kind, f.seq) for f in report.findings] == [("altered", 3)]  # that one, not those after it


async def test_au01_altered_actor_or_time_is_found_too(runtime: Runtime) -> None:
    await write(runtime, 3)
    await seal(runtime.engine, runtime.metadata, NOW)
    await sql_as_owner(runtime, "UPDATE audit_log SET actor = 'J0002' WHERE seq = 1")
    await sql_as_owner(runtime, "UPDATE audit_log SET at = at + interval '1 microsecond' WHERE seq = 2")
    report = await verify(runtime.engine, runtime.metadata, "demo")
    assert [(f.kind, f.seq) for f in report.findings] == [("altered", 1), ("altered", 2)]


async def test_au01_removed_entry_is_found_as_a_gap(runtime: Runtime) -> None:
    await write(runtime, 5)
    await seal(runtime.engine, runtime.metadata, NOW)
    await sql_as_owner(runtime, "DELETE FROM audit_log WHERE seq = 2")
    report = await verify(runtime.engine, runtime.metadata, "demo")
    assert [(f.kind, f.from_seq, f.to_seq) for f in report.findings] == [("missing", 2, 2)]


async def test_au01_removed_newest_entry_is_found_against_the_head(runtime: Runtime) -> None:
    await write(runtime, 5)
    await seal(runtime.engine, runtime.metadata, NOW)
    await sql_as_owner(runtime, "DELETE FROM audit_log WHERE seq = 5")
    report = await verify(runtime.engine, runtime.metadata, "demo")
    assert [(f.kind, f.from_seq, f.to_seq) for f in report.findings] == [("missing_tail", 5, 5)]


async def test_au01_the_trigger_refuses_rewriting_sealed_and_deleting_retained_entries(
    runtime: Runtime, pg_database: str
) -> None:
    await write(runtime, 2)
    await seal(runtime.engine, runtime.metadata, NOW)
    await write(runtime, 1, start=2)  # one still unsealed
    refused = [
        "UPDATE audit_log SET after = '{}' WHERE seq = 1",  # sealed: never rewritten
        "UPDATE audit_log SET seq = 7, hash = 'x'::bytea WHERE seq = 2",  # sealed once only
        "UPDATE audit_log SET actor = 'x' WHERE seq IS NULL",  # unsealed: only sealing is allowed
        "DELETE FROM audit_log WHERE seq = 1",  # within its retention
        "DELETE FROM audit_log WHERE seq IS NULL",
        "TRUNCATE audit_log",
        "INSERT INTO audit_log (at, actor, role, action, target, seq, hash) "
        "VALUES (now(), 'x', 'x', 'x', 'x', 99, 'x'::bytea)",  # nobody writes a sealed entry but the sealer
    ]
    plain = pg_database.replace("postgresql+psycopg://", "postgresql://", 1)
    for statement in refused:
        with psycopg.connect(plain) as conn, pytest.raises(psycopg.errors.IntegrityConstraintViolation):
            conn.execute(statement)
    report = await verify(runtime.engine, runtime.metadata, "demo")
    assert report.intact
    assert (report.entries, report.unsealed) == (2, 1)


async def test_au01_retention_removes_only_entries_older_than_183_days_and_verify_still_passes(
    runtime: Runtime, pg_database: str
) -> None:
    """Cybersecurity Law art. 21: kept at least six months. The clock moves; an entry one day younger than
    the horizon stays, and the chain's anchor moves so the rest still verifies."""
    allow_movable_clock(pg_database)  # as `servicekit.migrate` does outside prod
    await runtime.engine.dispose()  # new sessions see the database's setting
    clock = runtime.clock
    assert isinstance(clock, FixedClock)
    await write(runtime, 3)  # at NOW
    clock.advance(timedelta(days=1))
    await write(runtime, 2, start=3)  # at NOW + 1 day
    await seal(runtime.engine, runtime.metadata, NOW)

    clock.set(NOW + timedelta(days=183))
    assert await retain(runtime.engine, runtime.metadata, await clock.now()) == 0  # 183 days: not older yet
    clock.advance(timedelta(microseconds=1))
    assert await retain(runtime.engine, runtime.metadata, await clock.now()) == 3
    assert await retain(runtime.engine, runtime.metadata, await clock.now()) == 0
    async with runtime.engine.connect() as conn:
        kept = (await conn.execute(text("SELECT target FROM audit_log ORDER BY seq"))).scalars().all()
        anchor = (await conn.execute(text("SELECT anchor_seq FROM audit_chain"))).scalar_one()
    assert kept == ["registration/3", "registration/4"]  # one day younger: kept
    assert anchor == 3
    report = await verify(runtime.engine, runtime.metadata, "demo")
    assert report.intact
    assert (report.entries, report.anchor_seq, report.head_seq) == (2, 3, 5)

    # Nobody deletes the younger ones by naming a later clock, here or (the option off) in prod.
    plain = pg_database.replace("postgresql+psycopg://", "postgresql://", 1)
    for movable, named in (("on", NOW + timedelta(days=183)), ("off", NOW + timedelta(days=400))):
        with psycopg.connect(plain) as conn:
            conn.execute(f"SET tms.movable_clock = '{movable}'")
            conn.execute("SELECT set_config('tms.audit_now', %s, true)", (named.isoformat(),))
            with pytest.raises(psycopg.errors.IntegrityConstraintViolation):
                conn.execute("DELETE FROM audit_log WHERE seq = 4")


async def test_au01_retention_never_goes_below_six_months(runtime: Runtime) -> None:
    with pytest.raises(ValueError, match="at least 183 days"):
        await retain(runtime.engine, runtime.metadata, NOW, days=182)


async def rewrite_whole_chain(runtime: Runtime, seq: int, after: dict[str, int]) -> None:
    """What someone holding the owner role and knowing the method could do: alter an entry and recompute
    every hash from it on, and the head, so that the chain is consistent again."""
    audit, chain = runtime.metadata.tables["audit_log"], runtime.metadata.tables["audit_chain"]
    async with runtime.engine.begin() as conn:
        await conn.execute(text("ALTER TABLE audit_log DISABLE TRIGGER audit_log_guard"))
        await conn.execute(audit.update().where(audit.c.seq == seq).values(after=after))
        rows = (await conn.execute(select(audit).order_by(audit.c.seq))).mappings().all()
        previous = GENESIS
        for row in rows:
            previous = entry_hash(previous, dict(row))
            await conn.execute(audit.update().where(audit.c.id == row["id"]).values(hash=previous))
        await conn.execute(chain.update().values(head_hash=previous))
        await conn.execute(text("ALTER TABLE audit_log ENABLE TRIGGER audit_log_guard"))


async def test_au01_a_checkpoint_kept_outside_finds_a_recomputed_chain_and_walks_only_what_is_new(
    runtime: Runtime,
) -> None:
    await write(runtime, 3)
    await seal(runtime.engine, runtime.metadata, NOW)
    first = await verify(runtime.engine, runtime.metadata, "demo")
    checkpoint = Checkpoint.parse(f"{first.head_seq}:{first.head_hash}")  # printed, kept elsewhere
    await write(runtime, 2, start=3)
    await seal(runtime.engine, runtime.metadata, NOW)
    later = await verify(runtime.engine, runtime.metadata, "demo", checkpoint)
    assert later.intact
    assert (later.from_seq, later.entries) == (3, 2)  # only what came after the checkpoint

    await rewrite_whole_chain(runtime, 2, {"i": 99})
    assert (await verify(runtime.engine, runtime.metadata, "demo")).intact  # the limit of an unkeyed chain
    caught = await verify(runtime.engine, runtime.metadata, "demo", checkpoint)
    assert [(f.kind, f.seq) for f in caught.findings] == [("checkpoint_mismatch", 3)]
