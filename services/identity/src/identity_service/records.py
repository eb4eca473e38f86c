"""The ID-03 projection of vehicles, licences and licence applications per identity number, and what a
change of one does to accounts and bindings: kind conversions (ID-07) and automatic unbinding (ID-14).

Fed by vehicle's and license's events (subscriptions.py) and, for what no producer publishes yet (licence
applications) or what other police systems still send that way (vehicles), by a `system` client
(`PUT /api/v1/users/person-records/{record_kind}/{ref}`; licences left it, ADR 0050). Every path calls
`apply_record`. Licence events carry the record's `version`: one older than what is projected is dropped.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import or_, select, update
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession

from identity_service import domain
from identity_service.binding_events import end_bindings
from identity_service.domain import PersonRecord
from identity_service.tables import accounts, bindings, person_records
from servicekit.crypto import blind_match, with_blind
from servicekit.uow import UnitOfWork


@dataclass(frozen=True)
class RecordChange:
    record_kind: str  # vehicle | licence | licence_application
    ref: str
    id_number: str  # the current owner / holder / applicant
    state: str
    phone: str | None = None
    plate_number: str | None = None
    vin: str | None = None
    use: str | None = None
    # For vehicles: what happened (registered, transferred, deregistered, use_changed, contact_changed).
    change: str | None = None
    from_use: str | None = None
    # The producer's version of the record (licences): an event older than the projection is dropped.
    version: int | None = None


@dataclass(frozen=True)
class RecordEffects:
    unbound_accounts: list[str]
    converted_accounts: list[str]
    applied: bool = True  # False: an older version than the projection's, dropped


DROPPED = RecordEffects(unbound_accounts=[], converted_accounts=[], applied=False)


async def records_of(session: AsyncSession, id_number: str) -> list[PersonRecord]:
    rows = (
        await session.execute(
            select(person_records).where(blind_match(person_records.c.id_number, id_number))
        )
    ).all()
    return [
        PersonRecord(
            record_kind=row.record_kind,
            ref=row.ref,
            id_number=row.id_number,
            phone=row.phone,
            state=row.state,
            use=row.use,
        )
        for row in rows
    ]


async def apply_record(uow: UnitOfWork, change: RecordChange, now: datetime) -> RecordEffects:
    session = uow.session
    kept = person_records.c
    previous = (
        await session.execute(
            select(person_records)
            .where(kept.record_kind == change.record_kind, kept.ref == change.ref)
            .with_for_update()
        )
    ).first()
    if (
        change.version is not None
        and previous is not None
        and previous.version is not None
        and previous.version >= change.version
    ):
        return DROPPED
    values = {
        "id_number": change.id_number,
        "phone": change.phone if change.phone is not None else (previous.phone if previous else None),
        "state": change.state,
        "plate_number": change.plate_number or (previous.plate_number if previous else None),
        "vin": change.vin or (previous.vin if previous else None),
        "use": change.use or (previous.use if previous else None),
        "version": change.version if change.version is not None else (previous.version if previous else None),
        "updated_at": now,
    }
    stmt = insert(person_records).values(record_kind=change.record_kind, ref=change.ref, **values)
    # Two first events of one record handled at once both find no row: the later-committing one updates
    # only when it is the newer version.
    written = (
        await session.execute(
            stmt.on_conflict_do_update(
                index_elements=[kept.record_kind, kept.ref],
                set_=with_blind(person_records, values),
                where=or_(
                    kept.version.is_(None),
                    stmt.excluded.version.is_(None),
                    kept.version < stmt.excluded.version,
                ),
            ).returning(kept.ref)
        )
    ).first()
    if written is None:
        return DROPPED
    unbound: list[str] = []
    converted: list[str] = []
    if change.record_kind == "vehicle":
        kind_of_change = change.change
        if kind_of_change is None and previous is not None:
            if previous.id_number != change.id_number:
                kind_of_change = "transferred"
            elif change.state == "deregistered" and previous.state != "deregistered":
                kind_of_change = "deregistered"
            elif previous.use != change.use and change.use is not None:
                kind_of_change = "use_changed"
        from_use = change.from_use or (previous.use if previous else None)
        if kind_of_change and domain.unbinds_on_vehicle_change(kind_of_change, from_use, change.use):
            unbound = await _unbind_all_but_owner(uow, change.ref, change.id_number, kind_of_change)
        if change.state in domain.LIVE_VEHICLE_STATES and (
            kind_of_change in (None, "registered", "transferred")
        ):
            converted = await _convert(session, change.id_number, "vehicle_registered", now)
    elif change.record_kind == "licence":
        if domain.unbinds_on_licence_state(change.state):
            unbound = await _unbind(uow, "licence", change.ref, "licence_cancelled")
        elif change.state in domain.LIVE_LICENCE_STATES:
            converted = await _convert(session, change.id_number, "licence_issued", now)
    return RecordEffects(unbound_accounts=unbound, converted_accounts=converted)


async def _unbind_all_but_owner(
    uow: UnitOfWork, vehicle_ref: str, owner_id_number: str, reason: str
) -> list[str]:
    """ID-14: every binding of the vehicle ends except the current owner's: a person by identity number, a
    unit by its credit code (ID-08; a unit's `id_number` is its agent's, who does not own its vehicles)."""
    is_unit = accounts.c.category == "unit"
    owner_accounts = select(accounts.c.id).where(
        (is_unit & (accounts.c.credit_code == owner_id_number))
        | (~is_unit & blind_match(accounts.c.id_number, owner_id_number))
    )
    ended = await end_bindings(
        uow,
        (bindings.c.record_kind == "vehicle")
        & (bindings.c.ref == vehicle_ref)
        & bindings.c.account_id.not_in(owner_accounts),
        reason,
    )
    return [str(r.account_id) for r in ended]


async def _unbind(uow: UnitOfWork, record_kind: str, ref: str, reason: str) -> list[str]:
    """ID-14 / DL-13: a cancelled licence is unbound from its user."""
    ended = await end_bindings(uow, (bindings.c.record_kind == record_kind) & (bindings.c.ref == ref), reason)
    return [str(r.account_id) for r in ended]


async def _convert(session: AsyncSession, id_number: str, event: str, now: datetime) -> list[str]:
    """ID-07: learners and new-car owners become owner/driver users when a licence or a vehicle arrives."""
    rows = (
        await session.execute(
            select(accounts.c.id, accounts.c.kind).where(
                accounts.c.category == "personal",
                blind_match(accounts.c.id_number, id_number),
                accounts.c.status != "cancelled",
                accounts.c.kind.in_(("learner", "new_car_owner")),
            )
        )
    ).all()
    changed = []
    for row in rows:
        new_kind = domain.converted_kind(
            row.kind, "licence_issued" if event == "licence_issued" else "vehicle_registered"
        )
        if new_kind != row.kind:
            await session.execute(
                update(accounts).where(accounts.c.id == row.id).values(kind=new_kind, updated_at=now)
            )
            changed.append(str(row.id))
    return changed
