"""What identity holds about a person (servicekit.personal, ADR 0093): exported on request (PIPL art. 45);
the account's rows de-identified after the retention (art. 47). person_records is identity's copy of the
state's vehicle and licence records (ID-03): exported, and kept like the records it copies."""

from __future__ import annotations

from identity_service.tables import (
    accounts,
    bindings,
    counter_changes,
    data_exports,
    licence_photos,
    person_records,
    registrations,
)
from servicekit.personal import DEIDENTIFIED, Holding

# Not a password hash any verifier accepts: a de-identified account can never sign in.
NO_PASSWORD = "!deidentified"  # noqa: S105 - a marker, not a secret

HOLDINGS: tuple[Holding, ...] = (
    Holding(
        accounts,
        "账户",
        by={"account_id": "id"},
        erase={
            "name": DEIDENTIFIED,
            "id_number": None,
            "phone": None,
            "email": None,
            "details": {},
            "password_hash": NO_PASSWORD,
        },
        omit=("password_hash",),
    ),
    Holding(
        registrations,
        "窗口注册申请",
        by={"account_id": "account_id", "id_number": "id_number"},
        erase={
            "name": DEIDENTIFIED,
            "id_number": DEIDENTIFIED,
            "phone": DEIDENTIFIED,
            "data": {},
            "scans": [],
            "password_hash": NO_PASSWORD,
        },
        omit=("password_hash",),
    ),
    Holding(bindings, "绑定关系", by={"account_id": "account_id"}),
    Holding(
        licence_photos,
        "驾驶证照片申请",
        by={"account_id": "account_id"},
        erase={"id_number": DEIDENTIFIED},
    ),
    Holding(
        counter_changes,
        "窗口变更申请",
        by={"account_id": "account_id"},
        erase={"data": {}, "scans": []},
    ),
    Holding(data_exports, "个人信息副本申请", by={"account_id": "account_id"}),
    Holding(person_records, "名下机动车和驾驶证", by={"id_number": "id_number"}),
)
