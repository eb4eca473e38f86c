"""DL-05 / ID-15: licence photos approved by identity's review post, kept on the holder's record.

identity publishes each approval (`identity.licence_photo.approved.v1`); license keeps every one it is told
of (`licence_photos`) and the record carries the newest, with the last day it is current. An approval that
arrives before the holder's record is taken up when the record is issued (records.issue); one that arrives
after a newer approval changes nothing.
"""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.engine import RowMapping

from license_service import domain, records
from license_service.tables import licence_photos
from servicekit.clock import SHANGHAI
from servicekit.uow import Actor, UnitOfWork


async def keep_approved(
    uow: UnitOfWork,
    actor: Actor,
    *,
    photo_id: str,
    number: str,
    approved_at: datetime,
    valid_months: int,
) -> RowMapping | None:
    """Keep the approval; put it on the holder's record when it is the newest one. The changed record, or
    None when the record is missing (the photo waits for it) or already holds this or a newer photo."""
    valid_until: date = domain.photo_valid_until(approved_at.astimezone(SHANGHAI).date(), valid_months)
    await records.lock_number(uow, number)
    await uow.session.execute(
        insert(licence_photos)
        .values(
            photo_id=photo_id,
            number=number,
            approved_at=approved_at,
            valid_until=valid_until,
            received_at=uow.now,
        )
        .on_conflict_do_nothing(index_elements=[licence_photos.c.photo_id])
    )
    row = await records.load_by_number(uow, number, lock=True)
    if row is None:
        return None
    # Under the record's lock, so two approvals handled at once agree on which is the newest.
    newest = await records.waiting_photo(uow, number)
    if newest is None or newest["photo_id"] != photo_id or row["photo_document_id"] == photo_id:
        return None
    return await records.store_photo(uow, actor, row, photo_id, newest["valid_until"])
