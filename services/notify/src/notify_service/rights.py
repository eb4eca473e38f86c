"""What notify holds about a person (servicekit.personal, ADR 0093): its part of a data export (PIPL art.
45), and the account's rows de-identified when identity says so (art. 47): the account's messages and SMS
deliveries are its own.
"""

from __future__ import annotations

from notify_service.tables import sms_messages
from servicekit import personal
from servicekit.consumer import Subscription
from servicekit.personal import DEIDENTIFIED, Holding

HOLDINGS: tuple[Holding, ...] = (
    # Messages and SMS deliveries to the account are its own; those to the phone alone (codes) are
    # exported with them, de-identified only through an account.
    Holding(
        sms_messages,
        "短信和站内消息",
        by={"account_id": "account_id", "phone": "phone"},
        erase={"phone": DEIDENTIFIED, "params": {}, "body": DEIDENTIFIED},
    ),
)


class AddDataExportPart(personal.ExportPart):
    """notify's copy of identity's `identity.data_export.add_part.v1` (identity owns the schema)."""


SUBSCRIPTIONS: list[Subscription] = [
    Subscription(
        name="data-export",
        handles={personal.EXPORT_REQUESTED: personal.ExportRequest},
        handler=personal.export_handler("notify", HOLDINGS, AddDataExportPart),
        summary="PIPL art. 45: notify's part of a person's data export.",
    ),
    Subscription(
        name="account-deidentified",
        handles={personal.ACCOUNT_DEIDENTIFIED: personal.Person},
        handler=personal.deidentify_handler(HOLDINGS),
        summary="PIPL art. 47: de-identify the rows that are a cancelled account's, after its retention.",
    ),
]
