"""The worker's sweeps as the worker runs them (one replica at a time, under an advisory lock)."""

from __future__ import annotations

import pytest

from servicekit.runtime import Runtime
from servicekit.worker import run_sweep
from vehicle_service.service import SPEC

pytestmark = pytest.mark.integration


@pytest.mark.parametrize("sweep", SPEC.sweeps, ids=[s.name for s in SPEC.sweeps])
async def test_sweeps_run_under_the_worker_lock_and_report_a_count(runtime: Runtime, sweep: object) -> None:
    done = await run_sweep(runtime, sweep)  # type: ignore[arg-type]
    assert isinstance(done, int)
    assert done >= 0
    # At once again: whatever the first round found is settled, so nothing is left at the same instant.
    assert await run_sweep(runtime, sweep) == 0  # type: ignore[arg-type]
