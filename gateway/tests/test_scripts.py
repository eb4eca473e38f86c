"""scripts/procfile.py and scripts/bootstrap_infra.py, run the way they are meant to run: a bare
system Python in isolated mode (-I), so that any import beyond the stdlib fails."""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from gateway_service.routes import route_table
from servicekit.web.http import UVICORN_HTTP

REPO = Path(__file__).resolve().parents[2]
SYSTEM_PYTHON = next((p for p in ("/usr/bin/python3",) if Path(p).exists()), sys.executable)
CHANGED = ("installed", "started", "created", "enabled", "fixed", "configured")


def run_script(*args: str, timeout: float = 60) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [SYSTEM_PYTHON, "-I", *args], capture_output=True, text=True, timeout=timeout, cwd=REPO, check=False
    )


def test_procfile_lists_every_process_from_the_one_topology(tmp_path: Path) -> None:
    out = tmp_path / "Procfile"
    result = run_script("scripts/procfile.py", "--out", str(out))
    assert result.returncode == 0, result.stderr
    entries = dict(
        line.split(": ", 1) for line in out.read_text().splitlines() if line and not line.startswith("#")
    )
    table = route_table()
    expected_names = {"gateway", "nginx"}
    for up in table.upstreams.values():
        expected_names.add(f"{up.name}-worker")
        assert entries[f"{up.name}-worker"] == f"uv run --no-sync python -m {up.package}.worker"
        for server in up.servers:
            label = up.name if len(up.servers) == 1 else f"{up.name}-{server.port}"
            expected_names.add(label)
            assert entries[label] == (
                f"uv run --no-sync uvicorn --factory {up.package}.main:create_app "
                f"--host {server.host} --port {server.port} --no-access-log --no-proxy-headers "
                f"--http {UVICORN_HTTP}"
            )
    assert set(entries) == expected_names
    assert {"plate-pool-8040", "plate-pool-8041"} <= set(entries)
    gw = table.gateway.servers[0]
    assert f"gateway_service.app:create_app --host {gw.host} --port {gw.port}" in entries["gateway"]
    conf, prefix = REPO / "var/gateway/nginx.conf", REPO / "var/gateway"
    assert entries["nginx"].endswith(f"nginx -c {conf} -p {prefix} -e stderr")
    assert f"python -m gateway_service.nginx --out {conf} --prefix {prefix}" in entries["nginx"]

    honcho = subprocess.run(
        [sys.executable, "-m", "honcho", "-f", str(out), "check"],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert honcho.returncode == 0, honcho.stderr


@pytest.mark.integration
@pytest.mark.skipif(shutil.which("psql") is None and not Path("/usr/bin/apt-get").exists(), reason="no apt")
def test_bootstrap_twice_changes_nothing_the_second_time() -> None:
    first = run_script("scripts/bootstrap_infra.py", "--env", "all", timeout=900)
    assert first.returncode == 0, first.stdout + first.stderr
    assert re.search(r"^\[bootstrap\] ready \(dev, test\): \d+ changes$", first.stdout, re.M)

    second = run_script("scripts/bootstrap_infra.py", "--env", "all", timeout=300)
    assert second.returncode == 0, second.stdout + second.stderr
    steps = [line for line in second.stdout.splitlines() if line.startswith("[bootstrap] ")]
    # "[bootstrap] <subject, 34 wide> <status> <note>"
    statuses = [line[len("[bootstrap] ") + 35 :].split()[0] for line in steps[:-1]]
    assert len(statuses) >= 20
    changed = [line for line, status in zip(steps, statuses, strict=False) if status in CHANGED]
    assert not changed, changed
    assert steps[-1] == "[bootstrap] ready (dev, test): 0 changes"
    for database in ("identity", "identity_test", "plate_pool", "plate_pool_test", "notify_test"):
        assert re.search(rf"^\[bootstrap\] database {database}\s+present\s+owner", second.stdout, re.M)
    for step in ("postgresql 127.0.0.1:5432", "redis 127.0.0.1:6379", "rabbitmq 127.0.0.1:5672"):
        assert re.search(rf"^\[bootstrap\] {re.escape(step)}\s+running$", second.stdout, re.M)
    assert "rabbitmq feature flags" in second.stdout


def test_bootstrap_refuses_a_bad_argument() -> None:
    result = run_script("scripts/bootstrap_infra.py", "--env", "staging")
    assert result.returncode == 2
    assert "invalid choice" in result.stderr
