"""DL-12 points (ADR 0053): penalty decisions counted on the licence, their revocation, the cycle's
roll-over, the full-points flag, and what the holder sees. The domain decides (`domain.points_standing`,
`domain.points_move`); every change of the record goes through `records.change` / `records.move`, which
publish it as `license.record.changed.v1`.

Locks: a decision names the licence by its number, and the record may not exist yet. Whoever touches the
entries of a number first takes a transaction-scoped advisory lock on it (`records.lock_number`): the consumer
before it looks the record up, `records.issue` before it inserts one. So a decision and the record's issue
that happen at once are serialised: the decision is either attached by the issue or finds the record.
Then the record's row lock (`FOR UPDATE`) serialises two decisions for one licence: the second counts on
top of the first.
"""

from __future__ import annotations

import logging
import uuid
from dataclasses import dataclass
from datetime import date, datetime, time
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.engine import RowMapping

from license_service import domain, licences, records
from license_service.tables import licence_records, point_entries
from servicekit.clock import SHANGHAI
from servicekit.crypto import blind_match
from servicekit.masking import mask_id_number
from servicekit.runtime import Runtime
from servicekit.uow import SYSTEM_ACTOR, Actor, UnitOfWork
from servicekit.web import Principal

log = logging.getLogger(__name__)

ROLL_OVER_BATCH = 500


@dataclass(frozen=True)
class Decision:
    """A penalty decision (处罚决定书) as license keeps it, from violation's decision events."""

    decision_id: str
    decision_number: str | None
    violation_id: str
    number: str  # the handling driver's identity number, which is the licence number
    plate_number: str | None
    violation_code: str
    violated_at: datetime
    place: str | None
    points: int
    fine_fen: int
    decided_at: datetime

    def columns(self) -> dict[str, Any]:
        return {
            "decision_id": self.decision_id,
            "decision_number": self.decision_number,
            "violation_id": self.violation_id,
            "number": self.number,
            "plate_number": self.plate_number,
            "violation_code": self.violation_code,
            "violated_at": self.violated_at,
            "place": self.place,
            "points": self.points,
            "fine_fen": self.fine_fen,
            "decided_at": self.decided_at,
        }


def today_of(uow: UnitOfWork) -> date:
    return uow.now.astimezone(SHANGHAI).date()


def _day(moment: datetime) -> date:
    return moment.astimezone(SHANGHAI).date()


def _midnight(day: date) -> datetime:
    return datetime.combine(day, time(), SHANGHAI)


async def _counted(uow: UnitOfWork, record_id: uuid.UUID) -> list[RowMapping]:
    """The entries that count: attached to the record, neither revoked nor cleared."""
    rows = await uow.session.execute(
        select(point_entries.c.id, point_entries.c.decided_at, point_entries.c.points).where(
            point_entries.c.record_id == record_id,
            point_entries.c.revoked_at.is_(None),
            point_entries.c.cleared_at.is_(None),
        )
    )
    return list(rows.mappings())


async def reached_full_points_since(uow: UnitOfWork, record: RowMapping, since: date) -> bool:
    """DL-07's ladder asks it of a term: did a scoring cycle of the term (one ending after `since`) reach
    12 points (DL-12)? Entries cleared by the full-points study still count (the cycle did reach 12);
    revoked ones (撤销) do not."""
    rows = await uow.session.execute(
        select(point_entries.c.decided_at, point_entries.c.points).where(
            point_entries.c.record_id == record["id"], point_entries.c.revoked_at.is_(None)
        )
    )
    full = domain.full_cycles(record["first_issue"], [_entry(r) for r in rows.mappings()])
    return any(end > since for _start, end in full)


def _entry(row: RowMapping) -> domain.PointEntry:
    return domain.PointEntry(decided_on=_day(row["decided_at"]), points=row["points"])


async def settle(
    uow: UnitOfWork, actor: Actor, row: RowMapping, action: str, reason: str | None
) -> RowMapping:
    """DL-12: write the current cycle's total on the record and move its state to agree with the points
    (reach or clear 满分). The caller holds the record's row lock. Writes nothing when nothing differs,
    so running it twice is running it once."""
    counted = [_entry(e) for e in await _counted(uow, row["id"])]
    standing = domain.points_standing(row["first_issue"], counted, today_of(uow))
    if (row["points"], row["points_review_on"]) != (standing.total, standing.review_on):
        row = await records.change(
            uow,
            actor,
            row,
            "points",
            action,
            reason,
            points=standing.total,
            points_review_on=standing.review_on,
        )
    move = domain.points_move(row["state"], standing.full)
    if move is not None:
        row = await records.move(uow, actor, row, move, reason)
    return row


