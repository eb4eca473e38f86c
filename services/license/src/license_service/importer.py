"""Bulk import of an office's existing licence records (DL-01), with progress: the file and its lines.
The job, its lines in the database and the worker's way through them are `imports.py`.

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
from collections.abc import Mapping
from datetime import date
from pathlib import Path
from typing import Any

from sqlalchemy.engine import RowMapping

from license_service import domain
from license_service.domain import LICENCE_CLASSES, LicenceClass, LicenceState
from license_service.records import Facts
from servicekit.refusal import Refusal, refusal
from servicekit.runtime import Runtime
from servicekit.uow import Actor
from servicekit.validators import InvalidValue, birth_date_of, mobile_phone, resident_id

REQUIRED = ("number", "name", "classes", "first_issue", "valid_from", "valid_until")
OPTIONAL = ("office_code", "file_number", "review_due", "medical_due", "phone", "state")
COLUMNS = REQUIRED + OPTIONAL

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


# --- from a shell ---------------------------------------------------------------------------------------


def main(argv: list[str] | None = None) -> int:
    from license_service import imports
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
                job = await imports.start(uow, Actor(id="importer", role="system"), lines, args.office)
                await uow.commit()
            while await imports.run_imports(runtime):
                async with runtime.uow() as uow:
                    now = await imports.load_import(uow, job["id"])
                assert now is not None
                worked = now["issued"] + now["updated"] + now["unchanged"] + now["failed"]
                print(f"{worked}/{now['total']} lines", file=sys.stderr, flush=True)
            async with runtime.uow() as uow:
                final = await imports.load_import(uow, job["id"])
                failed = await imports.import_lines(
                    uow, job["id"], outcome="failed", after=None, limit=10_000
                )
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
