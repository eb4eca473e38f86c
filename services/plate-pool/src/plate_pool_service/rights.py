"""What plate-pool holds about a person (servicekit.personal, ADR 0093): its part of a data export (PIPL
art. 45), and the account's rows de-identified when identity says so (art. 47): selections and appeals
are the account's; a ban is the state's sanction.
"""

from __future__ import annotations

from plate_pool_service.tables import appeals, bans, selections
from servicekit import personal
from servicekit.consumer import Subscription
from servicekit.personal import DEIDENTIFIED, Holding

HOLDINGS: tuple[Holding, ...] = (
    # A selection is the account's (ADR 0093): the plate, VIN and ledger stay, whose it was does not.
    Holding(
        selections,
        "号牌预选",
        by={"account_id": "account_id", "id_number": "owner_id_number"},
        erase={
            "owner_id_number": DEIDENTIFIED,
            "owner_name": DEIDENTIFIED,
            "phone": DEIDENTIFIED,
            "invoice_photo": b"",
            "residence_permit": None,
        },
    ),
    Holding(appeals, "号牌预选申诉", by={"account_id": "account_id"}, erase={"reason": DEIDENTIFIED}),
    Holding(bans, "预选限制", by={"id_number": "owner_id_number"}),
)


class AddDataExportPart(personal.ExportPart):
    """plate-pool's copy of identity's `identity.data_export.add_part.v1` (identity owns the schema)."""


SUBSCRIPTIONS: list[Subscription] = personal.subscriptions("plate-pool", HOLDINGS, AddDataExportPart)
