"""What the through-the-gateway tests share: where nginx is, a free port, and waiting for a started
process to answer."""

from __future__ import annotations

import random
import shutil
import socket
import subprocess
import time
from pathlib import Path

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
