"""What license holds about a person (servicekit.personal, ADR 0093): its part of a data export (PIPL art.
45), and the account's rows de-identified when identity says so (art. 47): every licence record,
application, exam and point is the state's: nothing is the account's to erase.
"""

from __future__ import annotations

from license_service.tables import (
    exam_bookings,
    exam_learners,
    licence_applications,
    licence_delivery_bans,
    licence_photos,
    licence_records,
    medical_certificates,
    point_entries,
)
from servicekit import personal
from servicekit.consumer import Subscription
from servicekit.personal import Holding

HOLDINGS: tuple[Holding, ...] = (
    Holding(licence_records, "驾驶证", by={"id_number": "number"}),
    Holding(point_entries, "记分", by={"id_number": "number"}),
    Holding(
        licence_applications,
        "驾驶证业务申请",
        by={"account_id": "applicant_subject", "id_number": "id_number"},
    ),
    Holding(licence_delivery_bans, "限制领取", by={"id_number": "id_number"}),
    Holding(medical_certificates, "体检证明", by={"id_number": "id_number"}),
    Holding(licence_photos, "驾驶证照片", by={"id_number": "number"}),
    Holding(exam_learners, "考试学员", by={"id_number": "id_number"}),
    Holding(exam_bookings, "考试预约", by={"id_number": "id_number"}),
)


class AddDataExportPart(personal.ExportPart):
    """license's copy of identity's `identity.data_export.add_part.v1` (identity owns the schema)."""


SUBSCRIPTIONS: list[Subscription] = personal.subscriptions(
    "license", HOLDINGS, AddDataExportPart, deidentifies=False
)
