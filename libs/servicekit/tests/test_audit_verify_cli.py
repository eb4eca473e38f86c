"""AU-01: `python -m servicekit.audit verify` on a service's migrated database (the revision that chains
the trail, the sealer, the command's JSON and exit code)."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Iterator
from datetime import UTC, datetime

import psycopg
import pytest
from sqlalchemy.engine import make_url

from servicekit.audit import main
from servicekit.clock import FixedClock
from servicekit.migrate import drop_test_database, migrate
from servicekit.runtime import Runtime
from servicekit.service import load_spec
from servicekit.settings import ServiceSettings
from servicekit.uow import Actor

pytestmark = pytest.mark.integration

SERVICE = "violation"
NOW = datetime(2027, 3, 1, 9, 30, tzinfo=UTC)


@pytest.fixture
def private_database(monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    """A database of the service's schema for this test alone (its audit trail gets tampered with), which
    the settings, and so the command, read from the environment."""
    url = make_url(load_spec(SERVICE).settings().database.url)
    # Named *_test, the only databases drop_test_database drops.
    database = str(url.database).removesuffix("_test") + "_audit_cli_test"
    private = url.set(database=database).render_as_string(hide_password=False)
    monkeypatch.setenv(ServiceSettings.env_prefix_for(SERVICE) + "DATABASE__URL", private)
    drop_test_database(SERVICE, private)
    migrate(SERVICE, private)
    yield private
    drop_test_database(SERVICE, private)


async def _write(n: int) -> None:
    spec = load_spec(SERVICE)
    runtime = Runtime.open(spec.settings(), spec.metadata, clock=FixedClock(NOW))
    try:
        for i in range(n):
            async with runtime.uow() as uow:
                uow.audit(Actor(id="J0001", role="clerk.review"), "decision.issue", f"decision/{i}")
                await uow.commit()
    finally:
        await runtime.aclose()


def _last_line(capsys: pytest.CaptureFixture[str]) -> dict[str, object]:
    lines = capsys.readouterr().out.strip().splitlines()
    figures = json.loads(lines[-1])
    assert isinstance(figures, dict)
    return {"report": json.loads(lines[0]), **figures}


def test_au01_verify_command_finds_an_altered_row_in_a_service_database(
    capsys: pytest.CaptureFixture[str], private_database: str
) -> None:
    asyncio.run(_write(4))
    capsys.readouterr()
    assert main(["verify", "--service", SERVICE, "--seal-first"]) == 0
    out = _last_line(capsys)
    assert (out["entries"], out["findings"], out["intact"]) == (4, 0, True)

    url = make_url(private_database).set(drivername="postgresql")
    with psycopg.connect(url.render_as_string(False)) as conn:  # the owner, trigger off for the change
        conn.execute("ALTER TABLE audit_log DISABLE TRIGGER audit_log_guard")
        conn.execute("UPDATE audit_log SET target = 'decision/x' WHERE seq = 2")
        conn.execute("ALTER TABLE audit_log ENABLE TRIGGER audit_log_guard")
    assert main(["verify", "--service", SERVICE]) == 1
    out = _last_line(capsys)
    assert out["intact"] is False
    report = out["report"]
    assert isinstance(report, dict)
    assert report["findings"] == [
        {"kind": "altered", "detail": report["findings"][0]["detail"], "seq": 2, "id": 2}
    ]
