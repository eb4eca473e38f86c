"""How a selection is shown to its owner and to clerks (the HTTP modules' one shape of it)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from plate_pool_service.domain import voucher_number
from servicekit.clock import SHANGHAI
from servicekit.masking import mask_phone


def iso(moment: datetime | None) -> str | None:
    return moment.astimezone(SHANGHAI).isoformat() if moment is not None else None


def selection_view(row: Any, counters: tuple[int, int] | None = None) -> dict[str, Any]:
    custom_left, draws_left = counters or (row.custom_left, row.draws_left)
    return {
        "id": str(row.id),
        "state": row.state,
        "office_code": row.office_code,
        "vin": row.vin,
        "plate_number": row.plate_number,
        "voucher_number": voucher_number(row.id) if row.confirmed_at is not None else None,
        "custom_attempts_left": custom_left,
        "random_draws_left": draws_left,
        "session_expires_at": iso(row.session_expires_at),
        "sms_deadline": iso(row.sms_deadline),
        "confirmed_at": iso(row.confirmed_at),
        "register_by": iso(row.register_by),
        "registered_at": iso(row.registered_at),
        "cancelled_at": iso(row.cancelled_at),
        "cancel_reason": row.cancel_reason,
        "phone": mask_phone(row.phone),
    }
