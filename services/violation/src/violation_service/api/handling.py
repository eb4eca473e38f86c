"""`/api/v1/violations/{id}/handling*`: a bound user handles a camera violation online (VI-02, VI-03)."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, Request
from pydantic import BaseModel, Field

from servicekit.uow import committed
from servicekit.web import IdempotencyKeyHeader, UowDep, actor_from, idempotent
from violation_service import handling
from violation_service.api.common import Citizen, Input
from violation_service.api.decisions import DecisionOut, decision_out
from violation_service.context import ContextDep

router = APIRouter(prefix="/api/v1/violations", tags=["violations"])


class CodeSentOut(BaseModel):
    sent_to: str
    expires_at: datetime


class HandlingIn(Input):
    code: Annotated[str, Field(pattern=r"^\d{6}$")]


@router.post(
    "/{violation_id}/handling-code",
    status_code=202,
    response_model=CodeSentOut,
    summary="Send the SMS code that confirms handling (VI-03)",
)
async def send_handling_code(
    violation_id: uuid.UUID, uow: UowDep, ctx: ContextDep, principal: Citizen
) -> CodeSentOut:
    """VI-02 first (the same refusals as the handling itself), then a code to the account's registered
    phone (masked in the answer). NT-02: one a minute, ten a day per phone (429 with Retry-After)."""
    sent = await committed(uow, handling.send_code, ctx, principal, violation_id)
    return CodeSentOut(sent_to=sent.sent_to, expires_at=sent.expires_at)


@router.post(
    "/{violation_id}/handling",
    status_code=201,
    response_model=DecisionOut,
    summary="Confirm the penalty with the SMS code: the decision is issued (VI-03)",
)
async def handle_violation(
    violation_id: uuid.UUID,
    body: HandlingIn,
    request: Request,
    uow: UowDep,
    ctx: ContextDep,
    principal: Citizen,
    _key: IdempotencyKeyHeader = None,
) -> object:
    """VI-02/VI-03: a personal user with a bound licence, for a bound vehicle's violation with a warning or
    a fine of at most 200 yuan (not one with points on a vehicle not theirs), confirms with the code. The
    penalty decision (处罚决定书) is issued with its number and PDF, its points go to the user's licence
    (DL-12, by `violation.decision.issued.v1`). A violation already handled: 409
    VIOLATION_ALREADY_HANDLED, whoever confirmed first."""

    async def run() -> DecisionOut:
        actor = actor_from(request, principal)
        decision = await committed(uow, handling.handle, ctx, principal, actor, violation_id, body.code)
        return decision_out(decision)

    return await idempotent(request, principal.subject, run, status_code=201)
