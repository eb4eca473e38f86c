#!/usr/bin/env python3
"""Make this machine's infrastructure ready for the platform: PostgreSQL, RabbitMQ, Redis on 127.0.0.1.

    python3 scripts/bootstrap_infra.py [--env dev|test|all] [--timeout 120]

Stdlib only: it runs before any virtualenv exists. For each server it finds it running, or starts it,
or installs it from Debian packages (one `apt-get update`) and starts it; it waits until each answers,
enables the RabbitMQ feature flags quorum queues and at-least-once dead-lettering need, and creates each
service's PostgreSQL role (LOGIN NOSUPERUSER NOCREATEDB) and database owned by it. nginx is installed
when absent but not started: the Procfile runs it in the foreground.

One line per step; the status word says whether it changed anything. Running it again changes nothing
and ends with "0 changes". Exits 1 with the reason when something cannot be made ready.

Roles and databases follow servicekit.settings.default_database_url: one role per service
(`plate_pool`), owning the dev database (`plate_pool`) and the test one (`plate_pool_test`).
The services come from gateway/src/gateway_service/topology.json, the one list of what runs where.
"""

from __future__ import annotations

import argparse
import glob
import json
import os
import re
import shutil
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Sequence
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
TOPOLOGY = ROOT / "gateway" / "src" / "gateway_service" / "topology.json"
HOST = "127.0.0.1"
PG_PORT, AMQP_PORT, REDIS_PORT = 5432, 5672, 6379
# Debian installs server tools in sbin, which a non-login root shell may not have on PATH.
SEARCH_PATH = os.pathsep.join([os.environ.get("PATH", ""), "/usr/local/sbin", "/usr/sbin", "/sbin"])
PACKAGES = {  # what we need → (Debian package, a command that proves it is installed)
    "postgresql": ("postgresql", "pg_ctlcluster"),
    "rabbitmq": ("rabbitmq-server", "rabbitmq-server"),
    "redis": ("redis-server", "redis-server"),
    "nginx": ("nginx", "nginx"),
}
BENCH_PACKAGES = {"wrk": ("wrk", "wrk")}  # the benchmarks' load generator (`--bench`)
# The fault proofs' network cut (`--faults`): nftables in a namespace (iproute2's `ip netns`), socat to
# reach the servers through the veth (ADR 0088).
FAULT_PACKAGES = {
    "nftables": ("nftables", "nft"),
    "socat": ("socat", "socat"),
    "iproute2": ("iproute2", "ip"),
}
# The browser tests' Chromium (Playwright drives Debian's build) and a font with Chinese glyphs, without
# which every screenshot shows boxes (`--browser`). A proof starting with / is a file, not a command.
BROWSER_PACKAGES = {
    "chromium": ("chromium", "chromium"),
    "cjk fonts": ("fonts-noto-cjk", "/usr/share/fonts/opentype/noto/NotoSansCJK-Regular.ttc"),
}
CHANGED = ("installed", "started", "created", "enabled", "fixed", "configured")
NAME_RE = re.compile(r"^[a-z_][a-z0-9_]*$")  # role and database names go into SQL unquoted-safe


class NotReady(Exception):
    """Something could not be made ready; the message says what and how to fix it."""


class Report:
    def __init__(self) -> None:
        self.changes = 0

    def step(self, subject: str, status: str, note: str = "") -> None:
        if status in CHANGED:
            self.changes += 1
        print(f"[bootstrap] {subject:<34} {status:<10} {note}".rstrip(), flush=True)


def which(cmd: str) -> str | None:
    if cmd.startswith("/"):
        return cmd if Path(cmd).exists() else None
    return shutil.which(cmd, path=SEARCH_PATH)


