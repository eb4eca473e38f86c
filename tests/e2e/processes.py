"""What the through-the-gateway tests share: where nginx is, a free port, and waiting for a started
process to answer."""

from __future__ import annotations

import contextlib
import os
import random
import shutil
import socket
import subprocess
import threading
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import httpx

NGINX = shutil.which("nginx") or ("/usr/sbin/nginx" if Path("/usr/sbin/nginx").exists() else None)


_HANDED_OUT: set[int] = set()


def free_port() -> int:
    """A port for a server these tests start, below the kernel's ephemeral range (32768 and up): a port
    the kernel picks itself can be taken by a client connection (to PostgreSQL, the broker, ...) before
    the server binds it, which failed a CI run. Never one already handed out in this session."""
    while True:
        port = random.randrange(20_000, 32_000)
        if port in _HANDED_OUT:
            continue
        with socket.socket() as s:
            try:
                s.bind(("127.0.0.1", port))
            except OSError:
                continue
        _HANDED_OUT.add(port)
        return port


def wait_until_ok(url: str, process: subprocess.Popen[bytes], timeout_s: float = 120) -> None:
    """Until `url` answers 200; fails at once if the process died, and after `timeout_s` otherwise."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise AssertionError(f"{process.args!r} exited with {process.returncode}")
        try:
            if httpx.get(url, timeout=1, trust_env=False).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.1)
    raise AssertionError(f"{url} did not answer within {timeout_s:.0f} s")


# Every platform process a test starts writes its output here too, one file per process, so that the
# session's end can scan every line for personal data and secrets (scripts/logscan.py). The root conftest
# names one folder per session; a process started outside pytest gets its own.
LOG_DIR_ENV = "TMS_TEST_LOG_DIR"
_ROOT = Path(__file__).resolve().parents[2]


def session_log_dir() -> Path:
    name = os.environ.get(LOG_DIR_ENV)
    if not name:
        name = str(_ROOT / "var" / "test-logs" / f"{time.strftime('%Y%m%dT%H%M%S')}-{os.getpid()}")
        os.environ[LOG_DIR_ENV] = name
    folder = Path(name)
    folder.mkdir(parents=True, exist_ok=True)
    return folder


def spawn(args: Sequence[str], name: str, **options: Any) -> subprocess.Popen[bytes]:
    """`subprocess.Popen(args, **options)` whose stdout and stderr go, line by line, both where the test's
    own stderr goes (pytest shows it with a failure, as before) and to the session's log folder, as
    `<name>-<pid>.log`."""
    process = subprocess.Popen(args, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, **options)
    path = session_log_dir() / f"{name}-{process.pid}.log"
    threading.Thread(target=_pump, args=(process, path), name=f"log-{name}", daemon=True).start()
    return process


def _pump(process: subprocess.Popen[bytes], path: Path) -> None:
    assert process.stdout is not None
    with path.open("ab") as log:
        for line in process.stdout:
            log.write(line)
            log.flush()
            # The test's stderr may be gone (the session is ending): the file still has the line.
            with contextlib.suppress(OSError):
                os.write(2, line)
