"""Bulk imports of licence records (DL-01): the job and its lines in the database, and the worker's way
through them. The file format and the reading of a line are `importer.py`.

`start` keeps every line of the file at once, `pending` (a line repeating an earlier line's number fails
then and there); the sweep `licence-imports` (`run_imports`) takes the oldest running import's pending lines
in batches, one transaction each: each line is issued, corrected, left alone or failed with its field and
reason (`licences.apply_line`), and the import's counts move with them, so its progress can be read while
it runs. The import is done when no line is pending.
"""

from __future__ import annotations

import re
import uuid
from collections import Counter
from collections.abc import Sequence
from typing import Any

from sqlalchemy import bindparam, exists, select, update
from sqlalchemy.engine import RowMapping

from license_service import licences
from license_service.importer import parse_line
from license_service.tables import licence_import_lines, licence_imports
from servicekit.ids import new_id
from servicekit.refusal import Refusal
from servicekit.runtime import Runtime
from servicekit.uow import Actor, UnitOfWork
from servicekit.validators import InvalidValue

BATCHES_PER_ROUND = 25  # then the sweep yields; the next round goes on where this one stopped


async def start(
    uow: UnitOfWork, actor: Actor, lines: Sequence[tuple[int, dict[str, str]]], office_code: str | None
) -> RowMapping:
    """The import and all its lines, `pending` for the worker; a line repeating an earlier line's number
    fails at once, naming that line."""
    import_id = new_id()
    first_line: dict[str, int] = {}
    rows: list[dict[str, Any]] = []
    for line, raw in lines:
        key = re.sub(r"\s", "", raw.get("number", "")).upper()
        earlier = first_line.get(key) if key else None
        rows.append(
            {
                "import_id": import_id,
                "line": line,
                "raw": raw,
                "outcome": "failed" if earlier is not None else "pending",
                "field": "number" if earlier is not None else None,
                "reason": f"the same number as line {earlier}" if earlier is not None else None,
            }
        )
        if key and earlier is None:
            first_line[key] = line
    failed = sum(1 for row in rows if row["outcome"] == "failed")
    job: RowMapping = (
        (
            await uow.session.execute(
                licence_imports.insert()
                .values(
                    id=import_id,
                    office_code=office_code,
                    state="running",
                    submitted_by=actor.id,
                    total=len(rows),
                    failed=failed,
                    created_at=uow.now,
                    updated_at=uow.now,
                )
                .returning(licence_imports)
            )
        )
        .mappings()
        .one()
    )
    for begin in range(0, len(rows), 1000):
        await uow.session.execute(licence_import_lines.insert(), rows[begin : begin + 1000])
    uow.audit(
        actor,
        "licence.import_started",
        f"licence-import:{import_id}",
        None,
        {"lines": len(rows), "failed": failed},
    )
    return job


async def load_import(uow: UnitOfWork, import_id: uuid.UUID) -> RowMapping | None:
    query = select(licence_imports).where(licence_imports.c.id == import_id)
    return (await uow.session.execute(query)).mappings().first()


async def import_lines(
    uow: UnitOfWork, import_id: uuid.UUID, *, outcome: str | None, after: int | None, limit: int
) -> list[RowMapping]:
    query = (
        select(licence_import_lines)
        .where(licence_import_lines.c.import_id == import_id)
        .order_by(licence_import_lines.c.line)
        .limit(limit)
    )
    if outcome is not None:
        query = query.where(licence_import_lines.c.outcome == outcome)
    if after is not None:
        query = query.where(licence_import_lines.c.line > after)
    return list((await uow.session.execute(query)).mappings().all())


# --- working through it (the worker) ------------------------------------------------------------------


def _failure(exc: InvalidValue | Refusal) -> tuple[str | None, str]:
    if isinstance(exc, InvalidValue):
        return exc.field, exc.reason
    errors = exc.extra.get("errors")
    field = errors[0]["field"] if isinstance(errors, list) and errors else None
    return field, exc.detail


async def run_batch(runtime: Runtime, batch: int) -> int:
    """One transaction: the next `batch` pending lines of the oldest running import, each issued,
    corrected, left alone or failed with its reason, and the import's counts with them; the import is done
    when no line is pending. Returns how many lines were worked (0: nothing to do)."""
    async with runtime.uow() as uow:
        job = (
            (
                await uow.session.execute(
                    select(licence_imports)
                    .where(licence_imports.c.state == "running")
                    .order_by(licence_imports.c.created_at, licence_imports.c.id)
                    .limit(1)
                    .with_for_update(skip_locked=True)
                )
            )
            .mappings()
            .first()
        )
        if job is None:
            return 0
        lines = (
            (
                await uow.session.execute(
                    select(licence_import_lines)
                    .where(
                        licence_import_lines.c.import_id == job["id"],
                        licence_import_lines.c.outcome == "pending",
                    )
                    .order_by(licence_import_lines.c.line)
                    .limit(batch)
                )
            )
            .mappings()
            .all()
        )
        actor = Actor(id=job["submitted_by"], role="system", request_id=f"licence-import:{job['id']}")
        results: list[dict[str, Any]] = []
        for line in lines:
            result: dict[str, Any] = {
                "b_line": line["line"],
                "field": None,
                "reason": None,
                "record_id": None,
            }
            try:
                facts, state = parse_line(line["raw"], job["office_code"])
                outcome, row = await licences.apply_line(uow, actor, facts, state)
            except (InvalidValue, Refusal) as exc:
                result["outcome"] = "failed"
                result["field"], result["reason"] = _failure(exc)
            else:
                result["outcome"], result["record_id"] = outcome, row["id"]
            results.append(result)
        if results:
            conn = await uow.session.connection()
            await conn.execute(
                update(licence_import_lines)
                .where(
                    licence_import_lines.c.import_id == job["id"],
                    licence_import_lines.c.line == bindparam("b_line"),
                )
                .values(
                    outcome=bindparam("outcome"),
                    field=bindparam("field"),
                    reason=bindparam("reason"),
                    record_id=bindparam("record_id"),
                ),
                results,
            )
        counts = Counter(r["outcome"] for r in results)
        pending = await uow.session.scalar(
            select(
                exists().where(
                    licence_import_lines.c.import_id == job["id"], licence_import_lines.c.outcome == "pending"
                )
            )
        )
        done = {} if pending else {"state": "done", "finished_at": uow.now}
        c = licence_imports.c
        await uow.session.execute(
            update(licence_imports)
            .where(c.id == job["id"])
            .values(
                issued=c.issued + counts["issued"],
                updated=c.updated + counts["updated"],
                unchanged=c.unchanged + counts["unchanged"],
                failed=c.failed + counts["failed"],
                updated_at=uow.now,
                **done,
            )
        )
        if done:
            uow.audit(actor, "licence.import_done", f"licence-import:{job['id']}")
        await uow.commit()
        return max(len(results), 1)  # an import closed without lines left is work done too


async def run_imports(runtime: Runtime) -> int:
    """The `licence-imports` sweep: batches until no import has a pending line, or for one round at most."""
    from license_service.settings import LicenseSettings

    settings = runtime.settings
    batch = settings.import_batch if isinstance(settings, LicenseSettings) else 200
    worked = 0
    for _ in range(BATCHES_PER_ROUND):
        done = await run_batch(runtime, batch)
        if not done:
            break
        worked += done
    return worked
