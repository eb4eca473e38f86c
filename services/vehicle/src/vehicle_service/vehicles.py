"""Vehicle records (VH-01): one use case per action on a record after its first registration: reading and
searching, the changes clerks and other police systems make (VH-16, VH-01/VH-03 markers, validity
dates, licence photo) and the owner's contact change (VH-11). The HTTP module (`api/vehicles.py`) parses,
calls and shapes; `records.py` writes each change with its event and audit entry.
"""

from __future__ import annotations

import uuid
from datetime import date

from sqlalchemy import select
from sqlalchemy.engine import RowMapping

from servicekit.crypto import blind_match
from servicekit.uow import Actor, UnitOfWork
from servicekit.web import Principal
from vehicle_service import domain, records
from vehicle_service.access import (
    UNIT_OWNER_ID_KINDS,
    check_bound,
    is_unit,
    own_vehicle,
    owner_id,
    vehicle_for,
)
from vehicle_service.tables import vehicles


def searches_own(principal: Principal) -> bool:
    """A citizen or unit lists its own vehicles; clerks and system clients search."""
    return principal.has_any("citizen", "unit") and not principal.is_staff and "system" not in principal.roles


async def search(
    uow: UnitOfWork,
    principal: Principal,
    *,
    plate_number: str | None,
    vin: str | None,
    owner_id_number: str | None,
    after: uuid.UUID | None,
    limit: int,
) -> list[RowMapping]:
    """VH-01: a citizen's or unit's own vehicles, or a clerk's (own office) or system client's search by
    plate, VIN or owner; in id order, from after `after`."""
    query = select(vehicles).order_by(vehicles.c.id).limit(limit)
    if searches_own(principal):
        key = owner_id(principal)
        if key is None:
            return []
        kind_is_unit = vehicles.c.owner_id_kind.in_(sorted(UNIT_OWNER_ID_KINDS))
        query = query.where(
            blind_match(vehicles.c.owner_id_number, key),
            kind_is_unit if is_unit(principal) else ~kind_is_unit,
        )
    elif principal.is_staff and principal.office and "system" not in principal.roles:
        query = query.where(vehicles.c.office_code == principal.office)
    if plate_number:
        query = query.where(vehicles.c.plate_number == plate_number.strip().upper())
    if vin:
        query = query.where(vehicles.c.vin == vin.strip().upper())
    if owner_id_number:
        query = query.where(blind_match(vehicles.c.owner_id_number, owner_id_number))
    if after is not None:
        query = query.where(vehicles.c.id > after)
    return list((await uow.session.execute(query)).mappings().all())


async def vehicle(uow: UnitOfWork, principal: Principal, vehicle_id: uuid.UUID) -> RowMapping:
    """VH-01: the owner, a clerk of its office or a system client; anyone else gets 404."""
    return await vehicle_for(uow, principal, vehicle_id)


async def transfer(
    uow: UnitOfWork,
    principal: Principal,
    actor: Actor,
    vehicle_id: uuid.UUID,
    owner: domain.Owner,
    phone: str,
) -> RowMapping:
    """VH-16: the new owner on the record, published for ID-14 (identity unbinds the others)."""
    row = await vehicle_for(uow, principal, vehicle_id, lock=True)
    domain.check_registered(row["state"])
    domain.check_new_owner(row["owner_id_number"], owner.id_number)
    after = await records.transfer(uow, actor, row, owner, phone)
    return after


async def deregister(
    uow: UnitOfWork, principal: Principal, actor: Actor, vehicle_id: uuid.UUID, forced: bool
) -> RowMapping:
    """VH-16: deregistered (or force-deregistered), published for ID-14."""
    row = await vehicle_for(uow, principal, vehicle_id, lock=True)
    domain.check_registered(row["state"])
    after = await records.deregister(uow, actor, row, forced)
    return after


async def change_use(
    uow: UnitOfWork, principal: Principal, actor: Actor, vehicle_id: uuid.UUID, use: str
) -> RowMapping:
    """VH-16: a change of use, published for ID-14; the same use again changes nothing."""
    row = await vehicle_for(uow, principal, vehicle_id, lock=True)
    domain.check_registered(row["state"])
    if row["use"] == use:
        return row
    after = await records.change_use(uow, actor, row, use)
    return after


async def set_state(
    uow: UnitOfWork, principal: Principal, actor: Actor, vehicle_id: uuid.UUID, state: str, flags: list[str]
) -> RowMapping:
    """VH-01/VH-03: what other police systems record (stolen, locked, transferred out, ...), published;
    the same state and markers again change nothing."""
    row = await vehicle_for(uow, principal, vehicle_id, lock=True)
    domain.check_markers_settable(row["state"])
    if row["state"] == state and sorted(row["flags"]) == sorted(set(flags)):
        return row
    after = await records.change_state(uow, actor, row, state, flags)
    return after


async def set_validity(
    uow: UnitOfWork, principal: Principal, actor: Actor, vehicle_id: uuid.UUID, dates: dict[str, date | None]
) -> RowMapping:
    """VH-01: the inspection and compulsory-insurance valid-until dates, published."""
    row = await vehicle_for(uow, principal, vehicle_id, lock=True)
    after = await records.change_validity(uow, actor, row, **dates)
    return after


async def set_licence_photo(
    uow: UnitOfWork, principal: Principal, actor: Actor, vehicle_id: uuid.UUID, stored: bool
) -> RowMapping:
    """VH-01/VH-04: whether the vehicle licence photo is stored in the information system."""
    row = await vehicle_for(uow, principal, vehicle_id, lock=True)
    after = await records.set_licence_photo(uow, actor, row, stored)
    return after


async def change_contact(
    uow: UnitOfWork, principal: Principal, actor: Actor, vehicle_id: uuid.UUID, phone: str
) -> RowMapping:
    """VH-11 (seed 000: 变更绑定在本人名下的机动车联系方式): any personal user changes the phone of a
    vehicle they own (else 404) and have bound to their account (ADR 0044, else 409 VEHICLE_NOT_BOUND);
    applied to the record and published (identity's ID-03 projection reads it)."""
    row = await own_vehicle(uow, principal, vehicle_id, lock=True)
    await check_bound(uow, principal, row, "VH-11")
    domain.check_registered(row["state"])
    if row["phone"] == phone:
        return row
    after = await records.change_phone(uow, actor, row, phone, "vehicle.contact_changed")
    return after
