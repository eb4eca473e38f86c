"""The shapes plate-pool answers in, for the OpenAPI document and the clients typed from it. The views
(views.py, segments_api.py, appeals_api.py) build the same JSON; these models declare it, and FastAPI
checks each answer against its model. Names carry `Plate` so that the merged document needs no renames."""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from pydantic import BaseModel, Field

# domain.State's values (a test holds them equal): a Literal, so that the merged document has no bare
# `State` for another service's to clash with.
PlateSelectionState = Literal[
    "selecting",
    "session_expired",
    "awaiting_sms",
    "selected",
    "registered",
    "exhausted",
    "abandoned",
    "cancelled",
]


class PlateServerTimeOut(BaseModel):
    """The platform time, for clients that count deadlines down (`held_until`, `sms_deadline`, ...): a
    phone's own clock may be wrong, and in dev and test the platform clock is moved."""

    now: datetime


class PlateSelectionOut(BaseModel):
    """A selection as its owner and its office's clerks see it (the phone masked)."""

    id: str
    state: PlateSelectionState
    office_code: str
    vin: str
    plate_number: str | None = Field(description="the chosen number, from the choice (确认选号) on")
    voucher_number: str | None = Field(description="预选号凭证编号, once confirmed (PP-08)")
    custom_attempts_left: int = Field(description="PP-05: custom verifications left (自编选号)")
    random_draws_left: int = Field(description="PP-06: random draws left (随机选号)")
    session_expires_at: datetime | None = Field(description="PP-04: the end of the selection session")
    sms_deadline: datetime | None = Field(description="PP-07: the end of the SMS confirmation window")
    confirmed_at: datetime | None
    register_by: datetime | None = Field(description="PP-08: register the car at the office before this")
    registered_at: datetime | None
    cancelled_at: datetime | None
    cancel_reason: str | None
    phone: str | None = Field(description="the registered phone the SMS code goes to, masked")


class PlateSelectionDetailOut(PlateSelectionOut):
    """One selection with the numbers it holds right now (absent when it holds none)."""

    held_numbers: list[str] | None = Field(
        default=None, description="PP-05/PP-06: the numbers held for this selection until `held_until`"
    )
    held_until: datetime | None = Field(default=None, description="the hold's end (180 s from the draw)")


class PlateSelectionPage(BaseModel):
    items: list[PlateSelectionOut]
    next_cursor: str | None


class PlateDrawOut(BaseModel):
    """PP-06: five numbers held for the selection until `held_until`."""

    selection_id: str
    numbers: list[str]
    held_until: datetime
    random_draws_left: int


class PlateDrawQueuedOut(BaseModel):
    """PP-10: too few numbers free: the draw waits in line (no draw spent); ask again after
    `retry_after_s`, within `place_kept_s` to keep the place."""

    selection_id: str
    queued: Literal[True]
    queue_position: int
    queue_length: int
    retry_after_s: int
    place_kept_s: int
    random_draws_left: int


class PlateVerifyOut(BaseModel):
    """PP-05: the number verified and held; no custom attempt is left."""

    selection_id: str
    number: str
    held_until: datetime | None
    custom_attempts_left: int


class PlateSmsCodeOut(BaseModel):
    """PP-07: where the code went (masked) and until when it is valid."""

    sent_to: str
    code_expires_at: datetime | None


class PlateCertificateCheckOut(BaseModel):
    """PP-08: a scanned certificate's QR code checked at the counter."""

    genuine: bool
    usable: bool = Field(description="the selection is selected and names the plate the code names")
    selection: PlateSelectionOut


class PlateWhoAmIOut(BaseModel):
    subject: str
    roles: list[str]


class PlateOfficeOut(BaseModel):
    """An office that pre-selects numbers: one with a published segment."""

    office_code: str
    name: str


class PlateOfficePage(BaseModel):
    items: list[PlateOfficeOut]
    next_cursor: str | None
