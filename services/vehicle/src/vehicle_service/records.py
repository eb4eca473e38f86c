"""Vehicle records (VH-01) in the database: every change writes the row, its event (VH-16, EV-01) and its
audit entry (AU-01) in the caller's unit of work. Used by the API, the consumers and the importer.
"""

from __future__ import annotations

import uuid
from datetime import date, datetime
from typing import Any

from sqlalchemy import func, or_, select, update
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.engine import RowMapping

from servicekit.crypto import blind_match, with_blind
from servicekit.uow import Actor, UnitOfWork
from vehicle_service import published as ev
from vehicle_service.domain import Owner, Preselection
from vehicle_service.tables import preselections, vehicle_bindings, vehicles

PUBLIC_FIELDS = (
    "id",
    "office_code",
    "plate_kind",
    "plate_number",
    "vin",
    "vehicle_kind",
    "owner_id_kind",
    "owner_id_number",
    "owner_name",
    "phone",
    "use",
    "state",
    "flags",
    "inspection_valid_until",
    "insurance_valid_until",
    "licence_photo_stored",
    "plate_reissue_count",
    "registered_at",
    "updated_at",
    "version",
)


def snapshot(row: RowMapping | dict[str, Any]) -> dict[str, Any]:
    """The record as the audit trail keeps it (JSON-safe)."""
    out: dict[str, Any] = {}
    for key in PUBLIC_FIELDS:
        value = row[key]
        if isinstance(value, uuid.UUID):
            value = str(value)
        elif isinstance(value, datetime | date):
            value = value.isoformat()
        elif isinstance(value, list | tuple):
            value = list(value)
        out[key] = value
    return out


async def load(uow: UnitOfWork, vehicle_id: uuid.UUID, *, lock: bool = False) -> RowMapping | None:
    query = select(vehicles).where(vehicles.c.id == vehicle_id)
    if lock:
        query = query.with_for_update()
    return (await uow.session.execute(query)).mappings().first()


def owner_ref(row: RowMapping | dict[str, Any]) -> ev.OwnerRef:
    return ev.OwnerRef(id_kind=row["owner_id_kind"], id_number=row["owner_id_number"], name=row["owner_name"])


async def _update(uow: UnitOfWork, row: RowMapping, **values: Any) -> RowMapping:
    result = await uow.session.execute(
        update(vehicles)
        .where(vehicles.c.id == row["id"])
        .values(**with_blind(vehicles, values), updated_at=uow.now, version=vehicles.c.version + 1)
        .returning(vehicles)
    )
    changed: RowMapping = result.mappings().one()
    return changed


async def change_phone(
    uow: UnitOfWork,
    actor: Actor,
    row: RowMapping,
    phone: str,
    action: str,
    changed_at: datetime | None = None,
) -> RowMapping:
    """VH-11 / ID-06: the owner's phone on the record, published for identity's ID-03 projection."""
    after = await _update(uow, row, phone=phone, phone_changed_at=changed_at or uow.now)
    uow.emit(
        ev.VehicleContactChanged(
            vehicle_id=str(row["id"]),
            plate_number=row["plate_number"],
            owner_id_number=row["owner_id_number"],
            phone=phone,
            changed_at=uow.now,
        )
    )
    uow.audit(actor, action, f"vehicle:{row['id']}", {"phone": row["phone"]}, {"phone": phone})
    return after


async def replace_owner_phone(
    uow: UnitOfWork, actor: Actor, id_number: str, phone: str, changed_at: datetime
) -> int:
    """ID-06: every live record of this owner whose phone differs gets the new one, unless the record's
    phone changed after this counter registration did (a late message does not undo a newer change)."""
    rows = (
        (
            await uow.session.execute(
                select(vehicles)
                .where(
                    blind_match(vehicles.c.owner_id_number, id_number),
                    vehicles.c.state == "registered",
                    or_(vehicles.c.phone_changed_at.is_(None), vehicles.c.phone_changed_at < changed_at),
                )
                .order_by(vehicles.c.id)
                .with_for_update()
            )
        )
        .mappings()
        .all()
    )
    # The phone is sealed (ADR 0096): whether it differs is seen once opened, not in SQL.
    changing = [row for row in rows if row["phone"] != phone]
    for row in changing:
        await change_phone(
            uow, actor, row, phone, "vehicle.phone_replaced_by_counter_registration", changed_at
        )
    return len(changing)


