"""The authorization matrix through the gateway (ADR 0086): every public operation (read from the route
table and the services' apps, `authz_routes`) × every role (`authz_actors`) × owner / non-owner of a
record made through the API (`authz_factories`, `authz_records`), each cell asserted (`authz_cells`): 401
without a token, 403 for a role the route does not admit, 404 for another's record, and neither for the
roles and owners it does admit. A leak (more access than due) fails the test; so does any other answer
than due. Cells that cannot be built yet are listed (`authz_records.UNCOVERED`, `Record.unreached`) and
counted, never silently skipped; every cell and every uncovered row is written to
var/test-artifacts/authz-cells.txt.

Real processes (tests/e2e/stack.py): every service's api and worker, the gateway app and nginx.
"""

from __future__ import annotations

import asyncio
import time
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest

from servicekit.migrate import migrate
from servicekit.vocabulary import AUDITOR
from servicekit.web.auth import auditor_may
from tests.e2e.stack import gateway_stack

from .authz_actors import Actor, cast, make_accounts, sign_in
from .authz_cells import Cell, Expect, run
from .authz_factories import forget_office, make_records
from .authz_records import NOT_OWNED, UNCOVERED, Records
from .authz_routes import Operation, operations, placeholder

pytestmark = pytest.mark.integration

# Every cell with its answer, one a line, kept by CI beside the other test artifacts.
CELLS_FILE = Path(__file__).resolve().parents[3] / "var" / "test-artifacts" / "authz-cells.txt"

SERVICES = ("vehicle", "license", "plate-pool", "violation", "notify")
ROLE_CALLERS = (
    "citizen",
    "unit",
    "dealer",
    "hospital",
    "clerk.intake",
    "clerk.review",
    "clerk.archive",
    "clerk.admin",
    "auditor",
    "system",
)


@dataclass
class Platform:
    url: str
    gw: httpx.Client
    actors: dict[str, Actor]
    records: Records


@pytest.fixture(scope="module")
def platform() -> Iterator[Platform]:
    for name in SERVICES:
        migrate(name)
    # Every service and worker start at once: on 2 busy cores that can take longer than the usual 120 s.
    with gateway_stack(SERVICES, workers=("identity", *SERVICES), start_timeout_s=300) as url:
        actors = cast()
        make_accounts(actors)
        with httpx.Client(base_url=url, trust_env=False, timeout=30) as gw:
            sign_in(gw, actors)
            records = make_records(gw, actors)
            try:
                yield Platform(url, gw, actors, records)
            finally:
                if records.plate_office:
                    asyncio.run(forget_office(records.plate_office))


def fill(op: Operation, ids: dict[str, str]) -> str:
    """The path with each parameter taken from `ids` (by record key) or a well-formed placeholder."""
    path = op.path
    for (name, annotation), key in zip(op.param_types, op.record_keys(), strict=False):
        path = path.replace("{" + name + "}", ids.get(key) or placeholder(annotation), 1)
    return path


def role_cells(actors: dict[str, Actor]) -> list[Cell]:
    """No token, then each role: on placeholder ids, so that what the roles may do touches no record (the
    records' own cells are `ownership_cells`)."""
    cells: list[Cell] = []
    for op in operations():
        path = fill(op, {})
        if not op.authenticated:
            cells.append(Cell(op, "anonymous", "public", path, "no token needed"))
            continue
        cells.append(Cell(op, "anonymous", 401, path, "no token"))
        for label in ROLE_CALLERS:
            actor = actors[label]
            admitted = op.admits(actor.roles)
            if AUDITOR in actor.roles:  # the audit trail and its own account, nothing else (ADR 0090)
                admitted = admitted and auditor_may(op.method, op.path)
            expect: Expect = "allowed" if admitted else 403
            cells.append(Cell(op, label, expect, path, "role", headers=actor.headers))
    return cells


