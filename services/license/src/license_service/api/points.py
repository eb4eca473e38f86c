"""`/api/v1/licences/.../points`: DL-12, the scoring cycle and its entries (the holder's own, or any
record's for clerks and police systems), and the full-points flag cleared after the study and exam
(police systems). The use cases are in `points.py`."""

from __future__ import annotations

import uuid
from datetime import date, datetime, timedelta
from typing import Annotated, Literal

from fastapi import APIRouter, Query, Request
from pydantic import BaseModel, Field

from license_service import points
from license_service.api.common import ClerkOrSystem, Input, Personal, SystemOnly
from servicekit.uow import committed
from servicekit.web import NotFound, UowDep, actor_from

router = APIRouter(prefix="/api/v1/licences", tags=["licences"])

On = Annotated[
    date | None,
    Query(
        ge=date(1900, 1, 1),
        le=date(2999, 12, 31),
        description="a day in the cycle to show (Asia/Shanghai); today's cycle by default",
    ),
]


class CycleOut(BaseModel):
    start: date = Field(description="the cycle's first day: an anniversary of the first issue")
    end: date = Field(description="the cycle's last day (inclusive)")


class PointEntryOut(BaseModel):
    decision_id: str
    decision_number: str | None
    violation_id: str
    violation_code: str
    violated_at: datetime
    place: str | None
    plate_number: str | None
    points: int
    fine_fen: int
    decided_at: datetime = Field(description="the decision's time: it counts in the cycle of this day")
    status: Literal["counted", "revoked", "cleared"]
    revoked_at: datetime | None
    cleared_at: datetime | None


class PointsOut(BaseModel):
    record_id: uuid.UUID
    state: str
    full_points: bool = Field(description="flagged for the full-points study and exam (满分)")
    cycle: CycleOut
    total: int = Field(description="the cycle's points: counted entries only")
    entries: list[PointEntryOut]


_STORED = [key for key in PointEntryOut.model_fields if key != "status"]


def points_out(view: points.CycleView) -> PointsOut:
    start, end = view.cycle
    return PointsOut(
        record_id=view.record["id"],
        state=view.record["state"],
        full_points=view.record["state"] == "full_points",
        cycle=CycleOut(start=start, end=end - timedelta(days=1)),
        total=view.total,
        entries=[
            PointEntryOut.model_validate(
                {key: e[key] for key in _STORED} | {"status": points.entry_status(e)}
            )
            for e in view.entries
        ],
    )


@router.get("/mine/points", response_model=PointsOut, summary="My licence's points (记分)")
async def my_points(uow: UowDep, principal: Personal, on: On = None) -> PointsOut:
    """DL-12: the holder's scoring cycle, its total and its entries. Only one's own licence: without a
    record in the caller's identity number, 404."""
    view = await committed(uow, points.holders_view, principal.id_number, on)
    if view is None:
        raise NotFound("licence")
    return points_out(view)


@router.get("/{record_id}/points", response_model=PointsOut, summary="A licence's points (clerks, systems)")
async def record_points(
    record_id: uuid.UUID, uow: UowDep, principal: ClerkOrSystem, on: On = None
) -> PointsOut:
    """DL-12: a record's scoring cycle, for the counter of its office and other police systems."""
    view = await committed(uow, points.record_view, principal, record_id, on)
    if view is None:
        raise NotFound("licence")
    return points_out(view)


class ClearIn(Input):
    reason: Annotated[
        str, Field(min_length=1, max_length=200, pattern=r"^[^\x00]*$", description="e.g. 满分学习考试合格")
    ]


@router.post(
    "/{record_id}/points/clear", response_model=PointsOut, summary="Full points cleared (police systems)"
)
async def clear_points(
    record_id: uuid.UUID, body: ClearIn, request: Request, uow: UowDep, principal: SystemOnly
) -> PointsOut:
    """DL-12: the system that runs the full-points study and exam (满分学习考试) reports a pass: the points
    of the full cycles are cleared and the flag with them. 409 `LICENCE_NOT_FULL_POINTS` when the licence
    is not flagged."""
    actor = actor_from(request, principal, role="system")
    view = await committed(uow, points.clear_full_points, actor, record_id, body.reason)
    if view is None:
        raise NotFound("licence")
    return points_out(view)
