"""`/api/v1/payments`: paying a decision's fine (VI-04) online: orders, the banks' signed notices, the
daily reconciliation; and the payments as readers see them (VI-05). The voucher is `api/vouchers.py`."""

from __future__ import annotations

import uuid
from datetime import date, datetime
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import JSONResponse
from pydantic import BaseModel, Field
from sqlalchemy import select

from servicekit.pagination import InvalidCursor, Page, clamp_limit, decode_cursor, encode_cursor
from servicekit.uow import committed
from servicekit.web import (
    IdempotencyKeyHeader,
    NotFound,
    Principal,
    Unprocessable,
    UowDep,
    actor_from,
    idempotent,
    require_roles,
)
from violation_service import access, payments
from violation_service.api.common import AnyCaller, Citizen, Input
from violation_service.context import ContextDep
from violation_service.tables import bank_transactions, decisions, reconciliations

router = APIRouter(prefix="/api/v1/payments", tags=["payments"])

Reconciler = Annotated[Principal, Depends(require_roles("system", "clerk.admin"))]


# --- online orders (VI-04) --------------------------------------------------------------------------------


class OrderIn(Input):
    decision_id: uuid.UUID
    bank: Annotated[str, Field(min_length=1, max_length=16)]


class OrderOut(BaseModel):
    id: uuid.UUID
    order_number: str
    decision_id: uuid.UUID
    bank: str
    amount_fen: int
    fine_fen: int
    late_fee_fen: int
    state: str
    expires_at: datetime
    pay_url: str


@router.post("/orders", status_code=201, response_model=OrderOut, summary="Pay online at a bank (VI-04)")
async def create_order(
    body: OrderIn,
    request: Request,
    uow: UowDep,
    ctx: ContextDep,
    principal: Citizen,
    _key: IdempotencyKeyHeader = None,
) -> object:
    """VI-04: an order for the amount due today (fine and late fine), valid until midnight; `pay_url` is
    the bank's page for it. The bank's signed notice books the payment. 409 NOTHING_TO_PAY when the
    decision is paid or a warning, 409 DECISION_REVOKED, 422 UNKNOWN_BANK."""

    async def run() -> OrderOut:
        actor = actor_from(request, principal)
        order = await committed(
            uow, payments.create_order, ctx, principal, actor, body.decision_id, body.bank
        )
        return OrderOut.model_validate({**order.row, "pay_url": order.pay_url})

    return await idempotent(request, principal.subject, run, status_code=201)


class BankOut(BaseModel):
    code: str
    name: str


class BanksOut(BaseModel):
    items: list[BankOut]


@router.get("/banks", response_model=BanksOut, summary="The banks that take fines (VI-04)")
async def list_banks(ctx: ContextDep, principal: AnyCaller) -> BanksOut:
    """The codes an order names (`bank`), with the names a payer reads."""
    return BanksOut(items=[BankOut(code=code, name=b.settings.name) for code, b in sorted(ctx.banks.items())])


# --- the banks' notices and statements (VI-04) -----------------------------------------------------------


@router.post(
    "/bank-notices/{bank}",
    summary="A bank's signed payment notice (VI-04)",
    responses={400: {"description": "the signature is not the bank's: nothing changed"}},
)
async def bank_notice(
    bank: Annotated[str, Field(max_length=16)], request: Request, uow: UowDep, ctx: ContextDep
) -> Any:
    """VI-04: called by the bank, authenticated by its signature (ADR 0060), not by a token. A notice is
    booked once per bank transaction: a replay answers as the first did (the bank stops retrying) and
    books nothing; a forged or altered notice changes nothing (400 NOTICE_SIGNATURE_INVALID); an amount
    other than the amount due is recorded, not booked, for the reconciliation."""
    body = await request.body()
    if len(body) > 64 * 1024:
        raise Unprocessable("NOTICE_TOO_LARGE", "a notice is a small JSON object")
    outcome = await committed(uow, payments.receive_notice, ctx, bank, body)
    if outcome == "forged":  # recorded (committed above), and nothing else changed
        raise payments.NoticeSignatureInvalid("the notice's signature is not the bank's")
    return JSONResponse({"result": "OK", "outcome": outcome})


