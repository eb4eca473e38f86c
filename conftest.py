"""Test-wide environment: every service reads its settings for the `test` environment, so the tests use
the `<service>_test` databases, their own Redis db and their own RabbitMQ vhost, beside (never over) a
developer's `make run`."""

import os
import secrets
import shutil
import subprocess
import sys
import time
from pathlib import Path

import psycopg
import pytest

from servicekit import crypto
from servicekit.sealed import ClaimKeys
from servicekit.service import SERVICE_NAMES
from servicekit.settings import ServiceSettings

# The broker's `tms-test` vhost is made by scripts/bootstrap_infra.py (`make test` runs it first).
TEST_AMQP_URL = os.environ.setdefault("TMS_TEST_AMQP_URL", "amqp://guest:guest@127.0.0.1:5672/tms-test")

os.environ["TMS_ENV"] = "test"
for _name in (*SERVICE_NAMES, "gateway"):
    _prefix = ServiceSettings.env_prefix_for(_name)
    os.environ.setdefault(_prefix + "REDIS__URL", "redis://127.0.0.1:6379/15")
    os.environ.setdefault(_prefix + "BROKER__URL", TEST_AMQP_URL)

# ADR 0082: one ring of claim keys for every service of this run (identity seals the identity number and
# phone in its tokens, the others open them), made anew per run; the processes a test starts inherit it.
_CLAIM_KEYS = ClaimKeys.generate("test").spec()
for _name in SERVICE_NAMES:
    os.environ.setdefault(ServiceSettings.env_prefix_for(_name) + "AUTH__CLAIM_KEYS", _CLAIM_KEYS)

# Held shared by every running test session on this machine; a checkout whose tests run on their own
# databases, Redis db and vhost beside another names its own key (TMS_TEST_SESSION_LOCK).
SESSION_LOCK_KEY = int(os.environ.get("TMS_TEST_SESSION_LOCK", "7311123"))
_session_lock: psycopg.Connection | None = None


LOG_DIR_ENV = "TMS_TEST_LOG_DIR"  # tests/e2e/processes.py writes the platform processes' output there
TEST_LOGS = Path(__file__).parent / "var" / "test-logs"
KEEP_LOG_SESSIONS = 10


def _start_log_folder() -> None:
    """This session's folder for the platform processes' output (scanned when it ends); older sessions'
    beyond the last few are removed."""
    os.environ[LOG_DIR_ENV] = str(TEST_LOGS / f"{time.strftime('%Y%m%dT%H%M%S')}-{os.getpid()}")
    if TEST_LOGS.is_dir():
        for old in sorted(TEST_LOGS.iterdir())[:-KEEP_LOG_SESSIONS]:
            shutil.rmtree(old, ignore_errors=True)


TEST_KEYS = Path(__file__).parent / "var" / "test-data-keys"


def _use_data_keys(fresh: bool) -> None:
    """ADR 0095: the data and index keys of the sealed columns, the same for every service (a test process
    may host several) and for every process a test starts (they inherit the environment). Made anew when
    this session reset the test databases; a session joining one already running shares its keys (the
    rows in the databases are sealed with them), through an untracked file named by the session lock."""
    path = TEST_KEYS / f"{SESSION_LOCK_KEY}.keys"
    if fresh or not path.exists():
        ring = crypto.DataKeys.generate("t" + secrets.token_hex(3))  # a new key id: no stale row opens
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(f"data={ring.data.spec()}\nindex={ring.index.spec()}\n")
        path.chmod(0o600)
    keys = crypto.dev_keys(path)
    for name in SERVICE_NAMES:
        prefix = ServiceSettings.env_prefix_for(name)
        os.environ.setdefault(prefix + "CRYPTO__DATA_KEYS", keys.data.spec())
        os.environ.setdefault(prefix + "CRYPTO__INDEX_KEYS", keys.index.spec())
    crypto.install(  # for tests that touch a database without a Runtime
        crypto.DataKeys(
            crypto.KeyRing.parse(os.environ["TMS_IDENTITY__CRYPTO__DATA_KEYS"]),
            crypto.KeyRing.parse(os.environ["TMS_IDENTITY__CRYPTO__INDEX_KEYS"]),
        )
    )


