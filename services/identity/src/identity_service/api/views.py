"""The answers of the counter posts' routes (ID-09 to ID-11, ID-13, ID-15): a registration case, a personal
counter change, their scans (AR-01) and a licence photo, as the console reads them; and how a case's row
becomes one.

Every model forbids members it does not name, so a view that grows a member without its model fails the
tests instead of answering an untyped one. A scan entered as a reference before scans were stored
(`{kind, ref}`) is answered as it was: the routes that show scans leave unset members out
(`response_model_exclude_unset`), so no `null`s appear that the stored entry does not have."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from identity_service import domain
from identity_service.domain import CaseStage
from servicekit.clock import SHANGHAI
from servicekit.masking import mask_id_number, mask_phone


class _Out(BaseModel):
    model_config = ConfigDict(extra="forbid")


class ScanOut(_Out):
    """One of a case's scans: a stored one (AR-01) with `content`, the path that serves its bytes."""

    kind: str = Field(description="e.g. onsite_photo, registration_form, identity_document")
    document_id: str | None = None
    media_type: str | None = Field(None, description="image/jpeg, image/png or application/pdf")
    size: int | None = None
    stored_at: str | None = None
    stored_by: str | None = None
    ref: str | None = Field(None, description="a reference entered before scans were stored (no content)")
    content: str | None = Field(description="the path of the stored scan's bytes; null for a reference")


class HistoryEntry(_Out):
    """One step of a case: the stage it reached, who moved it, when, and the reason or note."""

    stage: str
    by: str
    at: str
    note: str | None = None


class CaseSummary(_Out):
    """A registration in a post's queue, or as its person sees it (ID-09): no scans."""

    id: str
    category: Literal["personal", "unit"]
    stage: CaseStage
    office: str
    name: str
    id_number: str = Field(description="masked")
    phone: str = Field(description="masked")
    registry_check: str = Field(description="passed, or pending when the registry could not be reached")
    deadline: str | None = Field(description="the post's deadline (WD-01); only review has one")
    overdue: bool
    created_at: str
    return_reason: str | None


class CaseOut(CaseSummary):
    """A registration as the post it is at reads it: its data, scans, decision and history."""

    data: dict[str, Any]
    scans: list[ScanOut]
    reject_reason: str | None
    account_id: str | None
    filed_items: list[str] | None
    history: list[HistoryEntry]


class ChangeOut(_Out):
    """A personal counter change (ID-13) as the clerks of its office read it."""

    id: str
    account_id: str
    kind: Literal["bind_vehicle", "details"]
    stage: CaseStage
    office: str
    data: dict[str, Any]
    scans: list[ScanOut]
    registry_check: str
    deadline: str | None
    overdue: bool
    return_reason: str | None
    reject_reason: str | None
    history: list[HistoryEntry]
    created_at: str


class PhotoOut(_Out):
    """A licence photo (ID-12, ID-15) with its review deadline; `content` serves its bytes (AR-01)."""

    id: str
    account_id: str
    id_number: str = Field(description="masked")
    photo_ref: str
    format: Literal["jpeg", "png"]
    state: Literal["pending", "approved", "rejected"]
    submitted_at: str
    deadline: str
    overdue: bool
    reject_reason: str | None
    content: str | None


def scan_views(base: str, scans: Iterable[Mapping[str, Any]]) -> list[ScanOut]:
    """The case's scans; a stored one with `content`, the path of its bytes. A reference entered before
    scans were stored (`{kind, ref}`) is shown as it was, with no content."""
    return [
        ScanOut.model_validate(
            {**s, "content": f"{base}/scans/{s['kind']}" if s.get("document_id") else None}
        )
        for s in scans
    ]


def case_summary(row: Any, now: datetime) -> CaseSummary:
    return CaseSummary(
        id=str(row.id),
        category=row.category,
        stage=row.stage,
        office=row.office,
        name=row.name,
        id_number=mask_id_number(row.id_number),
        phone=mask_phone(row.phone),
        registry_check=row.registry_check,
        deadline=row.deadline.astimezone(SHANGHAI).isoformat() if row.deadline else None,
        overdue=domain.is_overdue(row.stage, row.deadline, now),
        created_at=row.created_at.astimezone(SHANGHAI).isoformat(),
        return_reason=row.return_reason,
    )


def case_view(row: Any, now: datetime) -> CaseOut:
    """The case in full, for the post it is at."""
    return CaseOut(
        **case_summary(row, now).model_dump(),
        data=row.data,
        scans=scan_views(f"/api/v1/counter/registrations/{row.id}", row.scans),
        reject_reason=row.reject_reason,
        account_id=str(row.account_id) if row.account_id else None,
        filed_items=row.filed_items,
        history=[HistoryEntry.model_validate(entry) for entry in row.history],
    )


def change_view(row: Any, now: datetime) -> ChangeOut:
    return ChangeOut(
        id=str(row.id),
        account_id=str(row.account_id),
        kind=row.kind,
        stage=row.stage,
        office=row.office,
        data=row.data,
        scans=scan_views(f"/api/v1/users/counter-changes/{row.id}", row.scans),
        registry_check=row.registry_check,
        deadline=row.deadline.astimezone(SHANGHAI).isoformat() if row.deadline else None,
        overdue=domain.is_overdue(row.stage, row.deadline, now),
        return_reason=row.return_reason,
        reject_reason=row.reject_reason,
        history=[HistoryEntry.model_validate(entry) for entry in row.history],
        created_at=row.created_at.astimezone(SHANGHAI).isoformat(),
    )
