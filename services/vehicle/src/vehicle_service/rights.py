"""What vehicle holds about a person (servicekit.personal, ADR 0093): its part of a data export (PIPL art.
45), and the account's rows de-identified when identity says so (art. 47): vehicle's records,
applications and bans are the state's; an inspection booking is the account's.
"""

from __future__ import annotations

from servicekit import personal
from servicekit.consumer import Subscription
from servicekit.personal import DEIDENTIFIED, Holding
from vehicle_service.tables import (
    applications,
    delivery_bans,
    inspection_bookings,
    preselections,
    temp_plates,
    vehicle_bindings,
    vehicles,
)

HOLDINGS: tuple[Holding, ...] = (
    Holding(vehicles, "机动车", by={"id_number": "owner_id_number"}),
    Holding(preselections, "新车预选号牌", by={"id_number": "owner_id_number"}),
    Holding(vehicle_bindings, "机动车绑定", by={"account_id": "account_id"}),
    # An appointment the account made: the account's, de-identified with it.
    Holding(
        inspection_bookings,
        "机动车检验预约",
        by={"account_id": "holder_subject", "id_number": "holder_id_number"},
        erase={"holder_id_number": DEIDENTIFIED, "phone": DEIDENTIFIED},
    ),
    Holding(
        applications,
        "机动车业务申请",
        by={"account_id": "applicant_subject", "id_number": "applicant_id_number"},
    ),
    Holding(delivery_bans, "限制领取", by={"id_number": "id_number"}),
    Holding(temp_plates, "临时号牌", by={"id_number": "owner_id_number"}),
)


class AddDataExportPart(personal.ExportPart):
    """vehicle's copy of identity's `identity.data_export.add_part.v1` (identity owns the schema)."""


SUBSCRIPTIONS: list[Subscription] = personal.subscriptions("vehicle", HOLDINGS, AddDataExportPart)
