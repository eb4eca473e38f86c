"""The platform's processes as a deployment runs them (uvicorn for an api, `python -m <pkg>.worker` for a
worker), each on its own, so a proof can SIGKILL one and start it again."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx

from tests.e2e.processes import free_port  # one port registry for every server a test starts

ROOT = Path(__file__).resolve().parents[3]


@dataclass
class Process:
    """One api replica (`port` set) or worker of a service, restartable under the same name and port."""

    name: str
    args: list[str]
    env: dict[str, str]
    port: int | None = None
    popen: subprocess.Popen[bytes] | None = field(default=None, repr=False)
    kills: int = 0
    serves_http: bool = True  # an api replica (a worker answers only its liveness probe)
    # run_worker.py's: it says `ready` on stdout, and its counters when stopped.
    talks: bool = False

    @classmethod
    def api(cls, name: str, factory: str, env: dict[str, str]) -> Process:
        port = free_port()
        args = ["-m", "uvicorn", "--factory", factory, "--host", "127.0.0.1", "--port", str(port)]
        return cls(name, [*args, "--no-access-log"], env, port)

    @classmethod
    def worker(cls, name: str, service: str, env: dict[str, str]) -> Process:
        """`python -m <package>.worker`, its liveness probe on a port of its own: ready when it answers."""
        port = free_port()
        prefix = "TMS_" + service.upper().replace("-", "_") + "__"
        package = service.replace("-", "_") + "_service"
        env = {**env, prefix + "WORKER_HEALTH_PORT": str(port)}
        return cls(name, ["-m", f"{package}.worker"], env, port, serves_http=False)

    @classmethod
    def quiet_worker(cls, service: str, env: dict[str, str], *, relay_only: bool = False) -> Process:
        """The worker without its sweeps (run_worker.py), and without its consumers if `relay_only`."""
        args = [str(Path(__file__).with_name("run_worker.py")), service, *(["--relay-only"] * relay_only)]
        return cls(f"{service}-worker", args, env, talks=True, serves_http=False)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> None:
        stdout = subprocess.PIPE if self.talks else None
        self.popen = subprocess.Popen([sys.executable, *self.args], cwd=ROOT, env=self.env, stdout=stdout)

    def ready(self) -> bool:
        """An api answers /healthz; so does a worker's liveness probe, once its consumers and relay run."""
        if self.popen is None or self.popen.poll() is not None:
            return False
        if self.port is None:
            return True
        try:
            return httpx.get(f"{self.url}/healthz", timeout=1, trust_env=False).status_code == 200
        except httpx.HTTPError:
            return False

    def wait_ready(self, timeout_s: float = 120) -> None:
        if self.talks:
            assert self.popen is not None
            assert self.popen.stdout is not None
            line = self.popen.stdout.readline()  # pytest's timeout bounds a worker that never says it
            if line.strip() != b"ready":
                raise AssertionError(f"{self.name} did not start: {line!r}, exit {self.popen.poll()}")
            return
        deadline = time.monotonic() + timeout_s
        while not self.ready():
            if self.popen is not None and self.popen.poll() is not None:
                raise AssertionError(f"{self.name} exited with {self.popen.returncode}")
            if time.monotonic() > deadline:
                raise AssertionError(f"{self.name} not ready within {timeout_s:.0f} s")
            time.sleep(0.2)

    def kill(self) -> None:
        """SIGKILL: no shutdown, no ack, no commit that was not already made."""
        assert self.popen is not None
        self.popen.send_signal(signal.SIGKILL)
        self.popen.wait(timeout=30)
        self.kills += 1

    def stop(self) -> dict[str, Any]:
        """SIGTERM, and what a talking worker said on its way out (its counters), if it said it."""
        if self.popen is None or self.popen.poll() is not None:
            return {}
        self.popen.send_signal(signal.SIGTERM)
        try:
            out, _ = self.popen.communicate(timeout=30)
        except subprocess.TimeoutExpired:
            self.popen.kill()
            self.popen.wait(timeout=10)
            return {}
        lines = (out or b"").decode().strip().splitlines()
        return json.loads(lines[-1]) if self.talks and lines else {}


def quiet_env(*services: str, **extra: str) -> dict[str, str]:
    """This environment (TMS_ENV=test, its databases, vhost and Redis) with the services' logs at WARNING."""
    env = dict(os.environ)
    for name in services:
        env["TMS_" + name.upper().replace("-", "_") + "__TELEMETRY__LOG_LEVEL"] = "WARNING"
    env.update(extra)
    return env
