"""`/api/v1/licences/imports`: an office's existing licence records brought onto the platform in one file
(DL-01), worked through by the worker while its progress is read here (`importer.py`, `imports.py`)."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Query, Request
from pydantic import BaseModel
from sqlalchemy.engine import RowMapping
from starlette.responses import JSONResponse

from license_service import importer, imports
from license_service.api.common import OfficeCode, SystemOnly, SystemOrAdmin
from license_service.settings import LicenseSettings
from servicekit.pagination import InvalidCursor, Page, clamp_limit, decode_cursor, encode_cursor
from servicekit.uow import committed
from servicekit.web import (
    IdempotencyKeyHeader,
    NotFound,
    RuntimeDep,
    Unprocessable,
    UowDep,
    actor_from,
    idempotent,
)
from servicekit.web.documents import read_upload

router = APIRouter(prefix="/api/v1/licences/imports", tags=["licence imports"])

UPLOAD_BODY = {
    "requestBody": {
        "required": True,
        "description": "The CSV file itself (UTF-8, header row; columns in importer.py's documentation)",
        "content": {"text/csv": {"schema": {"type": "string"}}},
    }
}


class ImportOut(BaseModel):
    id: uuid.UUID
    state: Literal["running", "done"]
    office_code: str | None
    total: int
    processed: int
    issued: int
    updated: int
    unchanged: int
    failed: int
    created_at: datetime
    updated_at: datetime
    finished_at: datetime | None
    lines: str  # where each line's outcome is listed (the failed ones with their reasons)


class LineOut(BaseModel):
    line: int
    outcome: Literal["pending", "issued", "updated", "unchanged", "failed"]
    field: str | None
    reason: str | None
    record_id: uuid.UUID | None


def import_out(row: RowMapping) -> ImportOut:
    processed = row["issued"] + row["updated"] + row["unchanged"] + row["failed"]
    return ImportOut(
        **{key: row[key] for key in ImportOut.model_fields if key not in ("processed", "lines")},
        processed=processed,
        lines=f"/api/v1/licences/imports/{row['id']}/lines",
    )


@router.post(
    "",
    status_code=202,
    response_model=ImportOut,
    summary="Import an office's licence records from a CSV file (system)",
    openapi_extra=UPLOAD_BODY,
)
async def start_import(
    request: Request,
    principal: SystemOnly,
    uow: UowDep,
    runtime: RuntimeDep,
    office_code: Annotated[OfficeCode | None, Query(description="for lines that name none")] = None,
    _key: IdempotencyKeyHeader = None,
) -> object:
    """DL-01: the file is read and every line kept at once (a file that cannot be read as a whole is
    refused, 422 IMPORT_FILE_UNREADABLE, and nothing is kept); the worker then issues, corrects or leaves
    each record, line by line, and a bad line fails alone with its field and reason. 202 with the import
    and its `Location`, where the progress is read."""
    settings = runtime.settings
    max_bytes = settings.import_max_bytes if isinstance(settings, LicenseSettings) else 8 * 1024 * 1024

    async def run() -> JSONResponse:
        lines = importer.read_csv(await read_upload(request, max_bytes))
        job = await committed(uow, imports.start, actor_from(request, principal), lines, office_code)
        out = import_out(job)
        return JSONResponse(
            out.model_dump(mode="json"),
            status_code=202,
            headers={"Location": f"/api/v1/licences/imports/{out.id}"},
        )

    return await idempotent(request, principal.subject, run, status_code=202)


async def _import(uow: Any, import_id: uuid.UUID) -> RowMapping:
    row = await imports.load_import(uow, import_id)
    if row is None:
        raise NotFound("licence import")
    return row


@router.get("/{import_id}", response_model=ImportOut, summary="An import and its progress")
async def get_import(import_id: uuid.UUID, uow: UowDep, principal: SystemOrAdmin) -> ImportOut:
    """DL-01: how many lines of the total are issued, updated, unchanged and failed; whether it is done."""
    return import_out(await committed(uow, _import, import_id))


@router.get("/{import_id}/lines", response_model=Page[LineOut], summary="An import's lines and outcomes")
async def get_import_lines(
    import_id: uuid.UUID,
    uow: UowDep,
    principal: SystemOrAdmin,
    outcome: Literal["pending", "issued", "updated", "unchanged", "failed"] | None = None,
    limit: Annotated[int | None, Query(ge=1, le=100)] = None,
    cursor: Annotated[str | None, Query(max_length=1024)] = None,
) -> Page[LineOut]:
    """DL-01: each line's outcome in line order (`?outcome=failed` for the lines to fix and send again),
    with the field and reason of a failure and the record a line issued or touched."""
    size = clamp_limit(limit)
    after = None
    if cursor:
        try:
            after = int(decode_cursor(cursor)["line"])
        except (InvalidCursor, KeyError, ValueError):
            raise Unprocessable("INVALID_CURSOR", "the cursor is not one of ours") from None

    async def read(uow: Any) -> list[RowMapping]:
        await _import(uow, import_id)
        return await imports.import_lines(uow, import_id, outcome=outcome, after=after, limit=size + 1)

    rows = await committed(uow, read)
    items = [LineOut.model_validate({key: row[key] for key in LineOut.model_fields}) for row in rows[:size]]
    next_cursor = encode_cursor({"line": rows[size - 1]["line"]}) if len(rows) > size else None
    return Page(items=items, next_cursor=next_cursor)