class ReconciliationOut(BaseModel):
    id: uuid.UUID
    bank: str
    day: date
    lines: int
    differences: list[dict[str, Any]]
    ran_at: datetime


@router.put(
    "/reconciliations/{bank}/{day}",
    response_model=ReconciliationOut,
    summary="Reconcile a day against the bank's statement file (VI-04)",
    openapi_extra={
        "requestBody": {"required": True, "content": {"text/csv": {"schema": {"type": "string"}}}}
    },
)
async def reconcile(
    bank: Annotated[str, Field(max_length=16)],
    day: date,
    request: Request,
    uow: UowDep,
    ctx: ContextDep,
    principal: Reconciler,
) -> ReconciliationOut:
    """VI-04: the statement file is the body, its signature the `Bank-Signature` header. Lost notices are
    booked; every other difference is reported (kind, bank transaction, the two amounts). Run again, it
    finds what is left."""
    signature = request.headers.get("bank-signature", "")
    content = await request.body()
    if len(content) > 20 * 1024 * 1024:
        raise Unprocessable("STATEMENT_TOO_LARGE", "a statement file is at most 20 MB")
    actor = actor_from(request, principal)
    row = await committed(uow, payments.reconcile, ctx, actor, bank, day, content, signature)
    return ReconciliationOut.model_validate(dict(row))


@router.get(
    "/reconciliations/{reconciliation_id}", response_model=ReconciliationOut, summary="A reconciliation"
)
async def get_reconciliation(
    reconciliation_id: uuid.UUID, uow: UowDep, principal: Reconciler
) -> ReconciliationOut:
    async with uow:
        row = (
            (
                await uow.session.execute(
                    select(reconciliations).where(reconciliations.c.id == reconciliation_id)
                )
            )
            .mappings()
            .first()
        )
    if row is None:
        raise NotFound("reconciliation")
    return ReconciliationOut.model_validate(dict(row))


# --- payments as readers see them (VI-05) ----------------------------------------------------------------


class PaymentOut(BaseModel):
    id: uuid.UUID
    decision_id: uuid.UUID | None
    bank: str
    bank_txn_id: str
    amount_fen: int
    paid_at: datetime
    outcome: str
    received_via: str


@router.get("", response_model=Page[PaymentOut], summary="Payments: the caller's, or a search (VI-05)")
async def list_payments(
    uow: UowDep,
    principal: AnyCaller,
    since: datetime | None = None,
    outcome: Literal["booked", "amount_mismatch", "duplicate_payment", "unknown_order"] | None = None,
    limit: Annotated[int | None, Query(ge=1, le=100)] = None,
    cursor: Annotated[str | None, Query(max_length=1024)] = None,
) -> Page[PaymentOut]:
    """VI-05: a citizen, the payments of the decisions they handled; a clerk or another police system,
    those recorded `since` a moment. Newest first."""
    query = select(bank_transactions)
    if access.is_system(principal) or principal.is_staff:
        if since is None or since.tzinfo is None:
            raise Unprocessable("SINCE_REQUIRED", "give since, with a UTC offset")
        query = query.where(bank_transactions.c.recorded_at >= since)
    else:
        mine = select(decisions.c.id).where(decisions.c.account_id == principal.subject)
        query = query.where(bank_transactions.c.decision_id.in_(mine))
    if outcome:
        query = query.where(bank_transactions.c.outcome == outcome)
    size = clamp_limit(limit)
    if cursor:
        try:
            query = query.where(bank_transactions.c.id < uuid.UUID(str(decode_cursor(cursor)["id"])))
        except (InvalidCursor, KeyError, ValueError):
            raise Unprocessable("INVALID_CURSOR", "the cursor is not one of ours") from None
    async with uow:
        rows = (
            (await uow.session.execute(query.order_by(bank_transactions.c.id.desc()).limit(size + 1)))
            .mappings()
            .all()
        )
    next_cursor = encode_cursor({"id": str(rows[size - 1]["id"])}) if len(rows) > size else None
    return Page(items=[PaymentOut.model_validate(dict(r)) for r in rows[:size]], next_cursor=next_cursor)
