"""Test-wide environment: every service reads its settings for the `test` environment, so the tests use
the `<service>_test` databases, their own Redis db and their own RabbitMQ vhost, beside (never over) a
developer's `make run`."""

import os

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
    """A test database left at a revision this checkout does not know is dropped and made anew."""
    from servicekit.migrate import reset_if_revision_unknown

    for name in SERVICE_NAMES:
        reset_if_revision_unknown(name)
