"""`/api/v1/violations/decisions`: penalty decisions and their PDF (VI-03, VI-05)."""

from __future__ import annotations

import uuid
from datetime import date, datetime
from typing import Annotated, Any

from fastapi import APIRouter, Query
from pydantic import BaseModel
from sqlalchemy import select
from sqlalchemy.engine import RowMapping

from servicekit.pagination import InvalidCursor, Page, clamp_limit, decode_cursor, encode_cursor
from servicekit.web import Unprocessable, UowDep
from servicekit.web.documents import document_response
from violation_service import access, handling, intake
from violation_service.api.common import AnyCaller
from violation_service.context import ContextDep
from violation_service.tables import decisions

router = APIRouter(prefix="/api/v1/violations/decisions", tags=["decisions"])


class DecisionOut(BaseModel):
    id: uuid.UUID
    number: str
    violation_id: uuid.UUID
    driver_name: str
    penalty: str
    fine_fen: int
    points: int
    decided_at: datetime
    pay_by: date
    payment_reference: str
    payment_state: str
    paid_at: datetime | None
    paid_fen: int | None
    late_fee_fen: int | None
    revoked_at: datetime | None
    document_url: str


def decision_out(row: RowMapping | dict[str, Any]) -> DecisionOut:
    data = {key: row[key] for key in DecisionOut.model_fields if key in row}
    data["document_url"] = f"/api/v1/violations/decisions/{row['id']}/document"
    return DecisionOut.model_validate(data)


@router.get("", response_model=Page[DecisionOut], summary="The caller's decisions, or a search (VI-05)")
async def list_decisions(
    uow: UowDep,
    principal: AnyCaller,
    since: datetime | None = None,
    limit: Annotated[int | None, Query(ge=1, le=100)] = None,
    cursor: Annotated[str | None, Query(max_length=1024)] = None,
) -> Page[DecisionOut]:
    """VI-05: a citizen, the decisions they handled; a clerk (own city) or a system client, those issued
    `since` a moment. Newest first."""
    query = select(decisions)
    if access.is_system(principal) or principal.is_staff:
        if since is None or since.tzinfo is None:
            raise Unprocessable("SINCE_REQUIRED", "give since, with a UTC offset")
        query = query.where(decisions.c.decided_at >= since)
        if principal.is_staff and principal.office is not None:
            query = query.where(decisions.c.office_code.startswith(principal.office[:4]))
    else:
        query = query.where(decisions.c.account_id == principal.subject)
    size = clamp_limit(limit)
    if cursor:
        try:
            query = query.where(decisions.c.id < uuid.UUID(str(decode_cursor(cursor)["id"])))
        except (InvalidCursor, KeyError, ValueError):
            raise Unprocessable("INVALID_CURSOR", "the cursor is not one of ours") from None
    async with uow:
        rows = (
            (await uow.session.execute(query.order_by(decisions.c.id.desc()).limit(size + 1)))
            .mappings()
            .all()
        )
    next_cursor = encode_cursor({"id": str(rows[size - 1]["id"])}) if len(rows) > size else None
    return Page(items=[decision_out(r) for r in rows[:size]], next_cursor=next_cursor)


@router.get("/{decision_id}", response_model=DecisionOut, summary="One decision (VI-03, VI-05)")
async def get_decision(decision_id: uuid.UUID, uow: UowDep, principal: AnyCaller) -> DecisionOut:
    async with uow:
        row, _ = await handling.decision_for(uow, principal, decision_id)
    return decision_out(row)


@router.get("/{decision_id}/document", summary="The decision as issued, PDF (VI-03)")
async def get_decision_document(
    decision_id: uuid.UUID, uow: UowDep, ctx: ContextDep, principal: AnyCaller
) -> object:
    """The PDF kept when the decision was issued (AR-01), never rendered again."""
    async with uow:
        row, violation = await handling.decision_for(uow, principal, decision_id)
        found = await ctx.documents.open(
            uow.session,
            row["document_id"],
            case_ref=intake.case_ref(violation["id"]),
            entitled=lambda doc: doc.kind == handling.DECISION_DOCUMENT,
        )
    response = document_response(found)
    response.headers["Content-Disposition"] = f'inline; filename="decision-{row["number"]}.pdf"'
    return response
