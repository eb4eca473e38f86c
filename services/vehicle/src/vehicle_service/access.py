"""Whose vehicle is it: object-level access for the use cases (ADR 0012, ADR 0044), free of HTTP.

A citizen or unit reaches only its own vehicles (another's answers 404, never 403, so that existence does
not leak); the online services on a vehicle (VH-02..VH-11, VH-13) also need it bound to the calling
account in identity (`vehicle_bindings`, projected from `identity.binding.*`), else 409 VEHICLE_NOT_BOUND.
"""

from __future__ import annotations

import uuid

from sqlalchemy.engine import RowMapping

from servicekit.uow import UnitOfWork
from servicekit.vocabulary import UNIT_ID_KINDS
from servicekit.web import NotFound, Principal
from vehicle_service import domain, records

UNIT_OWNER_ID_KINDS = UNIT_ID_KINDS


def owner_id(principal: Principal) -> str | None:
    """ADR 0012: whose vehicles are the caller's own: a person's identity number, a unit's unified social
    credit code (`idn` of a `kind: unit` token; the unit's agent signs in as the unit), nobody's for
    clerks and system clients."""
    if principal.is_staff or "system" in principal.roles:
        return None
    if principal.account_kind not in ("person", "unit"):
        return None
    return principal.id_number


def is_unit(principal: Principal) -> bool:
    return principal.account_kind == "unit"


def owner_kind_matches(principal: Principal, owner_id_kind: str | None) -> bool:
    """A unit owns only records whose owner is a unit (credit code), a person only a person's: an identity
    number and a credit code that happen to be spelt alike name different owners."""
    return (owner_id_kind in UNIT_OWNER_ID_KINDS) == is_unit(principal)


def owns(principal: Principal, row: RowMapping) -> bool:
    """ID-08, VH-01, VH-13: the caller, a person or a unit, is the recorded owner."""
    key = owner_id(principal)
    if key is None or key != row["owner_id_number"]:
        return False
    return owner_kind_matches(principal, row["owner_id_kind"])


def may_see(principal: Principal, row: RowMapping) -> bool:
    """Object-level access: an owner sees their vehicle, a clerk their office's, a system client all."""
    if "system" in principal.roles:
        return True
    if principal.is_staff:
        return principal.office is None or principal.office == row["office_code"]
    return owns(principal, row)


async def vehicle_for(
    uow: UnitOfWork, principal: Principal, vehicle_id: uuid.UUID, *, lock: bool = False
) -> RowMapping:
    """The vehicle, or 404 when it is not there or not the caller's to see (never 403)."""
    row = await records.load(uow, vehicle_id, lock=lock)
    if row is None or not may_see(principal, row):
        raise NotFound("vehicle")
    return row


async def own_vehicle(
    uow: UnitOfWork, principal: Principal, vehicle_id: uuid.UUID, *, lock: bool = False
) -> RowMapping:
    """A citizen's or unit's own vehicle, or 404."""
    row = await records.load(uow, vehicle_id, lock=lock)
    if row is None or not owns(principal, row):
        raise NotFound("vehicle")
    return row


async def check_bound(uow: UnitOfWork, principal: Principal, vehicle: RowMapping, rule: str) -> None:
    """VH-02, VH-11, VH-13 (seed: 绑定在本人名下): the calling account has a live binding of the vehicle in
    identity (ADR 0044), persons and units alike; ownership alone is not enough. 409 VEHICLE_NOT_BOUND
    with the rule of the service asked for."""
    if not await records.is_bound(uow, principal.subject, vehicle["id"]):
        raise domain.VehicleNotBound(
            "bind the vehicle to your account first (in identity), then use this service", rule=rule
        )
