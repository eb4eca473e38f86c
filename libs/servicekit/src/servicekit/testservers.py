"""Private server instances for fault tests: a test that stops or restarts a server does it to its own
copy on another port, never to the shared one the rest of the suite (and a developer's `make run`) uses.
"""

from __future__ import annotations

import ipaddress
import json
import os
import re
import shutil
import signal
import subprocess
import tempfile
import time
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
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
        self.name = name
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
        pid = self._pid()
        os.kill(pid, signal.SIGKILL)
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            if not _running(pid):
                return
            time.sleep(0.1)
        raise RuntimeError(f"private RabbitMQ {self.node} (pid {pid}) survived SIGKILL")

    def _pid(self) -> int:
        """The VM's pid: its pid file, or the node's own answer (a node that has been through
        `stop_app`/`start_app`, as a joining one, was seen without the file)."""
        pid_file = self.base / "pid"
        if pid_file.exists() and pid_file.read_text().strip():
            return int(pid_file.read_text().strip())
        return int(self.ctl("-q", "eval", "os:getpid().").strip().strip('"'))

    def ctl(self, *args: str) -> str:
        """`rabbitmqctl -n <this node> ...`'s output (raises if it fails)."""
        return self._ctl(*args).stdout

    def queue_depth(self, queue: str) -> int:
        out = self._ctl("-q", "list_queues", "name", "messages").stdout
        for line in out.splitlines():
            parts = line.split()
            if len(parts) == 2 and parts[0] == queue:
                return int(parts[1])
        return 0

    def destroy(self) -> None:
        self.stop()
        # A node still flushing as it exits can add a file under the tree being removed: try again.
        for _ in range(5):
            shutil.rmtree(self.base, ignore_errors=True)
            if not self.base.exists():
                return
            time.sleep(1)


class RabbitCluster:
    """Three (or more) private nodes joined in one cluster, as production runs RabbitMQ (ADR 0098).

    Every node is a `PrivateRabbit` on its own AMQP port (`port + i`) and distribution port, with its own
    data, logs and config; they share the `rabbitmq` user's Erlang cookie, as nodes of one host do. The
    others join the first with `join_cluster`, so a quorum queue declared afterwards has a replica on each.
    """

    def __init__(self, port: int = 5681, size: int = 3, name: str = "tmscl") -> None:
        self.nodes = [PrivateRabbit(port=port + i, name=f"{name}{chr(ord('a') + i)}") for i in range(size)]

    @property
    def urls(self) -> list[str]:
        return [node.url for node in self.nodes]

    @property
    def url(self) -> str:
        """The setting's form: every node's address, comma-separated (servicekit.amqp)."""
        return ",".join(self.urls)

    def node(self, name: str) -> PrivateRabbit:
        return next(node for node in self.nodes if node.node == name)

    def start(self) -> None:
        try:
            for node in self.nodes:
                node.start()
            first = self.nodes[0].node
            for node in self.nodes[1:]:
                node.ctl("stop_app")
                node.ctl("join_cluster", first)
                node.ctl("start_app")
                node.ctl("-q", "await_startup", "--timeout", "60")
        except BaseException:
            self.destroy()
            raise

    def running_nodes(self, via: PrivateRabbit | None = None) -> set[str]:
        """The members the cluster sees running, asked of `via` (or of any node still answering)."""
        for node in [via] if via is not None else self.nodes:
            if node is None:
                continue
            result = node._ctl("-q", "eval", "rabbit_nodes:all_running().", check=False)
            if result.returncode == 0:
                return set(re.findall(r"'?([\w.-]+@[\w.-]+)'?", result.stdout))
        return set()

    def queue_members(self, via: PrivateRabbit) -> dict[str, tuple[str, set[str]]]:
        """Each quorum queue's leader and online members: `{queue: (leader, {members})}`."""
        out = via.ctl("-q", "list_queues", "name", "leader", "online", "--formatter", "json")
        return {
            row["name"]: (row["leader"], set(row["online"]))
            for row in json.loads(out)
            if row.get("leader") not in (None, "")
        }

    def describe(self, via: PrivateRabbit) -> str:
        """The queues as `via` sees them, and the end of its log: for a failing test's message."""
        queues = via._ctl(
            "-q",
            "list_queues",
            "name",
            "type",
            "state",
            "leader",
            "members",
            "online",
            "messages",
            check=False,
        )
        logs = sorted((via.base / "log").glob("*.log"))
        tail = logs[0].read_text(errors="replace").splitlines()[-40:] if logs else []
        return "\n".join([queues.stdout, queues.stderr, *tail])

    def destroy(self) -> None:
        for node in self.nodes:
            node.destroy()


def _run_as(
    user: str, args: list[str], timeout: float = 120, check: bool = True
) -> subprocess.CompletedProcess[str]:
    """Run a server's own tool as its own user (PostgreSQL refuses to run as root)."""
    if os.geteuid() == 0:
        args = ["runuser", "-u", user, "--", *args]
    return subprocess.run(args, capture_output=True, text=True, check=check, timeout=timeout)  # noqa: S603


