"""docs/compliance.md names, for each control, the test that proves it, and says all of them run in CI:
every test it names exists under that name, and none is a long proof that `make test` skips."""

from __future__ import annotations

import ast
import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
MAP = ROOT / "docs" / "compliance.md"
# `path/to/test_x.py`, optionally `::test_name`, or `::test_name` alone (the path named last before it).
REFERENCE = re.compile(r"(?P<path>[\w./-]+/test_\w+\.py)(?:::(?P<test>\w+))?|(?<![\w./])::(?P<more>\w+)")


def _cited() -> list[tuple[str, str | None]]:
    cited: list[tuple[str, str | None]] = []
    for line in MAP.read_text(encoding="utf-8").splitlines():
        if not line.startswith("|"):
            continue
        proof = line.rstrip(" |").rsplit("|", 1)[-1]  # the table's last column: the test that proves it
        path: str | None = None
        for m in REFERENCE.finditer(proof):
            if m["path"]:
                path = m["path"]
                cited.append((path, m["test"]))
            else:
                assert path is not None, f"::{m['more']} follows no test file in: {line[:80]}"
                cited.append((path, m["more"]))
    return cited


def _tests_in(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    return {
        node.name
        for node in ast.walk(tree)
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef) and node.name.startswith("test")
    }


def _marked_proof(path: Path) -> bool:
    return re.search(r"pytest\.mark\.proof\b", path.read_text(encoding="utf-8")) is not None


def test_every_test_the_compliance_map_names_exists_and_runs_in_ci() -> None:
    cited = _cited()
    assert len(cited) > 60, "the map's references were not read"
    wrong = []
    for path, test in cited:
        file = ROOT / path
        if not file.is_file():
            wrong.append(f"{path}: no such file")
        elif _marked_proof(file):
            wrong.append(f"{path}: a long proof, which make test skips")
        elif test is not None and test not in _tests_in(file):
            wrong.append(f"{path}::{test}: no such test")
    assert wrong == []
