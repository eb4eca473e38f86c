"""Temporary plates issued by car dealers on the police's behalf (VH-12): one use case per action of the
intake post (hand out blanks, late network check) and the dealer (report damaged blanks, issue a plate).
The HTTP module (`api/temp_plates.py`) parses, calls and shapes; `qualifications.py` has the review
post's actions, `dealers.py` the stock, the qualification changes and the sweeps.

Limits that are counted before a write hold under concurrency: every write of a dealer's blanks and
plates locks the dealer's row first, so the stock read is the stock written against.
"""

from __future__ import annotations

import secrets
import uuid
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.engine import RowMapping

from servicekit.clock import SHANGHAI
from servicekit.ids import new_id
from servicekit.uow import Actor, UnitOfWork
from servicekit.web import NotFound, Principal
from vehicle_service import dealers, domain
from vehicle_service import published as ev
from vehicle_service.tables import temp_plate_collections, temp_plate_dealers, temp_plates


@dataclass(frozen=True)
class Collection:
    id: uuid.UUID
    dealer_id: uuid.UUID
    quantity: int
    damaged_returned: int
    check_state: str
    recalled: int


async def collect(
    uow: UnitOfWork, actor: Actor, dealer_id: uuid.UUID, quantity: int, damaged_returned: int, checked: bool
) -> Collection:
    """VH-12: the intake post hands out blanks within the dealer's quota, after taking back (and
    destroying) every damaged blank reported since the last collection. When the network check cannot
    run (`checked` false), the blanks go out and the check is completed later (`late_check`)."""
    row = await dealers.load(uow, dealer_id)
    domain.check_dealer_can_issue(row["state"], row["valid_until"], uow.now.astimezone(SHANGHAI).date())
    domain.check_collection(
        quantity, damaged_returned, quota=row["quota"], damaged_outstanding=row["damaged_outstanding"]
    )
    collection = Collection(
        id=new_id(),
        dealer_id=dealer_id,
        quantity=quantity,
        damaged_returned=damaged_returned,
        check_state="passed" if checked else "pending",
        recalled=0,
    )
    await uow.session.execute(
        temp_plate_collections.insert().values(
            id=collection.id,
            dealer_id=dealer_id,
            quantity=quantity,
            damaged_returned=damaged_returned,
            check_state=collection.check_state,
            collected_at=uow.now,
            checked_at=uow.now if checked else None,
        )
    )
    await uow.session.execute(
        update(temp_plate_dealers).where(temp_plate_dealers.c.id == dealer_id).values(damaged_outstanding=0)
    )
    uow.audit(
        actor,
        "temp_plate.blanks_collected",
        f"dealer:{dealer_id}",
        None,
        {
            "quantity": quantity,
            "damaged_destroyed": damaged_returned,
            "check": "passed" if checked else "unavailable",
        },
    )
    return collection


async def late_check(uow: UnitOfWork, actor: Actor, collection_id: uuid.UUID, passed: bool) -> Collection:
    """VH-12: blanks handed out while the check was down are checked once the network is back; a failed
    check suspends the qualification and recalls the blanks not yet issued."""
    query = (
        select(temp_plate_collections).where(temp_plate_collections.c.id == collection_id).with_for_update()
    )
    row = (await uow.session.execute(query)).mappings().first()
    if row is None:
        raise NotFound("collection")
    if row["check_state"] != "pending":
        raise domain.AlreadyChecked(f"the collection's check {row['check_state']}")
    held_by = await dealers.load(uow, row["dealer_id"])
    recalled = 0
    if not passed:
        recalled = max(0, min(row["quantity"], await dealers.stock(uow, held_by["id"])))
        if held_by["state"] == "active":
            await dealers.change(
                uow,
                actor,
                held_by,
                "suspended",
                reason="late network check failed",
                state="suspended",
                state_reason="late network check failed",
            )
    await uow.session.execute(
        update(temp_plate_collections)
        .where(temp_plate_collections.c.id == collection_id)
        .values(check_state="passed" if passed else "failed", checked_at=uow.now, recalled=recalled)
    )
    uow.audit(
        actor,
        "temp_plate.collection_checked",
        f"collection:{collection_id}",
        None,
        {"passed": passed, "recalled": recalled},
    )
    return Collection(
        id=collection_id,
        dealer_id=row["dealer_id"],
        quantity=row["quantity"],
        damaged_returned=row["damaged_returned"],
        check_state="passed" if passed else "failed",
        recalled=recalled,
    )