async def record_decision(uow: UnitOfWork, decision: Decision) -> RowMapping | None:
    """DL-12 / VI-03: a penalty decision's points go to the handling driver's licence, once per decision
    (a repeat finds its `decision_id` and adds nothing). Without a record for the number the entry is kept
    and attached when the record is issued. A decision without points changes nothing."""
    if decision.points == 0:
        return None
    await records.lock_number(uow, decision.number)
    row = await records.load_by_number(uow, decision.number, lock=True)
    added = (
        await uow.session.execute(
            insert(point_entries)
            .values(
                id=uuid.uuid4(),
                **decision.columns(),
                record_id=None if row is None else row["id"],
                received_at=uow.now,
            )
            .on_conflict_do_nothing(index_elements=[point_entries.c.decision_id])
            .returning(point_entries.c.id)
        )
    ).first()
    if added is None:
        log.info("DL-12: decision %s is already recorded (or was revoked first)", decision.decision_id)
        return row
    if row is None:
        log.warning(
            "DL-12: decision %s for %s: no licence record with that number yet; kept until one is issued",
            decision.decision_id,
            mask_id_number(decision.number),
        )
        return None
    uow.audit(
        SYSTEM_ACTOR,
        "licence.points_recorded",
        f"licence:{row['id']}",
        None,
        {
            "decision_id": decision.decision_id,
            "points": decision.points,
            "decided_at": decision.decided_at.isoformat(),
        },
    )
    return await settle(uow, SYSTEM_ACTOR, row, "licence.points_recorded", _why(decision))


async def revoke_decision(
    uow: UnitOfWork, decision: Decision, ground: str, revoked_at: datetime
) -> RowMapping | None:
    """DL-12: a revoked decision's points come off the licence (相应记分应当撤销), and a licence flagged only
    because of them is cleared. A revocation that arrives before its decision leaves the entry revoked, so
    the decision, when it comes, adds nothing."""
    await records.lock_number(uow, decision.number)
    row = await records.load_by_number(uow, decision.number, lock=True)
    entry = (
        (
            await uow.session.execute(
                select(point_entries)
                .where(point_entries.c.decision_id == decision.decision_id)
                .with_for_update()
            )
        )
        .mappings()
        .first()
    )
    if entry is None:
        if decision.points == 0:
            return row
        await uow.session.execute(
            insert(point_entries)
            .values(
                id=uuid.uuid4(),
                **decision.columns(),
                record_id=None if row is None else row["id"],
                received_at=uow.now,
                revoked_at=revoked_at,
                revoke_ground=ground,
            )
            .on_conflict_do_nothing(index_elements=[point_entries.c.decision_id])
        )
        return row
    if entry["revoked_at"] is not None:
        return row
    await uow.session.execute(
        update(point_entries)
        .where(point_entries.c.id == entry["id"])
        .values(revoked_at=revoked_at, revoke_ground=ground)
    )
    if entry["record_id"] is None:
        return None  # still waiting for its record: nothing was counted
    if row is None or row["id"] != entry["record_id"]:
        row = await records.load(uow, entry["record_id"], lock=True)
        assert row is not None  # the foreign key keeps it
    uow.audit(
        SYSTEM_ACTOR,
        "licence.points_revoked",
        f"licence:{row['id']}",
        {"decision_id": decision.decision_id, "points": entry["points"]},
        {"decision_id": decision.decision_id, "revoked_at": revoked_at.isoformat(), "ground": ground},
    )
    return await settle(uow, SYSTEM_ACTOR, row, "licence.points_revoked", f"{_why(decision)} 已撤销")


async def adopt_waiting(uow: UnitOfWork, row: RowMapping) -> RowMapping:
    """DL-12: a record just issued takes the decisions that arrived for its number before it. Called by
    `records.issue` in its unit of work, after the insert."""
    await records.lock_number(uow, row["number"])
    adopted = (
        await uow.session.execute(
            update(point_entries)
            .where(blind_match(point_entries.c.number, row["number"]), point_entries.c.record_id.is_(None))
            .values(record_id=row["id"])
            .returning(point_entries.c.decision_id)
        )
    ).all()
    if not adopted:
        return row
    uow.audit(
        SYSTEM_ACTOR,
        "licence.points_adopted",
        f"licence:{row['id']}",
        None,
        {"decision_ids": sorted(decision_id for (decision_id,) in adopted)},
    )
    return await settle(uow, SYSTEM_ACTOR, row, "licence.points_recorded", "驾驶证记录建立前已作出的处罚决定")


