"""records.py, the one way a licence record changes (DL-01, DL-13): every change writes the row, publishes
the record as it now is and leaves an audit entry (AU-01), in the caller's unit of work."""

from __future__ import annotations

import asyncio
import dataclasses

import pytest
from sqlalchemy import text

from license_service import domain, records
from license_service.domain import RECORD_MOVES
from servicekit.refusal import Refusal
from servicekit.runtime import Runtime
from servicekit.testing import new_phone
from servicekit.uow import Actor

from .conftest import audits_about, events_about
from .factories import facts

pytestmark = pytest.mark.integration

POLICE = Actor(id="police-system-1", role="system")


async def _issued(runtime: Runtime) -> dict[str, object]:
    async with runtime.uow() as uow:
        row = await records.issue(uow, POLICE, facts(), "police_system")
        await uow.commit()
    return dict(row)


async def test_dl01_issue_writes_the_record_its_event_and_its_audit_entry(runtime: Runtime) -> None:
    stated = facts(classes=["C1", "A2", "D"])
    async with runtime.uow() as uow:
        row = await records.issue(uow, POLICE, stated, "police_system")
        await uow.commit()
    assert (row["state"], row["points"], row["version"]) == ("valid", 0, 1)
    assert row["classes"] == ["A2", "C1", "D"]
    assert row["phone_changed_at"] is not None  # the police system's phone, as of the issue
    (issued,) = await events_about(runtime, str(row["id"]))
    assert issued[0] == "license.record.issued.v1"
    assert issued[1]["number"] == stated.number
    assert (issued[1]["source"], issued[1]["state"], issued[1]["version"]) == ("police_system", "valid", 1)
    (audit,) = await audits_about(runtime, f"licence:{row['id']}")
    assert (audit["actor"], audit["action"], audit["before"]) == (
        POLICE.id,
        "licence.issued.police_system",
        None,
    )
    assert audit["after"]["number"] == stated.number


@pytest.mark.parametrize(("state", "action"), sorted(RECORD_MOVES))
async def test_dl01_move_follows_the_state_table(runtime: Runtime, state: str, action: str) -> None:
    """Every move of domain.RECORD_MOVES lands in its target state, published and audited with its reason."""
    row = await _issued(runtime)
    path = {
        "valid": [],
        "full_points": ["reach_full_points"],
        "suspended": ["suspend"],
        "revoked": ["revoke"],
    }
    async with runtime.uow() as uow:
        current = await records.load(uow, row["id"], lock=True)  # type: ignore[arg-type]
        assert current is not None
        for step in path[state]:
            current = await records.move(uow, POLICE, current, step, "setting up")  # type: ignore[arg-type]
        after = await records.move(uow, POLICE, current, action, "按规定办理")  # type: ignore[arg-type]
        await uow.commit()
    assert after["state"] == RECORD_MOVES[(state, action)]  # type: ignore[index]
    assert after["version"] == 2 + len(path[state])
    kind, last = (await events_about(runtime, str(row["id"])))[-1]
    assert (kind, last["change"], last["state"], last["reason"]) == (
        "license.record.changed.v1",
        "state",
        after["state"],
        "按规定办理",
    )
    audit = (await audits_about(runtime, f"licence:{row['id']}"))[-1]
    assert (audit["action"], audit["before"], audit["after"]) == (
        f"licence.{action}",
        {"state": state},
        {"state": after["state"]},
    )


async def test_dl13_a_cancelled_licence_moves_no_further(runtime: Runtime) -> None:
    row = await _issued(runtime)
    async with runtime.uow() as uow:
        current = await records.load(uow, row["id"], lock=True)  # type: ignore[arg-type]
        assert current is not None
        cancelled = await records.move(uow, POLICE, current, "cancel", "本人申请注销")
        await uow.commit()
    for action in ("restore", "suspend", "revoke", "cancel", "reach_full_points"):
        async with runtime.uow() as uow:
            with pytest.raises(domain.WrongRecordState) as refused:
                await records.move(uow, POLICE, cancelled, action, None)  # type: ignore[arg-type]
        assert (refused.value.code, refused.value.rule, refused.value.extra["state"]) == (
            "LICENCE_STATE_DOES_NOT_ALLOW",
            "DL-01",
            "cancelled",
        )
    assert len(await events_about(runtime, str(row["id"]))) == 2  # issued, cancelled: nothing else


