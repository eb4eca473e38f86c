"""`python -m vehicle_service.importer FILE.csv [--office 130100] [--dry-run]`: bring an office's existing
vehicle records onto the platform (VH-01).

All or nothing: every row is read and checked first (each bad row reported with its line and reason, as
well as duplicates within the file and against the records already here); if any row is bad nothing is
written and the exit code is 1. Otherwise all rows go in one transaction, each with its
`vehicle.vehicle.imported.v1` event (identity's ID-03 projection) and its audit entry, so the import is
either entirely visible or not at all. Progress goes to stderr.

Columns (header row required; order free): office_code, plate_kind, plate_number, vin, vehicle_kind,
owner_id_kind, owner_id_number, owner_name, phone, use, state, flags (separated by `;`),
inspection_valid_until, insurance_valid_until (YYYY-MM-DD or empty), licence_photo_stored (true/false),
plate_reissue_count.
"""

from __future__ import annotations

import argparse
import asyncio
import csv
import sys
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Any, TextIO

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from servicekit.ids import new_id
from servicekit.runtime import Runtime
from servicekit.uow import Actor
from servicekit.validators import (
    InvalidValue,
    mobile_phone,
    plate_number,
    resident_id,
    social_credit_code,
    vin,
)
from vehicle_service import published as ev
from vehicle_service import records
from vehicle_service.domain import FLAGS, ID_KINDS, STATES
from vehicle_service.tables import vehicles

REQUIRED = ("plate_number", "vin", "owner_id_kind", "owner_id_number", "owner_name", "phone")
IMPORT_ACTOR = Actor(id="importer", role="system")
BATCH = 500


@dataclass(frozen=True)
class BadRow:
    line: int
    reason: str


@dataclass
class Report:
    rows: int
    imported: int
    bad: list[BadRow]

    @property
    def ok(self) -> bool:
        return not self.bad


def _date(value: str, name: str) -> date | None:
    value = value.strip()
    if not value:
        return None
    try:
        return date.fromisoformat(value)
    except ValueError:
        raise InvalidValue(name, "not a date YYYY-MM-DD") from None


def parse_row(raw: dict[str, str], default_office: str | None) -> dict[str, Any]:
    """One CSV row as a vehicles row (without id and times), or `InvalidValue` naming the bad field."""
    get = {k.strip(): (v or "").strip() for k, v in raw.items() if k is not None}
    for name in REQUIRED:
        if not get.get(name):
            raise InvalidValue(name, "missing")
    office = get.get("office_code") or default_office or ""
    if len(office) != 6 or not office.isdigit():
        raise InvalidValue("office_code", "must be 6 digits")
    id_kind = get["owner_id_kind"]
    if id_kind not in ID_KINDS:
        raise InvalidValue("owner_id_kind", f"one of {', '.join(ID_KINDS)}")
    id_number = get["owner_id_number"]
    if id_kind == "resident_id":
        id_number = resident_id(id_number, field="owner_id_number")
    elif id_kind == "uscc":
        id_number = social_credit_code(id_number, field="owner_id_number")
    use = get.get("use") or "non_commercial"
    if use not in ("commercial", "non_commercial"):
        raise InvalidValue("use", "commercial or non_commercial")
    state = get.get("state") or "registered"
    if state not in STATES:
        raise InvalidValue("state", f"one of {', '.join(STATES)}")
    flags = sorted({f.strip() for f in get.get("flags", "").split(";") if f.strip()})
    unknown = [f for f in flags if f not in FLAGS]
    if unknown:
        raise InvalidValue("flags", f"unknown {', '.join(unknown)}")
    plate_kind = get.get("plate_kind") or "02"
    if len(plate_kind) != 2 or not plate_kind.isdigit():
        raise InvalidValue("plate_kind", "two digits")
    photo = (get.get("licence_photo_stored") or "true").lower()
    if photo not in ("true", "false", "1", "0", "yes", "no"):
        raise InvalidValue("licence_photo_stored", "true or false")
    count_text = get.get("plate_reissue_count") or "0"
    if not count_text.isdigit():
        raise InvalidValue("plate_reissue_count", "a whole number")
    name = get["owner_name"]
    if len(name) > 100:
        raise InvalidValue("owner_name", "at most 100 characters")
    return {
        "office_code": office,
        "plate_kind": plate_kind,
        "plate_number": plate_number(get["plate_number"]),
        "vin": vin(get["vin"]),
        "vehicle_kind": get.get("vehicle_kind") or "small_car",
        "owner_id_kind": id_kind,
        "owner_id_number": id_number,
        "owner_name": name,
        "phone": mobile_phone(get["phone"]),
        "use": use,
        "state": state,
        "flags": flags,
        "inspection_valid_until": _date(get.get("inspection_valid_until", ""), "inspection_valid_until"),
        "insurance_valid_until": _date(get.get("insurance_valid_until", ""), "insurance_valid_until"),
        "licence_photo_stored": photo in ("true", "1", "yes"),
        "plate_reissue_count": int(count_text),
    }


