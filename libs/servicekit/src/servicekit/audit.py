"""The audit trail's tamper evidence (AU-01, ADR 0089): each service's entries chained by SM3.

`UnitOfWork.audit` writes an entry unsealed, in the transaction of its change. The `audit-seal` sweep of
the worker then seals entries in id order, one sealer at a time (it locks the `audit_chain` row): entry
`seq` gets `hash = SM3(hash of seq-1 || canonical JSON of its logical values)`, and the chain's head moves
to it. Concurrent writers never fork the chain, because nobody but the sealer links entries.

The hash covers the values as read through the kit's Table (its column types), not the stored bytes: a
column sealed at rest (`servicekit.crypto`) hashes as what it holds.

`python -m servicekit.audit verify --service <name>` (or `--all`) walks the chain from its anchor and
names every altered entry and every removed one (a gap in `seq`, or a tail removed below the head).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import sys
import time
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from cryptography.hazmat.primitives import hashes
from sqlalchemy import MetaData, Table, bindparam, func, select, update
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from servicekit import crypto
from servicekit.db import AUDIT_RETENTION_DAYS
from servicekit.runtime import Runtime

log = logging.getLogger(__name__)

GENESIS = bytes(32)  # the previous hash of entry 1
CHAIN_ROW = 1
SEAL_BATCH = 1000

# The logical values an entry's hash covers, in this order of keys (the JSON is sorted anyway).
CHAINED_FIELDS = (
    "seq",
    "at",
    "actor",
    "role",
    "action",
    "target",
    "source_ip",
    "request_id",
    "before",
    "after",
)


def canonical_entry(row: Mapping[str, Any]) -> bytes:
    """The entry's logical values as canonical JSON: sorted keys, no spaces, UTF-8, times in UTC to the
    microsecond, the address as text."""
    at = row["at"]
    if not isinstance(at, datetime) or at.tzinfo is None:
        raise ValueError("an audit entry's time must be aware")
    values = {name: row[name] for name in CHAINED_FIELDS}
    values["at"] = at.astimezone(UTC).isoformat(timespec="microseconds")
    values["source_ip"] = None if row["source_ip"] is None else str(row["source_ip"])
    return json.dumps(
        values, sort_keys=True, separators=(",", ":"), ensure_ascii=False, allow_nan=False
    ).encode()


def entry_hash(previous: bytes, row: Mapping[str, Any]) -> bytes:
    digest = hashes.Hash(hashes.SM3())
    digest.update(previous)
    digest.update(canonical_entry(row))
    return digest.finalize()


@dataclass(frozen=True)
class ChainState:
    head_seq: int
    head_hash: bytes
    anchor_seq: int
    anchor_hash: bytes
    anchor_at: datetime | None = None


def _tables(metadata: MetaData) -> tuple[Table, Table]:
    return metadata.tables["audit_log"], metadata.tables["audit_chain"]


async def lock_chain(conn: AsyncConnection, chain: Table) -> ChainState:
    """The chain row, locked for this transaction (made at genesis when missing): one sealer or retention
    sweep at a time."""
    await conn.execute(
        insert(chain)
        .values(id=CHAIN_ROW, head_seq=0, head_hash=GENESIS, anchor_seq=0, anchor_hash=GENESIS)
        .on_conflict_do_nothing()
    )
    row = (await conn.execute(select(chain).where(chain.c.id == CHAIN_ROW).with_for_update())).one()
    return ChainState(row.head_seq, row.head_hash, row.anchor_seq, row.anchor_hash, row.anchor_at)


async def read_chain(conn: AsyncConnection, chain: Table) -> ChainState:
    row = (await conn.execute(select(chain).where(chain.c.id == CHAIN_ROW))).one_or_none()
    if row is None:
        return ChainState(0, GENESIS, 0, GENESIS)
    return ChainState(row.head_seq, row.head_hash, row.anchor_seq, row.anchor_hash, row.anchor_at)


async def seal(engine: AsyncEngine, metadata: MetaData, now: datetime, batch: int = SEAL_BATCH) -> int:
    """Seal every entry written so far, in id order, batch by batch (each batch one transaction).
    Returns how many it sealed."""
    audit, chain = _tables(metadata)
    sealed = 0
    link = (
        update(audit)
        .where(audit.c.id == bindparam("entry_id"))
        .values(seq=bindparam("new_seq"), hash=bindparam("new_hash"))
    )
    while True:
        async with engine.begin() as conn:
            state = await lock_chain(conn, chain)
            rows = (
                (
                    await conn.execute(
                        select(audit).where(audit.c.seq.is_(None)).order_by(audit.c.id).limit(batch)
                    )
                )
                .mappings()
                .all()
            )
            if not rows:
                return sealed
            seq, previous = state.head_seq, state.head_hash
            links = []
            for row in rows:
                seq += 1
                previous = entry_hash(previous, {**row, "seq": seq})
                links.append({"entry_id": row["id"], "new_seq": seq, "new_hash": previous})
            await conn.execute(link, links)
            await conn.execute(
                update(chain)
                .where(chain.c.id == CHAIN_ROW)
                .values(head_seq=seq, head_hash=previous, sealed_at=now)
            )
        sealed += len(rows)
        # The head in the log too: shipped off the host, it anchors the chain outside this database.
        log.info("audit chain head seq=%d hash=%s", seq, previous.hex())


async def seal_sweep(runtime: Runtime) -> int:
    return await seal(runtime.engine, runtime.metadata, await runtime.clock.now())


RETENTION_BATCH = 5000
VERIFY_BATCH = 5000


async def retain(
    engine: AsyncEngine,
    metadata: MetaData,
    now: datetime,
    days: int = AUDIT_RETENTION_DAYS,
    batch: int = RETENTION_BATCH,
) -> int:
    """Cybersecurity Law art. 21 (ADR 0090): remove the sealed entries older than `days` by the platform
    clock, never a younger one, from the chain's start only, moving its anchor to the last removed entry in
    the same transaction so that verify still starts from a known hash. An old entry sealed after a younger
    one waits for it: kept longer, never shorter. Returns how many it removed."""
    if days < AUDIT_RETENTION_DAYS:
        raise ValueError(f"audit entries are kept at least {AUDIT_RETENTION_DAYS} days")
    audit, chain = _tables(metadata)
    cutoff = now - timedelta(days=days)
    removed = 0
    while True:
        async with engine.begin() as conn:
            # The guard's horizon where the platform clock may move (dev, test); prod ignores it.
            await conn.execute(select(func.set_config("tms.audit_now", now.isoformat(), True)))
            state = await lock_chain(conn, chain)
            first_kept = (
                await conn.execute(
                    select(audit.c.seq)
                    .where(audit.c.seq > state.anchor_seq, audit.c.at >= cutoff)
                    .order_by(audit.c.seq)
                    .limit(1)
                )
            ).scalar_one_or_none()
            last = state.head_seq if first_kept is None else first_kept - 1
            last = min(last, state.anchor_seq + batch)
            if last <= state.anchor_seq:
                return removed
            new_anchor = (
                await conn.execute(select(audit.c.hash, audit.c.at).where(audit.c.seq == last))
            ).one_or_none()
            if new_anchor is None:
                # The chain is broken there (verify names it): nothing is removed past a break.
                log.error("audit retention stopped: entry seq=%d is missing; run verify", last)
                return removed
            result = await conn.execute(
                audit.delete().where(audit.c.seq > state.anchor_seq, audit.c.seq <= last)
            )
            await conn.execute(
                update(chain)
                .where(chain.c.id == CHAIN_ROW)
                .values(anchor_seq=last, anchor_hash=new_anchor.hash, anchor_at=new_anchor.at)
            )
        removed += result.rowcount
        log.info("audit retention removed entries up to seq=%d (older than %s)", last, cutoff.isoformat())


async def retention_sweep(runtime: Runtime) -> int:
    return await retain(runtime.engine, runtime.metadata, await runtime.clock.now())


@dataclass
class Finding:
    kind: str  # altered | missing | missing_tail | beyond_head | head_mismatch | checkpoint_mismatch
    detail: str
    seq: int | None = None
    id: int | None = None
    from_seq: int | None = None
    to_seq: int | None = None


@dataclass
class Verification:
    service: str
    entries: int = 0
    unsealed: int = 0
    anchor_seq: int = 0
    head_seq: int = 0
    head_hash: str = ""  # hex: kept outside the database, it is a checkpoint for a later verify
    from_seq: int = 0  # the walk started after this entry (the anchor, or the checkpoint given)
    seconds: float = 0.0
    findings: list[Finding] = field(default_factory=list)

    @property
    def intact(self) -> bool:
        return not self.findings

    def as_json(self) -> dict[str, Any]:
        body = asdict(self)
        body["intact"] = self.intact
        body["findings"] = [{k: v for k, v in asdict(f).items() if v is not None} for f in self.findings]
        return body


@dataclass(frozen=True)
class Checkpoint:
    """A head an earlier verify printed (`seq:hash`), kept outside the database: verify then walks only
    the entries after it, and finds a chain recomputed since (SM3 is unkeyed: someone who can write the
    table and `audit_chain` could make a consistent new chain, but not one through this hash)."""

    seq: int
    hash: bytes

    @classmethod
    def parse(cls, text: str) -> Checkpoint:
        seq, _, digest = text.partition(":")
        if not seq.isdigit() or len(digest) != 64:
            raise ValueError("a checkpoint is <seq>:<64 hex digits>")
        return cls(int(seq), bytes.fromhex(digest))


async def verify(
    engine: AsyncEngine, metadata: MetaData, service: str, checkpoint: Checkpoint | None = None
) -> Verification:
    """Walk the sealed entries from the anchor (or a later checkpoint) to the head; a read-only check,
    safe beside the sealer (it reads one snapshot)."""
    audit, chain = _tables(metadata)
    started = time.perf_counter()
    report = Verification(service=service)
    async with engine.connect() as conn:
        # One snapshot for the whole walk: the head and the entries as of the same instant.
        await conn.execution_options(isolation_level="REPEATABLE READ", postgresql_readonly=True)
        state = await read_chain(conn, chain)
        report.anchor_seq, report.head_seq = state.anchor_seq, state.head_seq
        report.unsealed = (
            await conn.execute(select(func.count()).select_from(audit).where(audit.c.seq.is_(None)))
        ).scalar_one()
        expected, previous = state.anchor_seq + 1, state.anchor_hash
        if checkpoint is not None and checkpoint.seq >= state.anchor_seq:
            held: bytes | None = state.anchor_hash
            if checkpoint.seq > state.anchor_seq:
                held = (
                    await conn.execute(select(audit.c.hash).where(audit.c.seq == checkpoint.seq))
                ).scalar_one_or_none()
            if held != checkpoint.hash:
                report.findings.append(
                    Finding(
                        "checkpoint_mismatch",
                        f"entry seq {checkpoint.seq} is not the one the checkpoint recorded: the chain was "
                        "rewritten or the entry removed since",
                        seq=checkpoint.seq,
                    )
                )
            # Past a mismatch the walk goes on from what is stored, so it is reported once.
            expected, previous = checkpoint.seq + 1, held or checkpoint.hash
        report.from_seq = expected - 1
        link_known = True
        stream = await conn.stream(
            select(*crypto.raw_columns(audit))  # sealed before/after opened per entry, below
            .where(audit.c.seq > report.from_seq)
            .order_by(audit.c.seq)
            .execution_options(yield_per=VERIFY_BATCH)
        )
        # A batch at a time: one await per batch, not per row (the walk is CPU-bound on hashing).
        async for rows in stream.mappings().partitions(VERIFY_BATCH):
            for raw in rows:
                seq = raw["seq"]
                try:
                    row = crypto.open_row(audit, dict(raw))
                    opened = True
                except crypto.CryptoError:  # a sealed value altered in place (ADR 0095): the entry changed
                    row, opened = dict(raw), False
                if seq != expected:
                    report.findings.append(
                        Finding(
                            "missing",
                            f"entries {expected}..{seq - 1} were removed",
                            from_seq=expected,
                            to_seq=seq - 1,
                        )
                    )
                    link_known = False  # the removed entry's hash is gone: this one's link cannot be checked
                if link_known and (not opened or entry_hash(previous, row) != row["hash"]):
                    report.findings.append(
                        Finding(
                            "altered",
                            f"entry {row['id']} (seq {seq}) does not match its hash",
                            seq=seq,
                            id=row["id"],
                        )
                    )
                previous, expected, link_known = row["hash"], seq + 1, True
                report.entries += 1
        last = expected - 1
        if last < state.head_seq:
            report.findings.append(
                Finding(
                    "missing_tail",
                    f"entries {expected}..{state.head_seq} below the head were removed",
                    from_seq=expected,
                    to_seq=state.head_seq,
                )
            )
        elif last > state.head_seq:
            report.findings.append(
                Finding("beyond_head", f"entries {state.head_seq + 1}..{last} were never sealed by the chain")
            )
        elif state.head_seq > state.anchor_seq and previous != state.head_hash:
            report.findings.append(
                Finding("head_mismatch", f"entry seq {last} is not the head the chain recorded", seq=last)
            )
    report.head_hash = state.head_hash.hex()
    report.seconds = round(time.perf_counter() - started, 3)
    return report


async def _verify_service(name: str, seal_first: bool, checkpoint: Checkpoint | None) -> Verification:
    from servicekit.db import create_engine
    from servicekit.service import load_spec

    spec = load_spec(name)
    engine = create_engine(spec.settings().database)
    try:
        if seal_first:
            await seal(engine, spec.metadata, datetime.now(UTC))
        return await verify(engine, spec.metadata, name, checkpoint)
    finally:
        await engine.dispose()


def main(argv: Sequence[str] | None = None) -> int:
    from servicekit.service import SERVICE_NAMES

    parser = argparse.ArgumentParser(prog="python -m servicekit.audit", description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True)
    check = commands.add_parser("verify", help="walk the chain; exit 1 when an entry was altered or removed")
    check.add_argument("--service", action="append", choices=SERVICE_NAMES, default=[])
    check.add_argument("--all", action="store_true", help="every service")
    check.add_argument("--seal-first", action="store_true", help="seal what is unsealed, then verify")
    check.add_argument(
        "--checkpoint",
        type=Checkpoint.parse,
        help="seq:hash of a head an earlier verify printed (one --service): walk from there, and check it",
    )
    args = parser.parse_args(argv)
    names = list(SERVICE_NAMES) if args.all else args.service
    if not names:
        parser.error("name a --service or give --all")
    if args.checkpoint is not None and len(names) != 1:
        parser.error("a checkpoint belongs to one service's chain")
    reports = [asyncio.run(_verify_service(name, args.seal_first, args.checkpoint)) for name in names]
    for report in reports:
        print(json.dumps(report.as_json(), ensure_ascii=False), flush=True)
    figures = {
        "services": len(reports),
        "entries": sum(r.entries for r in reports),
        "unsealed": sum(r.unsealed for r in reports),
        "findings": sum(len(r.findings) for r in reports),
        "intact": all(r.intact for r in reports),
        "seconds": round(sum(r.seconds for r in reports), 3),
    }
    print(json.dumps(figures), flush=True)
    return 0 if figures["intact"] else 1


if __name__ == "__main__":
    sys.exit(main())