async def _until_someone_waits_on_a_lock(runtime: Runtime) -> None:
    for _ in range(500):
        # A transaction of its own each time: pg_stat_activity is a snapshot kept for the transaction.
        async with runtime.engine.connect() as conn:
            waiting = await conn.scalar(
                text(
                    "SELECT count(*) FROM pg_stat_activity "
                    "WHERE datname = current_database() AND wait_event_type = 'Lock'"
                )
            )
        if waiting:
            return
        await asyncio.sleep(0.01)
    raise AssertionError("the second move never waited on the row lock")


async def test_dl01_a_stale_concurrent_move_is_refused_under_the_row_lock(runtime: Runtime) -> None:
    """Two police systems at once: one cancels, the other suspends. The second waits on the row lock, then
    reads the cancelled record and is refused by the table; nothing of it is written or published."""
    row = await _issued(runtime)
    first_holds_the_lock = asyncio.Event()

    async def cancel() -> None:
        async with runtime.uow() as uow:
            current = await records.load(uow, row["id"], lock=True)  # type: ignore[arg-type]
            assert current is not None
            first_holds_the_lock.set()
            await _until_someone_waits_on_a_lock(runtime)  # the other read nothing yet: it waits
            await records.move(uow, POLICE, current, "cancel", "死亡注销")
            await uow.commit()

    async def suspend() -> str:
        await first_holds_the_lock.wait()
        async with runtime.uow() as uow:
            current = await records.load(uow, row["id"], lock=True)  # type: ignore[arg-type]
            assert current is not None
            try:
                await records.move(uow, POLICE, current, "suspend", "暂扣")
            except Refusal as exc:
                return exc.code
            await uow.commit()
            return "moved"

    _, outcome = await asyncio.gather(cancel(), suspend())
    assert outcome == "LICENCE_STATE_DOES_NOT_ALLOW"
    async with runtime.uow() as uow:
        final = await records.load(uow, row["id"])  # type: ignore[arg-type]
    assert final is not None
    assert (final["state"], final["version"]) == ("cancelled", 2)
    changed = [p for t, p in await events_about(runtime, str(row["id"])) if t == "license.record.changed.v1"]
    assert [p["state"] for p in changed] == ["cancelled"]


async def test_dl01_corrected_facts_are_published_and_audited_and_the_same_facts_change_nothing(
    runtime: Runtime,
) -> None:
    row = await _issued(runtime)
    async with runtime.uow() as uow:
        current = await records.load(uow, row["id"], lock=True)  # type: ignore[arg-type]
        assert current is not None
        stated = facts(number=current["number"], classes=["C1", "D"], phone=new_phone())
        stated = dataclasses.replace(stated, file_number=current["file_number"])
        after = await records.update_facts(uow, POLICE, current, stated)
        again = await records.update_facts(uow, POLICE, after, stated)
        await uow.commit()
    assert again is after
    assert (after["classes"], after["phone"], after["version"]) == (["C1", "D"], stated.phone, 2)
    assert after["phone_changed_at"] is not None
    kinds = [(t, p.get("change")) for t, p in await events_about(runtime, str(row["id"]))]
    assert kinds == [("license.record.issued.v1", None), ("license.record.changed.v1", "details")]
    audit = (await audits_about(runtime, f"licence:{row['id']}"))[-1]
    assert audit["action"] == "licence.details_updated"
    assert audit["after"]["classes"] == ["C1", "D"]
    assert audit["before"]["classes"] == ["C1"]
