"""Helpers the identity routes share: the context dependency, account lookups and views."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Annotated, Any

from fastapi import Depends
from pydantic import BaseModel, Field
from sqlalchemy import Select, Table, select, tuple_
from sqlalchemy.ext.asyncio import AsyncSession

from identity_service.context import IdentityContext, get_context
from identity_service.domain import capabilities
from identity_service.tables import accounts
from identity_service.tokens import TokenAccount
from servicekit.clock import SHANGHAI
from servicekit.masking import mask_id_number, mask_phone
from servicekit.pagination import InvalidCursor, clamp_limit, decode_cursor, encode_cursor
from servicekit.uow import UnitOfWork
from servicekit.vocabulary import IdKind
from servicekit.web import NotFound, Unprocessable

# Per-user limit on the writes a citizen makes (servicekit.web.limits, real time): a flood guard.
USER_WRITE_LIMIT = "60/minute"

CtxDep = Annotated[IdentityContext, Depends(get_context)]


async def oldest_first_page(
    uow: UnitOfWork, table: Table, query: Select[Any], limit: int | None, cursor: str | None
) -> tuple[list[Any], str | None]:
    """One page of a work queue, oldest first (`created_at`, `id`), and the cursor of the next page."""
    page = clamp_limit(limit)
    if cursor is not None:
        try:
            after = decode_cursor(cursor)
            query = query.where(
                tuple_(table.c.created_at, table.c.id)
                > tuple_(datetime.fromisoformat(str(after["t"])), uuid.UUID(str(after["id"])))
            )
        except (InvalidCursor, KeyError, ValueError):
            raise Unprocessable("INVALID_CURSOR", "the cursor is not one this list returned") from None
    query = query.order_by(table.c.created_at, table.c.id).limit(page + 1)
    async with uow:
        rows = list((await uow.session.execute(query)).all())
    if len(rows) <= page:
        return rows, None
    last = rows[page - 1]
    return rows[:page], encode_cursor({"t": last.created_at.isoformat(), "id": str(last.id)})


def parse_uuid(value: str, what: str) -> uuid.UUID:
    try:
        return uuid.UUID(value)
    except ValueError:
        raise NotFound(what) from None


async def load_account(session: AsyncSession, account_id: uuid.UUID | str, *, lock: bool = False) -> Any:
    query = select(accounts).where(
        accounts.c.id
        == (account_id if isinstance(account_id, uuid.UUID) else parse_uuid(account_id, "account"))
    )
    if lock:
        query = query.with_for_update()
    row = (await session.execute(query)).first()
    if row is None or row.status == "cancelled":
        raise NotFound("account")
    return row


def token_account(row: Any) -> TokenAccount:
    return TokenAccount(
        id=row.id,
        category=row.category,
        roles=list(row.roles),
        office=row.office,
        id_number=row.id_number,
        channel=row.channel,
        credit_code=row.credit_code,
        phone=row.phone,
    )


class AccountOut(BaseModel):
    """The account as its owner sees it: identity number and phone masked, as everywhere."""

    id: str
    category: str
    kind: str
    channel: str
    name: str
    id_kind: IdKind | None
    id_number: str | None
    credit_code: str | None
    phone: str | None
    email: str | None
    roles: list[str]
    office: str | None
    status: str
    created_at: str
    capabilities: list[str] = Field(description="what clients offer this account (ID-07, ID-08)")


def account_view(row: Any) -> AccountOut:
    return AccountOut(
        id=str(row.id),
        category=row.category,
        kind=row.kind,
        channel=row.channel,
        name=row.name,
        id_kind=row.id_kind,
        id_number=mask_id_number(row.id_number) if row.id_number else None,
        credit_code=row.credit_code,
        phone=mask_phone(row.phone) if row.phone else None,
        email=row.email,
        roles=sorted(row.roles),
        office=row.office,
        status=row.status,
        created_at=row.created_at.astimezone(SHANGHAI).isoformat(),
        capabilities=capabilities(row.category, row.kind, row.channel, row.roles),
    )