def check_rows(
    lines: Iterable[tuple[int, dict[str, str]]], default_office: str | None
) -> tuple[list[tuple[int, dict[str, Any]]], list[BadRow]]:
    """Every row parsed; duplicates of VIN or plate within the file reported at their second line."""
    good: list[tuple[int, dict[str, Any]]] = []
    bad: list[BadRow] = []
    seen_vin: dict[str, int] = {}
    seen_plate: dict[tuple[str, str], int] = {}
    for line, raw in lines:
        try:
            row = parse_row(raw, default_office)
        except InvalidValue as exc:
            bad.append(BadRow(line, f"{exc.field}: {exc.reason}"))
            continue
        plate = (row["plate_kind"], row["plate_number"])
        if row["vin"] in seen_vin:
            bad.append(BadRow(line, f"vin: same as line {seen_vin[row['vin']]}"))
            continue
        if plate in seen_plate:
            bad.append(BadRow(line, f"plate_number: same as line {seen_plate[plate]}"))
            continue
        seen_vin[row["vin"]] = line
        seen_plate[plate] = line
        good.append((line, row))
    return good, bad


async def _already_here(runtime: Runtime, rows: Sequence[tuple[int, dict[str, Any]]]) -> list[BadRow]:
    vins = [row["vin"] for _, row in rows]
    plates = [row["plate_number"] for _, row in rows]
    found_vins: set[str] = set()
    found_plates: set[tuple[str, str]] = set()
    async with runtime.engine.connect() as conn:
        for start in range(0, len(rows), 5000):
            result = await conn.execute(
                select(vehicles.c.vin, vehicles.c.plate_kind, vehicles.c.plate_number).where(
                    vehicles.c.vin.in_(vins[start : start + 5000])
                    | vehicles.c.plate_number.in_(plates[start : start + 5000])
                )
            )
            for found in result:
                found_vins.add(found.vin)
                found_plates.add((found.plate_kind, found.plate_number))
    bad = []
    for line, row in rows:
        if row["vin"] in found_vins:
            bad.append(BadRow(line, "vin: already registered on the platform"))
        elif (row["plate_kind"], row["plate_number"]) in found_plates:
            bad.append(BadRow(line, "plate_number: already registered on the platform"))
    return bad


def read_csv(stream: TextIO) -> list[tuple[int, dict[str, str]]]:
    reader = csv.DictReader(stream)
    # DictReader's line_num is the physical line just read: with the header on line 1, data from line 2.
    return [(reader.line_num, raw) for raw in reader]


async def import_rows(
    runtime: Runtime,
    lines: Sequence[tuple[int, dict[str, str]]],
    *,
    default_office: str | None = None,
    dry_run: bool = False,
    progress: Callable[[str], None] = lambda message: None,
) -> Report:
    good, bad = check_rows(lines, default_office)
    progress(f"checked {len(lines)} rows: {len(good)} good, {len(bad)} bad")
    bad += await _already_here(runtime, good)
    bad.sort(key=lambda b: b.line)
    if bad or dry_run:
        return Report(rows=len(lines), imported=0, bad=bad)
    imported = 0
    async with runtime.uow() as uow:
        for start in range(0, len(good), BATCH):
            batch = [
                {**row, "id": new_id(), "registered_at": uow.now, "updated_at": uow.now, "version": 1}
                for _, row in good[start : start + BATCH]
            ]
            try:
                await uow.session.execute(vehicles.insert(), batch)
            except IntegrityError:
                # Someone registered one of these in the meantime: nothing of the file is kept.
                return Report(
                    rows=len(lines),
                    imported=0,
                    bad=[BadRow(0, "a VIN or plate of this file was registered during the import; rerun")],
                )
            for row in batch:
                uow.emit(
                    ev.VehicleImported(
                        vehicle_id=str(row["id"]),
                        office_code=row["office_code"],
                        plate_number=row["plate_number"],
                        plate_kind=row["plate_kind"],
                        vin=row["vin"],
                        owner=records.owner_ref(row),
                        phone=row["phone"],
                        use=row["use"],
                        state=row["state"],
                        flags=row["flags"],
                        imported_at=uow.now,
                    )
                )
                uow.audit(
                    IMPORT_ACTOR, "vehicle.imported", f"vehicle:{row['id']}", None, records.snapshot(row)
                )
            imported += len(batch)
            progress(f"imported {imported}/{len(good)}")
        await uow.commit()
    progress(f"committed {imported} vehicles")
    return Report(rows=len(lines), imported=imported, bad=[])


def main(argv: list[str] | None = None) -> int:
    from vehicle_service.service import SPEC

    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("file", type=Path)
    parser.add_argument("--office", help="office code for rows that have none")
    parser.add_argument("--dry-run", action="store_true", help="check only, write nothing")
    args = parser.parse_args(argv)

    def progress(message: str) -> None:
        print(message, file=sys.stderr, flush=True)

    async def run() -> Report:
        runtime = Runtime.open(SPEC.settings(), SPEC.metadata)
        try:
            with args.file.open(encoding="utf-8-sig", newline="") as stream:
                lines = read_csv(stream)
            return await import_rows(
                runtime, lines, default_office=args.office, dry_run=args.dry_run, progress=progress
            )
        finally:
            await runtime.aclose()

    report = asyncio.run(run())
    for bad in report.bad:
        print(f"line {bad.line}: {bad.reason}", flush=True)
    if report.bad:
        print(f"{len(report.bad)} bad rows of {report.rows}: nothing imported", flush=True)
        return 1
    verb = "would import" if args.dry_run else "imported"
    print(f"{verb} {report.imported if not args.dry_run else report.rows} of {report.rows} rows", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
