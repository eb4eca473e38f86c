"""Values unique to each test: licence numbers (identity numbers) and phones never repeat between tests."""

from __future__ import annotations

import secrets
from datetime import date
from typing import Any

from license_service.records import Facts
from servicekit.testing import new_phone, new_resident_id
from servicekit.validators import birth_date_of


def licence_body(**overrides: Any) -> dict[str, Any]:
    """A police system's record of a new licence, as `POST /api/v1/licences` takes it."""
    body: dict[str, Any] = {
        "number": new_resident_id(),
        "name": "张三",
        "classes": ["C1"],
        "first_issue": "2021-03-01",
        "valid_from": "2021-03-01",
        "valid_until": "2027-03-01",
        "office_code": "130100",
        "file_number": "".join(secrets.choice("0123456789") for _ in range(12)),
        "review_due": None,
        "medical_due": None,
        "phone": new_phone(),
    }
    body.update(overrides)
    return body


def _day(value: date | str) -> date:
    return value if isinstance(value, date) else date.fromisoformat(value)


def facts(**overrides: Any) -> Facts:
    """The same licence as `licence_body` as records.py takes it; dates as `date` or ISO text."""
    body = licence_body(**overrides)
    return Facts(
        number=body["number"],
        name=body["name"],
        birth_date=birth_date_of(body["number"]),
        classes=frozenset(body["classes"]),
        first_issue=_day(body["first_issue"]),
        valid_from=_day(body["valid_from"]),
        valid_until=_day(body["valid_until"]),
        office_code=body["office_code"],
        file_number=body["file_number"],
        phone=body["phone"],
    )