def pytest_sessionstart(session: object) -> None:
    """A session starts from an empty test environment (each service's test database dropped, to be
    migrated again by its suite; the broker's test vhost made anew), so nothing an earlier run left
    (queued events, outbox rows, another branch's revision) changes this one. Only when no other test
    session is running: each holds a shared advisory lock for its whole life, and the reset needs it
    exclusively."""
    global _session_lock
    from servicekit.migrate import ADMIN_URL, drop_test_database

    _start_log_folder()
    _session_lock = psycopg.connect(ADMIN_URL, autocommit=True)
    alone = _session_lock.execute("SELECT pg_try_advisory_lock(%s)", (SESSION_LOCK_KEY,)).fetchone()
    fresh = bool(alone and alone[0])
    if fresh:
        for name in SERVICE_NAMES:
            drop_test_database(name)
        _reset_test_vhost()
    _use_data_keys(fresh)
    if fresh:
        _session_lock.execute("SELECT pg_advisory_unlock(%s)", (SESSION_LOCK_KEY,))
    _session_lock.execute("SELECT pg_advisory_lock_shared(%s)", (SESSION_LOCK_KEY,))


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    if _session_lock is not None:
        _session_lock.close()  # releases the shared lock
    _scan_logs(session)


def _scan_logs(session: pytest.Session) -> None:
    """ADR 0085: no full identity number, phone, code, token or password in any line the platform
    processes of this session wrote; a hit fails the run, its lines shown masked. The figures are the
    attack proof's `logs` part."""
    sys.path.insert(0, str(Path(__file__).parent / "scripts"))
    import proof_report
    from logscan import scan

    folder = Path(os.environ.get(LOG_DIR_ENV, ""))
    if not folder.is_dir():
        return  # no platform process ran
    result = scan(folder)
    proof_report.record("attack", "logs", {"log_lines": result.lines, "pii_hits": result.pii_hits})
    if not result.hits:
        return
    reporter = session.config.pluginmanager.get_plugin("terminalreporter")
    lines = [f"{h.path.name}:{h.line_no} {','.join(h.kinds)}: {h.masked_line[:300]}" for h in result.hits]
    message = f"log scan: {result.pii_hits} hits of personal data or secrets in {folder}\n" + "\n".join(
        lines[:50]
    )
    if reporter is not None:
        reporter.write_sep("=", "log scan failed (ADR 0085)", red=True)
        reporter.write_line(message)
    session.exitstatus = pytest.ExitCode.TESTS_FAILED


def _reset_test_vhost() -> None:
    rabbitmqctl = shutil.which("rabbitmqctl")
    vhost = TEST_AMQP_URL.rsplit("/", 1)[-1]
    if rabbitmqctl is None or not vhost:
        return  # a broker elsewhere: its test vhost is the operator's to keep clean
    ctl = [rabbitmqctl, "-q"]
    subprocess.run([*ctl, "delete_vhost", vhost], capture_output=True, check=False)  # noqa: S603
    # Another session may be doing the same at this moment: make sure the vhost and its permission
    # exist afterwards, whoever made them.
    for _ in range(5):
        subprocess.run([*ctl, "add_vhost", vhost], capture_output=True, check=False)  # noqa: S603
        granted = subprocess.run(  # noqa: S603
            [*ctl, "set_permissions", "-p", vhost, "guest", ".*", ".*", ".*"],
            capture_output=True,
            check=False,
        )
        if granted.returncode == 0:
            return
    raise RuntimeError(f"could not make the RabbitMQ vhost {vhost} for the tests")


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption(
        "--proof",
        action="store_true",
        help="run the long proofs (tests marked `proof`; `make proof-faults`, `make proof-attack`)",
    )


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """The long proofs stay out of `make test` (CI's half hour); their make targets run them."""
    if config.getoption("--proof"):
        return
    skip = pytest.mark.skip(reason="a long proof: `make proof-faults` / `make proof-attack` run it")
    for item in items:
        if item.get_closest_marker("proof") is not None:
            item.add_marker(skip)
