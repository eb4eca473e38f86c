"""Operators' view of the SMS notify sent (NT-01): delivery records, and dead letters put back in the queue.

Mounted before `api.router`, so `/api/v1/messages/deliveries` is not read as a message id. Clerks answering
a citizen's "I never got the SMS" see the record with the phone masked (api.md: masked in lists); only
`clerk.admin` (or a `system` client) may requeue dead letters.
"""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, Body, Depends, Query, Request
from pydantic import AfterValidator, BaseModel, Field
from sqlalchemy import select

from notify_service import templates
from notify_service.delivery import requeue_in
from notify_service.domain import SmsState
from notify_service.tables import sms_messages
from servicekit.clock import SHANGHAI
from servicekit.crypto import blind_match
from servicekit.masking import mask_phone
from servicekit.pagination import InvalidCursor, clamp_limit, decode_cursor, encode_cursor
from servicekit.validators import mobile_phone
from servicekit.web import Principal, RuntimeDep, Unprocessable, actor_from, require_roles

router = APIRouter(prefix="/api/v1/messages", tags=["operations"])

Staff = Annotated[
    Principal,
    Depends(require_roles("clerk.intake", "clerk.review", "clerk.archive", "clerk.admin", "system")),
]
Admin = Annotated[Principal, Depends(require_roles("clerk.admin", "system"))]


class Delivery(BaseModel):
    id: uuid.UUID
    phone: str  # masked
    template: str
    title: str = Field(description="the template's name in Chinese, as the citizen's inbox shows it")
    case_id: str | None
    state: str
    attempts: int
    provider: str | None
    provider_ref: str | None
    failure_reason: str | None
    last_error: str | None
    created_at: datetime
    sent_at: datetime | None
    delivered_at: datetime | None


class Deliveries(BaseModel):
    items: list[Delivery]
    next_cursor: str | None = None


def _title(template: str) -> str:
    known = templates.TEMPLATES.get(template)
    return known.title if known is not None else template


def _local(moment: datetime | None) -> datetime | None:
    return None if moment is None else moment.astimezone(SHANGHAI)


@router.get("/deliveries", response_model=Deliveries, summary="Delivery records of sent SMS (staff)")
async def list_deliveries(
    runtime: RuntimeDep,
    _: Staff,
    phone: Annotated[str | None, Query(), AfterValidator(lambda v: v and mobile_phone(v))] = None,
    case_id: Annotated[str | None, Query(max_length=100)] = None,
    state: SmsState | None = None,
    limit: Annotated[int | None, Query(ge=1, le=100)] = None,
    cursor: Annotated[str | None, Query(max_length=1024)] = None,
) -> Deliveries:
    """NT-01: every send with its delivery state, newest first, by phone, case or state. Message bodies
    are left out (codes are secrets); the phone is masked."""
    if phone is None and case_id is None and state is None:
        raise Unprocessable("FILTER_REQUIRED", "give a phone, a case_id or a state")
    page_size = clamp_limit(limit)
    query = select(sms_messages)
    if phone is not None:
        query = query.where(blind_match(sms_messages.c.phone, phone))
    if case_id is not None:
        query = query.where(sms_messages.c.case_id == case_id)
    if state is not None:
        query = query.where(sms_messages.c.state == state)
    if cursor is not None:
        try:
            after = uuid.UUID(str(decode_cursor(cursor)["id"]))
        except (InvalidCursor, KeyError, ValueError):
            raise Unprocessable("INVALID_CURSOR", "the cursor is not one this list returned") from None
        query = query.where(sms_messages.c.id < after)
    query = query.order_by(sms_messages.c.id.desc()).limit(page_size + 1)
    async with runtime.engine.connect() as conn:
        rows = (await conn.execute(query)).all()
    items = [
        Delivery(
            id=row.id,
            phone=mask_phone(row.phone),
            template=row.template,
            title=_title(row.template),
            case_id=row.case_id,
            state=row.state,
            attempts=row.attempts,
            provider=row.provider,
            provider_ref=row.provider_ref,
            failure_reason=row.failure_reason,
            last_error=row.last_error,
            created_at=row.created_at.astimezone(SHANGHAI),
            sent_at=_local(row.sent_at),
            delivered_at=_local(row.delivered_at),
        )
        for row in rows[:page_size]
    ]
    next_cursor = encode_cursor({"id": str(items[-1].id)}) if len(rows) > page_size else None
    return Deliveries(items=items, next_cursor=next_cursor)


class RequeueRequest(BaseModel):
    ids: list[uuid.UUID] | None = Field(
        default=None, max_length=1000, description="The dead letters to put back; all of them if omitted."
    )


class Requeued(BaseModel):
    requeued: int


@router.post("/dead-letters/requeue", response_model=Requeued, summary="Put dead-lettered SMS back")
async def requeue(
    request: Request,
    runtime: RuntimeDep,
    principal: Admin,
    body: Annotated[RequeueRequest, Body()] = RequeueRequest(),  # noqa: B008 - a constant default
) -> Requeued:
    """NT-01: messages whose every attempt failed are never lost: once the provider or its configuration
    is fixed, an operator puts them back in the queue, due now, attempts reset. Audited."""
    async with runtime.uow() as uow:
        count = await requeue_in(uow, body.ids)
        uow.audit(
            actor_from(request, principal),
            "notify.dead_letters.requeued",
            "sms_messages",
            after={"requeued": count, "ids": None if body.ids is None else [str(i) for i in body.ids]},
        )
        await uow.commit()
    return Requeued(requeued=count)