async def transfer(uow: UnitOfWork, actor: Actor, row: RowMapping, owner: Owner, phone: str) -> RowMapping:
    """VH-16 / ID-14: a transfer of ownership, published so identity unbinds the vehicle from others."""
    after = await _update(
        uow,
        row,
        owner_id_kind=owner.id_kind,
        owner_id_number=owner.id_number,
        owner_name=owner.name,
        phone=phone,
        phone_changed_at=uow.now,
    )
    uow.emit(
        ev.VehicleTransferred(
            vehicle_id=str(row["id"]),
            plate_number=row["plate_number"],
            vin=row["vin"],
            previous_owner_id_number=row["owner_id_number"],
            owner=owner_ref(after),
            phone=phone,
            transferred_at=uow.now,
        )
    )
    uow.audit(actor, "vehicle.transferred", f"vehicle:{row['id']}", snapshot(row), snapshot(after))
    return after


async def deregister(uow: UnitOfWork, actor: Actor, row: RowMapping, forced: bool) -> RowMapping:
    """VH-16 / ID-14: deregistration (or forced deregistration), published."""
    after = await _update(uow, row, state="force_deregistered" if forced else "deregistered")
    uow.emit(
        ev.VehicleDeregistered(
            vehicle_id=str(row["id"]),
            plate_number=row["plate_number"],
            vin=row["vin"],
            owner_id_number=row["owner_id_number"],
            deregistered_at=uow.now,
        )
    )
    uow.audit(actor, "vehicle.deregistered", f"vehicle:{row['id']}", snapshot(row), snapshot(after))
    return after


async def change_use(uow: UnitOfWork, actor: Actor, row: RowMapping, to_use: str) -> RowMapping:
    """VH-16 / ID-14: a change of use, published (commercial → non-commercial unbinds others)."""
    after = await _update(uow, row, use=to_use)
    uow.emit(
        ev.VehicleUseChanged(
            vehicle_id=str(row["id"]),
            plate_number=row["plate_number"],
            owner_id_number=row["owner_id_number"],
            from_use=row["use"],
            to_use=after["use"],
            changed_at=uow.now,
        )
    )
    uow.audit(actor, "vehicle.use_changed", f"vehicle:{row['id']}", {"use": row["use"]}, {"use": to_use})
    return after


async def change_state(
    uow: UnitOfWork, actor: Actor, row: RowMapping, state: str, flags: list[str]
) -> RowMapping:
    """VH-01/VH-03: police markers and the lifecycle state other systems set, published."""
    after = await _update(uow, row, state=state, flags=sorted(set(flags)))
    uow.emit(
        ev.VehicleStateChanged(
            vehicle_id=str(row["id"]),
            plate_number=row["plate_number"],
            owner_id_number=row["owner_id_number"],
            state=after["state"],
            flags=list(after["flags"]),
            changed_at=uow.now,
        )
    )
    uow.audit(
        actor,
        "vehicle.state_changed",
        f"vehicle:{row['id']}",
        {"state": row["state"], "flags": list(row["flags"])},
        {"state": after["state"], "flags": list(after["flags"])},
    )
    return after


async def change_validity(uow: UnitOfWork, actor: Actor, row: RowMapping, **dates: date | None) -> RowMapping:
    """VH-01: inspection and compulsory-insurance valid-until dates, published."""
    after = await _update(uow, row, **dates)
    uow.emit(
        ev.VehicleValidityChanged(
            vehicle_id=str(row["id"]),
            plate_number=row["plate_number"],
            owner_id_number=row["owner_id_number"],
            inspection_valid_until=after["inspection_valid_until"],
            insurance_valid_until=after["insurance_valid_until"],
            changed_at=uow.now,
        )
    )
    before = {k: (row[k].isoformat() if row[k] else None) for k in dates}
    now_values = {k: (after[k].isoformat() if after[k] else None) for k in dates}
    uow.audit(actor, "vehicle.validity_changed", f"vehicle:{row['id']}", before, now_values)
    return after


async def set_licence_photo(uow: UnitOfWork, actor: Actor, row: RowMapping, stored: bool) -> RowMapping:
    """VH-01/VH-04: whether a vehicle licence photo is stored (no event: nothing outside reads it)."""
    after = await _update(uow, row, licence_photo_stored=stored)
    uow.audit(
        actor,
        "vehicle.licence_photo",
        f"vehicle:{row['id']}",
        {"licence_photo_stored": row["licence_photo_stored"]},
        {"licence_photo_stored": stored},
    )
    return after


