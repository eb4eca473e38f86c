"""The messages the license service consumes: a local tolerant model, a handler and a queue each.

- identity's `identity.person.phone_changed.v1` (ID-06): a counter registration's phone replaces the one
  on the holder's licence record (DL-01), unless a newer change came first;
- identity's `identity.licence_photo.approved.v1` (ID-15, DL-05): the approved photo and its expiry on the
  holder's record (`photos.py`).
Each change of a record is published (`license.record.changed.v1`) for identity's ID-03 projection.
"""

from __future__ import annotations

import logging
from datetime import datetime

from pydantic import BaseModel, ConfigDict

from license_service import photos, records
from license_service.settings import LicenseSettings
from servicekit.consumer import Subscription
from servicekit.envelope import Envelope
from servicekit.uow import SYSTEM_ACTOR, UnitOfWork
from servicekit.vocabulary import IdKindIn

log = logging.getLogger(__name__)


class _Tolerant(BaseModel):
    model_config = ConfigDict(extra="ignore", frozen=True)


class PhoneChanged(_Tolerant):
    id_kind: IdKindIn
    id_number: str
    phone: str
    changed_at: datetime


class LicencePhotoApproved(_Tolerant):
    photo_id: str
    id_number: str
    approved_at: datetime


async def apply_phone_changed(uow: UnitOfWork, event: PhoneChanged, envelope: Envelope) -> None:
    """ID-06: the counter registration's phone on the person's licence record (a person's licence number
    is their identity number: no record has a unit's credit code)."""
    changed = await records.replace_phone(uow, SYSTEM_ACTOR, event.id_number, event.phone, event.changed_at)
    log.info("ID-06: phone %s on the licence record", "replaced" if changed is not None else "not replaced")


async def keep_licence_photo(uow: UnitOfWork, event: LicencePhotoApproved, envelope: Envelope) -> None:
    """DL-05 / ID-15: the photo identity's review post approved, on the holder's record with its expiry."""
    settings = uow.runtime.settings
    months = settings.photo_valid_months if isinstance(settings, LicenseSettings) else 6
    await photos.keep_approved(
        uow,
        SYSTEM_ACTOR,
        photo_id=event.photo_id,
        number=event.id_number,
        approved_at=event.approved_at,
        valid_months=months,
    )


PHONE_CHANGED = Subscription(
    name="apply-phone-changed",
    handles={"identity.person.phone_changed.v1": PhoneChanged},
    handler=apply_phone_changed,
    summary="ID-06: replace the phone on the person's licence record.",
)
LICENCE_PHOTO_APPROVED = Subscription(
    name="keep-licence-photo",
    handles={"identity.licence_photo.approved.v1": LicencePhotoApproved},
    handler=keep_licence_photo,
    summary="DL-05 / ID-15: keep the approved licence photo and its expiry on the holder's record.",
)

SUBSCRIPTIONS: list[Subscription] = [PHONE_CHANGED, LICENCE_PHOTO_APPROVED]
