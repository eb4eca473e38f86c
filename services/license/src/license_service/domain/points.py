"""DL-12: the 12-point cycle from the first issue date, the standing of a licence and the full-points move."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date

from license_service.domain.dates import months_before
from license_service.domain.records import LicenceState, RecordAction
from servicekit.refusal import refusal

# --- DL-12: points ----------------------------------------------------------------------------------

FULL_POINTS = 12

Cycle = tuple[date, date]  # [start, end): the end is the next cycle's first day (清分日)


def _anniversary(first_issue: date, years: int) -> date:
    return months_before(first_issue, -12 * years)


def points_cycle(first_issue: date, on: date) -> Cycle:
    """DL-12: the 12-month cycle (记分周期) that contains `on`, counted from the first issue date: [start,
    end), each cycle starting on an anniversary of the first issue (28 February in a common year for a
    licence first issued on 29 February) and ending where the next starts, so every day is in exactly
    one cycle. A day before the first issue falls in the first cycle."""
    on = max(on, first_issue)
    years = on.year - first_issue.year
    if _anniversary(first_issue, years) > on:
        years -= 1
    return _anniversary(first_issue, years), _anniversary(first_issue, years + 1)


@dataclass(frozen=True)
class PointEntry:
    """What DL-12 reads of one counted decision: the day it was decided (in Asia/Shanghai) and its points.
    Revoked entries (撤销) and entries cleared by the full-points study are not given to these checks."""

    decided_on: date
    points: int


@dataclass(frozen=True)
class Standing:
    """A licence's points on a day: the cycle running, its total (the record's `points`), whether some
    cycle stands at 12 or more (满分, until the study and exam clear it), and the day the total must be
    looked at again (the cycle's end; None when no counted entry is in this cycle or a later one)."""

    cycle: Cycle
    total: int
    full: bool
    review_on: date | None


def cycle_totals(first_issue: date, entries: Iterable[PointEntry]) -> dict[Cycle, int]:
    """DL-12: the points of each cycle. A decision counts in the cycle running on the day it was issued:
    points are given with the penalty decision (处罚与记分同时执行), so a cycle that has ended takes no
    more (ADR 0053)."""
    totals: dict[Cycle, int] = {}
    for entry in entries:
        cycle = points_cycle(first_issue, entry.decided_on)
        totals[cycle] = totals.get(cycle, 0) + entry.points
    return totals


def points_standing(first_issue: date, entries: Iterable[PointEntry], today: date) -> Standing:
    """DL-12: the current cycle's total, and whether any cycle has reached 12. A cycle that ended under 12
    is cleared by ending (its total is simply no longer current); one that reached 12 keeps the licence
    flagged past its end, until the study and exam clear its entries."""
    totals = cycle_totals(first_issue, entries)
    cycle = points_cycle(first_issue, today)
    pending = any(start >= cycle[0] for start, _ in totals)
    return Standing(
        cycle=cycle,
        total=totals.get(cycle, 0),
        full=any(total >= FULL_POINTS for total in totals.values()),
        review_on=cycle[1] if pending else None,
    )


def full_cycles(first_issue: date, entries: Iterable[PointEntry]) -> set[Cycle]:
    """DL-12: the cycles at 12 or more: the ones the full-points study and exam (满分学习考试) clear."""
    return {cycle for cycle, total in cycle_totals(first_issue, entries).items() if total >= FULL_POINTS}


NotFullPoints = refusal("LICENCE_NOT_FULL_POINTS", "DL-12")


def check_clear_full_points(state: LicenceState) -> None:
    """DL-12: only a flagged licence (满分) has full points for the study and exam to clear."""
    if state != "full_points":
        raise NotFullPoints(f"the licence is {state}, not at full points", extra={"state": state})


def points_move(state: LicenceState, full: bool) -> RecordAction | None:
    """DL-12: the move that makes the state agree with the points: a valid licence with a cycle at 12 is
    flagged (满分); a flagged one whose cycles are all under 12 again (a decision revoked, or the study and
    exam passed) is cleared. A suspended, revoked or cancelled licence is not moved on points."""
    if state == "valid" and full:
        return "reach_full_points"
    if state == "full_points" and not full:
        return "clear_full_points"
    return None
