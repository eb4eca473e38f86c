"""The proofs' shared part: each test part records its figures for `scripts/proof_report.py`."""

from __future__ import annotations

import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "scripts"))
import proof_report

Record = Callable[[str, dict[str, Any]], Path]


@pytest.fixture
def record_figures(request: pytest.FixtureRequest) -> Record:
    """`record_figures(part, {...})`: this part's figures, under the suite its directory names
    (tests/proof/faults → faults)."""
    suite = Path(str(request.node.fspath)).parent.name

    def record(part: str, figures: dict[str, Any]) -> Path:
        return proof_report.record(suite, part, figures)

    return record


Progress = Callable[[str], None]


@pytest.fixture
def progress(request: pytest.FixtureRequest) -> Progress:
    """`progress("...")`: a line on the terminal while a long part runs, through pytest's capture."""
    capture = request.config.pluginmanager.getplugin("capturemanager")

    def say(message: str) -> None:
        with capture.global_and_fixture_disabled():
            print(f"[proof {time.strftime('%H:%M:%S')}] {message}", flush=True)

    return say
