"""AU-01: every change is written to the audit trail in the same transaction as the change itself."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from sqlalchemy import select

from servicekit.clock import FixedClock
from servicekit.runtime import Runtime
from servicekit.uow import Actor

from .messaging_kit import create_tables, demo_metadata, demo_settings

pytestmark = pytest.mark.integration

NOW = datetime(2027, 3, 1, 9, 30, tzinfo=UTC)


async def test_au01_change_is_audited_with_who_what_when_where_and_before_after(
    pg_database: str, amqp_url: str
) -> None:
    metadata = demo_metadata()
    create_tables(pg_database, metadata)
    runtime = Runtime.open(demo_settings(pg_database, amqp_url), metadata, clock=FixedClock(NOW))
    clerk = Actor(id="J0001", role="clerk.review", source_ip="10.1.2.3", request_id="req-1")
    try:
        async with runtime.uow() as uow:
            uow.audit(
                clerk, "registration.approve", "registration/42", {"state": "review"}, {"state": "approved"}
            )
            await uow.commit()
        async with runtime.engine.connect() as conn:
            row = (await conn.execute(select(metadata.tables["audit_log"]))).one()
        assert (row.actor, row.role, row.action, row.target) == (
            "J0001",
            "clerk.review",
            "registration.approve",
            "registration/42",
        )
        assert str(row.source_ip) == "10.1.2.3"
        assert row.request_id == "req-1"
        assert row.at == NOW  # the platform clock, not the database's
        assert (row.before, row.after) == ({"state": "review"}, {"state": "approved"})
    finally:
        await runtime.aclose()


async def test_au01_rolled_back_change_leaves_no_audit_entry(pg_database: str, amqp_url: str) -> None:
    metadata = demo_metadata()
    create_tables(pg_database, metadata)
    runtime = Runtime.open(demo_settings(pg_database, amqp_url), metadata, clock=FixedClock(NOW))
    try:
        async with runtime.uow() as uow:
            uow.audit(Actor(id="u1", role="citizen"), "vehicle.bind", "vehicle/1")
            # no commit: the change did not happen, so neither did its audit entry
        async with runtime.engine.connect() as conn:
            assert (await conn.execute(select(metadata.tables["audit_log"]))).all() == []
    finally:
        await runtime.aclose()


async def test_a_unit_of_work_knows_the_runtime_that_opened_it(pg_database: str, amqp_url: str) -> None:
    """A message handler reaches its worker's resources (its Redis client) through `uow.runtime`."""
    from servicekit.uow import UnitOfWork

    metadata = demo_metadata()
    create_tables(pg_database, metadata)
    runtime = Runtime.open(demo_settings(pg_database, amqp_url), metadata, clock=FixedClock(NOW))
    try:
        async with runtime.uow() as uow:
            assert uow.runtime is runtime
            assert uow.runtime.redis is runtime.redis
        with pytest.raises(RuntimeError):
            _ = UnitOfWork(runtime.sessions, metadata, runtime.clock).runtime
    finally:
        await runtime.aclose()
