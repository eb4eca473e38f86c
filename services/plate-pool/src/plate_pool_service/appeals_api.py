"""PP-11 appeals (预选号牌申诉): the user appeals a pre-selection outcome; a clerk decides and can restore
the chances (a new session with the office's counts, the ban lifted) or the number (allocated again with
a new 3-working-day deadline, the ban lifted). The routes parse and shape; appeals.py decides."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, Query, Request
from pydantic import BaseModel, Field

from plate_pool_service import appeals as appeal_cases
from plate_pool_service.context import ContextDep
from servicekit.clock import SHANGHAI
from servicekit.masking import mask_phone
from servicekit.pagination import InvalidCursor, clamp_limit, decode_cursor, encode_cursor
from servicekit.web import Principal, Unprocessable, actor_from, require_roles

router = APIRouter(prefix="/api/v1/plate-selections", tags=["plate-selections"])

Applicant = Annotated[Principal, Depends(require_roles("citizen", "unit"))]
Reviewer = Annotated[Principal, Depends(require_roles("clerk.review", "clerk.admin"))]
Reader = Annotated[Principal, Depends(require_roles("citizen", "unit", "clerk.review", "clerk.admin"))]


AppealState = Literal["filed", "upheld", "rejected"]  # tables.APPEAL_STATES
Remedy = Literal["restore_chances", "restore_number"]


class AppealIn(BaseModel):
    reason: Annotated[str, Field(min_length=2, max_length=2000)]


class DecisionIn(BaseModel):
    decision: Literal["upheld", "rejected"]
    remedy: Remedy | None = None
    note: Annotated[str, Field(max_length=2000)] = ""


class AppealOut(BaseModel):
    id: uuid.UUID
    selection_id: uuid.UUID
    state: AppealState
    reason: str
    remedy: Remedy | None
    decision_note: str | None
    created_at: datetime
    decided_at: datetime | None


class AppealPage(BaseModel):
    items: list[AppealOut]
    next_cursor: str | None


class OfficeAppealOut(AppealOut):
    """An appeal with what the deciding clerk needs of its selection (the phone masked, api.md)."""

    office_code: str
    vin: str
    owner_name: str
    phone: str = Field(description="masked")
    plate_number: str | None
    selection_state: str
    cancel_reason: str | None
    custom_attempts_left: int
    random_draws_left: int


class OfficeAppealPage(BaseModel):
    items: list[OfficeAppealOut]
    next_cursor: str | None


def _local(moment: datetime | None) -> datetime | None:
    return moment.astimezone(SHANGHAI) if moment is not None else None


def _appeal_fields(row: Any) -> dict[str, Any]:
    return {
        "id": row.id,
        "selection_id": row.selection_id,
        "state": row.state,
        "reason": row.reason,
        "remedy": row.remedy,
        "decision_note": row.decision_note,
        "created_at": _local(row.created_at),
        "decided_at": _local(row.decided_at),
    }


def appeal_view(row: Any) -> AppealOut:
    return AppealOut.model_validate(_appeal_fields(row))


@router.get(
    "/appeals", response_model=OfficeAppealPage, summary="Appeals of the clerk's office, oldest first (PP-11)"
)
async def office_appeals(
    principal: Reviewer,
    ctx: ContextDep,
    state: AppealState | None = None,
    limit: Annotated[int | None, Query(ge=1, le=100)] = None,
    cursor: Annotated[str | None, Query(max_length=1024)] = None,
) -> OfficeAppealPage:
    """The queue a deciding clerk works through: `state=filed` for the appeals awaiting a decision."""
    page_size = clamp_limit(limit)
    after: uuid.UUID | None = None
    if cursor is not None:
        try:
            after = uuid.UUID(str(decode_cursor(cursor)["id"]))
        except (InvalidCursor, KeyError, ValueError):
            raise Unprocessable("INVALID_CURSOR", "the cursor is not one this list returned") from None
    rows = await appeal_cases.office_appeals(ctx, principal, state, after, page_size + 1)
    items = [
        OfficeAppealOut.model_validate(
            {
                **_appeal_fields(row),
                "office_code": row.office_code,
                "vin": row.vin,
                "owner_name": row.owner_name,
                "phone": mask_phone(row.phone),
                "plate_number": row.plate_number,
                "selection_state": row.selection_state,
                "cancel_reason": row.cancel_reason,
                "custom_attempts_left": row.custom_left,
                "random_draws_left": row.draws_left,
            }
        )
        for row in rows[:page_size]
    ]
    next_cursor = encode_cursor({"id": str(items[-1].id)}) if len(rows) > page_size else None
    return OfficeAppealPage(items=items, next_cursor=next_cursor)


@router.post(
    "/{selection_id}/appeals",
    status_code=201,
    response_model=AppealOut,
    summary="Appeal a pre-selection outcome (PP-11)",
)
async def file_appeal(
    selection_id: uuid.UUID, body: AppealIn, request: Request, principal: Applicant, ctx: ContextDep
) -> AppealOut:
    actor = actor_from(request, principal)
    created = await appeal_cases.file_appeal(ctx, selection_id, principal, body.reason, actor)
    return appeal_view(created)


@router.get("/{selection_id}/appeals", response_model=AppealPage, summary="A selection's appeals (PP-11)")
async def list_appeals(selection_id: uuid.UUID, principal: Reader, ctx: ContextDep) -> AppealPage:
    rows = await appeal_cases.list_appeals(ctx, selection_id, principal)
    return AppealPage(items=[appeal_view(r) for r in rows], next_cursor=None)


@router.post(
    "/{selection_id}/appeals/{appeal_id}/decision",
    response_model=AppealOut,
    summary="Decide an appeal (clerk, PP-11)",
)
async def decide_appeal(
    selection_id: uuid.UUID,
    appeal_id: uuid.UUID,
    body: DecisionIn,
    request: Request,
    principal: Reviewer,
    ctx: ContextDep,
) -> AppealOut:
    actor = actor_from(request, principal)
    decided = await appeal_cases.decide(
        ctx, selection_id, appeal_id, principal, body.decision, body.remedy, body.note, actor
    )
    return appeal_view(decided)
