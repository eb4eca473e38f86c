"""Licence records (DL-01) in the database: every change writes the row, its event and its audit entry
(AU-01) in the caller's unit of work. The one way to change a record: the system API, the importer, the
consumers, applications (DL-02..DL-08), exams (DL-11) and points (DL-12) all come through here.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

from sqlalchemy import or_, select, text, update
from sqlalchemy.engine import RowMapping

from license_service import domain
from license_service import published as ev
from license_service.domain import LicenceClass, RecordAction
from license_service.tables import licence_photos, licence_records
from servicekit.crypto import blind_match, with_blind
from servicekit.uow import Actor, UnitOfWork

# The first key of the two-key advisory lock on a licence number: its own key space, apart from the
# sweeps' one-key locks.
_NUMBER_LOCK = 1_280_332_883


@dataclass(frozen=True)
class Facts:
    """What a police system states about a licence (DL-01); the platform keeps state and points."""

    number: str
    name: str
    birth_date: date
    classes: frozenset[LicenceClass]
    first_issue: date
    valid_from: date
    valid_until: date
    office_code: str
    file_number: str | None = None
    review_due: date | None = None
    medical_due: date | None = None
    phone: str | None = None

    def columns(self) -> dict[str, Any]:
        return {
            "number": self.number,
            "file_number": self.file_number,
            "name": self.name,
            "birth_date": self.birth_date,
            "classes": sorted(self.classes),
            "first_issue": self.first_issue,
            "valid_from": self.valid_from,
            "valid_until": self.valid_until,
            "review_due": self.review_due,
            "medical_due": self.medical_due,
            "phone": self.phone,
            "office_code": self.office_code,
        }


def snapshot(row: RowMapping | dict[str, Any]) -> dict[str, Any]:
    """The record as the audit trail keeps it (JSON-safe)."""
    out: dict[str, Any] = {}
    for key, value in dict(row).items():
        if isinstance(value, uuid.UUID):
            value = str(value)
        elif isinstance(value, datetime | date):
            value = value.isoformat()
        elif isinstance(value, list | tuple):
            value = list(value)
        out[key] = value
    return out


def classes_of(row: RowMapping) -> frozenset[LicenceClass]:
    return frozenset(row["classes"])


async def load(uow: UnitOfWork, record_id: uuid.UUID, *, lock: bool = False) -> RowMapping | None:
    query = select(licence_records).where(licence_records.c.id == record_id)
    if lock:
        query = query.with_for_update()
    return (await uow.session.execute(query)).mappings().first()


async def load_by_number(uow: UnitOfWork, number: str, *, lock: bool = False) -> RowMapping | None:
    query = select(licence_records).where(blind_match(licence_records.c.number, number))
    if lock:
        query = query.with_for_update()
    return (await uow.session.execute(query)).mappings().first()


async def lock_number(uow: UnitOfWork, number: str) -> None:
    """Serialise, until commit, what concerns one licence number before its record may exist: its issue,
    a photo approval (DL-05) and a penalty decision (DL-12) arriving at the same moment cannot miss each
    other. Re-entrant within the transaction."""
    await uow.session.execute(
        text("SELECT pg_advisory_xact_lock(:cls, hashtext(:number))"), {"cls": _NUMBER_LOCK, "number": number}
    )


async def waiting_photo(uow: UnitOfWork, number: str) -> RowMapping | None:
    """DL-05: the newest licence photo identity approved for this number (licence_photos), if any."""
    query = (
        select(licence_photos)
        .where(blind_match(licence_photos.c.number, number))
        .order_by(licence_photos.c.approved_at.desc(), licence_photos.c.photo_id.desc())
        .limit(1)
    )
    return (await uow.session.execute(query)).mappings().first()


async def issue(
    uow: UnitOfWork,
    actor: Actor,
    facts: Facts,
    source: ev.IssueSource,
    *,
    record_id: uuid.UUID | None = None,
) -> RowMapping:
    """A new record, valid (DL-01), with the newest photo identity approved for the holder before the
    record came (DL-05). The caller has made sure no record has this number (a unique index backs it: two
    issues at once cannot both land). Point entries waiting for the number are attached (DL-12), which may
    already give it points or flag it: the row returned is the record as it now is. `record_id` only for
    the demo's fixed ids (others refer to them first)."""
    await lock_number(uow, facts.number)
    photo = await waiting_photo(uow, facts.number)
    row: RowMapping = (
        (
            await uow.session.execute(
                licence_records.insert()
                .values(
                    id=record_id or uuid.uuid4(),
                    **facts.columns(),
                    photo_document_id=photo["photo_id"] if photo else None,
                    photo_valid_until=photo["valid_until"] if photo else None,
                    state="valid",
                    phone_changed_at=uow.now if facts.phone else None,
                    created_at=uow.now,
                    updated_at=uow.now,
                )
                .returning(licence_records)
            )
        )
        .mappings()
        .one()
    )
    uow.emit(
        ev.LicenceRecordIssued(
            record_id=str(row["id"]),
            number=row["number"],
            name=row["name"],
            classes=list(row["classes"]),
            state=row["state"],
            valid_until=row["valid_until"],
            phone=row["phone"],
            office_code=row["office_code"],
            source=source,
            version=row["version"],
            issued_at=uow.now,
        )
    )
    uow.audit(actor, f"licence.issued.{source}", f"licence:{row['id']}", None, snapshot(row))
    # DL-12: decisions that named this number before the record existed are counted now.
    from license_service import points  # points builds on this module

    return await points.adopt_waiting(uow, row)


