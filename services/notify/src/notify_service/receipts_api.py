"""The SMS provider's delivery-report callback (NT-01), under /api/v1/messages/sms-receipts. The provider's,
not a client's: authenticated by the secret in its URL (ADR 0030), kept out of the OpenAPI document."""

from __future__ import annotations

import hmac
import logging
import uuid
from typing import Annotated

from fastapi import APIRouter, Body, Path
from pydantic import BaseModel, ConfigDict, Field

from notify_service.delivery import apply_receipt
from notify_service.settings import NotifySettings
from notify_service.sms import ALIYUN
from servicekit.web import NotFound, RuntimeDep

log = logging.getLogger(__name__)

router = APIRouter(prefix="/api/v1")


class AliyunReport(BaseModel):
    """One item of Alibaba Cloud SMS's HTTP batch push of delivery reports (SmsReport)."""

    model_config = ConfigDict(extra="ignore")

    phone_number: str | None = None
    success: bool
    err_code: str | None = None
    err_msg: str | None = None
    biz_id: str | None = Field(default=None, max_length=100)
    out_id: str | None = Field(default=None, max_length=256)


class ReceiptAnswer(BaseModel):
    code: int
    msg: str


@router.post(
    "/messages/sms-receipts/aliyun/{token}",
    response_model=ReceiptAnswer,
    summary="Delivery reports pushed by Alibaba Cloud SMS",
    include_in_schema=False,  # the provider's, not a client's
)
async def aliyun_receipts(
    runtime: RuntimeDep,
    token: Annotated[str, Path(max_length=200)],
    reports: Annotated[list[AliyunReport], Body(max_length=1000)],
) -> ReceiptAnswer:
    """NT-01: `sent` becomes `delivered` or `failed` (with the operator's code). Authenticated by the
    secret in the URL configured at the provider (ADR 0030); a wrong one answers 404. Unknown or repeated
    reports change nothing and are still acknowledged, so the provider does not push them again."""
    settings = runtime.settings
    assert isinstance(settings, NotifySettings)
    expected = settings.receipt_token.get_secret_value()
    if not expected or not hmac.compare_digest(token.encode(), expected.encode()):
        raise NotFound()
    changed = 0
    for report in reports:
        message_id: uuid.UUID | None
        try:
            message_id = uuid.UUID(report.out_id) if report.out_id else None
        except ValueError:
            message_id = None
        reason = None if report.success else f"{report.err_code or 'UNKNOWN'}: {report.err_msg or ''}"
        changed += await apply_receipt(
            runtime,
            provider=ALIYUN,
            message_id=message_id,
            provider_ref=report.biz_id,
            delivered=report.success,
            reason=reason,
        )
    log.info("aliyun receipts: %d reports, %d messages changed", len(reports), changed)
    return ReceiptAnswer(code=0, msg="接收成功")
