"""Bulk import of an office's existing licence records (DL-01), with progress.

A `system` client sends the office's file as one CSV (`POST /api/v1/licences/imports`); every line is kept
at once (`licence_import_lines`) and the worker works through them in batches (the `licence-imports` sweep),
each batch one transaction, so `GET /api/v1/licences/imports/{id}` shows how far it got. Each line ends
`issued`, `updated` (its record was here with other facts: corrected), `unchanged` (here with the same
facts) or `failed` with the field and the reason; a bad line stops nothing and loses nothing, and the same
file sent again issues nothing twice (its lines come out `unchanged`). A line with the number of an
earlier line of the same file fails at once: the file must say one thing per licence.

Each issued record is published (`license.record.issued.v1`, source `import`) like any other, so identity
learns of it (ID-03, ID-07); a line in state `suspended` or `revoked` is issued and then moved.

Columns (header row required; order free; UTF-8, a BOM is ignored): number, name, classes (准驾车型, e.g.
`C1`, `A2D` or `A1;B2`), first_issue, valid_from, valid_until (YYYY-MM-DD), and optional office_code (else
the import's), file_number (12 digits), review_due, medical_due, phone, state (valid, suspended, revoked;
valid when empty).

`python -m license_service.importer FILE.csv [--office 130100]` does the same from a shell and waits for
the end, printing progress.
"""

from __future__ import annotations

import argparse
import asyncio
import csv
import io
import re
import sys
import uuid
from collections import Counter
from collections.abc import Mapping, Sequence
from datetime import date
from pathlib import Path
from typing import Any

from sqlalchemy import bindparam, exists, select, update
from sqlalchemy.engine import RowMapping

from license_service import domain, licences
from license_service.domain import LICENCE_CLASSES, LicenceClass, LicenceState
from license_service.records import Facts
from license_service.tables import licence_import_lines, licence_imports
from servicekit.ids import new_id
from servicekit.refusal import Refusal, refusal
from servicekit.runtime import Runtime
from servicekit.uow import Actor, UnitOfWork
from servicekit.validators import InvalidValue, birth_date_of, mobile_phone, resident_id

REQUIRED = ("number", "name", "classes", "first_issue", "valid_from", "valid_until")
OPTIONAL = ("office_code", "file_number", "review_due", "medical_due", "phone", "state")
COLUMNS = REQUIRED + OPTIONAL
BATCHES_PER_ROUND = 25  # then the sweep yields; the next round goes on where this one stopped

UnreadableFile = refusal("IMPORT_FILE_UNREADABLE", "DL-01", 422)

_CLASS_TOKENS = re.compile(r"[ABC][1-6]|[DEFMNP]")
_SEPARATORS = re.compile(r"[\s;,/、，；]+")


# --- reading the file ---------------------------------------------------------------------------------


def read_csv(content: bytes) -> list[tuple[int, dict[str, str]]]:
    """The file's lines as (line number, column → text), or a refusal naming what makes the whole file
    unreadable: not UTF-8, a NUL character, no header, required or unknown columns, no line."""
    try:
        text = content.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise UnreadableFile(f"the file is not UTF-8 text (byte {exc.start})") from None
    if "\x00" in text:
        raise UnreadableFile("the file holds a NUL character")
    reader = csv.DictReader(io.StringIO(text, newline=""))
    try:
        header = [name.strip() for name in reader.fieldnames or []]
        missing = [name for name in REQUIRED if name not in header]
        unknown = [name for name in header if name not in COLUMNS]
        if not header or missing or unknown:
            raise UnreadableFile(
                "the header row must name the columns: "
                + "; ".join(
                    part
                    for part in (
                        f"missing {', '.join(missing)}" if missing else "",
                        f"unknown {', '.join(unknown)}" if unknown else "",
                    )
                    if part
                ),
                extra={"missing": missing, "unknown": unknown, "columns": list(COLUMNS)},
            )
        # DictReader's line_num is the physical line just read: the header is line 1.
        lines = [(reader.line_num, _cells(raw)) for raw in reader]
    except csv.Error as exc:
        raise UnreadableFile(f"line {reader.line_num}: {exc}") from None
    if not lines:
        raise UnreadableFile("the file has a header and no line")
    return lines


def _cells(raw: Mapping[str | None, Any]) -> dict[str, str]:
    """A line's cells by column; cells past the header's last column are kept under `_extra` (the line
    then fails: nothing it says is dropped unread)."""
    cells = {k.strip(): (v or "").strip() for k, v in raw.items() if isinstance(k, str)}
    extra = raw.get(None)
    if extra:
        cells["_extra"] = "|".join(str(v) for v in extra)
    return cells