def run(
    args: Sequence[str], timeout: float = 120, check: bool = False, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    exe = which(args[0]) or args[0]
    try:
        result = subprocess.run(  # noqa: S603 (fixed commands, arguments from our own topology)
            [exe, *args[1:]],
            capture_output=True,
            text=True,
            timeout=timeout,
            check=False,
            env={**os.environ, "PATH": SEARCH_PATH, **(env or {})},
        )
    except subprocess.TimeoutExpired as exc:
        raise NotReady(f"`{' '.join(args)}` did not finish within {timeout:.0f} s") from exc
    except FileNotFoundError as exc:
        raise NotReady(f"`{args[0]}` is not installed") from exc
    if check and result.returncode != 0:
        raise NotReady(f"`{' '.join(args)}` failed ({result.returncode}): {result.stderr.strip()[-800:]}")
    return result


def port_open(port: int, host: str = HOST) -> bool:
    try:
        socket.create_connection((host, port), timeout=1).close()
        return True
    except OSError:
        return False


def wait_until(what: str, ready: Callable[[], bool], timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while not ready():
        if time.monotonic() > deadline:
            raise NotReady(f"{what} did not answer within {timeout:.0f} s")
        time.sleep(0.5)


def is_root() -> bool:
    return os.geteuid() == 0


# -- packages ----------------------------------------------------------------------------------------


def apt(args: Sequence[str], timeout: float) -> None:
    """apt-get, waiting for another apt or dpkg (unattended upgrades, a parallel install) to finish."""
    deadline = time.monotonic() + timeout
    env = {"DEBIAN_FRONTEND": "noninteractive"}
    while True:
        result = run(["apt-get", "-o", "DPkg::Lock::Timeout=60", *args], timeout=timeout, env=env)
        if result.returncode == 0:
            return
        locked = "Could not get lock" in result.stderr or "is held by process" in result.stderr
        if not locked or time.monotonic() > deadline:
            raise NotReady(f"apt-get {' '.join(args)} failed: {result.stderr.strip()[-800:]}")
        time.sleep(3)


def ensure_packages(
    report: Report, timeout: float, bench: bool = False, browser: bool = False, faults: bool = False
) -> set[str]:
    """Install what is absent. Returns the names installed now (their servers need first-time setup)."""
    packages = {
        **PACKAGES,
        **(BENCH_PACKAGES if bench else {}),
        **(BROWSER_PACKAGES if browser else {}),
        **(FAULT_PACKAGES if faults else {}),
    }
    missing = [name for name, (_, cmd) in packages.items() if which(cmd) is None]
    for name, (_, cmd) in packages.items():
        if name not in missing:
            report.step(f"package {name}", "present", which(cmd) or "")
    if not missing:
        return set()
    debs = [packages[name][0] for name in missing]
    if not is_root():
        raise NotReady(
            f"{', '.join(debs)} not installed; run as root or `apt-get install -y {' '.join(debs)}`"
        )
    # Keep Debian's maintainer scripts from starting the servers with their own settings (nginx on :80,
    # Redis saving to disk); this script starts each the way the platform wants it.
    policy = Path("/usr/sbin/policy-rc.d")
    ours = not policy.exists()
    if ours:
        policy.write_text("#!/bin/sh\nexit 101\n")
        policy.chmod(0o755)
    try:
        report.step("apt-get update", "running", "(once)")
        apt(["update"], timeout)
        apt(["install", "-y", "--no-install-recommends", *debs], max(timeout, 600))
    finally:
        if ours:
            policy.unlink(missing_ok=True)
    for name in missing:
        if which(packages[name][1]) is None:
            raise NotReady(f"{packages[name][0]} was installed but `{packages[name][1]}` is still not found")
        report.step(f"package {name}", "installed", packages[name][0])
    return set(missing)


# -- PostgreSQL ----------------------------------------------------------------------------------------


def pg_ready() -> bool:
    return run(["pg_isready", "-h", HOST, "-p", str(PG_PORT), "-t", "2"], timeout=10).returncode == 0


def psql(sql: str, check: bool = True) -> subprocess.CompletedProcess[str]:
    args = ["psql", "-h", HOST, "-p", str(PG_PORT), "-U", "postgres", "-d", "postgres", "-w"]
    return run([*args, "-v", "ON_ERROR_STOP=1", "-AtXq", "-c", sql], timeout=60, check=check)


def ensure_postgres(report: Report, timeout: float, fresh: bool) -> None:
    subject = f"postgresql {HOST}:{PG_PORT}"
    if pg_ready():
        report.step(subject, "running")
    else:
        clusters = [
            line.split() for line in run(["pg_lsclusters", "--no-header"], check=True).stdout.splitlines()
        ]
        cluster = next((c for c in clusters if len(c) >= 3 and c[2] == str(PG_PORT)), None)
        if not is_root():
            raise NotReady(f"PostgreSQL is not running on {PG_PORT}; run this as root to start it")
        if cluster is None:
            versions = sorted(glob.glob("/usr/lib/postgresql/*/bin/postgres"))
            if not versions:
                raise NotReady("no PostgreSQL server binary under /usr/lib/postgresql")
            version = Path(versions[-1]).parts[-3]
            run(["pg_createcluster", version, "main", "--port", str(PG_PORT)], check=True)
            report.step(f"postgresql cluster {version}/main", "created")
            cluster = [version, "main", str(PG_PORT)]
        run(["pg_ctlcluster", "--skip-systemctl-redirect", cluster[0], cluster[1], "start"], check=True)
        wait_until(subject, pg_ready, timeout)
        report.step(subject, "started", f"cluster {cluster[0]}/{cluster[1]}")

    probe = psql("select 1", check=False)
    if probe.returncode == 0:
        report.step("postgresql superuser login", "ok", "postgres over TCP without password (trust)")
        ensure_pg_connections(report, timeout)
        return
    if not fresh:
        raise NotReady(
            "cannot connect as `postgres` to 127.0.0.1 without a password: "
            f"{probe.stderr.strip()}. Development machines use trust auth for loopback: add "
            "`host all all 127.0.0.1/32 trust` at the top of pg_hba.conf and reload."
        )
    # A cluster this script just installed: give loopback trust auth, as the services' URLs expect.
    for hba in glob.glob("/etc/postgresql/*/main/pg_hba.conf"):
        text = Path(hba).read_text()
        lines = "host all all 127.0.0.1/32 trust\nhost all all ::1/128 trust\n"
        Path(hba).write_text("# dev/CI: loopback trusted (scripts/bootstrap_infra.py)\n" + lines + text)
        version = Path(hba).parts[-3]
        run(["pg_ctlcluster", "--skip-systemctl-redirect", version, "main", "reload"], check=True)
    wait_until("postgres login over TCP", lambda: psql("select 1", check=False).returncode == 0, timeout)
    report.step("postgresql loopback auth", "configured", "trust for 127.0.0.1 and ::1 (fresh install)")
    ensure_pg_connections(report, timeout)


# `make run` holds about 70 connections (a pool per api and worker); the browser tests run a second whole
# platform beside it, and the e2e tests a third part of one. Debian's default of 100 runs out.
PG_MAX_CONNECTIONS = 400


def ensure_pg_connections(report: Report, timeout: float) -> None:
    have = int(psql("show max_connections").stdout.strip())
    if have >= PG_MAX_CONNECTIONS:
        report.step("postgresql max_connections", "present", str(have))
        return
    if not is_root():
        raise NotReady(f"max_connections is {have}; set it to {PG_MAX_CONNECTIONS} and restart PostgreSQL")
    psql(f"alter system set max_connections = {PG_MAX_CONNECTIONS}")
    version = psql("show server_version_num").stdout.strip()[:-4]
    # The setting takes effect at a restart only: done once, the first time this machine is set up.
    run(
        ["pg_ctlcluster", "--skip-systemctl-redirect", version, "main", "restart"],
        check=True,
        timeout=timeout,
    )
    wait_until("postgresql after restart", pg_ready, timeout)
    report.step("postgresql max_connections", "configured", f"{have} → {PG_MAX_CONNECTIONS} (restarted)")


def create(sql: str) -> bool:
    """Run a CREATE; False when another process created the object in between (a parallel bootstrap)."""
    result = psql(sql, check=False)
    if result.returncode == 0:
        return True
    if "already exists" in result.stderr:
        return False
    raise NotReady(f"`{sql}` failed: {result.stderr.strip()}")


def ensure_roles_and_databases(report: Report, services: list[dict[str, object]], envs: list[str]) -> None:
    roles = {
        name: (login == "t", superuser == "t", createdb == "t")
        for name, login, superuser, createdb in (
            line.split("|")
            for line in psql(
                "select rolname, rolcanlogin, rolsuper, rolcreatedb from pg_roles"
            ).stdout.splitlines()
        )
    }
    owners = dict(
        line.split("|", 1)
        for line in psql("select datname, pg_get_userbyid(datdba) from pg_database").stdout.splitlines()
    )
    for service in services:
        role = str(service["database"])
        if not NAME_RE.match(role):
            raise NotReady(f"database name {role!r} in topology.json is not a plain identifier")
        if role not in roles:
            created = create(f'create role "{role}" login nosuperuser nocreatedb')
            report.step(f"role {role}", "created" if created else "present", "LOGIN NOSUPERUSER NOCREATEDB")
        elif roles[role] != (True, False, False):
            psql(f'alter role "{role}" login nosuperuser nocreatedb')
            report.step(f"role {role}", "fixed", "now LOGIN NOSUPERUSER NOCREATEDB")
        else:
            report.step(f"role {role}", "present")
        for env in envs:
            db = f"{role}_test" if env == "test" else role
            if db not in owners:
                created = create(f'create database "{db}" owner "{role}"')
                report.step(f"database {db}", "created" if created else "present", f"owner {role}")
            elif owners[db] != role:
                psql(f'alter database "{db}" owner to "{role}"')
                report.step(f"database {db}", "fixed", f"owner {owners[db]} → {role}")
            else:
                report.step(f"database {db}", "present", f"owner {role}")


# -- Redis -----------------------------------------------------------------------------------------


def redis_ready() -> bool:
    result = run(["redis-cli", "-h", HOST, "-p", str(REDIS_PORT), "ping"], timeout=10)
    return result.stdout.strip() == "PONG"


def ensure_redis(report: Report, timeout: float) -> None:
    subject = f"redis {HOST}:{REDIS_PORT}"
    if redis_ready():
        report.step(subject, "running")
        return
    if port_open(REDIS_PORT):
        raise NotReady(f"something listens on {REDIS_PORT} but does not answer PING without a password")
    if not is_root():
        raise NotReady("Redis is not running; run this as root to start it")
    for d in ("/var/lib/redis", "/var/log/redis"):
        Path(d).mkdir(parents=True, exist_ok=True)
    # Nothing on disk (--save "", no AOF): Redis holds only what can be rebuilt from PostgreSQL.
    run(
        [
            "redis-server",
            "--daemonize",
            "yes",
            "--bind",
            HOST,
            "-::1",
            "--port",
            str(REDIS_PORT),
            "--save",
            "",
            "--appendonly",
            "no",
            "--dir",
            "/var/lib/redis",
            "--logfile",
            "/var/log/redis/ci.log",
        ],
        check=True,
    )
    wait_until(subject, redis_ready, timeout)
    report.step(subject, "started", "no persistence")


# -- RabbitMQ --------------------------------------------------------------------------------------


TEST_VHOST = "tms-test"
# Quorum queues reserve handles in RabbitMQ's file-handle cache whether or not a file is open, and the
# cache's budget is ~90 % of the descriptor limit: 927 under Debian's default of 1,024. The platform
# declares about 400 queues per environment (each subscription's queue, its retry and dead-letter queues),
# so `make test` beside `make run` spends the budget, and from then on every new connection waits in its
# AMQP handshake forever (seen on these machines: the broker still answered `rabbitmqctl status`). The
# local broker's budget is raised at every bootstrap; the descriptors really open stay in the tens.
FILE_HANDLE_BUDGET = 16_384


def rabbit_ready() -> bool:
    return port_open(AMQP_PORT) and run(["rabbitmqctl", "-q", "status"], timeout=60).returncode == 0


def amqp_answers(timeout_s: float = 10.0) -> bool:
    """The broker answers an AMQP 0-9-1 protocol header with a Connection.Start frame (type 1)."""
    try:
        with socket.create_connection((HOST, AMQP_PORT), timeout=timeout_s) as conn:
            conn.sendall(b"AMQP\x00\x00\x09\x01")
            return conn.recv(1) == b"\x01"
    except OSError:
        return False


def ensure_file_handle_budget(report: Report) -> None:
    subject = "rabbitmq file-handle budget"
    got = run(["rabbitmqctl", "-q", "eval", "file_handle_cache:get_limit()."], timeout=60)
    limit = int(got.stdout.strip()) if got.returncode == 0 and got.stdout.strip().isdigit() else None
    if limit is not None and limit >= FILE_HANDLE_BUDGET:
        report.step(subject, "present", str(limit))
        return
    run(["rabbitmqctl", "-q", "eval", f"file_handle_cache:set_limit({FILE_HANDLE_BUDGET})."], check=True)
    report.step(subject, "raised", f"{limit} -> {FILE_HANDLE_BUDGET} (quorum queues reserve handles)")


def ensure_rabbitmq(report: Report, timeout: float) -> None:
    subject = f"rabbitmq {HOST}:{AMQP_PORT}"
    if rabbit_ready():
        report.step(subject, "running")
    else:
        if not is_root():
            raise NotReady("RabbitMQ is not running; run this as root to start it")
        run(["rabbitmq-server", "-detached"], check=True)
        run(
            ["rabbitmqctl", "await_startup", "--timeout", str(int(timeout))], timeout=timeout + 30, check=True
        )
        wait_until(subject, rabbit_ready, timeout)
        report.step(subject, "started")
    ensure_file_handle_budget(report)
    if not amqp_answers():
        raise NotReady(
            f"RabbitMQ on {HOST}:{AMQP_PORT} accepts connections but does not answer the AMQP handshake; "
            "see its log (/var/log/rabbitmq/) and restart it"
        )

    flags = dict(
        line.split(None, 1)
        for line in run(
            ["rabbitmqctl", "-q", "list_feature_flags", "name", "state"], check=True
        ).stdout.splitlines()
        if line.strip() and not line.startswith("name")
    )
    disabled = sorted(name for name, state in flags.items() if state.strip() != "enabled")
    if disabled:
        # quorum queues need `quorum_queue`; at-least-once dead-lettering (3.10) needs `stream_queue` too.
        run(["rabbitmqctl", "enable_feature_flag", "all"], check=True)
        report.step("rabbitmq feature flags", "enabled", ", ".join(disabled))
    else:
        report.step("rabbitmq feature flags", "present", f"all {len(flags)} enabled")
    if "quorum_queue" in flags or disabled:
        again = run(["rabbitmqctl", "-q", "list_feature_flags", "name", "state"], check=True).stdout
        if not re.search(r"^quorum_queue\s+enabled", again, re.M):
            raise NotReady("RabbitMQ feature flag quorum_queue could not be enabled")

    users = run(["rabbitmqctl", "-q", "list_users"], check=True).stdout
    if re.search(r"^guest\s", users, re.M):
        report.step("rabbitmq user guest", "present")
    else:  # the services' default broker URL is amqp://guest:guest@127.0.0.1:5672/
        run(["rabbitmqctl", "add_user", "guest", "guest"], check=True)
        run(["rabbitmqctl", "set_permissions", "-p", "/", "guest", ".*", ".*", ".*"], check=True)
        report.step("rabbitmq user guest", "created", "loopback only, as RabbitMQ allows guest")

    # The test environment gets a virtual host of its own, so `make test` never takes messages from the
    # queues of a `make run` on the same machine (and the reverse).
    vhosts = run(["rabbitmqctl", "-q", "list_vhosts", "name"], check=True).stdout.split()
    if TEST_VHOST in vhosts:
        report.step(f"rabbitmq vhost {TEST_VHOST}", "present")
    else:
        run(["rabbitmqctl", "add_vhost", TEST_VHOST], check=True)
        report.step(f"rabbitmq vhost {TEST_VHOST}", "created", "for the test environment")
    permissions = run(["rabbitmqctl", "-q", "list_permissions", "-p", TEST_VHOST], check=True).stdout
    if not re.search(r"^guest\s", permissions, re.M):
        run(["rabbitmqctl", "set_permissions", "-p", TEST_VHOST, "guest", ".*", ".*", ".*"], check=True)


# -- main ------------------------------------------------------------------------------------------


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0] if __doc__ else None)
    parser.add_argument("--env", choices=["dev", "test", "all"], default="all", help="which databases")
    parser.add_argument("--timeout", type=float, default=120, help="seconds to wait for each server")
    parser.add_argument("--bench", action="store_true", help="also the benchmarks' tools (wrk)")
    parser.add_argument("--browser", action="store_true", help="also Chromium and CJK fonts (browser tests)")
    parser.add_argument(
        "--faults", action="store_true", help="also nftables and socat (the fault proofs' cut)"
    )
    args = parser.parse_args(argv)
    envs = ["dev", "test"] if args.env == "all" else [args.env]

    report = Report()
    try:
        services = json.loads(TOPOLOGY.read_text(encoding="utf-8"))["services"]
        fresh = ensure_packages(
            report, args.timeout, bench=args.bench, browser=args.browser, faults=args.faults
        )
        ensure_postgres(report, args.timeout, fresh="postgresql" in fresh)
        ensure_redis(report, args.timeout)
        ensure_rabbitmq(report, args.timeout)
        ensure_roles_and_databases(report, services, envs)
    except NotReady as exc:
        print(f"[bootstrap] NOT READY: {exc}", file=sys.stderr, flush=True)
        return 1
    except (OSError, ValueError, KeyError) as exc:
        print(f"[bootstrap] NOT READY: {type(exc).__name__}: {exc}", file=sys.stderr, flush=True)
        return 1
    print(f"[bootstrap] ready ({', '.join(envs)}): {report.changes} changes", flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
