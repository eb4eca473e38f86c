"""`GET /api/v1/inspection-stations/{station_id}/plans`: the plans filed for a station, for the city and
province admins who file and publish them (VH-14). Filing and publishing are in `inspections.py`."""

from __future__ import annotations

import uuid
from datetime import datetime, time

from fastapi import APIRouter
from pydantic import BaseModel

from servicekit.uow import committed
from servicekit.web import UowDep
from vehicle_service import stations
from vehicle_service.api.common import System
from vehicle_service.api.inspections import PlanOut

router = APIRouter(prefix="/api/v1", tags=["inspections"])


class PlanTimeOut(BaseModel):
    start: time
    end: time
    capacity: int


class PlanDetail(PlanOut):
    """A plan as the city filed it; `slots` counts what it opened once published."""

    times: list[PlanTimeOut]
    weekdays_only: bool
    created_at: datetime
    published_at: datetime | None


@router.get(
    "/inspection-stations/{station_id}/plans", response_model=list[PlanDetail], summary="A station's plans"
)
async def list_plans(station_id: uuid.UUID, uow: UowDep, principal: System) -> list[PlanDetail]:
    """VH-14: the plans filed for a station, newest first (an unknown station answers 404)."""
    rows = await committed(uow, stations.plans_of, station_id)
    return [
        PlanDetail(
            id=r["id"],
            station_id=r["station_id"],
            first_day=r["first_day"],
            last_day=r["last_day"],
            other_cities=r["other_cities"],
            state=r["state"],
            slots=r["slots"],
            # stations.file_plan keeps "weekdays only" as a marker entry among the times
            times=[PlanTimeOut.model_validate(t) for t in r["times"] if "start" in t],
            weekdays_only=any(t.get("weekdays_only") for t in r["times"]),
            created_at=r["created_at"],
            published_at=r["published_at"],
        )
        for r in rows
    ]