# --- the pre-selection projection (PP-09) ---------------------------------------------------------


async def upsert_preselection(uow: UnitOfWork, **values: Any) -> None:
    stmt = insert(preselections).values(**values, updated_at=uow.now)
    # A late confirmed event never revives a selection already registered or cancelled here.
    await uow.session.execute(
        stmt.on_conflict_do_update(
            index_elements=[preselections.c.selection_id],
            # A sealed owner's number takes its blind index along (the insert's default computed it).
            set_={k: stmt.excluded[k] for k in with_blind(preselections, values) if k != "selection_id"}
            | {"updated_at": uow.now},
            where=preselections.c.state == "confirmed",
        )
    )


async def end_preselection(uow: UnitOfWork, selection_id: str, state: str) -> None:
    """A selection registered or cancelled; if its confirmation has not arrived yet, the row is kept with
    the state alone, so that the confirmation, when it comes, finds it ended."""
    stmt = insert(preselections).values(selection_id=selection_id, state=state, updated_at=uow.now)
    await uow.session.execute(
        stmt.on_conflict_do_update(
            index_elements=[preselections.c.selection_id],
            set_={"state": state, "updated_at": uow.now},
            where=preselections.c.state == "confirmed",
        )
    )


async def load_preselection(uow: UnitOfWork, selection_id: str) -> Preselection | None:
    row = (
        (
            await uow.session.execute(
                select(preselections).where(preselections.c.selection_id == selection_id).with_for_update()
            )
        )
        .mappings()
        .first()
    )
    if row is None:
        return None
    if row["state"] != "confirmed":  # possibly an ended selection whose details never arrived
        return Preselection(
            selection_id=row["selection_id"],
            office_code=row["office_code"] or "",
            plate_number=row["plate_number"] or "",
            vin=row["vin"] or "",
            # An ended selection is never compared (check_selection_usable refuses it first).
            owner=Owner(
                row["owner_id_kind"] or "resident_id", row["owner_id_number"] or "", row["owner_name"] or ""
            ),
            phone=row["phone"] or "",
            register_by=row["register_by"] or row["updated_at"],
            state=row["state"],
        )
    return Preselection(
        selection_id=row["selection_id"],
        office_code=row["office_code"],
        plate_number=row["plate_number"],
        vin=row["vin"],
        owner=Owner(row["owner_id_kind"], row["owner_id_number"], row["owner_name"]),
        phone=row["phone"],
        register_by=row["register_by"],
        state=row["state"],
    )


async def project_binding(
    uow: UnitOfWork,
    *,
    binding_id: str,
    account_id: str,
    vehicle_ref: str,
    owned: bool,
    bound_at: datetime | None = None,
    ended_at: datetime | None = None,
) -> None:
    """ADR 0044: one of identity's vehicle bindings, started (`bound_at`) or ended (`ended_at`). Either may
    arrive first or twice: a start never clears an end, and the first end recorded stays."""
    stmt = insert(vehicle_bindings).values(
        binding_id=binding_id,
        account_id=account_id,
        vehicle_ref=vehicle_ref,
        owned=owned,
        bound_at=bound_at,
        ended_at=ended_at,
        updated_at=uow.now,
    )
    kept = vehicle_bindings.c
    await uow.session.execute(
        stmt.on_conflict_do_update(
            index_elements=[kept.binding_id],
            set_={
                "bound_at": func.coalesce(kept.bound_at, stmt.excluded.bound_at),
                "ended_at": func.coalesce(kept.ended_at, stmt.excluded.ended_at),
                "updated_at": uow.now,
            },
        )
    )


async def is_bound(uow: UnitOfWork, account_id: str, vehicle_id: uuid.UUID) -> bool:
    """VH-13: the account has a live binding of the vehicle (started and not ended)."""
    row = (
        await uow.session.execute(
            select(vehicle_bindings.c.binding_id)
            .where(
                vehicle_bindings.c.vehicle_ref == str(vehicle_id),
                vehicle_bindings.c.account_id == account_id,
                vehicle_bindings.c.bound_at.is_not(None),
                vehicle_bindings.c.ended_at.is_(None),
            )
            .limit(1)
        )
    ).first()
    return row is not None
