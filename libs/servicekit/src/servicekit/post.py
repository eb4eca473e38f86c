"""The post (VH-05, VH-09, DL-02..DL-08): an office hands mailed items to the postal service through an
adapter, and gets a tracking number back.

Delivery updates come back from the post (its tracking callbacks) to each service's `post-events`
endpoint, as a `system` client. In dev and test the adapter is `LocalPost`, which accepts every parcel and
gives it a local tracking number; tests and demos then report delivered or refused through the same
endpoint the real post's bridge calls. vehicle (plates, vehicle licences, marks) and license (driving
licences) share it.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from typing import Protocol


@dataclass(frozen=True)
class Parcel:
    case_id: uuid.UUID
    recipient: str
    phone: str
    address: str
    contents: str  # e.g. "号牌 冀A12345", "行驶证", "机动车驾驶证", plus "临时号牌"
    collect_damaged_item: bool  # VH-06: the postman takes back the damaged plate, licence or old card


class PostService(Protocol):
    name: str

    async def dispatch(self, parcel: Parcel) -> str:
        """Hand the parcel over; returns the tracking number. Raises on failure (the clerk retries)."""
        ...


@dataclass
class LocalPost:
    """Dev and test: keeps the parcels it was given, in this process."""

    name: str = "local"
    parcels: dict[str, Parcel] = field(default_factory=dict)

    async def dispatch(self, parcel: Parcel) -> str:
        tracking = "LP" + uuid.uuid4().hex[:16].upper()
        self.parcels[tracking] = parcel
        return tracking


LOCAL_POST = LocalPost()


def post_service() -> PostService:
    """The deployment's post. Only the local one exists so far; a real bridge plugs in here."""
    return LOCAL_POST
