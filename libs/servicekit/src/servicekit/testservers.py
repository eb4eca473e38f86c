"""Private server instances for fault tests: a test that stops or restarts a server does it to its own
copy on another port, never to the shared one the rest of the suite (and a developer's `make run`) uses.
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import tempfile
import time
from pathlib import Path


def _running(pid: int) -> bool:
    """Alive and not a zombie (a detached server's zombie waits for a reaper that may never come)."""
    try:
        return "\nState:\tZ" not in Path(f"/proc/{pid}/status").read_text()
    except FileNotFoundError:
        return False


class PrivateRabbit:
    """A RabbitMQ node of its own (Debian's rabbitmq-server, run as the `rabbitmq` user)."""

    def __init__(self, port: int = 5699, name: str = "tmsfault") -> None:
        self.port = port
        self.node = f"{name}@localhost"
        self.base = Path(tempfile.mkdtemp(prefix=f"{name}-"))
        (self.base / "enabled_plugins").write_text("[].\n")
        (self.base / "rabbitmq.conf").write_text(
            f"listeners.tcp.1 = 127.0.0.1:{port}\nloopback_users = none\n"
        )
        shutil.chown(self.base, "rabbitmq", "rabbitmq")
        for child in self.base.iterdir():
            shutil.chown(child, "rabbitmq", "rabbitmq")

    @property
    def url(self) -> str:
        return f"amqp://guest:guest@127.0.0.1:{self.port}/"

    def _env(self) -> dict[str, str]:
        return {
            **os.environ,
            "RABBITMQ_NODENAME": self.node,
            "RABBITMQ_NODE_PORT": str(self.port),
            "RABBITMQ_DIST_PORT": str(self.port + 20000),
            "RABBITMQ_MNESIA_BASE": str(self.base / "mnesia"),
            "RABBITMQ_LOG_BASE": str(self.base / "log"),
            "RABBITMQ_PID_FILE": str(self.base / "pid"),
            "RABBITMQ_ENABLED_PLUGINS_FILE": str(self.base / "enabled_plugins"),
            "RABBITMQ_CONFIG_FILE": str(self.base / "rabbitmq.conf"),
            "RABBITMQ_FEATURE_FLAGS_FILE": str(self.base / "feature_flags"),
        }

    def _ctl(self, *args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
        return subprocess.run(  # noqa: S603 - fixed program, our own arguments
            ["rabbitmqctl", "-n", self.node, *args],  # noqa: S607
            env=self._env(),
            capture_output=True,
            text=True,
            check=check,
            timeout=120,
        )

    def start(self, timeout_s: float = 60) -> None:
        subprocess.run(["rabbitmq-server", "-detached"], env=self._env(), check=True, timeout=60)  # noqa: S607
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            if self._ctl("-q", "await_startup", "--timeout", "5", check=False).returncode == 0:
                return
            time.sleep(0.5)
        raise RuntimeError(f"private RabbitMQ {self.node} did not start; logs in {self.base / 'log'}")

    def stop(self) -> None:
        self._ctl("stop", check=False)

    def restart(self) -> None:
        self.stop()
        self.start()

    def kill(self) -> None:
        """SIGKILL the node's Erlang VM (a crash, not a shutdown): nothing is flushed or handed over."""
        pid = int((self.base / "pid").read_text().strip())
        os.kill(pid, signal.SIGKILL)
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            if not _running(pid):
                return
            time.sleep(0.1)
        raise RuntimeError(f"private RabbitMQ {self.node} (pid {pid}) survived SIGKILL")

    def queue_depth(self, queue: str) -> int:
        out = self._ctl("-q", "list_queues", "name", "messages").stdout
        for line in out.splitlines():
            parts = line.split()
            if len(parts) == 2 and parts[0] == queue:
                return int(parts[1])
        return 0

    def destroy(self) -> None:
        self.stop()
        shutil.rmtree(self.base, ignore_errors=True)
