"""`/api/v1/payments`: the printable payment voucher for a bank counter and the counter's check of its QR
code (VI-04)."""

from __future__ import annotations

import uuid
from datetime import date, datetime
from typing import Annotated

from fastapi import APIRouter, Depends, Query, Response
from pydantic import BaseModel
from sqlalchemy import select

from servicekit.web import Principal, UowDep, require_roles
from violation_service import handling, papers, payments
from violation_service.api.common import CLERKS, AnyCaller
from violation_service.context import ContextDep
from violation_service.tables import decisions

router = APIRouter(prefix="/api/v1/payments", tags=["payments"])

CounterCheck = Annotated[Principal, Depends(require_roles("system", *CLERKS))]


# --- the voucher (VI-04) ----------------------------------------------------------------------------------


@router.get("/decisions/{decision_id}/voucher", summary="The printable payment voucher, PDF (VI-04)")
async def get_voucher(
    decision_id: uuid.UUID,
    uow: UowDep,
    ctx: ContextDep,
    principal: AnyCaller,
    layout: papers.Layout = "laser",
) -> Response:
    """VI-04: the voucher for a bank counter, with the amount due today, the payment reference and a
    signed QR code the counter checks. `layout=laser` (A4) or `impact` (the impact printer's continuous
    form, 241 × 140 mm); never for thermal printers. To the handling account, clerks, system clients."""
    async with uow:
        decision, violation = await handling.decision_for(uow, principal, decision_id)
        payments.check_open(decision)
        due = payments.due_now(decision, uow.now)
        now = uow.now
    paper = papers.VoucherPaper(
        payment_reference=decision["payment_reference"],
        decision_number=decision["number"],
        payer_name=decision["driver_name"],
        plate_number=violation["plate_number"],
        fine_fen=due.fine_fen,
        late_fee_fen=due.late_fee_fen,
        late_days=due.late_days,
        pay_by=due.pay_by,
        printed_at=now,
    )
    return Response(
        papers.render_voucher(ctx.secret, paper, layout),
        media_type="application/pdf",
        headers={
            "Content-Disposition": f'inline; filename="voucher-{decision["payment_reference"]}.pdf"',
            "Cache-Control": "private, no-store",
        },
    )


class AmountOut(BaseModel):
    fine_fen: int
    late_fee_fen: int
    late_days: int
    total_fen: int
    pay_by: date
    at: datetime


class VoucherCheckOut(BaseModel):
    genuine: bool
    payment_reference: str
    decision_number: str
    payment_state: str
    revoked: bool
    due: AmountOut | None


@router.get("/voucher-checks", response_model=VoucherCheckOut, summary="Check a voucher's QR code (VI-04)")
async def check_voucher(
    code: Annotated[str, Query(max_length=300)], uow: UowDep, ctx: ContextDep, principal: CounterCheck
) -> VoucherCheckOut:
    """VI-04: a bank counter (a `system` client) or a clerk scans the voucher: a genuine one answers the
    decision's payment state and the amount due today (the late fine moves at midnight); a forged or
    edited one 422 VOUCHER_INVALID."""
    fields = papers.check_signed(ctx.secret, papers.VOUCHER_QR, code, 4)
    if fields is None:
        raise payments.VoucherInvalid("not a genuine payment voucher")
    async with uow:
        decision = (
            (await uow.session.execute(select(decisions).where(decisions.c.payment_reference == fields[0])))
            .mappings()
            .first()
        )
        now = uow.now
    if decision is None or decision["number"] != fields[1]:
        raise payments.VoucherInvalid("not a genuine payment voucher")
    due = None
    if decision["payment_state"] == "unpaid" and decision["revoked_at"] is None:
        amount = payments.due_now(decision, now)
        due = AmountOut(
            fine_fen=amount.fine_fen,
            late_fee_fen=amount.late_fee_fen,
            late_days=amount.late_days,
            total_fen=amount.total_fen,
            pay_by=amount.pay_by,
            at=now,
        )
    return VoucherCheckOut(
        genuine=True,
        payment_reference=decision["payment_reference"],
        decision_number=decision["number"],
        payment_state=decision["payment_state"],
        revoked=decision["revoked_at"] is not None,
        due=due,
    )
