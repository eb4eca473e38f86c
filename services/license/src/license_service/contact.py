"""DL-04: the driver's contact details, changed online by any personal user (counter- or online-registered)
for their own licence, at once: the phone on the record (through `records.change`, published), the
mailing address beside it (the default address of a mailed licence)."""

from __future__ import annotations

import uuid
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.engine import RowMapping

from license_service import domain, records
from license_service.tables import licence_contacts
from servicekit.uow import Actor, UnitOfWork
from servicekit.web import NotFound, Principal


@dataclass(frozen=True)
class Contact:
    phone: str | None
    address: str | None


async def _address(uow: UnitOfWork, record_id: uuid.UUID) -> str | None:
    found: str | None = (
        await uow.session.execute(
            select(licence_contacts.c.address).where(licence_contacts.c.record_id == record_id)
        )
    ).scalar_one_or_none()
    return found


async def get(uow: UnitOfWork, principal: Principal, record_id: uuid.UUID) -> Contact:
    record = await _own(uow, principal, record_id, lock=False)
    return Contact(record["phone"], await _address(uow, record_id))


async def _own(uow: UnitOfWork, principal: Principal, record_id: uuid.UUID, *, lock: bool) -> RowMapping:
    record = await records.load(uow, record_id, lock=lock)
    if record is None or principal.id_number is None or record["number"] != principal.id_number:
        raise NotFound("licence")
    return record


async def change(
    uow: UnitOfWork,
    principal: Principal,
    actor: Actor,
    record_id: uuid.UUID,
    phone: str | None,
    address: str | None,
) -> Contact:
    """DL-04: the caller's own licence (else 404), not a cancelled one; what is unchanged is not written."""
    record = await _own(uow, principal, record_id, lock=True)
    if record["state"] == "cancelled":
        raise domain.LicenceNotUsable("the licence is cancelled", rule="DL-04", extra={"state": "cancelled"})
    if phone is not None and phone != record["phone"]:
        record = await records.change(
            uow,
            actor,
            record,
            "phone",
            "licence.contact_changed",
            None,
            phone=phone,
            phone_changed_at=uow.now,
        )
    before = await _address(uow, record_id)
    if address is not None and address != before:
        await uow.session.execute(
            insert(licence_contacts)
            .values(record_id=record_id, address=address, updated_at=uow.now)
            .on_conflict_do_update(
                index_elements=[licence_contacts.c.record_id],
                set_={"address": address, "updated_at": uow.now},
            )
        )
        uow.audit(
            actor,
            "licence.address_changed",
            f"licence:{record_id}",
            {"address": before},
            {"address": address},
        )
    return Contact(record["phone"], address if address is not None else before)
