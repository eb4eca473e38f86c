"""What every router of the violation API shares: callers and the shapes of its answers."""

from __future__ import annotations

import uuid
from datetime import date, datetime
from typing import Annotated, Any

from fastapi import Depends
from pydantic import BaseModel, ConfigDict
from sqlalchemy.engine import RowMapping

from servicekit.documents import StoredDocument
from servicekit.web import Principal, require_roles

CLERKS = ("clerk.intake", "clerk.review", "clerk.archive", "clerk.admin")

SystemOnly = Annotated[Principal, Depends(require_roles("system"))]
AnyCaller = Annotated[Principal, Depends(require_roles("citizen", "unit", *CLERKS, "system"))]
Citizen = Annotated[Principal, Depends(require_roles("citizen"))]


class Input(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)


class EvidenceOut(BaseModel):
    id: uuid.UUID
    media_type: str
    size: int
    url: str


class HandlingOut(BaseModel):
    """VI-02 for the caller: may they handle it online, and if not, the refusal's code."""

    allowed: bool
    refusal: str | None


class DecisionBrief(BaseModel):
    id: uuid.UUID
    number: str
    payment_state: str
    pay_by: date


class ViolationOut(BaseModel):
    id: uuid.UUID
    record_id: str
    office_code: str
    plate_kind: str
    plate_number: str
    violated_at: datetime
    place: str
    violation_code: str
    description: str
    penalty: str
    fine_fen: int
    points: int
    state: str
    recorded_at: datetime
    evidence_count: int
    evidence: list[EvidenceOut] | None = None
    handling: HandlingOut | None = None
    decision: DecisionBrief | None = None


def violation_out(
    row: RowMapping | dict[str, Any],
    *,
    evidence: list[StoredDocument] | None = None,
    handling: HandlingOut | None = None,
    decision: RowMapping | None = None,
) -> ViolationOut:
    data = {key: row[key] for key in ViolationOut.model_fields if key in row}
    if evidence is not None:
        data["evidence"] = [
            EvidenceOut(
                id=doc.id,
                media_type=doc.media_type,
                size=doc.size,
                url=f"/api/v1/violations/{row['id']}/evidence/{doc.id}",
            )
            for doc in evidence
        ]
    data["handling"] = handling
    if decision is not None:
        data["decision"] = DecisionBrief(
            id=decision["id"],
            number=decision["number"],
            payment_state=decision["payment_state"],
            pay_by=decision["pay_by"],
        )
    return ViolationOut.model_validate(data)
