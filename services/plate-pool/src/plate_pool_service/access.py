"""Who may see a selection: the account that started it, and the clerks of its office. Anyone else is
told it is not there (404, api.md), so that its existence does not leak."""

from __future__ import annotations

import uuid
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncEngine

from plate_pool_service.tables import selections
from servicekit.web import NotFound, Principal


def can_see(row: Any, principal: Principal) -> bool:
    if principal.is_staff:
        return principal.office is not None and principal.office == row.office_code
    return bool(row.account_id == principal.subject)


async def visible_selection(engine: AsyncEngine, selection_id: uuid.UUID, principal: Principal) -> Any:
    """The selection's row, or NotFound when it does not exist or is not the caller's to see."""
    async with engine.connect() as conn:
        row = (await conn.execute(select(selections).where(selections.c.id == selection_id))).first()
    if row is None or not can_see(row, principal):
        raise NotFound("selection")
    return row
