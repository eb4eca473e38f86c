"""A/B of the plate hot path: two commits side by side, interleaved, on the same machine in one run.

    uv run python bench/plates_ab.py BASE [HEAD] [--rounds N]     (HEAD defaults to the checkout's HEAD)

Each side runs `bench/plates.py` (the throughput part, `PLATES_BENCH_RACE=0`) from its own git worktree
under var/ab/ with its own bench database, base then head, N rounds (default 4). These machines are
shared and noisy: read the ratios of the means, not one run. Prints each run as a JSON line and, last,
the means and the head-to-base ratios as one JSON line.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
AB = ROOT / "var" / "ab"
UV = shutil.which("uv") or "uv"
PSQL = shutil.which("psql") or "psql"
GIT = shutil.which("git") or "git"
# PLATES_AB_DB moves both sides' databases (another A/B on the same machine keeps the default).
DB_PREFIX = os.environ.get("PLATES_AB_DB", "plate_pool_bench")
FIGURES = ("draws_per_s", "p99_ms", "cpu_ms_per_1000_draws", "throughput_ratio_5m_to_50k")


def log(message: str) -> None:
    print(f"[plates-ab] {message}", file=sys.stderr, flush=True)


def git(*args: str, cwd: Path = ROOT) -> str:
    return subprocess.run([GIT, *args], cwd=cwd, check=True, capture_output=True, text=True).stdout.strip()  # noqa: S603


def worktree(name: str, commit: str) -> Path:
    """A detached worktree of `commit` with its own environment (uv sync from its lock file)."""
    path = AB / name
    if path.exists():
        git("worktree", "remove", "--force", str(path))
    git("worktree", "add", "--detach", str(path), commit)
    subprocess.run([UV, "sync", "--all-packages", "--frozen", "-q"], cwd=path, check=True)  # noqa: S603
    return path


def run(side: str, path: Path) -> dict[str, float] | None:
    """One throughput run of one side, or None when it failed (its stderr's tail is logged)."""
    database = f"{DB_PREFIX}_{side}"
    subprocess.run(  # noqa: S603  (a fresh bench database: the sides' migrations differ)
        [PSQL, "-h", "127.0.0.1", "-U", "postgres", "-qc", f"DROP DATABASE IF EXISTS {database}"],
        check=False,
        capture_output=True,
    )
    env = {
        **os.environ,
        "PLATES_BENCH_RACE": "0",
        "PLATES_BENCH_DB": f"postgresql+psycopg://plate_pool@127.0.0.1:5432/{database}",
    }
    done = subprocess.run(  # noqa: S603
        [UV, "run", "python", "bench/plates.py"],
        cwd=path,
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )
    if done.returncode != 0:
        log(f"{side} failed (exit {done.returncode}):\n" + "\n".join(done.stderr.splitlines()[-15:]))
        return None
    figures: dict[str, float] = json.loads(done.stdout.strip().splitlines()[-1])
    return figures


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("base")
    parser.add_argument("head", nargs="?", default="HEAD")
    parser.add_argument("--rounds", type=int, default=4)
    args = parser.parse_args()
    commits = {"base": git("rev-parse", args.base), "head": git("rev-parse", args.head)}
    paths = {side: worktree(side, commit) for side, commit in commits.items()}
    runs: dict[str, list[dict[str, float]]] = {"base": [], "head": []}
    for round_no in range(1, args.rounds + 1):
        pair: dict[str, dict[str, float]] = {}
        for side in ("base", "head"):
            started = time.monotonic()
            log(f"round {round_no}/{args.rounds}: {side} ({commits[side][:10]})")
            figures = run(side, paths[side])
            line = {"round": round_no, "side": side, "seconds": round(time.monotonic() - started)}
            if figures is None:
                print(json.dumps(line | {"failed": True}), flush=True)
                break
            pair[side] = figures
            print(json.dumps(line | {k: figures[k] for k in FIGURES}), flush=True)
        # A round counts only whole: the sides are compared pairwise, under the same load.
        if len(pair) == 2:
            for side, figures in pair.items():
                runs[side].append(figures)
    if not runs["base"]:
        log("no round completed")
        return 1
    means = {side: {k: sum(r[k] for r in rs) / len(rs) for k in FIGURES} for side, rs in runs.items()}
    summary = {
        "base": commits["base"][:10],
        "head": commits["head"][:10],
        "rounds": len(runs["base"]),
        **{f"base_{k}": round(v, 3) for k, v in means["base"].items()},
        **{f"head_{k}": round(v, 3) for k, v in means["head"].items()},
        **{f"ratio_{k}": round(means["head"][k] / means["base"][k], 3) for k in FIGURES},
    }
    print(json.dumps(summary), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
