"""Test-wide environment: every service reads its settings for the `test` environment, so the tests use
the `<service>_test` databases, their own Redis db and their own RabbitMQ vhost, beside (never over) a
developer's `make run`."""

import os
import shutil
import subprocess

from servicekit.service import SERVICE_NAMES
from servicekit.settings import ServiceSettings

# The broker's `tms-test` vhost is made by scripts/bootstrap_infra.py (`make test` runs it first).
TEST_AMQP_URL = os.environ.setdefault("TMS_TEST_AMQP_URL", "amqp://guest:guest@127.0.0.1:5672/tms-test")

os.environ["TMS_ENV"] = "test"
for _name in (*SERVICE_NAMES, "gateway"):
    _prefix = ServiceSettings.env_prefix_for(_name)
    os.environ.setdefault(_prefix + "REDIS__URL", "redis://127.0.0.1:6379/15")
    os.environ.setdefault(_prefix + "BROKER__URL", TEST_AMQP_URL)


def pytest_sessionstart(session: object) -> None:
    """Every session starts from an empty test environment: each service's test database is dropped (its
    suite migrates it again) and the broker's test vhost is made anew, so nothing left by an earlier run
    (queued events, outbox rows, a revision of another branch) can change this one."""
    from servicekit.migrate import drop_test_database

    for name in SERVICE_NAMES:
        drop_test_database(name)
    _reset_test_vhost()


def _reset_test_vhost() -> None:
    rabbitmqctl = shutil.which("rabbitmqctl")
    vhost = TEST_AMQP_URL.rsplit("/", 1)[-1]
    if rabbitmqctl is None or not vhost:
        return  # a broker elsewhere: its test vhost is the operator's to keep clean
    in_use = subprocess.run(  # noqa: S603 - the local rabbitmqctl, our own arguments
        [rabbitmqctl, "-q", "list_connections", "vhost"], capture_output=True, text=True, check=False
    ).stdout.split()
    if vhost in in_use:
        return  # another test session is connected: leave the vhost to it
    for args in (
        ["delete_vhost", vhost],
        ["add_vhost", vhost],
        ["set_permissions", "-p", vhost, "guest", ".*", ".*", ".*"],
    ):
        subprocess.run(  # noqa: S603 - the local rabbitmqctl, our own arguments
            [rabbitmqctl, "-q", *args], check=args[0] != "delete_vhost", capture_output=True
        )
