"""VI-01: the camera record as other police systems send it: its penalty's consistency and its one
identity."""

from __future__ import annotations

from typing import Literal

from servicekit.refusal import refusal

# --- VI-01: the camera record ------------------------------------------------------------------------

Penalty = Literal["warning", "fine"]
PENALTIES: tuple[str, ...] = ("warning", "fine")
# 一次记分的分值 of 《道路交通安全违法行为记分管理办法》.
POINT_VALUES: frozenset[int] = frozenset({0, 1, 3, 6, 9, 12})

PenaltyInconsistent = refusal("PENALTY_INCONSISTENT", "VI-01", 422)
RecordIdReused = refusal("RECORD_ID_REUSED", "VI-01")


def check_penalty(penalty: str, fine_fen: int, points: int) -> None:
    """VI-01: a warning carries no fine, a fine a positive amount; points take the values the points
    regulation knows."""
    if penalty == "warning" and fine_fen != 0:
        raise PenaltyInconsistent("a warning carries no fine (fine_fen must be 0)")
    if penalty == "fine" and fine_fen <= 0:
        raise PenaltyInconsistent("a fine needs a positive fine_fen")
    if points not in POINT_VALUES:
        raise PenaltyInconsistent(f"points must be one of {sorted(POINT_VALUES)}", extra={"points": points})


def check_same_record(stored_digest: str, new_digest: str) -> bool:
    """VI-01: intake is idempotent by the record's own ID. The same record again is taken as a repeat
    (True); the same ID with other facts is refused, since one of the two is wrong at its source."""
    if stored_digest != new_digest:
        raise RecordIdReused("this record ID was taken with other facts")
    return True
