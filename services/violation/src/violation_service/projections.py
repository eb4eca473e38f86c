"""What violation keeps of other services (ADR 0060), fed by their events and never asked synchronously:
identity's bindings (vehicles, own or not, and licences) and vehicle's plates. VI-02 and VI-05 read them.

A binding's start and end may arrive in either order or twice: a start never clears an end, and the
first end recorded stays (as in vehicle's projection, ADR 0044).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import func, select
from sqlalchemy.dialects.postgresql import insert

from servicekit.uow import UnitOfWork
from violation_service.tables import bindings, vehicle_plates


async def project_binding(
    uow: UnitOfWork,
    *,
    binding_id: str,
    account_id: str,
    record_kind: str,
    ref: str | None = None,
    licence_number: str | None = None,
    owned: bool,
    holder_name: str | None = None,
    bound_at: datetime | None = None,
    ended_at: datetime | None = None,
) -> None:
    stmt = insert(bindings).values(
        binding_id=binding_id,
        account_id=account_id,
        record_kind=record_kind,
        ref=ref,
        licence_number=licence_number,
        owned=owned,
        holder_name=holder_name,
        bound_at=bound_at,
        ended_at=ended_at,
        updated_at=uow.now,
    )
    kept = bindings.c
    await uow.session.execute(
        stmt.on_conflict_do_update(
            index_elements=[kept.binding_id],
            set_={
                "bound_at": func.coalesce(kept.bound_at, stmt.excluded.bound_at),
                "ended_at": func.coalesce(kept.ended_at, stmt.excluded.ended_at),
                "holder_name": func.coalesce(stmt.excluded.holder_name, kept.holder_name),
                "updated_at": uow.now,
            },
        )
    )


async def project_plate(
    uow: UnitOfWork, vehicle_id: str, plate_kind: str | None, plate_number: str, owner_id_number: str | None
) -> None:
    """A vehicle's plate (registered, imported, transferred): the last one told is kept; a transfer, which
    names no plate kind, keeps the kind known."""
    changed: dict[str, object] = {"plate_number": plate_number, "updated_at": uow.now}
    if plate_kind is not None:
        changed["plate_kind"] = plate_kind
    if owner_id_number is not None:
        changed["owner_id_number"] = owner_id_number
    stmt = insert(vehicle_plates).values(
        vehicle_id=vehicle_id,
        plate_kind=plate_kind or "02",
        plate_number=plate_number,
        owner_id_number=owner_id_number,
        updated_at=uow.now,
    )
    await uow.session.execute(
        stmt.on_conflict_do_update(index_elements=[vehicle_plates.c.vehicle_id], set_=changed)
    )


@dataclass(frozen=True)
class Licence:
    number: str
    holder_name: str


async def bound_licence(uow: UnitOfWork, account_id: str) -> Licence | None:
    """VI-02: the licence the account has bound (live), if any: its number is the handling driver's."""
    row = (
        await uow.session.execute(
            select(bindings.c.licence_number, bindings.c.holder_name)
            .where(
                bindings.c.account_id == account_id,
                bindings.c.record_kind == "licence",
                bindings.c.bound_at.is_not(None),
                bindings.c.ended_at.is_(None),
            )
            .order_by(bindings.c.bound_at.desc())
            .limit(1)
        )
    ).first()
    return (
        None
        if row is None or row.licence_number is None
        else Licence(row.licence_number, row.holder_name or "")
    )


@dataclass(frozen=True)
class VehicleBinding:
    bound: bool
    owned: bool


async def vehicle_binding(
    uow: UnitOfWork, account_id: str, plate_kind: str, plate_number: str
) -> VehicleBinding:
    """VI-02: whether the account has a live binding of a vehicle with this plate, and whether it owns
    one (identity's `owned`: the account's own vehicle, not one bound at the counter for another)."""
    rows = (
        await uow.session.execute(
            select(bindings.c.owned)
            .join(vehicle_plates, vehicle_plates.c.vehicle_id == bindings.c.ref)
            .where(
                bindings.c.account_id == account_id,
                bindings.c.record_kind == "vehicle",
                bindings.c.bound_at.is_not(None),
                bindings.c.ended_at.is_(None),
                vehicle_plates.c.plate_kind == plate_kind,
                vehicle_plates.c.plate_number == plate_number,
            )
        )
    ).all()
    return VehicleBinding(bound=bool(rows), owned=any(r.owned for r in rows))


async def bound_plates(uow: UnitOfWork, account_id: str) -> list[tuple[str, str]]:
    """VI-05: the plates (kind, number) of the vehicles the account has bound (live)."""
    rows = (
        await uow.session.execute(
            select(vehicle_plates.c.plate_kind, vehicle_plates.c.plate_number)
            .join(bindings, vehicle_plates.c.vehicle_id == bindings.c.ref)
            .where(
                bindings.c.account_id == account_id,
                bindings.c.record_kind == "vehicle",
                bindings.c.bound_at.is_not(None),
                bindings.c.ended_at.is_(None),
            )
            .distinct()
        )
    ).all()
    return [(r.plate_kind, r.plate_number) for r in rows]
