"""What violation holds about a person (servicekit.personal, ADR 0093): its part of a data export (PIPL art.
45), and the account's rows de-identified when identity says so (art. 47): decisions and payments are the
state's records; the account's bindings are its own.
"""

from __future__ import annotations

from servicekit import personal
from servicekit.consumer import Subscription
from servicekit.personal import Holding
from violation_service.tables import bindings, decisions, payment_orders, vehicle_plates

HOLDINGS: tuple[Holding, ...] = (
    Holding(decisions, "处罚决定", by={"account_id": "account_id", "id_number": "driver_id_number"}),
    Holding(payment_orders, "罚款缴纳", by={"account_id": "account_id"}),
    Holding(bindings, "绑定关系", by={"account_id": "account_id"}, erase={"holder_name": None}),
    Holding(vehicle_plates, "名下机动车", by={"id_number": "owner_id_number"}),
)


class AddDataExportPart(personal.ExportPart):
    """violation's copy of identity's `identity.data_export.add_part.v1` (identity owns the schema)."""


SUBSCRIPTIONS: list[Subscription] = personal.subscriptions("violation", HOLDINGS, AddDataExportPart)
