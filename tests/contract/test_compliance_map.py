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


def _tests_in(path: Path) -> dict[str, bool]:
    """The file's tests, each with whether it is a long proof (marked `proof`, or its module is)."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    module_proof = any(
        isinstance(node, ast.Assign)
        and any(isinstance(t, ast.Name) and t.id == "pytestmark" for t in node.targets)
        and _says_proof(node.value)
        for node in tree.body
    )
    return {
        node.name: module_proof or any(_says_proof(d) for d in node.decorator_list)
        for node in ast.walk(tree)
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef) and node.name.startswith("test")
    }


def _says_proof(node: ast.expr) -> bool:
    return re.search(r"\bmark\.proof\b", ast.unparse(node)) is not None


def test_every_test_the_compliance_map_names_exists_and_runs_in_ci() -> None:
    cited = _cited()
    assert len(cited) > 60, "the map's references were not read"
    wrong = []
    for path, test in cited:
        file = ROOT / path
        if not file.is_file():
            wrong.append(f"{path}: no such file")
            continue
        tests = _tests_in(file)
        if test is not None and test not in tests:
            wrong.append(f"{path}::{test}: no such test")
        elif any(proof for name, proof in tests.items() if test in (None, name)):
            wrong.append(f"{path}::{test or '*'}: a long proof, which make test skips")
    assert wrong == []