async def _my_dealer(uow: UnitOfWork, principal: Principal) -> RowMapping:
    """The caller's live qualification, locked: the stock it writes against cannot move meanwhile."""
    query = (
        select(temp_plate_dealers)
        .where(
            temp_plate_dealers.c.account_subject == principal.subject,
            temp_plate_dealers.c.state != "cancelled",
        )
        .with_for_update()
    )
    row = (await uow.session.execute(query)).mappings().first()
    if row is None:
        raise domain.DealerNotActive(
            "this account holds no temporary-plate qualification", extra={"state": "none"}
        )
    return row


async def report_damaged(
    uow: UnitOfWork, principal: Principal, actor: Actor, count: int, cause: str
) -> dict[str, Any]:
    """VH-12: blanks spoiled by poor storage or a printing fault are kept and handed back at the next
    collection; repeated damage makes the review post ask for an explanation."""
    held_by = await _my_dealer(uow, principal)
    if await dealers.stock(uow, held_by["id"]) < count:
        raise domain.NoBlanksLeft("more damaged blanks than blanks held")
    after: RowMapping = (
        (
            await uow.session.execute(
                update(temp_plate_dealers)
                .where(temp_plate_dealers.c.id == held_by["id"])
                .values(
                    damaged_count=temp_plate_dealers.c.damaged_count + count,
                    damaged_outstanding=temp_plate_dealers.c.damaged_outstanding + count,
                )
                .returning(temp_plate_dealers)
            )
        )
        .mappings()
        .one()
    )
    uow.audit(
        actor,
        "temp_plate.blanks_damaged",
        f"dealer:{held_by['id']}",
        None,
        {"count": count, "cause": cause},
    )
    stock = await dealers.stock(uow, held_by["id"])
    return dict(after) | {"blanks_in_stock": stock}


@dataclass(frozen=True)
class Car:
    vin: str
    brand: str
    model: str
    owner: domain.Owner
    phone: str


async def issue(uow: UnitOfWork, principal: Principal, actor: Actor, car: Car) -> RowMapping:
    """VH-12: an active, unexpired dealer issues a plate from its blanks, only for a brand/model it is
    authorised to sell, for a car that will be registered."""
    held_by = await _my_dealer(uow, principal)
    today = uow.now.astimezone(SHANGHAI).date()
    domain.check_dealer_can_issue(held_by["state"], held_by["valid_until"], today)
    if not domain.is_authorised(held_by["authorised"], car.brand, car.model):
        raise domain.BrandNotAuthorised(f"{car.brand} {car.model} is outside the dealer's authorisation")
    if await dealers.stock(uow, held_by["id"]) < 1:
        raise domain.NoBlanksLeft("no blank temporary plates left; collect more at the office")
    values = {
        "id": new_id(),
        "dealer_id": held_by["id"],
        "number": f"{held_by['office_code'][:2]}T{secrets.randbelow(10**8):08d}",
        "vin": car.vin,
        "brand": car.brand,
        "model": car.model,
        "owner_id_kind": car.owner.id_kind,
        "owner_id_number": car.owner.id_number,
        "owner_name": car.owner.name,
        "phone": car.phone,
        "issued_at": uow.now,
        "valid_until": today + timedelta(days=domain.TEMP_PLATE_DAYS - 1),
        "state": "issued",
    }
    row: RowMapping = (
        (await uow.session.execute(temp_plates.insert().values(**values).returning(temp_plates)))
        .mappings()
        .one()
    )
    uow.emit(
        ev.TempPlateIssued(
            temp_plate_id=str(row["id"]),
            dealer_id=str(held_by["id"]),
            number=row["number"],
            vin=car.vin,
            brand=car.brand,
            model=car.model,
            owner=ev.OwnerRef(id_kind=car.owner.id_kind, id_number=car.owner.id_number, name=car.owner.name),
            valid_until=row["valid_until"],
            issued_at=uow.now,
        )
    )
    uow.audit(
        actor,
        "temp_plate.issued",
        f"temp_plate:{row['id']}",
        None,
        {"vin": car.vin, "number": row["number"]},
    )
    return row
