"""The office calendar over HTTP (WD-01): an admin sets and lists a year's official days.

`office_calendar_router(get_office, on_set)` is mounted by the one service that owns the calendar
(docs/adr/0004-office-calendar.md); `get_office(request)` returns its `OfficeCalendar`, and `on_set(uow,
year)` records what the owner publishes about it (its own event: the kit has none) in the same unit of work.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import date
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Path, Request
from pydantic import BaseModel, Field

from servicekit.clock import SHANGHAI
from servicekit.uow import UnitOfWork
from servicekit.web.app import UowDep
from servicekit.web.auth import Principal, require_roles
from servicekit.web.context import actor_from
from servicekit.workdays import OfficeCalendar, OfficeDay, OfficeYear

ADMIN_ROLE = "clerk.admin"
Admin = Annotated[Principal, Depends(require_roles(ADMIN_ROLE))]
Year = Annotated[int, Path(ge=2000, le=2100)]


class OfficeDayIn(BaseModel):
    date: date
    working: bool  # false: a holiday off; true: an adjusted working day (调休)
    name: Annotated[str, Field(max_length=100, pattern=r"^[^\x00]*$")] = ""


class OfficeYearIn(BaseModel):
    source: Annotated[str, Field(min_length=1, max_length=500, pattern=r"^[^\x00]*$")]
    days: Annotated[list[OfficeDayIn], Field(max_length=366)]


def year_view(year: int, office: OfficeYear | None, package_knows: bool) -> dict[str, Any]:
    return {
        "year": year,
        "set": office is not None,
        "known_by_package": package_knows,
        "source": office.source if office else None,
        "set_by": office.set_by if office else None,
        "set_at": office.set_at.astimezone(SHANGHAI).isoformat() if office else None,
        "days": [
            {"date": d.day.isoformat(), "working": d.working, "name": d.name}
            for d in (office.days if office else ())
        ],
    }


def office_calendar_router(
    get_office: Callable[[Request], OfficeCalendar],
    on_set: Callable[[UnitOfWork, OfficeYear], None] | None = None,
    prefix: str = "/api/v1/workdays",
) -> APIRouter:
    router = APIRouter(prefix=prefix, tags=["office calendar"])

    @router.put("/{year}", summary="Set a year's holidays and adjusted working days (WD-01, admin)")
    async def set_year(
        year: Year, body: OfficeYearIn, request: Request, principal: Admin, uow: UowDep
    ) -> dict[str, Any]:
        office = get_office(request)
        days = [OfficeDay(d.date, d.working, d.name) for d in body.days]
        async with uow:
            before = await office.year(uow.session, year)
            await office.set_year(
                uow.session, year, days, source=body.source, set_by=principal.subject, now=uow.now
            )
            uow.audit(
                actor_from(request, principal, role=ADMIN_ROLE),
                "office_calendar_year_set",
                f"office_calendar:{year}",
                before=_audit_view(before),
                after={"source": body.source, "days": len(days)},
            )
            after = await office.year(uow.session, year)
            assert after is not None
            if on_set is not None:
                on_set(uow, after)
            await uow.commit()
            package = (await office.calendar(uow.session)).package_knows_year(year)
        return year_view(year, after, package)

    @router.get("/{year}", summary="A year's official days as the office calendar holds them (WD-01, admin)")
    async def get_year(year: Year, request: Request, principal: Admin, uow: UowDep) -> dict[str, Any]:
        office = get_office(request)
        async with uow:
            held = await office.year(uow.session, year)
            package = (await office.calendar(uow.session)).package_knows_year(year)
        return year_view(year, held, package)

    return router


def _audit_view(office: OfficeYear | None) -> dict[str, Any] | None:
    return None if office is None else {"source": office.source, "days": len(office.days)}
