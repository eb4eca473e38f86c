"""VI-05: violations as their readers list them: a citizen or unit those of its bound vehicles, a clerk or
another police system by plate or since a moment."""

from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import and_, select, tuple_
from sqlalchemy.engine import RowMapping

from servicekit.uow import UnitOfWork
from servicekit.web import Principal
from violation_service import access, projections
from violation_service.tables import decisions, violations


def reads_own(principal: Principal) -> bool:
    return not access.is_system(principal) and not principal.is_staff


async def search(
    uow: UnitOfWork,
    principal: Principal,
    *,
    plate_number: str | None,
    state: str | None,
    since: datetime | None,
    after: uuid.UUID | None,
    limit: int,
) -> list[RowMapping]:
    """Newest first (ids are time-ordered). A citizen or unit: only bound vehicles' violations."""
    query = select(violations)
    if reads_own(principal):
        plates = await projections.bound_plates(uow, principal.subject)
        if not plates:
            return []
        query = query.where(tuple_(violations.c.plate_kind, violations.c.plate_number).in_(plates))
    elif principal.is_staff and principal.office is not None:
        query = query.where(violations.c.office_code.startswith(principal.office[:4]))
    if plate_number:
        query = query.where(violations.c.plate_number == plate_number)
    if state:
        query = query.where(violations.c.state == state)
    if since is not None:
        query = query.where(violations.c.recorded_at >= since)
    if after is not None:
        query = query.where(violations.c.id < after)
    rows = (await uow.session.execute(query.order_by(violations.c.id.desc()).limit(limit))).mappings().all()
    return list(rows)


async def decision_of(uow: UnitOfWork, violation_id: uuid.UUID) -> RowMapping | None:
    """The decision in force for the violation, if any."""
    return (
        (
            await uow.session.execute(
                select(decisions).where(
                    and_(decisions.c.violation_id == violation_id, decisions.c.revoked_at.is_(None))
                )
            )
        )
        .mappings()
        .first()
    )
