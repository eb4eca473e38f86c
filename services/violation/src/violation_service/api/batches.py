"""`/api/v1/violations/intake-batches`: bulk intake of camera records with progress (VI-01)."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, Query, Request
from pydantic import BaseModel

from servicekit.web import NotFound, actor_from
from violation_service import batches
from violation_service.api.common import SystemOnly
from violation_service.context import ContextDep

router = APIRouter(prefix="/api/v1/violations/intake-batches", tags=["violations"])


class BatchOut(BaseModel):
    id: uuid.UUID
    state: str  # running | done
    expected: int | None
    lines: int
    created: int
    repeated: int
    refused: int
    errors: list[dict[str, Any]]
    runs: int
    started_at: datetime
    updated_at: datetime
    finished_at: datetime | None


@router.put(
    "/{batch_id}",
    response_model=BatchOut,
    summary="Bulk intake: camera records as NDJSON, one per line (VI-01)",
    openapi_extra={
        "requestBody": {
            "required": True,
            "content": {"application/x-ndjson": {"schema": {"type": "string", "format": "binary"}}},
        }
    },
)
async def put_batch(
    batch_id: uuid.UUID,
    request: Request,
    ctx: ContextDep,
    principal: SystemOnly,
    expected: Annotated[int | None, Query(ge=0, le=10_000_000)] = None,
) -> BatchOut:
    """VI-01: each line is one record as `POST /api/v1/violations` takes it. The batch id is the client's
    (a UUID), so it can follow the progress at `GET .../{batch_id}` while this request runs; `expected`
    (the number of lines) lets the progress show a share. A refused line is reported with its number and
    reason and does not stop the others; the answer is the batch's final count. Sending the batch again
    is safe: records already taken count as repeated."""
    runtime = request.app.state.runtime
    existing = await batches.load(runtime, batch_id)
    if existing is not None and existing["source"] != principal.subject:
        raise NotFound("intake batch")
    actor = actor_from(request, principal)
    await batches.run(
        runtime,
        ctx.documents,
        actor,
        batch_id,
        principal.subject,
        batches.lines_of(request.stream()),
        expected,
    )
    return await _batch(runtime, batch_id, principal.subject)


@router.get("/{batch_id}", response_model=BatchOut, summary="A bulk intake's progress (VI-01)")
async def get_batch(batch_id: uuid.UUID, request: Request, principal: SystemOnly) -> BatchOut:
    """VI-01: how far the batch has come; only the system that sent it sees it."""
    return await _batch(request.app.state.runtime, batch_id, principal.subject)


async def _batch(runtime: Any, batch_id: uuid.UUID, source: str) -> BatchOut:
    row = await batches.load(runtime, batch_id)
    if row is None or row["source"] != source:
        raise NotFound("intake batch")
    return BatchOut.model_validate(dict(row))
