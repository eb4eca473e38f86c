"""`make run`, as a test: the whole platform comes up with demo data, the gateway reports every upstream
ready, the demo citizen sees the violation demo's records, the apps are served, and Ctrl-C stops every
process. Runs
`scripts/run_platform.py` (what `make run` runs after `make infra`) in the dev environment, in a process
group of its own."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

ROOT = Path(__file__).resolve().parents[2]
TOPOLOGY = json.loads((ROOT / "gateway/src/gateway_service/topology.json").read_text(encoding="utf-8"))
PORTS = [TOPOLOGY["edge"]["port"], TOPOLOGY["gateway"]["port"]] + [
    port for service in TOPOLOGY["services"] for port in service["ports"]
]
GATEWAY = f"http://127.0.0.1:{TOPOLOGY['edge']['port']}"

pytestmark = [pytest.mark.integration, pytest.mark.timeout(400)]


def _in_use(port: int) -> bool:
    with socket.socket() as sock:
        return sock.connect_ex(("127.0.0.1", port)) == 0


@pytest.fixture(scope="module")
def platform() -> Iterator[subprocess.Popen[str]]:
    busy = [port for port in PORTS if _in_use(port)]
    if busy:
        pytest.skip(f"ports {busy} are taken (a `make run` is up?): this test starts the platform itself")
    env = {k: v for k, v in os.environ.items() if not k.startswith("TMS_")}
    env["TMS_ENV"] = "dev"
    log = (ROOT / "var").resolve()
    log.mkdir(exist_ok=True)
    output = (log / "make-run-test.log").open("w")
    process = subprocess.Popen(
        [sys.executable, str(ROOT / "scripts/run_platform.py")],
        cwd=ROOT,
        env=env,
        stdout=output,
        stderr=subprocess.STDOUT,
        text=True,
        start_new_session=True,  # a process group of its own, like a terminal's, for the Ctrl-C below
    )
    try:
        yield process
    finally:
        if process.poll() is None:
            os.killpg(process.pid, signal.SIGKILL)
        output.close()


def _wait_ready(timeout_s: float) -> dict[str, object]:
    deadline = time.monotonic() + timeout_s
    last: object = None
    while time.monotonic() < deadline:
        try:
            answer = httpx.get(f"{GATEWAY}/readyz", timeout=5)
            last = answer.json()
            if answer.status_code == 200:
                return dict(answer.json())
        except (httpx.HTTPError, ValueError) as exc:
            last = repr(exc)
        time.sleep(1)
    raise AssertionError(f"the platform was not ready in {timeout_s} s; last answer: {last}")


def _demo_citizen_sees_the_violation_demo() -> None:
    """VI-05: 张三 (identity's demo) lists violation's demo records once identity's binding events have
    reached violation's projection through the broker; reading only (the demo stays as it is for a person)."""
    login = httpx.post(
        f"{GATEWAY}/api/v1/auth/login",
        json={"username": "130102199003071233", "password": "Demo2027pass"},
        timeout=10,
    )
    assert login.status_code == 200, login.text
    headers = {"Authorization": f"Bearer {login.json()['access_token']}"}
    wanted = {"DEMO-VI-0001", "DEMO-VI-0002", "DEMO-VI-0003", "DEMO-VI-0004"}
    seen: set[str] = set()
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        answer = httpx.get(f"{GATEWAY}/api/v1/violations", headers=headers, params={"limit": 100}, timeout=10)
        if answer.status_code == 200:
            seen = {item["record_id"] for item in answer.json()["items"]}
            if wanted <= seen:
                return
        time.sleep(1)
    raise AssertionError(f"张三 does not see the violation demo's records: he sees {sorted(seen)}")


def test_make_run_brings_every_upstream_up_and_ctrl_c_stops_everything(
    platform: subprocess.Popen[str],
) -> None:
    ready = _wait_ready(timeout_s=240)
    upstreams = ready["upstreams"]
    assert isinstance(upstreams, dict)
    expected = {
        s["name"] if len(s["ports"]) == 1 else f"{s['name']}#{p}"
        for s in TOPOLOGY["services"]
        for p in s["ports"]
    }
    assert set(upstreams) == expected
    assert set(upstreams.values()) == {"ready"}
    document = httpx.get(f"{GATEWAY}/api/v1/openapi.json", timeout=10).json()
    assert document.get("x-unavailable") in (None, [], {})
    assert any(path.startswith("/api/v1/plate-selections") for path in document["paths"])
    assert any(path.startswith("/api/v1/auth") for path in document["paths"])

    _demo_citizen_sees_the_violation_demo()

    # The apps, as `make web` built them (make test builds them before this runs), through the same edge.
    for path, title in (("/", "交管服务"), ("/console/", "业务管理台"), ("/api/docs/", "接口文档")):
        page = httpx.get(f"{GATEWAY}{path}", timeout=10)
        assert page.status_code == 200, path
        assert title in page.text, path

    os.killpg(platform.pid, signal.SIGINT)  # what Ctrl-C in the terminal sends to the whole group
    platform.wait(timeout=60)
    deadline = time.monotonic() + 30
    while any(_in_use(port) for port in PORTS) and time.monotonic() < deadline:
        time.sleep(0.5)
    assert [port for port in PORTS if _in_use(port)] == [], "a process outlived Ctrl-C"
