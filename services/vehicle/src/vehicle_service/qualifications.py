"""A car dealer's temporary-plate qualification (VH-12): one use case per action of the review post (grant,
yearly review, quota, cancellation) and the reading of a qualification. The HTTP module
(`api/temp_plates.py`) parses, calls and shapes; `dealers.py` keeps the stock and the qualification
changes, `temp_plates.py` the blanks and plates.

One live qualification per unit holds under concurrent reviews: the use case reads the unit's rows first
for its answer, and a partial unique index (`uq_temp_plate_dealers_uscc_live`, migration 0009) decides a
race.
"""

from __future__ import annotations

import uuid
from datetime import timedelta
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.engine import RowMapping
from sqlalchemy.exc import IntegrityError

from servicekit.clock import SHANGHAI
from servicekit.ids import new_id
from servicekit.uow import Actor, UnitOfWork
from servicekit.web import NotFound, Principal
from vehicle_service import dealers, domain
from vehicle_service import published as ev
from vehicle_service.tables import temp_plate_dealers


def _with_stock(row: RowMapping, stock: int) -> dict[str, Any]:
    """The qualification as the API shows it: with the blanks the dealer holds."""
    return dict(row) | {"blanks_in_stock": stock}


async def qualify(
    uow: UnitOfWork, actor: Actor, office: str | None, values: dict[str, Any]
) -> dict[str, Any]:
    """VH-12: the review post checks the documents, that the unit holds no live qualification and is not
    barred (a cancelled dealer waits one year), and records the dealer, its authorised brands/models and
    its blank quota; the qualification is valid one year."""
    domain.check_dealer_documents(values["documents"])
    existing = (
        await uow.session.execute(
            select(temp_plate_dealers.c.state, temp_plate_dealers.c.cancelled_at).where(
                temp_plate_dealers.c.uscc == values["uscc"]
            )
        )
    ).all()
    if any(e.state in ("active", "suspended") for e in existing):
        raise domain.DealerAlreadyQualified("this unit holds a qualification")
    domain.check_reapply_bar(max((e.cancelled_at for e in existing if e.cancelled_at), default=None), uow.now)
    today = uow.now.astimezone(SHANGHAI).date()
    try:
        row: RowMapping = (
            (
                await uow.session.execute(
                    temp_plate_dealers.insert()
                    .values(
                        id=new_id(),
                        office_code=office or "000000",
                        state="active",
                        valid_from=today,
                        valid_until=domain.qualification_until(today),
                        created_at=uow.now,
                        updated_at=uow.now,
                        **values,
                    )
                    .returning(temp_plate_dealers)
                )
            )
            .mappings()
            .one()
        )
    except IntegrityError:  # qualified concurrently: the live-qualification index said no
        raise domain.DealerAlreadyQualified("this unit holds a qualification") from None
    uow.emit(
        ev.DealerStateChanged(
            dealer_id=str(row["id"]),
            uscc=row["uscc"],
            name=row["name"],
            state="active",
            change="qualified",
            reason=None,
            valid_until=row["valid_until"],
            changed_at=uow.now,
        )
    )
    uow.audit(
        actor,
        "temp_plate_dealer.qualified",
        f"dealer:{row['id']}",
        None,
        {"uscc": row["uscc"], "quota": row["quota"]},
    )
    stock = await dealers.stock(uow, row["id"])
    return _with_stock(row, stock)


async def dealer(uow: UnitOfWork, principal: Principal, dealer_id: uuid.UUID) -> dict[str, Any]:
    """A dealer's qualification with its stock: the review and intake posts and system clients see any,
    a dealer its own (another's answers 404)."""
    row = await dealers.load(uow, dealer_id, lock=False)
    if "dealer" in principal.roles and not principal.is_staff and row["account_subject"] != principal.subject:
        raise NotFound("dealer")
    return _with_stock(row, await dealers.stock(uow, row["id"]))


async def renew(
    uow: UnitOfWork,
    actor: Actor,
    dealer_id: uuid.UUID,
    documents: dict[str, str],
    authorised: list[str] | None,
) -> dict[str, Any]:
    """VH-12: the yearly review, in the qualification's last month, with the documents again; passing it
    extends the qualification by a year."""
    domain.check_dealer_documents(documents)
    row = await dealers.load(uow, dealer_id)
    today = uow.now.astimezone(SHANGHAI).date()
    domain.check_dealer_can_issue(row["state"], row["valid_until"], today)
    domain.check_renewal_window(row["valid_until"], today)
    values: dict[str, Any] = {
        "valid_until": domain.qualification_until(row["valid_until"] + timedelta(days=1)),
        "documents": documents,
    }
    if authorised:
        values["authorised"] = authorised
    after = await dealers.change(uow, actor, row, "renewed", **values)
    stock = await dealers.stock(uow, dealer_id)
    return _with_stock(after, stock)


async def set_quota(
    uow: UnitOfWork, actor: Actor, dealer_id: uuid.UUID, quota: int, basis: str
) -> dict[str, Any]:
    """VH-12: the office sets how many blanks a dealer collects at a time from its sales."""
    row = await dealers.load(uow, dealer_id)
    after: RowMapping = (
        (
            await uow.session.execute(
                update(temp_plate_dealers)
                .where(temp_plate_dealers.c.id == dealer_id)
                .values(quota=quota, updated_at=uow.now)
                .returning(temp_plate_dealers)
            )
        )
        .mappings()
        .one()
    )
    uow.audit(
        actor,
        "temp_plate_dealer.quota",
        f"dealer:{dealer_id}",
        {"quota": row["quota"]},
        {"quota": quota, "basis": basis},
    )
    stock = await dealers.stock(uow, dealer_id)
    return _with_stock(after, stock)


async def cancel(
    uow: UnitOfWork, actor: Actor, dealer_id: uuid.UUID, reason: str, note: str | None
) -> dict[str, Any]:
    """VH-12: repeated owner mismatches or damaged blanks without good reason cancel the qualification;
    the dealer may not apply again for a year."""
    row = await dealers.load(uow, dealer_id)
    if row["state"] == "cancelled":
        raise domain.DealerAlreadyCancelled("the qualification is cancelled")
    after = await dealers.change(
        uow,
        actor,
        row,
        "cancelled",
        reason=reason,
        state="cancelled",
        state_reason=note or reason,
        cancelled_at=uow.now,
    )
    stock = await dealers.stock(uow, dealer_id)
    return _with_stock(after, stock)
