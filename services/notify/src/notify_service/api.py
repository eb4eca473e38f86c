"""The notify service's HTTP API, mounted under /api/v1.

`router` is the public API; `test_router` (`/api/v1/_test/*`) is mounted in dev and test only (see
main.py), so in prod its paths answer 404.
"""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, Query
from pydantic import AfterValidator, BaseModel
from sqlalchemy import select

from notify_service.tables import sms_messages
from servicekit.clock import SHANGHAI
from servicekit.pagination import InvalidCursor, clamp_limit, decode_cursor, encode_cursor
from servicekit.validators import mobile_phone
from servicekit.web import RuntimeDep, Unprocessable

router = APIRouter(prefix="/api/v1")

test_router = APIRouter(prefix="/api/v1/_test", tags=["test"])

PhoneQuery = Annotated[
    str,
    Query(description="Mainland mobile number (+86, spaces and dashes accepted)"),
    AfterValidator(mobile_phone),
]


class SinkMessage(BaseModel):
    id: uuid.UUID
    phone: str  # in full: this is the test sink, and the caller named the phone
    template: str
    body: str
    state: str
    created_at: datetime
    case_id: str | None


class SinkMessages(BaseModel):
    items: list[SinkMessage]
    next_cursor: str | None = None


@test_router.get("/sms", response_model=SinkMessages, summary="Messages the local SMS sink received")
async def list_sink_messages(
    runtime: RuntimeDep,
    phone: PhoneQuery,
    limit: Annotated[int | None, Query(ge=1, le=100)] = None,
    cursor: Annotated[str | None, Query(max_length=1024)] = None,
) -> SinkMessages:
    """NT-01 (dev/test): what was sent to `phone`, newest first (in the order notify received the
    commands: the platform clock may have been moved in between)."""
    page_size = clamp_limit(limit)
    query = (
        select(
            sms_messages.c.id,
            sms_messages.c.phone,
            sms_messages.c.template,
            sms_messages.c.body,
            sms_messages.c.state,
            sms_messages.c.created_at,
            sms_messages.c.case_id,
        )
        .where(sms_messages.c.phone == phone)
        .order_by(sms_messages.c.id.desc())
        .limit(page_size + 1)
    )
    if cursor is not None:
        try:
            after = uuid.UUID(str(decode_cursor(cursor)["id"]))
        except (InvalidCursor, KeyError, ValueError):
            raise Unprocessable("INVALID_CURSOR", "the cursor is not one this list returned") from None
        query = query.where(sms_messages.c.id < after)
    async with runtime.engine.connect() as conn:
        rows = (await conn.execute(query)).all()
    items = [
        SinkMessage(
            id=row.id,
            phone=row.phone,
            template=row.template,
            body=row.body,
            state=row.state,
            created_at=row.created_at.astimezone(SHANGHAI),
            case_id=row.case_id,
        )
        for row in rows[:page_size]
    ]
    next_cursor = encode_cursor({"id": str(items[-1].id)}) if len(rows) > page_size else None
    return SinkMessages(items=items, next_cursor=next_cursor)
