"""`/api/v1/users/me/data-exports`: a citizen's copy of what the platform holds about them (PIPL art. 45).

Asked here, collected from every service by message (ADR 0093): the POST answers 202 at once, the GET
shows the parts received of those expected, and the document is downloaded once ready, for a week.
Another person's export answers 404.
"""

from __future__ import annotations

import json
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Request, Response
from pydantic import BaseModel, Field

from identity_service import data_exports as use
from identity_service import domain
from identity_service.api.common import load_account, parse_uuid
from servicekit.clock import SHANGHAI
from servicekit.web import NotFound, Principal, UowDep, actor_from, require_roles
from servicekit.web.openapi_problems import declared

router = APIRouter(prefix="/api/v1/users/me/data-exports", tags=["data exports"])

# Persons and units: the accounts whose holders the platform keeps data about.
Citizen = Annotated[Principal, Depends(require_roles("citizen", "unit"))]


class ExportOut(BaseModel):
    id: str
    state: str = Field(description="collecting | ready | expired")
    requested_at: str
    parts_expected: int
    parts_received: int
    received: list[str] = Field(description="the services that answered")
    missing: list[str] = Field(description="services that did not answer by the deadline (ready only)")
    ready_at: str | None
    expires_at: str | None = Field(description="until when the document is offered")
    download: str | None = Field(description="the document's path, while it is offered")


def _at(value: Any) -> str | None:
    return None if value is None else value.astimezone(SHANGHAI).isoformat()


def export_out(view: use.ExportView) -> ExportOut:
    status = view.status
    return ExportOut(
        id=str(view.id),
        state=status.state,
        requested_at=view.requested_at.astimezone(SHANGHAI).isoformat(),
        parts_expected=len(view.expected),
        parts_received=len(status.received),
        received=status.received,
        missing=status.missing,
        ready_at=_at(status.ready_at),
        expires_at=_at(status.expires_at),
        download=f"{router.prefix}/{view.id}/document" if status.state == "ready" else None,
    )


@router.post(
    "",
    status_code=202,
    response_model=ExportOut,
    summary="Ask for a copy of one's data (PIPL art. 45)",
    responses=declared({409: "DATA_EXPORT_RUNNING: one export at a time"}),
)
async def request_export(request: Request, response: Response, principal: Citizen, uow: UowDep) -> ExportOut:
    async with uow:
        account = await load_account(uow.session, principal.subject, lock=True)
        export_id = await use.request_export(uow, account, actor_from(request, principal))
        await uow.commit()
    async with uow:
        view = await use.export_view(uow.session, export_id, account.id, uow.now)
    assert view is not None
    response.headers["Location"] = f"{router.prefix}/{export_id}"
    return export_out(view)


class ExportList(BaseModel):
    items: list[ExportOut] = Field(description="the latest first")


@router.get("", response_model=ExportList, summary="One's latest data exports (PIPL art. 45)")
async def list_exports(principal: Citizen, uow: UowDep) -> ExportList:
    async with uow:
        views = await use.latest_exports(uow.session, parse_uuid(principal.subject, "account"), uow.now)
    return ExportList(items=[export_out(view) for view in views])


async def _own(uow: UowDep, principal: Principal, export_id: str) -> use.ExportView:
    account_id = parse_uuid(principal.subject, "data export")
    view = await use.export_view(uow.session, parse_uuid(export_id, "data export"), account_id, uow.now)
    if view is None:
        raise NotFound("data export")
    return view


@router.get("/{export_id}", response_model=ExportOut, summary="An export's progress (PIPL art. 45)")
async def get_export(export_id: str, principal: Citizen, uow: UowDep) -> ExportOut:
    async with uow:
        return export_out(await _own(uow, principal, export_id))


@router.get(
    "/{export_id}/document",
    summary="Download the export: one JSON document (PIPL art. 45)",
    responses={
        200: {"description": "the document", "content": {"application/json": {}}},
        **declared(
            {409: "DATA_EXPORT_NOT_READY: still collecting", 410: "DATA_EXPORT_EXPIRED: no longer offered"}
        ),
    },
)
async def download_export(export_id: str, request: Request, principal: Citizen, uow: UowDep) -> Response:
    async with uow:
        view = await _own(uow, principal, export_id)
        domain.may_download(view.status)
        document = await use.export_document(uow.session, view)
        uow.audit(actor_from(request, principal), "data_export_downloaded", f"data_export:{view.id}")
        await uow.commit()
    return Response(
        json.dumps(document, ensure_ascii=False, indent=1),
        media_type="application/json",
        headers={"Content-Disposition": f'attachment; filename="tms-data-{view.id}.json"'},
    )
