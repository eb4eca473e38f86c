#!/usr/bin/env python3
"""Scaffold a new service in the shape every service follows (docs/adding-a-service.md).

    python3 scripts/new_service.py <name> --port <port> --summary "<what it owns>"

Writes services/<name>/ with its package, settings, app and worker entry points, Alembic with the kit
tables, an empty router, and a README. It never overwrites an existing file. Stdlib only.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def files(name: str, port: int, summary: str) -> dict[str, str]:
    pkg = name.replace("-", "_") + "_service"
    camel = "".join(part.capitalize() for part in name.split("-"))
    return {
        "pyproject.toml": f'''[project]
name = "{name}-service"
version = "0.1.0"
description = "{summary}"
requires-python = ">=3.11,<3.12"
dependencies = ["servicekit"]

[tool.uv.sources]
servicekit = {{ workspace = true }}

[build-system]
requires = ["hatchling"]
build-backend = "hatchling.build"

[tool.hatch.build.targets.wheel]
packages = ["src/{pkg}"]
''',
        "alembic.ini": f"""[alembic]
# servicekit.migrate sets script_location and the URL; see migrations/env.py.
script_location = %(here)s/migrations
file_template = %%(rev)s_%%(slug)s

[loggers]
keys = root

[handlers]
keys = console

[formatters]
keys = generic

[logger_root]
level = WARNING
handlers = console

[handler_console]
class = StreamHandler
args = (sys.stderr,)
formatter = generic

[formatter_generic]
format = {name} migrate %(levelname)s %(message)s
""",
        "migrations/env.py": f"""from servicekit.migrations import run_env

from {pkg}.service import SPEC

run_env(SPEC)
""",
        "migrations/script.py.mako": '''"""${message}

Revision ID: ${up_revision}
Revises: ${down_revision | comma,n}
"""

from alembic import op
import sqlalchemy as sa
${imports if imports else ""}

revision = ${repr(up_revision)}
down_revision = ${repr(down_revision)}
branch_labels = None
depends_on = None


def upgrade() -> None:
    ${upgrades if upgrades else "pass"}


def downgrade() -> None:
    ${downgrades if downgrades else "pass"}
''',
        "migrations/versions/0001_kit_tables.py": '''"""The kit tables every service has: outbox, inbox, audit_log.

Revision ID: 0001
"""

from alembic import op

from servicekit.migrations import create_kit_tables, drop_kit_tables

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    create_kit_tables(op)


def downgrade() -> None:
    drop_kit_tables(op)
''',
        "migrations/versions/0002_audit_chain.py": '''"""The audit trail chained by SM3 (AU-01, ADR 0089).

Revision ID: 0002
Revises: 0001
"""

from alembic import op

from servicekit.migrations import create_audit_chain, drop_audit_chain

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    create_audit_chain(op)


def downgrade() -> None:
    drop_audit_chain(op)
''',
        "migrations/versions/0003_sealed_kit_tables.py": '''"""The outbox payload and the audit entries' before/after sealed (SM4-GCM, ADR 0095).

Revision ID: 0003
Revises: 0002
"""

from alembic import op

from servicekit.migrations import seal_kit_tables, unseal_kit_tables

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    seal_kit_tables(op)


def downgrade() -> None:
    unseal_kit_tables(op)
''',
        f"src/{pkg}/__init__.py": f'"""The {name} service: {summary}"""\n',
        f"src/{pkg}/py.typed": "",
        f"src/{pkg}/settings.py": f'''from typing import ClassVar

from servicekit.settings import ServiceSettings, settings_config


class {camel}Settings(ServiceSettings):
    service_name: ClassVar[str] = "{name}"
    model_config = settings_config("{name}")

    http_port: int = {port}
''',
        f"src/{pkg}/tables.py": f'''"""Tables of the {name} database (outbox, inbox and audit_log come from servicekit)."""

from servicekit.db import new_metadata

metadata = new_metadata()
''',
        f"src/{pkg}/domain.py": f'''"""The {name} rules: pure functions and aggregates, no I/O; each rule's ID in its docstring."""
''',
        f"src/{pkg}/published.py": f'''"""The messages the {name} service owns: its events, and the commands addressed to it."""

from servicekit.messages import Message

PUBLISHED: list[type[Message]] = []
''',
        f"src/{pkg}/subscriptions.py": f'''"""The messages the {name} service consumes: a local tolerant model, a handler and a queue each."""

from servicekit.consumer import Subscription

SUBSCRIPTIONS: list[Subscription] = []
''',
        f"src/{pkg}/api.py": f'''"""The {name} service's HTTP API, mounted under /api/v1."""

from fastapi import APIRouter

router = APIRouter(prefix="/api/v1")
''',
        f"src/{pkg}/service.py": f'''from servicekit.service import ServiceSpec

from {pkg}.published import PUBLISHED
from {pkg}.settings import {camel}Settings
from {pkg}.subscriptions import SUBSCRIPTIONS
from {pkg}.tables import metadata

SPEC = ServiceSpec(
    name="{name}",
    summary="{summary}",
    settings_cls={camel}Settings,
    metadata=metadata,
    published=PUBLISHED,
    subscriptions=SUBSCRIPTIONS,
)
''',
        f"src/{pkg}/main.py": f'''"""The api process: `uvicorn --factory {pkg}.main:create_app`."""

from fastapi import FastAPI
from servicekit.runtime import Runtime
from servicekit.web import create_service_app

from {pkg}.api import router
from {pkg}.service import SPEC


def create_app() -> FastAPI:
    settings = SPEC.settings()
    return create_service_app(
        settings,
        title="{name}",
        routers=[router],
        runtime_factory=lambda: Runtime.open(settings, SPEC.metadata),
    )
''',
        f"src/{pkg}/worker.py": f'''"""The worker process: `python -m {pkg}.worker` (outbox relay, consumers, sweeps)."""

from servicekit.worker import main

from {pkg}.service import SPEC

if __name__ == "__main__":
    main(SPEC)
''',
        # No __init__.py under tests/: pytest's importlib mode names each service's test modules by path,
        # so conftest modules of different services never collide.
        "tests/unit/.gitkeep": "",
        "README.md": f"""# {name}

{summary}

## Owns
- Its PostgreSQL database `{name.replace("-", "_")}` (tables in `src/{pkg}/tables.py`, migrations in `migrations/`).

## HTTP API
Mounted under `/api/v1` (see `src/{pkg}/api.py`); OpenAPI at `/openapi.json`, merged by the gateway.
`GET /healthz`, `GET /readyz`. Port {port} in `make run`.

## Publishes
See `contracts/asyncapi.yaml` (generated by `make contracts`).

## Consumes
See `contracts/asyncapi.yaml`.
""",
    }


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("name")
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--summary", required=True)
    args = parser.parse_args()
    root = ROOT / "services" / args.name
    for relative, content in files(args.name, args.port, args.summary).items():
        path = root / relative
        if path.exists():
            print(f"kept     {path.relative_to(ROOT)}")
            continue
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(content, encoding="utf-8")
        print(f"created  {path.relative_to(ROOT)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