class PrivatePostgres:
    """A PostgreSQL cluster of its own (initdb, pg_ctl; run as the `postgres` user when we are root), trust
    auth, listening on `listen` (127.0.0.1, plus a veth address for the network-cut test)."""

    def __init__(self, port: int = 5499, listen: str = "127.0.0.1", name: str = "tmspg") -> None:
        self.port = port
        self.base = Path(tempfile.mkdtemp(prefix=f"{name}-"))
        self.data = self.base / "data"
        self.listen = listen
        if os.geteuid() == 0:
            shutil.chown(self.base, "postgres", "postgres")
        _run_as("postgres", ["initdb", "-D", str(self.data), "-U", "postgres", "-A", "trust", "-E", "UTF8"])
        with (self.data / "postgresql.conf").open("a") as conf:
            conf.write(
                f"listen_addresses = '{listen}'\nport = {port}\nunix_socket_directories = '{self.base}'\n"
                "max_connections = 200\nfsync = on\n"
            )
        if listen != "127.0.0.1":
            with (self.data / "pg_hba.conf").open("a") as hba:
                hba.write("host all all 0.0.0.0/0 trust\n")

    def url(self, database: str = "postgres", user: str = "postgres", host: str = "127.0.0.1") -> str:
        return f"postgresql://{user}@{host}:{self.port}/{database}"

    def start(self) -> None:
        log = self.base / "server.log"
        _run_as("postgres", ["pg_ctl", "-D", str(self.data), "-l", str(log), "-w", "-t", "60", "start"])

    def stop(self, mode: str = "fast") -> None:
        """`fast` (clients disconnected, a clean shutdown) or `immediate` (no checkpoint: crash recovery at
        the next start, as after a power cut)."""
        _run_as(
            "postgres", ["pg_ctl", "-D", str(self.data), "-m", mode, "-w", "-t", "60", "stop"], check=False
        )

    def restart(self, mode: str = "fast") -> None:
        self.stop(mode)
        self.start()

    def destroy(self) -> None:
        self.stop("immediate")
        shutil.rmtree(self.base, ignore_errors=True)


# A test's Redis keeps nothing on disk and takes any local client (as the machine's own does).
_REDIS_IN_MEMORY = ("--save", "", "--appendonly", "no", "--protected-mode", "no", "--loglevel", "warning")


@dataclass(frozen=True)
class LocalCertificates:
    """A certificate authority of its own and a server certificate it signed for 127.0.0.1 and localhost,
    as files, for servers that must speak TLS in a test (production refuses plain connections, ADR 0094)."""

    ca: Path
    cert: Path
    key: Path

    @classmethod
    def make(cls, directory: Path, name: str = "test") -> LocalCertificates:
        from cryptography import x509
        from cryptography.hazmat.primitives import hashes, serialization
        from cryptography.hazmat.primitives.asymmetric import ec
        from cryptography.x509.oid import NameOID

        now = datetime.now(UTC)
        ca_key = ec.generate_private_key(ec.SECP256R1())
        ca_name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, f"{name} CA")])
        ca = (
            x509.CertificateBuilder()
            .subject_name(ca_name)
            .issuer_name(ca_name)
            .public_key(ca_key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - timedelta(minutes=5))
            .not_valid_after(now + timedelta(days=1))
            .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
            .sign(ca_key, hashes.SHA256())
        )
        key = ec.generate_private_key(ec.SECP256R1())
        cert = (
            x509.CertificateBuilder()
            .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "localhost")]))
            .issuer_name(ca_name)
            .public_key(key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - timedelta(minutes=5))
            .not_valid_after(now + timedelta(days=1))
            .add_extension(
                x509.SubjectAlternativeName(
                    [x509.DNSName("localhost"), x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]
                ),
                critical=False,
            )
            .sign(ca_key, hashes.SHA256())
        )
        directory.mkdir(parents=True, exist_ok=True)
        files = cls(
            directory / f"{name}-ca.pem", directory / f"{name}-cert.pem", directory / f"{name}-key.pem"
        )
        files.ca.write_bytes(ca.public_bytes(serialization.Encoding.PEM))
        files.cert.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
        files.key.write_bytes(
            key.private_bytes(
                serialization.Encoding.PEM,
                serialization.PrivateFormat.PKCS8,
                serialization.NoEncryption(),
            )
        )
        return files


