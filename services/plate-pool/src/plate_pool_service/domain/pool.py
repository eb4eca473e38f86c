"""PP-10: the pool available for selection never falls below its floor, and a segment's life: planned by
its office, approved by the superior office, published before it opens.
"""

from __future__ import annotations

from datetime import date
from typing import TYPE_CHECKING

from servicekit.refusal import Refusal, refusal

if TYPE_CHECKING:
    from plate_pool_service.domain.office_settings import OfficeSettings

PoolExhausted = refusal("POOL_EXHAUSTED", "PP-10")
NoOpenSegment = refusal("NO_OPEN_SEGMENT", "PP-10")

POOL_FLOOR = 50_000  # PP-10, seed §24(3): 预选机动车号牌号码池可用号牌号码数量不得低于五万个
PoolBelowFloor = refusal("POOL_BELOW_FLOOR", "PP-10")


def check_floor_setting(floor: int) -> None:
    """PP-10: an office may raise its pool's floor (`low_pool_threshold`), never set it under 50,000."""
    if floor < POOL_FLOOR:
        raise Refusal(
            f"the available pool never falls below {POOL_FLOOR:,} numbers",
            code="INVALID_SETTINGS",
            rule="PP-10",
            status=422,
            extra={"floor": POOL_FLOOR},
        )


def check_pool_floor(available: int, settings: OfficeSettings, *, opening: bool = False) -> None:
    """PP-10: the pool available for selection never falls below 50,000 numbers (the office's
    `low_pool_threshold`, never lower than that): a segment does not open (`opening`: its publication,
    counting the office's published pools with it) and an office does not serve a new selection below it."""
    floor = settings.low_pool_threshold
    if available >= floor:
        return
    if opening:
        detail = f"with this segment the office's pool would hold {available:,} numbers, under {floor:,}"
    else:
        detail = f"the office's pool holds {available:,} numbers available, under {floor:,}: no new selection"
    raise PoolBelowFloor(detail, extra={"available": available, "floor": floor})


# --- PP-10: a segment's life: planned by its office, approved by the superior office, published --------

MIN_SEGMENT_SIZE = 1_000  # seed §24(1)
PUBLISH_WORKING_DAYS = 3  # seed §24(4): published at least 3 working days before it opens
SegmentInvalid = refusal("SEGMENT_INVALID", "PP-10", 422)
SegmentTooSmall = refusal("SEGMENT_TOO_SMALL", "PP-10", 422)
SegmentExists = refusal("SEGMENT_EXISTS", "PP-10")
NotSuperiorOffice = refusal("NOT_SUPERIOR_OFFICE", "PP-10", 403)
SegmentNotPlanned = refusal("SEGMENT_NOT_PLANNED", "PP-10")
SegmentNotApproved = refusal("SEGMENT_NOT_APPROVED", "PP-10")
PublicationTooLate = refusal("PUBLICATION_TOO_LATE", "PP-10")


def check_segment_size(size: int) -> None:
    """PP-10: a segment put in use has at least 1,000 numbers."""
    if size < MIN_SEGMENT_SIZE:
        raise SegmentTooSmall(f"a segment has at least {MIN_SEGMENT_SIZE} numbers")


def check_approval(state: str, superior: str | None, approver_office: str | None) -> None:
    """PP-10: only the superior office approves, and only a planned segment."""
    if superior is None or approver_office != superior:
        raise NotSuperiorOffice("only the superior office approves a segment plan")
    if state != "planned":
        raise SegmentNotPlanned(f"the segment is {state}")


def check_publication(state: str, opens_on: date, earliest: date) -> None:
    """PP-10: an approved segment is published at least 3 working days (`earliest`) before it opens."""
    if state != "approved":
        raise SegmentNotApproved("the superior office has not approved this segment")
    if opens_on < earliest:
        raise PublicationTooLate(
            f"a segment is published at least {PUBLISH_WORKING_DAYS} working days before it opens",
            extra={"earliest_opening": earliest.isoformat()},
        )
