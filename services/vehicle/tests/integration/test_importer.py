"""VH-01 bulk import: progress shown, bad rows reported with line and reason, nothing half-imported."""

from __future__ import annotations

import asyncio
import csv
import io
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import func, select

from servicekit.runtime import Runtime
from servicekit.testing import new_phone, new_resident_id, outbox_payloads
from vehicle_service.importer import import_rows, read_csv
from vehicle_service.tables import vehicles

from .factories import new_plate, new_vin

pytestmark = pytest.mark.integration

COLUMNS = [
    "office_code",
    "plate_kind",
    "plate_number",
    "vin",
    "owner_id_kind",
    "owner_id_number",
    "owner_name",
    "phone",
    "use",
    "state",
    "flags",
    "inspection_valid_until",
    "insurance_valid_until",
]


def good_row(**kw: str) -> dict[str, str]:
    row = {
        "office_code": "130100",
        "plate_kind": "02",
        "plate_number": new_plate(),
        "vin": new_vin(),
        "owner_id_kind": "resident_id",
        "owner_id_number": new_resident_id(),
        "owner_name": "吴十",
        "phone": new_phone(),
        "use": "non_commercial",
        "state": "registered",
        "flags": "",
        "inspection_valid_until": "2027-06-30",
        "insurance_valid_until": "2027-12-31",
    }
    row.update(kw)
    return row


def as_csv(rows: list[dict[str, str]]) -> str:
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=COLUMNS)
    writer.writeheader()
    writer.writerows(rows)
    return out.getvalue()


async def count(runtime: Runtime, vins: list[str]) -> int:
    async with runtime.engine.connect() as conn:
        return int((await conn.execute(select(func.count()).where(vehicles.c.vin.in_(vins)))).scalar_one())


async def test_vh01_import_writes_every_row_with_its_event_and_reports_progress(runtime: Runtime) -> None:
    rows = [good_row() for _ in range(1200)]
    rows[3]["flags"] = "locked;stolen"
    messages: list[str] = []
    report = await import_rows(runtime, read_csv(io.StringIO(as_csv(rows))), progress=messages.append)
    assert report.ok
    assert report.imported == 1200
    assert await count(runtime, [r["vin"] for r in rows]) == 1200
    assert "imported 500/1200" in messages
    assert "imported 1200/1200" in messages
    async with runtime.engine.connect() as conn:
        vins = {r["vin"] for r in rows}
        imported = await outbox_payloads(conn, "vehicle.vehicle.imported.v1")
        assert len([p for p in imported if p["vin"] in vins]) == 1200


async def test_vh01_a_bad_row_reports_line_and_reason_and_imports_nothing(runtime: Runtime) -> None:
    rows = [good_row() for _ in range(5)]
    rows[1]["vin"] = "NOTAVIN"
    rows[3]["owner_id_number"] = "130102199003071235"  # wrong check digit
    rows[4]["vin"] = rows[0]["vin"]
    report = await import_rows(runtime, read_csv(io.StringIO(as_csv(rows))))
    assert not report.ok
    assert report.imported == 0
    # The header is line 1: the rows are lines 2..6.
    assert [(b.line, b.reason.split(":")[0]) for b in report.bad] == [
        (3, "vin"),
        (5, "owner_id_number"),
        (6, "vin"),
    ]
    assert "same as line 2" in report.bad[2].reason
    assert await count(runtime, [r["vin"] for r in rows]) == 0


async def test_vh01_import_refuses_records_already_on_the_platform(runtime: Runtime) -> None:
    first = [good_row() for _ in range(2)]
    assert (await import_rows(runtime, read_csv(io.StringIO(as_csv(first))))).ok
    second = [good_row(), good_row(vin=first[1]["vin"])]
    report = await import_rows(runtime, read_csv(io.StringIO(as_csv(second))))
    assert [(b.line, b.reason) for b in report.bad] == [(3, "vin: already registered on the platform")]
    assert await count(runtime, [second[0]["vin"]]) == 0


def test_vh01_import_command_exits_1_on_bad_rows_and_names_them(tmp_path: Path, runtime: Any) -> None:
    path = tmp_path / "office.csv"
    path.write_text(as_csv([good_row(), good_row(phone="123")]), encoding="utf-8")
    done = subprocess.run(
        [sys.executable, "-m", "vehicle_service.importer", str(path)],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 1, done.stderr
    assert "line 3: phone:" in done.stdout
    assert "nothing imported" in done.stdout


async def test_vh01_import_dry_run_checks_and_writes_nothing(tmp_path: Path, runtime: Runtime) -> None:
    rows = [good_row(), good_row()]
    path = tmp_path / "office.csv"
    path.write_text(as_csv(rows), encoding="utf-8")
    done = await asyncio.to_thread(
        subprocess.run,
        [sys.executable, "-m", "vehicle_service.importer", str(path), "--dry-run"],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    assert "would import 2 of 2 rows" in done.stdout
    assert "checked 2 rows: 2 good, 0 bad" in done.stderr
    assert await count(runtime, [r["vin"] for r in rows]) == 0
