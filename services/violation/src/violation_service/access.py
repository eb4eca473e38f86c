"""Who may see a violation (VI-05), free of HTTP. A citizen or unit sees the violations of the vehicles
bound to its account (a live binding in identity, projected here, ADR 0060); another's answers 404,
never 403. A clerk sees those recorded in the city of their office; a system client (other police
systems) sees all."""

from __future__ import annotations

import uuid

from sqlalchemy import select
from sqlalchemy.engine import RowMapping

from servicekit.uow import UnitOfWork
from servicekit.web import NotFound, Principal
from violation_service import projections
from violation_service.tables import violations


def is_system(principal: Principal) -> bool:
    return "system" in principal.roles


def same_city(office: str | None, office_code: str) -> bool:
    """A clerk's office (`130100`, a city) covers the districts recorded under it (`130104`)."""
    return office is None or office[:4] == office_code[:4]


async def may_see(uow: UnitOfWork, principal: Principal, row: RowMapping) -> bool:
    if is_system(principal):
        return True
    if principal.is_staff:
        return same_city(principal.office, row["office_code"])
    if principal.account_kind not in ("person", "unit"):
        return False
    bound = await projections.vehicle_binding(uow, principal.subject, row["plate_kind"], row["plate_number"])
    return bound.bound


async def load(uow: UnitOfWork, violation_id: uuid.UUID, *, lock: bool = False) -> RowMapping | None:
    query = select(violations).where(violations.c.id == violation_id)
    if lock:
        query = query.with_for_update()
    return (await uow.session.execute(query)).mappings().first()


async def violation_for(
    uow: UnitOfWork, principal: Principal, violation_id: uuid.UUID, *, lock: bool = False
) -> RowMapping:
    """The violation, or 404 when it is not there or not the caller's to see."""
    row = await load(uow, violation_id, lock=lock)
    if row is None or not await may_see(uow, principal, row):
        raise NotFound("violation")
    return row
