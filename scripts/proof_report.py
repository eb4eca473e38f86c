"""The figures of a proof run: each part of `make proof-faults` / `make proof-attack` (and the parts CI
runs) records its own figures under var/proof/<suite>/<part>.json; this prints them merged, one JSON
object on the last line, so tools and the README read one line.

Merging: counters (int) are summed across parts, durations (keys ending `_s`) take the worst part, and
every part's own figures stay under `parts`. A part that did not run is absent, not zero: `parts_run`
names those that did, and `complete` says whether every part the suite expects ran."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
PROOF_DIR = ROOT / "var" / "proof"

# The parts each suite expects; a run missing one is reported `complete: false`.
EXPECTED: dict[str, tuple[str, ...]] = {
    "faults": ("broker", "kills", "poison", "postgres", "redis", "cut"),
    "attack": ("fuzz", "authz", "jwt", "input", "bruteforce", "logs"),
    "cluster": ("node-loss",),
}


def record(suite: str, part: str, figures: dict[str, Any], root: Path = PROOF_DIR) -> Path:
    """Write one part's figures (replacing that part's earlier run)."""
    path = root / suite / f"{part}.json"
    path.parent.mkdir(parents=True, exist_ok=True)
    text = json.dumps(figures, ensure_ascii=False, sort_keys=True, indent=1)
    path.write_text(text + "\n", encoding="utf-8")
    return path


def merge(suite: str, root: Path = PROOF_DIR) -> dict[str, Any]:
    parts: dict[str, dict[str, Any]] = {}
    for path in sorted((root / suite).glob("*.json")):
        parts[path.stem] = json.loads(path.read_text(encoding="utf-8"))
    merged: dict[str, Any] = {}
    for figures in parts.values():
        for key, value in figures.items():
            if isinstance(value, bool) or not isinstance(value, int | float):
                continue
            if key.endswith("_s"):
                merged[key] = max(merged.get(key, value), value)
            else:
                merged[key] = merged.get(key, 0) + value
    expected = EXPECTED.get(suite, ())
    return {
        "suite": suite,
        **merged,
        "parts_run": sorted(parts),
        "complete": all(name in parts for name in expected),
        "parts": parts,
    }


def reset(suite: str, root: Path = PROOF_DIR) -> None:
    """Forget the earlier run's figures, so a part that fails to run this time is not reported from before."""
    for path in (root / suite).glob("*.json"):
        path.unlink()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("suite", choices=sorted(EXPECTED))
    parser.add_argument("--reset", action="store_true", help="forget the earlier run's figures and exit")
    parser.add_argument("--part", help="print this one part's own figures (text ones too), not the merge")
    args = parser.parse_args(argv)
    if args.reset:
        reset(args.suite)
        return 0
    if args.part:
        path = PROOF_DIR / args.suite / f"{args.part}.json"
        if not path.exists():
            print(json.dumps({"suite": args.suite, "part": args.part, "ran": False}))
            return 1
        figures = json.loads(path.read_text(encoding="utf-8"))
        print(json.dumps({"suite": args.suite, "part": args.part, **figures}, ensure_ascii=False))
        return 0
    report = merge(args.suite)
    print(json.dumps(report, ensure_ascii=False, sort_keys=False))
    return 0 if report["parts_run"] else 1


if __name__ == "__main__":
    sys.exit(main())
