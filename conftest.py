"""Test-wide environment: every service reads its settings for the `test` environment, so the tests use
the `<service>_test` databases and their own Redis db, beside (never over) a developer's `make run`."""

import os

from servicekit.service import SERVICE_NAMES
from servicekit.settings import ServiceSettings

os.environ["TMS_ENV"] = "test"
for _name in (*SERVICE_NAMES, "gateway"):
    os.environ.setdefault(ServiceSettings.env_prefix_for(_name) + "REDIS__URL", "redis://127.0.0.1:6379/15")