async def change(
    uow: UnitOfWork,
    actor: Actor,
    row: RowMapping,
    what: ev.RecordChange,
    action: str,
    reason: str | None = None,
    **values: Any,
) -> RowMapping:
    """Write `values` on the record, publish it as it now is and audit the change: every change of a
    record ends here, so no consumer misses one."""
    after: RowMapping = (
        (
            await uow.session.execute(
                update(licence_records)
                .where(licence_records.c.id == row["id"])
                .values(
                    **with_blind(licence_records, values),
                    updated_at=uow.now,
                    version=licence_records.c.version + 1,
                )
                .returning(licence_records)
            )
        )
        .mappings()
        .one()
    )
    uow.emit(
        ev.LicenceRecordChanged(
            record_id=str(after["id"]),
            number=after["number"],
            change=what,
            state=after["state"],
            classes=list(after["classes"]),
            valid_until=after["valid_until"],
            review_due=after["review_due"],
            medical_due=after["medical_due"],
            phone=after["phone"],
            points=after["points"],
            reason=reason,
            version=after["version"],
            changed_at=uow.now,
        )
    )
    before, now = snapshot(row), snapshot(after)
    uow.audit(
        actor, action, f"licence:{row['id']}", {k: before.get(k) for k in values}, {k: now[k] for k in values}
    )
    return after


async def move(
    uow: UnitOfWork, actor: Actor, row: RowMapping, action: RecordAction, reason: str | None
) -> RowMapping:
    """DL-01's state table: suspension, revocation, cancellation (DL-13), full points (DL-12). The caller
    holds the row lock (`load(..., lock=True)`), so two moves cannot both read the old state."""
    state = domain.move_record(row["state"], action)
    return await change(uow, actor, row, "state", f"licence.{action}", reason, state=state)


async def update_facts(uow: UnitOfWork, actor: Actor, row: RowMapping, facts: Facts) -> RowMapping:
    """A police system's corrected record: the facts it owns, never state or points (a corrected first
    issue date recounts the points' cycles, DL-12). The caller holds the row lock."""
    values = {key: value for key, value in facts.columns().items() if row[key] != value}
    if not values:
        return row
    if "phone" in values:
        values["phone_changed_at"] = uow.now
    row = await change(uow, actor, row, "details", "licence.details_updated", None, **values)
    if "first_issue" in values:
        # DL-12: the cycles run from the first issue date; a corrected date moves them.
        from license_service import points  # points builds on this module

        row = await points.settle(uow, actor, row, "licence.points_recounted", "初次领证日期更正")
    return row


async def replace_phone(
    uow: UnitOfWork, actor: Actor, number: str, phone: str, changed_at: datetime
) -> RowMapping | None:
    """ID-06: a counter registration's phone replaces the one on the holder's licence record (not on a
    cancelled one), unless the record's phone changed after the registration did: a late message does not
    undo a newer change. The changed record, or None when there was nothing to change."""
    row = (
        (
            await uow.session.execute(
                select(licence_records)
                .where(
                    blind_match(licence_records.c.number, number),
                    licence_records.c.state != "cancelled",
                    or_(
                        licence_records.c.phone_changed_at.is_(None),
                        licence_records.c.phone_changed_at < changed_at,
                    ),
                )
                .with_for_update()
            )
        )
        .mappings()
        .first()
    )
    # The phone is sealed (ADR 0096): whether it differs is seen once opened, not in SQL.
    if row is None or row["phone"] == phone:
        return None
    return await change(
        uow,
        actor,
        row,
        "phone",
        "licence.phone_replaced_by_counter_registration",
        None,
        phone=phone,
        phone_changed_at=changed_at,
    )


async def store_photo(
    uow: UnitOfWork, actor: Actor, row: RowMapping, photo_id: str, valid_until: date
) -> RowMapping:
    """DL-05 / ID-15: the approved licence photo and the last day it is current, on the record."""
    return await change(
        uow,
        actor,
        row,
        "photo",
        "licence.photo_stored",
        None,
        photo_document_id=photo_id,
        photo_valid_until=valid_until,
    )