async def clear_full_points(
    uow: UnitOfWork, actor: Actor, record_id: uuid.UUID, reason: str
) -> CycleView | None:
    """DL-12: the full-points study and exam (满分学习考试) were passed: the points of every cycle at 12 or
    more are cleared and the flag with them. The study and exam themselves are another system's; it
    reports the outcome here. Answers the current cycle as it now is; None when there is no such record."""
    row = await records.load(uow, record_id, lock=True)
    if row is None:
        return None
    domain.check_clear_full_points(row["state"])
    counted = await _counted(uow, row["id"])
    full = domain.full_cycles(row["first_issue"], [_entry(e) for e in counted])
    cleared = [
        e["id"] for e in counted if domain.points_cycle(row["first_issue"], _day(e["decided_at"])) in full
    ]
    if cleared:
        await uow.session.execute(
            update(point_entries).where(point_entries.c.id.in_(cleared)).values(cleared_at=uow.now)
        )
    uow.audit(actor, "licence.points_cleared", f"licence:{row['id']}", None, {"entries": len(cleared)})
    row = await settle(uow, actor, row, "licence.points_cleared", reason)
    return await cycle_view(uow, row)


async def roll_over(runtime: Runtime) -> int:
    """DL-12 sweep: when a cycle ends, the record's `points` becomes the new cycle's total (a cycle under
    12 is cleared by ending; a full one keeps the flag). Picks the records whose `points_review_on` has
    come, skipping rows another transaction holds; each settled record gets its next review day, so a
    second run, or a second replica, finds nothing to do."""
    done = 0
    while True:
        async with runtime.uow() as uow:
            due = (
                await uow.session.execute(
                    select(licence_records.c.id)
                    .where(licence_records.c.points_review_on <= today_of(uow))
                    .order_by(licence_records.c.points_review_on)
                    .limit(ROLL_OVER_BATCH)
                    .with_for_update(skip_locked=True)
                )
            ).all()
            for (record_id,) in due:
                row = await records.load(uow, record_id)
                assert row is not None
                await settle(uow, SYSTEM_ACTOR, row, "licence.points_cycle_ended", "记分周期届满")
            await uow.commit()
        done += len(due)
        if len(due) < ROLL_OVER_BATCH:
            return done


# --- what the holder and the clerks see ------------------------------------------------------------


@dataclass(frozen=True)
class CycleView:
    record: RowMapping
    cycle: domain.Cycle
    total: int
    entries: list[RowMapping]


def entry_status(entry: RowMapping) -> str:
    if entry["revoked_at"] is not None:
        return "revoked"
    if entry["cleared_at"] is not None:
        return "cleared"
    return "counted"


async def cycle_view(uow: UnitOfWork, row: RowMapping, on: date | None = None) -> CycleView:
    """DL-12: the cycle that contains `on` (today by default), its total and its entries (revoked and
    cleared ones too, marked). Computed from the entries, so it is right on the first day of a cycle even
    before the roll-over sweep has written the record's `points`."""
    cycle = domain.points_cycle(row["first_issue"], on or today_of(uow))
    within = [point_entries.c.record_id == row["id"], point_entries.c.decided_at < _midnight(cycle[1])]
    if cycle[0] != row["first_issue"]:  # a decision dated before the first issue is in the first cycle
        within.append(point_entries.c.decided_at >= _midnight(cycle[0]))
    query = (
        select(point_entries).where(*within).order_by(point_entries.c.decided_at, point_entries.c.decision_id)
    )
    entries = list((await uow.session.execute(query)).mappings())
    total = sum(e["points"] for e in entries if entry_status(e) == "counted")
    return CycleView(record=row, cycle=cycle, total=total, entries=entries)


def _why(decision: Decision) -> str:
    return f"处罚决定书 {decision.decision_number or decision.decision_id}"


async def holders_view(uow: UnitOfWork, id_number: str | None, on: date | None) -> CycleView | None:
    """DL-12: the caller's own licence's cycle, found by their identity number (the licence number)."""
    if not id_number:
        return None
    row = await records.load_by_number(uow, id_number)
    return None if row is None else await cycle_view(uow, row, on)


async def record_view(
    uow: UnitOfWork, principal: Principal, record_id: uuid.UUID, on: date | None
) -> CycleView | None:
    """A record's cycle for whoever may see the record (a clerk of its office, a police system): None, a
    404, for anyone else as for a missing record, as `GET /licences/{id}` answers them (api.md)."""
    row = await records.load(uow, record_id)
    if row is None or not licences.may_see(principal, row):
        return None
    return await cycle_view(uow, row, on)
