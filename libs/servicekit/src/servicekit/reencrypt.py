"""`python -m servicekit.reencrypt --service X`: after a key rotation (ADR 0095), rewrite every sealed value
still under an older data key, and every blind-index digest under an older index key, with the current
ones, so the old keys can be dropped from the ring.

Table by table, in primary-key order, in batches: each batch locks its rows, rewrites the stale ones and
records how far it got (`reencrypt_progress`, keyed by the current key ids) in the same transaction, so
a run stopped at any point resumes after the last batch it committed and never counts a row twice. The
service keeps running beside it: a row the service writes meanwhile is sealed with the current key
already. Progress goes to stdout, one line per batch.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import Column, MetaData, Table, select, text, tuple_, type_coerce
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine
from sqlalchemy.types import Text

from servicekit import crypto
from servicekit.crypto import BLIND_SUFFIX, DataKeys, SealedJSON, key_id

PROGRESS_TABLE = "reencrypt_progress"
DEFAULT_BATCH = 500


@dataclass
class TableProgress:
    table: str
    rows_seen: int = 0
    rows_rewritten: int = 0
    finished: bool = False


@dataclass
class Result:
    target: str
    tables: list[TableProgress] = field(default_factory=list)

    @property
    def rows_rewritten(self) -> int:
        return sum(t.rows_rewritten for t in self.tables)


def sealed_tables(metadata: MetaData) -> list[Table]:
    return [t for t in metadata.sorted_tables if crypto.sealed_columns(t) and t.name != PROGRESS_TABLE]


def _key_of(table: Table, values: Sequence[Any]) -> list[Any]:
    """A primary key read back from its JSON form, in the columns' own Python types."""
    return [c.type.python_type(v) for c, v in zip(table.primary_key.columns, values, strict=True)]


def _stale(keys: DataKeys, row: Any, sealed: list[Column[Any]], blind: list[Column[Any]]) -> bool:
    return any(row[c.name] is not None and key_id(row[c.name]) != keys.data.current for c in sealed) or any(
        row[c.name] is not None and key_id(row[c.name]) != keys.index.current for c in blind
    )


def _rewritten(keys: DataKeys, row: Any, sealed: list[Column[Any]]) -> dict[str, Any]:
    values: dict[str, Any] = {}
    for column in sealed:
        context = column.info["sealed"]
        is_json = isinstance(column.type, SealedJSON)
        plain = keys.open_value(row[column.name], context, json_value=is_json)
        values[column.name] = keys.seal_value(plain, context, json_value=is_json)
        normalise = column.info.get("blind")
        if normalise is not None:
            values[column.name + BLIND_SUFFIX] = (
                None if plain is None else keys.blind(normalise(plain), context)
            )
    return values


async def _batch(
    conn: AsyncConnection, table: Table, keys: DataKeys, last: list[Any] | None, size: int
) -> tuple[list[Any] | None, int, int]:
    """One batch in the caller's transaction: (the last key done, rows seen, rows rewritten)."""
    pk = list(table.primary_key.columns)
    sealed = crypto.sealed_columns(table)
    blind = crypto.blind_columns(table)
    query = (
        select(*pk, *[type_coerce(c, Text).label(c.name) for c in sealed], *blind).order_by(*pk).limit(size)
    )
    if last is not None:
        query = query.where(tuple_(*pk) > tuple_(*last))
    rows = (await conn.execute(query.with_for_update(of=table))).mappings().all()
    if not rows:
        return None, 0, 0
    updates = []
    for row in rows:
        if _stale(keys, row, sealed, blind):
            updates.append({**{f"k_{c.name}": row[c.name] for c in pk}, **_rewritten(keys, row, sealed)})
    if updates:
        names = [c.name for c in sealed] + [c.name for c in blind]
        assignments = ", ".join(f"{name} = :{name}" for name in names)
        where = " AND ".join(f"{c.name} = :k_{c.name}" for c in pk)
        # As text: the values are sealed already (the column types would seal them again).
        await conn.execute(text(f"UPDATE {table.name} SET {assignments} WHERE {where}"), updates)  # noqa: S608
    return [rows[-1][c.name] for c in pk], len(rows), len(updates)


async def reencrypt(
    engine: AsyncEngine,
    metadata: MetaData,
    keys: DataKeys,
    *,
    batch: int = DEFAULT_BATCH,
    report: Callable[[str], None] = print,
) -> Result:
    progress_table = metadata.tables[PROGRESS_TABLE]
    target = f"{keys.data.current}/{keys.index.current}"
    result = Result(target)
    for table in sealed_tables(metadata):
        async with engine.connect() as conn:
            saved = (
                await conn.execute(
                    select(progress_table).where(
                        progress_table.c.target == target, progress_table.c.table_name == table.name
                    )
                )
            ).one_or_none()
        done = TableProgress(table.name)
        result.tables.append(done)
        last: list[Any] | None = None
        if saved is not None:
            done.rows_seen, done.rows_rewritten, done.finished = (
                saved.rows_seen,
                saved.rows_rewritten,
                saved.finished,
            )
            last = None if saved.last_key is None else _key_of(table, saved.last_key)
            if done.finished:
                report(f"{table.name}: done already ({done.rows_seen} rows, {done.rows_rewritten} rewritten)")
                continue
            report(f"{table.name}: resuming after {done.rows_seen} rows")
        while True:
            async with engine.begin() as conn:
                # Lets the audit trail's guard take a rewrite of before/after under the new key (ADR 0095).
                await conn.execute(text("SET LOCAL tms.reencrypt = 'on'"))
                key, seen, rewritten = await _batch(conn, table, keys, last, batch)
                done.rows_seen += seen
                done.rows_rewritten += rewritten
                done.finished = key is None
                last = key if key is not None else last
                values = {
                    "last_key": None
                    if last is None
                    else [str(v) if not isinstance(v, int) else v for v in last],
                    "rows_seen": done.rows_seen,
                    "rows_rewritten": done.rows_rewritten,
                    "finished": done.finished,
                    "updated_at": text("now()"),
                }
                await conn.execute(
                    insert(progress_table)
                    .values(target=target, table_name=table.name, **values)
                    .on_conflict_do_update(index_elements=["target", "table_name"], set_=values)
                )
            if done.finished:
                report(f"{table.name}: done ({done.rows_seen} rows, {done.rows_rewritten} rewritten)")
                break
            report(f"{table.name}: {done.rows_seen} rows, {done.rows_rewritten} rewritten")
    return result


async def _run(service: str, batch: int) -> Result:
    from servicekit.db import create_engine
    from servicekit.service import load_spec

    spec = load_spec(service)
    settings = spec.settings()
    keys = settings.data_keys()
    crypto.install(keys)
    engine = create_engine(settings.database)
    try:
        return await reencrypt(
            engine, spec.metadata, keys, batch=batch, report=lambda line: print(line, flush=True)
        )
    finally:
        await engine.dispose()


def main(argv: Sequence[str] | None = None) -> int:
    from servicekit.service import SERVICE_NAMES

    parser = argparse.ArgumentParser(prog="python -m servicekit.reencrypt", description=__doc__)
    parser.add_argument("--service", required=True, choices=SERVICE_NAMES)
    parser.add_argument("--batch", type=int, default=DEFAULT_BATCH, help="rows per transaction")
    args = parser.parse_args(argv)
    result = asyncio.run(_run(args.service, args.batch))
    print(
        f"{args.service}: every sealed value under {result.target}; {result.rows_rewritten} rewritten",
        flush=True,
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
