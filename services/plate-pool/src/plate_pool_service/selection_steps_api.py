"""`/api/v1/plate-selections/{id}/…`: the steps of a selection: random draws (the hot path, PP-06, PP-10),
custom verifications (PP-05), the choice (PP-06) and the SMS confirmation (PP-07, PP-08)."""

from __future__ import annotations

import uuid
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Request, Response
from fastapi.responses import JSONResponse
from fastapi.security import HTTPAuthorizationCredentials
from pydantic import BaseModel, Field

from plate_pool_service import selections
from plate_pool_service.context import ContextDep, PlateContext
from plate_pool_service.hot import Queued
from plate_pool_service.schemas import (
    PlateDrawOut,
    PlateDrawQueuedOut,
    PlateSelectionOut,
    PlateSmsCodeOut,
    PlateVerifyOut,
)
from plate_pool_service.views import iso, selection_view
from servicekit.masking import mask_phone
from servicekit.web import (
    Forbidden,
    IdempotencyKeyHeader,
    NotFound,
    Principal,
    actor_from,
    current_principal,
    idempotent,
    require_roles,
)

router = APIRouter(prefix="/api/v1/plate-selections", tags=["plate-selections"])

Applicant = Annotated[Principal, Depends(require_roles("citizen", "unit"))]


class NumberIn(BaseModel):
    number: Annotated[str, Field(min_length=1, max_length=16)]


class CodeIn(BaseModel):
    code: Annotated[str, Field(pattern=r"^\d{4,10}$")]


@router.post(
    "/{selection_id}/random-draws",
    status_code=201,
    summary="Draw and hold five numbers (PP-06); or wait in line when the pool is all held (PP-10)",
    response_model=PlateDrawOut,
    responses={
        202: {
            "model": PlateDrawQueuedOut,
            "description": "Too few numbers free right now: the draw is queued. Ask again after "
            "`retry_after_s` (Retry-After; longer further back in line) to keep the place "
            "(`queue_position` of `queue_length`); a place not asked for within `place_kept_s` of this "
            "answer is given up. Waiting spends no draw.",
        }
    },
)
async def random_draw(
    selection_id: uuid.UUID,
    request: Request,
    principal: Applicant,
    ctx: ContextDep,
    _key: IdempotencyKeyHeader = None,
) -> Response:
    """Declared for the OpenAPI document; requests are served by `random_draw_fast` (same rules)."""
    return await _draw_once(request, selection_id, principal, ctx)


_APPLICANT_ROLES = frozenset({"citizen", "unit"})


async def random_draw_fast(request: Request) -> Response:
    """The hot path as a plain Starlette endpoint: the same token check (`current_principal`, with its
    verified-token cache), role check and rules as the FastAPI route, without the dependency solver,
    which cost more CPU than the draw itself (bench/plates.py)."""
    header = request.headers.get("authorization", "")
    scheme, _, token = header.partition(" ")
    credentials = (
        HTTPAuthorizationCredentials(scheme=scheme, credentials=token.strip())
        if scheme.lower() == "bearer" and token.strip()
        else None
    )
    principal = await current_principal(request, credentials)
    if principal.roles.isdisjoint(_APPLICANT_ROLES):
        raise Forbidden("requires one of the roles: citizen, unit")
    try:
        selection_id = uuid.UUID(request.path_params["selection_id"])
    except ValueError:
        raise NotFound("selection") from None
    return await _draw_once(request, selection_id, principal, request.app.state.plate)


async def _draw_once(
    request: Request, selection_id: uuid.UUID, principal: Principal, ctx: PlateContext
) -> Response:
    """With an Idempotency-Key, a repeat (its answer lost on a phone's network) gets the first draw's
    answer instead of spending another draw and giving back the five it holds."""
    return await idempotent(
        request, principal.subject, lambda: _draw(selection_id, principal, ctx), status_code=201
    )


async def _draw(selection_id: uuid.UUID, principal: Principal, ctx: PlateContext) -> JSONResponse:
    segment, drawn = await selections.draw(ctx, selection_id, principal)
    sid = str(selection_id)
    if isinstance(drawn, Queued):
        # PP-10: more people drawing than numbers free. Not a refusal: the draw waits its turn, and asking
        # again keeps the place (no draw is spent while waiting).
        return JSONResponse(
            {
                "selection_id": sid,
                "queued": True,
                "queue_position": drawn.position,
                "queue_length": drawn.length,
                "retry_after_s": drawn.retry_after_s,
                # counted from this answer: the wait told plus the grace past it
                "place_kept_s": drawn.retry_after_s + round(ctx.hot.keep_place_s),
                "random_draws_left": drawn.draws_left,
            },
            status_code=202,
            # An interim answer: asking again (with the same Idempotency-Key too) must ask again.
            headers={"Retry-After": str(drawn.retry_after_s), "Cache-Control": "no-store"},
        )
    number = segment.space.number
    return JSONResponse(
        {
            "selection_id": sid,
            "numbers": [number(i) for i in drawn.indexes],
            "held_until": drawn.held_until.isoformat(),
            "random_draws_left": drawn.draws_left,
        },
        status_code=201,
    )


@router.post(
    "/{selection_id}/custom-verifications",
    status_code=201,
    response_model=PlateVerifyOut,
    summary="Verify and hold a number of your own (PP-05)",
)
async def custom_verification(
    selection_id: uuid.UUID, body: NumberIn, principal: Applicant, ctx: ContextDep
) -> dict[str, Any]:
    number, result = await selections.verify(ctx, selection_id, principal, body.number)
    return {
        "selection_id": str(selection_id),
        "number": number,
        "held_until": result.held_until.isoformat() if result.held_until else None,
        "custom_attempts_left": 0,
    }


@router.post(
    "/{selection_id}/choice",
    response_model=PlateSelectionOut,
    summary="Confirm one held number (确认选号); SMS step next (PP-06, PP-07)",
)
async def choose(
    selection_id: uuid.UUID, body: NumberIn, request: Request, principal: Applicant, ctx: ContextDep
) -> dict[str, Any]:
    row = await selections.choose(ctx, selection_id, principal, body.number, actor_from(request, principal))
    return selection_view(row)


@router.post(
    "/{selection_id}/sms-code",
    status_code=202,
    response_model=PlateSmsCodeOut,
    summary="Send the SMS code to the registered phone (PP-07)",
)
async def send_sms_code(selection_id: uuid.UUID, principal: Applicant, ctx: ContextDep) -> dict[str, Any]:
    row, issued = await selections.send_code(ctx, selection_id, principal)
    return {"sent_to": mask_phone(row.phone), "code_expires_at": iso(issued.expires_at)}


@router.post(
    "/{selection_id}/confirmation",
    response_model=PlateSelectionOut,
    summary="Enter the SMS code: the number is yours (PP-07, PP-08)",
)
async def confirm(
    selection_id: uuid.UUID, body: CodeIn, request: Request, principal: Applicant, ctx: ContextDep
) -> dict[str, Any]:
    row = await selections.confirm(ctx, selection_id, principal, body.code, actor_from(request, principal))
    return selection_view(row)
