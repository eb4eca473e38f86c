"""`/api/v1/plate-selections`: the printable pre-selection certificate (预选号凭证) and the counter's check
of its QR code (PP-08)."""

from __future__ import annotations

import uuid
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Response

from plate_pool_service import certificate, domain, selections
from plate_pool_service.context import ContextDep
from plate_pool_service.domain import Action, State
from plate_pool_service.schemas import PlateCertificateCheckOut
from plate_pool_service.views import selection_view
from servicekit.web import Principal, require_roles

router = APIRouter(prefix="/api/v1/plate-selections", tags=["plate-selections"])


@router.get(
    "/certificate-checks",
    response_model=PlateCertificateCheckOut,
    summary="Check a scanned certificate's QR code (counter, PP-08)",
)
async def check_certificate(
    code: str,
    principal: Annotated[Principal, Depends(require_roles("clerk.intake", "clerk.review", "clerk.admin"))],
    ctx: ContextDep,
) -> dict[str, Any]:
    secret = ctx.runtime.settings.secret_key.get_secret_value().encode()
    fields = certificate.check_payload(secret, code)
    if fields is None:
        raise domain.CertificateInvalid("not a genuine pre-selection certificate")
    try:
        selection_id = uuid.UUID(fields["selection_id"])
    except ValueError:
        raise domain.CertificateInvalid("not a genuine pre-selection certificate") from None
    row = await selections.load(ctx, selection_id, principal)
    return {
        "genuine": True,
        "usable": row.state == State.SELECTED and row.plate_number == fields["plate_number"],
        "selection": selection_view(row),
    }


@router.get(
    "/{selection_id}/certificate",
    response_class=Response,
    responses={200: {"content": {"application/pdf": {"schema": {"type": "string", "format": "binary"}}}}},
    summary="The printable pre-selection certificate, PDF (PP-08)",
)
async def get_certificate(
    selection_id: uuid.UUID,
    principal: Annotated[
        Principal, Depends(require_roles("citizen", "unit", "clerk.intake", "clerk.review"))
    ],
    ctx: ContextDep,
) -> Response:
    row = await selections.load_current(ctx, selection_id, principal)
    domain.check_step(Action.PRINT, row.state)
    if row.register_by is None:
        raise domain.NoCertificate(f"the selection is {row.state}", extra={"state": row.state})
    secret = ctx.runtime.settings.secret_key.get_secret_value().encode()
    pdf = certificate.render(secret, row, "公安机关交通管理部门")
    return Response(
        pdf,
        media_type="application/pdf",
        headers={"Content-Disposition": f'inline; filename="preselection-{row.id}.pdf"'},
    )