def _date(raw: Mapping[str, str], name: str) -> date | None:
    value = raw.get(name, "")
    if not value:
        return None
    try:
        return date.fromisoformat(value)
    except ValueError:
        raise InvalidValue(name, "not a date YYYY-MM-DD") from None


def _required_date(raw: Mapping[str, str], name: str) -> date:
    found = _date(raw, name)
    if found is None:
        raise InvalidValue(name, "missing")
    return found


def parse_classes(value: str) -> frozenset[LicenceClass]:
    """准驾车型 as a licence prints them (`C1E`, `A2D`) or listed (`A1;B2`)."""
    text = _SEPARATORS.sub("", value.upper())
    if not text or _CLASS_TOKENS.sub("", text):
        raise InvalidValue(
            "classes", f"permitted classes are written like C1, A2D or A1;B2 ({' '.join(LICENCE_CLASSES)})"
        )
    found = set(_CLASS_TOKENS.findall(text))
    unknown = sorted(found - set(LICENCE_CLASSES))
    if unknown:
        raise InvalidValue("classes", f"unknown permitted class {', '.join(unknown)}")
    return frozenset(c for c in LICENCE_CLASSES if c in found)


def parse_line(raw: Mapping[str, str], default_office: str | None) -> tuple[Facts, LicenceState]:
    """One line as the record's facts and the state it comes in, or `InvalidValue` naming the bad field."""
    if "_extra" in raw:
        raise InvalidValue("line", "more cells than the header has columns")
    for name in REQUIRED:
        if not raw.get(name):
            raise InvalidValue(name, "missing")
    number = resident_id(raw["number"], field="number")
    name = raw["name"]
    if len(name) > 100:
        raise InvalidValue("name", "at most 100 characters")
    office = raw.get("office_code") or default_office or ""
    if not re.fullmatch(r"\d{6}", office):
        raise InvalidValue("office_code", "6 digits, on the line or given for the import")
    file_number = raw.get("file_number") or None
    if file_number is not None and not re.fullmatch(r"\d{12}", file_number):
        raise InvalidValue("file_number", "12 digits")
    phone = mobile_phone(raw["phone"]) if raw.get("phone") else None
    state = next((s for s in domain.IMPORT_MOVES if s == (raw.get("state") or "valid")), None)
    if state is None:
        raise InvalidValue("state", f"one of {', '.join(domain.IMPORT_MOVES)}")
    facts = Facts(
        number=number,
        name=name,
        birth_date=birth_date_of(number),
        classes=parse_classes(raw["classes"]),
        first_issue=_required_date(raw, "first_issue"),
        valid_from=_required_date(raw, "valid_from"),
        valid_until=_required_date(raw, "valid_until"),
        office_code=office,
        file_number=file_number,
        review_due=_date(raw, "review_due"),
        medical_due=_date(raw, "medical_due"),
        phone=phone,
    )
    return facts, state


# --- starting an import and reading it -------------------------------------------------------------------


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


# --- from a shell ---------------------------------------------------------------------------------------


def main(argv: list[str] | None = None) -> int:
    from license_service.service import SPEC

    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("file", type=Path)
    parser.add_argument("--office", help="office code for lines that name none")
    args = parser.parse_args(argv)

    async def run() -> RowMapping:
        runtime = Runtime.open(SPEC.settings(), SPEC.metadata)
        try:
            lines = read_csv(args.file.read_bytes())
            async with runtime.uow() as uow:
                job = await start(uow, Actor(id="importer", role="system"), lines, args.office)
                await uow.commit()
            while await run_imports(runtime):
                async with runtime.uow() as uow:
                    now = await load_import(uow, job["id"])
                assert now is not None
                worked = now["issued"] + now["updated"] + now["unchanged"] + now["failed"]
                print(f"{worked}/{now['total']} lines", file=sys.stderr, flush=True)
            async with runtime.uow() as uow:
                final = await load_import(uow, job["id"])
                failed = await import_lines(uow, job["id"], outcome="failed", after=None, limit=10_000)
            assert final is not None
            for line in failed:
                print(f"line {line['line']}: {line['field'] or '-'}: {line['reason']}", flush=True)
            return final
        finally:
            await runtime.aclose()

    try:
        final = asyncio.run(run())
    except Refusal as exc:
        print(exc.detail, file=sys.stderr)
        return 2
    print(
        f"import {final['id']}: {final['issued']} issued, {final['updated']} updated, "
        f"{final['unchanged']} unchanged, {final['failed']} failed of {final['total']}",
        flush=True,
    )
    return 1 if final["failed"] else 0


if __name__ == "__main__":
    sys.exit(main())