def ownership_cells(actors: dict[str, Actor], records: Records) -> tuple[list[Cell], list[Cell], list[str]]:
    """(the cells of callers who must be told a record is not there, those of callers who must reach it,
    the reach cells not built with why): every operation on a made record, every stranger and reacher of
    that record whose role it admits."""
    refused: list[Cell] = []
    reached: list[Cell] = []
    unreached: list[str] = []
    ids = records.ids()
    for op in operations():
        keys = op.record_keys()
        if not keys or not op.authenticated:
            continue  # an operation without a token is everyone's: its no-token cell is all it owes
        for record in records.made.get(keys[-1], []):
            if not record.covers(op.method, op.path):
                continue
            path = fill(op, ids | record.parents | {keys[-1]: record.id})
            for label in record.strangers:
                actor = actors[label]
                if op.admits(actor.roles):
                    body = record.body_for(op.method, op.path, label)
                    unknown = op.has_body and body is None
                    due: Expect = "denied" if record.public else 404
                    refused.append(Cell(op, label, due, path, "not theirs", actor.headers, body, unknown))
            below = record.below(op.method, op.path)
            for label in record.reachers:
                actor = actors[label]
                why = record.unreached.get(below) or record.unreached.get(f"{below} as {label}")
                if not op.admits(actor.roles):
                    continue
                if why is not None:
                    unreached.append(f"{op.name} as {label}: {why}")
                else:
                    body = record.body_for(op.method, op.path, label)
                    unknown = op.has_body and body is None
                    reached.append(Cell(op, label, "reach", path, "theirs", actor.headers, body, unknown))
    reached.sort(key=_harmless_first)
    return refused, reached, unreached


# Operations after which the record is no longer the owner's or no longer there: their reach cells go last.
ENDINGS = ("/transfer", "/deregistration", "/state-changes", "/cancellation")


def _harmless_first(cell: Cell) -> tuple[bool, bool, bool]:
    op = cell.op
    return (op.method == "DELETE", op.path.endswith(ENDINGS), op.method != "GET")


def uncovered_rows(records: Records) -> tuple[list[str], list[str]]:
    """(operations on a record kind the matrix has no record of yet, with why; those on a record key that
    is in no list at all)."""
    rows, unlisted = [], []
    for op in operations():
        for key in op.record_keys():
            if key in UNCOVERED:
                rows.append(f"{op.name}: {UNCOVERED[key]}")
            elif key not in NOT_OWNED and key not in records.made:
                unlisted.append(f"{op.name} ({key})")
    return rows, unlisted


def test_authz_matrix_every_operation_role_and_owner_through_the_gateway(
    platform: Platform, record_figures: Callable[[str, dict[str, Any]], Any]
) -> None:
    started = time.monotonic()
    records = platform.records
    refused, reached, unreached = ownership_cells(platform.actors, records)
    cells = run(platform.gw, refused)
    cells += run(platform.gw, role_cells(platform.actors))
    cells += run(platform.gw, reached, threads=1)  # in order: what ends a record goes last
    took = time.monotonic() - started
    uncovered, unlisted = uncovered_rows(records)
    unasserted = [cell for cell in cells if cell.verdict == "unasserted"]
    uncovered += unreached
    uncovered += [f"{cell.line()} (validation answers before the record is looked up)" for cell in unasserted]
    leaks = [cell for cell in cells if cell.verdict == "leak"]
    failed = [cell for cell in cells if cell.verdict in ("leak", "mismatch", "error")]
    record_figures(
        "authz",
        {
            "authz_cells": len(cells) - len(unasserted),
            "authz_leaks": len(leaks),
            "authz_uncovered": len(uncovered),
            "authz_s": round(took, 1),
        },
    )
    CELLS_FILE.parent.mkdir(parents=True, exist_ok=True)
    lines = [cell.line() for cell in cells] + [f"uncovered {row}" for row in uncovered]
    CELLS_FILE.write_text("\n".join(lines) + "\n", encoding="utf-8")
    assert not records.failed, f"records could not be made: {records.failed}"
    assert not unlisted, "record keys in none of the lists (a record, NOT_OWNED, UNCOVERED):\n" + "\n".join(
        unlisted
    )
    verdicts = Counter(cell.verdict for cell in cells)
    report = "\n".join(cell.line() for cell in failed)
    assert not failed, f"{len(failed)} of {len(cells)} cells answered other than due ({verdicts}):\n{report}"
