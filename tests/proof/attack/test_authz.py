"""The authorization matrix through the gateway (ADR 0086): every public operation (read from the route
table and the services' apps, `authz_routes`) × every role (`authz_actors`) × owner / non-owner of a
record made through the API (`authz_records`), each cell asserted (`authz_cells`): 401 without a token,
403 for a role the route does not admit, 404 for another's record, and neither for the roles and owners it
does admit. A leak (more access than due) fails the test; so does any other answer than due, unless
`REFUSED` below explains it. Cells that cannot be built yet are listed in `authz_records.UNCOVERED` and
counted, never silently skipped.

Real processes (tests/e2e/stack.py): every service's api and worker, the gateway app and nginx.
"""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

from servicekit.migrate import migrate
from tests.e2e.stack import gateway_stack

from .authz_actors import Actor, cast, make_accounts, sign_in
from .authz_cells import Cell, run
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
    "system",
)

# Admitted by the route's roles, refused by its handler: (operation, caller) → why. Each entry is
# asserted (the cell must answer 401/403, or it is stale and fails).
REFUSED: dict[tuple[str, str], str] = {}


@dataclass
class Platform:
    url: str
    gw: httpx.Client
    actors: dict[str, Actor]


@pytest.fixture(scope="module")
def platform() -> Iterator[Platform]:
    for name in SERVICES:
        migrate(name)
    with gateway_stack(SERVICES, workers=("identity", *SERVICES)) as url:
        actors = cast()
        make_accounts(actors)
        with httpx.Client(base_url=url, trust_env=False, timeout=30) as gw:
            sign_in(gw, actors)
            yield Platform(url, gw, actors)


def fill(op: Operation, ids: dict[str, str]) -> str:
    """The path with each parameter taken from `ids` (by record key) or a well-formed placeholder."""
    path = op.path
    for (name, annotation), key in zip(op.param_types, op.record_keys(), strict=False):
        path = path.replace("{" + name + "}", ids.get(key) or placeholder(annotation), 1)
    return path


def role_cells(actors: dict[str, Actor], ids: dict[str, str]) -> list[Cell]:
    cells: list[Cell] = []
    for op in operations():
        path = fill(op, ids)
        if not op.authenticated:
            cells.append(Cell(op, "anonymous", "public", path, "no token needed"))
            continue
        cells.append(Cell(op, "anonymous", 401, path, "no token"))
        for label in ROLE_CALLERS:
            actor = actors[label]
            expect = "allowed" if op.admits(actor.roles) else 403
            cells.append(Cell(op, label, expect, path, "role", headers=actor.headers))
    return cells


def test_authz_matrix_every_operation_role_and_owner_through_the_gateway(
    platform: Platform, record_figures
) -> None:
    started = time.monotonic()
    cells = run(platform.gw, role_cells(platform.actors, {}))
    verdicts = Counter(cell.verdict for cell in cells)
    failed = [cell for cell in cells if cell.verdict != "ok"]
    refused_as_declared = [
        cell
        for cell in failed
        if cell.verdict == "mismatch" and (cell.op.name, cell.caller) in REFUSED
    ]
    failed = [cell for cell in failed if cell not in refused_as_declared]
    leaks = [cell for cell in cells if cell.verdict == "leak"]
    record_figures(
        "authz",
        {
            "authz_cells": len(cells),
            "authz_leaks": len(leaks),
            "authz_uncovered": 0,
            "authz_s": round(time.monotonic() - started, 1),
        },
    )
    CELLS_FILE.parent.mkdir(parents=True, exist_ok=True)
    CELLS_FILE.write_text("\n".join(cell.line() for cell in cells) + "\n", encoding="utf-8")
    report = "\n".join(cell.line() for cell in failed)
    assert not failed, f"{len(failed)} of {len(cells)} cells answered other than due ({verdicts}):\n{report}"