class PrivateRedis:
    """A redis-server of its own keeping nothing on disk, as the shared one here (architecture.md, traps):
    a restart loses everything it held. With `tls`, it speaks TLS only, on `port`."""

    def __init__(
        self, port: int = 6499, listen: str = "127.0.0.1", tls: LocalCertificates | None = None
    ) -> None:
        self.port = port
        self.listen = listen
        self.tls = tls
        self.process: subprocess.Popen[bytes] | None = None

    def url(self, db: int = 0, host: str = "127.0.0.1") -> str:
        if self.tls is not None:  # verified: redis-py's defaults, ssl_cert_reqs=required, the host checked
            return f"rediss://{host}:{self.port}/{db}?ssl_ca_certs={self.tls.ca}"
        return f"redis://{host}:{self.port}/{db}"

    def _listening(self) -> list[str]:
        if self.tls is None:
            return ["--port", str(self.port)]
        return [
            "--port",
            "0",
            "--tls-port",
            str(self.port),
            "--tls-cert-file",
            str(self.tls.cert),
            "--tls-key-file",
            str(self.tls.key),
            "--tls-ca-cert-file",
            str(self.tls.ca),
            "--tls-auth-clients",
            "no",
        ]

    def start(self, timeout_s: float = 30) -> None:
        self.process = subprocess.Popen(  # noqa: S603 - fixed program, our own arguments
            [  # noqa: S607
                "redis-server",
                *self._listening(),
                "--bind",
                *self.listen.split(","),
                *_REDIS_IN_MEMORY,
            ],
            stdout=subprocess.DEVNULL,
        )
        cli = ["redis-cli", "-p", str(self.port)]
        if self.tls is not None:
            cli += ["--tls", "--cacert", str(self.tls.ca)]
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            ping = subprocess.run(  # noqa: S603
                [*cli, "ping"],
                capture_output=True,
                text=True,
                check=False,
            )
            if ping.stdout.strip() == "PONG":
                return
            time.sleep(0.1)
        raise RuntimeError(f"private Redis on {self.port} did not start")

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            self.process.wait(timeout=30)
        self.process = None

    def restart(self) -> None:
        self.stop()
        self.start()

    def destroy(self) -> None:
        self.stop()


def _free(port: int) -> bool:
    import socket

    with socket.socket() as probe:
        try:
            probe.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True


class PrivateRedisCluster:
    """A Redis Cluster of `masters` redis-servers on private ports (each with its bus port, +10000), their
    node files in a temporary directory, nothing else on disk; `stop` ends them and removes it."""

    def __init__(self, masters: int = 3, first_port: int | None = None) -> None:
        self.masters = masters
        self.first_port = first_port or self._free_ports(masters)
        self.ports = [self.first_port + i for i in range(masters)]
        self.base = Path(tempfile.mkdtemp(prefix="tmsrediscluster-"))
        self.processes: list[subprocess.Popen[bytes]] = []

    @staticmethod
    def _free_ports(count: int) -> int:
        # From a range no shared server here uses; the bus ports (+10000) must be free as well.
        for start in range(17100 + (os.getpid() % 200) * 5, 19000, count + 2):
            ports = [start + i for i in range(count)]
            if all(_free(p) and _free(p + 10000) for p in ports):
                return start
        raise RuntimeError("no free ports for a private Redis Cluster")

    @property
    def url(self) -> str:
        """What plate-pool's `hot_redis_url` takes (settings.py)."""
        return f"redis+cluster://127.0.0.1:{self.ports[0]}"

    def _cli(self, *args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
        return subprocess.run(  # noqa: S603 - fixed program, our own arguments
            ["redis-cli", *args],  # noqa: S607
            capture_output=True,
            text=True,
            check=check,
            timeout=60,
        )

    def start(self, timeout_s: float = 60) -> None:
        for port in self.ports:
            data = self.base / str(port)
            data.mkdir()
            self.processes.append(
                subprocess.Popen(  # noqa: S603
                    [  # noqa: S607
                        "redis-server",
                        "--port",
                        str(port),
                        "--bind",
                        "127.0.0.1",
                        "--dir",
                        str(data),
                        "--cluster-enabled",
                        "yes",
                        "--cluster-config-file",
                        "nodes.conf",
                        "--cluster-node-timeout",
                        "5000",
                        *_REDIS_IN_MEMORY,
                    ],
                    stdout=subprocess.DEVNULL,
                )
            )
        deadline = time.monotonic() + timeout_s
        for port in self.ports:
            while self._cli("-p", str(port), "ping", check=False).stdout.strip() != "PONG":
                if time.monotonic() > deadline:
                    self.stop()
                    raise RuntimeError(f"private Redis Cluster node {port} did not start")
                time.sleep(0.1)
        nodes = [f"127.0.0.1:{p}" for p in self.ports]
        self._cli("--cluster", "create", *nodes, "--cluster-replicas", "0", "--cluster-yes")
        while True:
            states = [self._cli("-p", str(p), "cluster", "info", check=False).stdout for p in self.ports]
            if all("cluster_state:ok" in s for s in states):
                return
            if time.monotonic() > deadline:
                self.stop()
                raise RuntimeError("private Redis Cluster did not reach cluster_state:ok")
            time.sleep(0.2)

    def flush(self) -> None:
        for port in self.ports:
            self._cli("-p", str(port), "flushall", check=False)

    def stop(self) -> None:
        for process in self.processes:
            if process.poll() is None:
                process.terminate()
        for process in self.processes:
            try:
                process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
        self.processes = []
        shutil.rmtree(self.base, ignore_errors=True)
