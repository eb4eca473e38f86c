"""The notify service's HTTP API, mounted under /api/v1.

`router` is the public API: the signed-in user's in-app inbox (`/api/v1/messages`, NT-01); the SMS
provider's delivery-report callback is `receipts_api.py`. `test_router` (`/api/v1/_test/*`) is mounted
in dev and test only (see main.py), so in prod its paths answer 404.
"""

from __future__ import annotations

import logging
import uuid
from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, Path, Query, Request
from pydantic import AfterValidator, BaseModel
from sqlalchemy import func, select, update

from notify_service import templates
from notify_service.domain import CODE_TEMPLATE
from notify_service.tables import sms_messages
from servicekit.clock import SHANGHAI
from servicekit.crypto import blind_match
from servicekit.pagination import InvalidCursor, clamp_limit, decode_cursor, encode_cursor
from servicekit.validators import mobile_phone
from servicekit.web import CurrentPrincipal, NotFound, RuntimeDep, Unprocessable, actor_from

log = logging.getLogger(__name__)

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
        .where(blind_match(sms_messages.c.phone, phone))
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


# --- the in-app inbox (NT-01) ---------------------------------------------------------------------------


class InboxMessage(BaseModel):
    id: uuid.UUID
    kind: str  # the template key: one per message kind
    title: str
    body: str
    case_id: str | None
    created_at: datetime
    read: bool
    read_at: datetime | None


class InboxPage(BaseModel):
    items: list[InboxMessage]
    next_cursor: str | None = None


_INBOX_COLUMNS = (
    sms_messages.c.id,
    sms_messages.c.template,
    sms_messages.c.body,
    sms_messages.c.case_id,
    sms_messages.c.created_at,
    sms_messages.c.read_at,
)


def _inbox_item(row: Any) -> InboxMessage:
    template = templates.TEMPLATES.get(row.template)
    return InboxMessage(
        id=row.id,
        kind=row.template,
        title=template.title if template is not None else row.template,
        body=row.body,
        case_id=row.case_id,
        created_at=row.created_at.astimezone(SHANGHAI),
        read=row.read_at is not None,
        read_at=None if row.read_at is None else row.read_at.astimezone(SHANGHAI),
    )


def _mine(account_id: str) -> Any:
    """The caller's messages. Verification codes are one-time secrets, never kept in an inbox."""
    return (sms_messages.c.account_id == account_id) & (sms_messages.c.template != CODE_TEMPLATE)


@router.get("/messages", response_model=InboxPage, summary="The signed-in user's messages, newest first")
async def list_messages(
    runtime: RuntimeDep,
    principal: CurrentPrincipal,
    limit: Annotated[int | None, Query(ge=1, le=100)] = None,
    cursor: Annotated[str | None, Query(max_length=1024)] = None,
    unread: Annotated[bool, Query(description="only messages not read yet")] = False,
) -> InboxPage:
    """NT-01: every message the platform sent this account, newest first, with its read state."""
    page_size = clamp_limit(limit)
    query = select(*_INBOX_COLUMNS).where(_mine(principal.subject))
    if unread:
        query = query.where(sms_messages.c.read_at.is_(None))
    if cursor is not None:
        try:
            after = uuid.UUID(str(decode_cursor(cursor)["id"]))
        except (InvalidCursor, KeyError, ValueError):
            raise Unprocessable("INVALID_CURSOR", "the cursor is not one this list returned") from None
        query = query.where(sms_messages.c.id < after)
    query = query.order_by(sms_messages.c.id.desc()).limit(page_size + 1)
    async with runtime.engine.connect() as conn:
        rows = (await conn.execute(query)).all()
    items = [_inbox_item(row) for row in rows[:page_size]]
    next_cursor = encode_cursor({"id": str(items[-1].id)}) if len(rows) > page_size else None
    return InboxPage(items=items, next_cursor=next_cursor)


class UnreadCount(BaseModel):
    unread: int


# The static paths before /messages/{message_id}, which would read them as (invalid) ids.
@router.get("/messages/unread-count", response_model=UnreadCount, summary="How many messages are unread")
async def unread_count(runtime: RuntimeDep, principal: CurrentPrincipal) -> UnreadCount:
    """The app's badge."""
    async with runtime.engine.connect() as conn:
        count = await conn.scalar(
            select(func.count())
            .select_from(sms_messages)
            .where(_mine(principal.subject), sms_messages.c.read_at.is_(None))
        )
    return UnreadCount(unread=int(count or 0))


class MarkedRead(BaseModel):
    marked: int


@router.post("/messages/read-all", response_model=MarkedRead, summary="Mark every message read")
async def mark_all_read(request: Request, runtime: RuntimeDep, principal: CurrentPrincipal) -> MarkedRead:
    """Every unread message of the caller, read now; audited as one change."""
    async with runtime.uow() as uow:
        changed = await uow.session.execute(
            update(sms_messages)
            .where(_mine(principal.subject), sms_messages.c.read_at.is_(None))
            .values(read_at=uow.now)
            .returning(sms_messages.c.id)
        )
        count = len(changed.scalars().all())
        if count:
            uow.audit(
                actor_from(request, principal),
                "notify.messages.read_all",
                f"account:{principal.subject}",
                after={"marked": count},
            )
            await uow.commit()
    return MarkedRead(marked=count)


MessageId = Annotated[uuid.UUID, Path(description="The message's id")]


@router.get("/messages/{message_id}", response_model=InboxMessage, summary="One of the user's messages")
async def get_message(
    runtime: RuntimeDep, principal: CurrentPrincipal, message_id: MessageId
) -> InboxMessage:
    """Another account's message answers 404, as one that does not exist."""
    async with runtime.engine.connect() as conn:
        row = (
            await conn.execute(
                select(*_INBOX_COLUMNS).where(sms_messages.c.id == message_id, _mine(principal.subject))
            )
        ).first()
    if row is None:
        raise NotFound("message")
    return _inbox_item(row)


@router.post("/messages/{message_id}/read", response_model=InboxMessage, summary="Mark a message read")
async def mark_read(
    request: Request, runtime: RuntimeDep, principal: CurrentPrincipal, message_id: MessageId
) -> InboxMessage:
    """Idempotent: a message read before keeps its first read time. Another account's: 404."""
    async with runtime.uow() as uow:
        row = (
            await uow.session.execute(
                select(*_INBOX_COLUMNS)
                .where(sms_messages.c.id == message_id, _mine(principal.subject))
                .with_for_update()
            )
        ).first()
        if row is None:
            raise NotFound("message")
        if row.read_at is None:
            row = (
                await uow.session.execute(
                    update(sms_messages)
                    .where(sms_messages.c.id == message_id)
                    .values(read_at=uow.now)
                    .returning(*_INBOX_COLUMNS)
                )
            ).one()
            uow.audit(
                actor_from(request, principal),
                "notify.message.read",
                f"sms_message:{message_id}",
                before={"read_at": None},
                after={"read_at": row.read_at.isoformat()},
            )
            await uow.commit()
    return _inbox_item(row)
