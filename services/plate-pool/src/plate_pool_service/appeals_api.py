"""PP-11 appeals (预选号牌申诉): the user appeals a pre-selection outcome; a clerk decides and can restore
the chances (a new session with the office's counts, the ban lifted) or the number (allocated again with
a new 3-working-day deadline, the ban lifted). The routes parse and shape; appeals.py decides."""

from __future__ import annotations

import uuid
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, Request
from pydantic import BaseModel, Field

from plate_pool_service import appeals as appeal_cases
from plate_pool_service.context import ContextDep
from plate_pool_service.schemas import PlateAppealOut, PlateAppealPage
from servicekit.clock import SHANGHAI
from servicekit.web import Principal, actor_from, require_roles

router = APIRouter(prefix="/api/v1/plate-selections", tags=["plate-selections"])

Applicant = Annotated[Principal, Depends(require_roles("citizen", "unit"))]
Reviewer = Annotated[Principal, Depends(require_roles("clerk.review", "clerk.admin"))]
Reader = Annotated[Principal, Depends(require_roles("citizen", "unit", "clerk.review", "clerk.admin"))]


class AppealIn(BaseModel):
    reason: Annotated[str, Field(min_length=2, max_length=2000)]


class DecisionIn(BaseModel):
    decision: Literal["upheld", "rejected"]
    remedy: Literal["restore_chances", "restore_number"] | None = None
    note: Annotated[str, Field(max_length=2000)] = ""


def appeal_view(row: Any) -> dict[str, Any]:
    return {
        "id": str(row.id),
        "selection_id": str(row.selection_id),
        "state": row.state,
        "reason": row.reason,
        "remedy": row.remedy,
        "decision_note": row.decision_note,
        "created_at": row.created_at.astimezone(SHANGHAI).isoformat(),
        "decided_at": row.decided_at.astimezone(SHANGHAI).isoformat() if row.decided_at else None,
    }


@router.post(
    "/{selection_id}/appeals",
    status_code=201,
    response_model=PlateAppealOut,
    summary="Appeal a pre-selection outcome (PP-11)",
)
async def file_appeal(
    selection_id: uuid.UUID, body: AppealIn, request: Request, principal: Applicant, ctx: ContextDep
) -> dict[str, Any]:
    actor = actor_from(request, principal)
    created = await appeal_cases.file_appeal(ctx, selection_id, principal, body.reason, actor)
    return appeal_view(created)


@router.get(
    "/{selection_id}/appeals", response_model=PlateAppealPage, summary="A selection's appeals (PP-11)"
)
async def list_appeals(selection_id: uuid.UUID, principal: Reader, ctx: ContextDep) -> dict[str, Any]:
    rows = await appeal_cases.list_appeals(ctx, selection_id, principal)
    return {"items": [appeal_view(r) for r in rows], "next_cursor": None}


@router.post(
    "/{selection_id}/appeals/{appeal_id}/decision",
    response_model=PlateAppealOut,
    summary="Decide an appeal (clerk, PP-11)",
)
async def decide_appeal(
    selection_id: uuid.UUID,
    appeal_id: uuid.UUID,
    body: DecisionIn,
    request: Request,
    principal: Reviewer,
    ctx: ContextDep,
) -> dict[str, Any]:
    actor = actor_from(request, principal)
    decided = await appeal_cases.decide(
        ctx, selection_id, appeal_id, principal, body.decision, body.remedy, body.note, actor
    )
    return appeal_view(decided)
