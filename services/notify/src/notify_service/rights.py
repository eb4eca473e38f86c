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


SUBSCRIPTIONS: list[Subscription] = personal.subscriptions("notify", HOLDINGS, AddDataExportPart)
