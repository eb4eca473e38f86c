"""AU-01 (ADR 0090): the auditor walks every authenticated operation of every service (the operations the
gateway routes, read from the apps as the authorization matrix reads them): 403 everywhere but the audit
trail and its own sign-in and account. In-process, each service's app on its migrated test database."""

from __future__ import annotations

import asyncio
import importlib

import pytest

from servicekit.migrate import migrate
from servicekit.service import SERVICE_NAMES, load_spec
from servicekit.testing import TokenFactory, service_client
from servicekit.vocabulary import AUDITOR
from servicekit.web.auth import auditor_may
from tests.proof.attack.authz_routes import Operation, operations, placeholder

pytestmark = pytest.mark.integration


def filled(op: Operation) -> str:
    path = op.path
    for name, annotation in op.param_types:
        path = path.replace("{" + name + "}", placeholder(annotation), 1)
    return path


async def walk(service: str, ops: list[Operation], tokens: TokenFactory) -> list[str]:
    app = importlib.import_module(f"{load_spec(service).package}.main").create_app()
    app.state.verifier = tokens.verifier()
    token = tokens.mint("S130100008", kind="staff", channel="counter", roles=(AUDITOR,), office="130100")
    headers = tokens.headers(token)
    wrong: list[str] = []
    async with service_client(app) as client:
        for op in ops:
            body = {} if op.method in ("POST", "PUT", "PATCH") else None
            r = await client.request(op.method, filled(op), headers=headers, json=body)
            may = auditor_may(op.method, op.path)
            if (r.status_code == 403) == may:
                wrong.append(f"{op.name}: {r.status_code} {r.text[:120]}")
    return wrong


def test_au01_the_auditor_is_refused_on_every_other_operation_of_every_service() -> None:
    tokens = TokenFactory()
    by_service: dict[str, list[Operation]] = {}
    for op in operations():
        if op.authenticated:
            by_service.setdefault(op.service, []).append(op)
    assert set(by_service) == set(SERVICE_NAMES)
    trail = [op.name for op in operations() if op.path.startswith("/api/v1/audit/")]
    assert len(trail) == 2 * len(SERVICE_NAMES)  # search and export, in every service
    wrong: list[str] = []
    for service, ops in by_service.items():
        migrate(service)
        wrong += asyncio.run(walk(service, ops, tokens))
    walked = sum(len(ops) for ops in by_service.values())
    assert not wrong, (
        f"{len(wrong)} of {walked} operations answered the auditor other than due:\n" + "\n".join(wrong)
    )
