"""`/api/v1/_test/*` of violation, mounted in dev and test only (main.py; in prod these paths answer 404):
the local bank's checkout, where an online order's `pay_url` leads, and its daily statement fed to the
reconciliation (VI-04, `localbank.py`). The gateway forwards both paths (`TEST_FORWARDS`)."""

from __future__ import annotations

import html
import json
from datetime import date, datetime
from typing import Annotated, Any
from urllib.parse import parse_qs

import httpx
from fastapi import APIRouter, Depends, FastAPI, Query, Request
from fastapi.responses import HTMLResponse, JSONResponse, Response
from pydantic import BaseModel

from servicekit.clock import SHANGHAI
from servicekit.uow import Actor, committed
from servicekit.web import Unprocessable, UowDep
from violation_service import payments
from violation_service.api.common import Input
from violation_service.api.payments import ReconciliationOut
from violation_service.context import ContextDep
from violation_service.localbank import Checkout, CheckoutOrder, LocalBank
from violation_service.settings import SIMULATOR, ViolationSettings

router = APIRouter(prefix="/api/v1/_test", tags=["test"])

STATEMENT_ACTOR = Actor(id="dev:bank-statement", role="system")
FORM = "application/x-www-form-urlencoded"


async def open_local_bank(app: FastAPI) -> None:
    runtime = app.state.runtime
    settings = runtime.settings
    assert isinstance(settings, ViolationSettings)
    http = httpx.AsyncClient(trust_env=False)
    app.state.local_bank = LocalBank.of(settings, runtime.redis, runtime.clock, http)


async def close_local_bank(app: FastAPI) -> None:
    bank = getattr(app.state, "local_bank", None)
    if bank is not None:
        await bank.http.aclose()
        del app.state.local_bank


def get_local_bank(request: Request) -> LocalBank:
    bank = request.app.state.local_bank
    assert isinstance(bank, LocalBank)
    return bank


LocalBankDep = Annotated[LocalBank, Depends(get_local_bank)]


def checkout_order(
    order_number: Annotated[str, Query(min_length=1, max_length=40)],
    amount_fen: Annotated[int, Query(ge=1, le=100_000_000)],
    expires_at: datetime,
) -> CheckoutOrder:
    """The order as the platform wrote it into `pay_url` (`Bank.checkout_url`)."""
    if expires_at.tzinfo is None:
        raise Unprocessable("EXPIRES_AT_NEEDS_OFFSET", "expires_at needs a UTC offset")
    return CheckoutOrder(order_number, amount_fen, expires_at)


OrderDep = Annotated[CheckoutOrder, Depends(checkout_order)]


def _yuan(fen: int) -> str:
    return f"{fen // 100}.{fen % 100:02d}"


def _page(title: str, rows: list[tuple[str, str]], extra: str = "") -> HTMLResponse:
    cells = "".join(f"<tr><th>{html.escape(k)}</th><td>{html.escape(v)}</td></tr>" for k, v in rows)
    return HTMLResponse(
        '<!doctype html><html lang="zh-CN"><head><meta charset="utf-8">'
        f"<title>{html.escape(title)} · 本地模拟银行</title></head><body>"
        f"<h1>{html.escape(title)}</h1><p>本地模拟银行：仅在开发和测试环境中存在，不会发生真实扣款。</p>"
        f"<table>{cells}</table>{extra}</body></html>"
    )


@router.get("/bank-checkout", response_class=HTMLResponse, summary="The local bank's checkout page (VI-04)")
async def checkout_page(order: OrderDep) -> HTMLResponse:
    """VI-04 (dev/test): the page an online order's `pay_url` opens: the order and the buttons that pay it
    (POST to the same address)."""
    # With no action the form posts to this very address, query string included, whatever host served it.
    form = (
        '<form method="post">'
        '<button type="submit" name="notice" value="send">确认支付</button> '
        '<button type="submit" name="notice" value="lose">'
        "确认支付，但银行的到账通知丢失（对账时补记）</button>"
        "</form>"
    )
    return _page(
        "收银台",
        [
            ("订单号", order.order_number),
            ("收款方", "交通违法罚没款"),
            ("金额（元）", _yuan(order.amount_fen)),
            ("订单有效期至", f"{order.expires_at.astimezone(SHANGHAI):%Y-%m-%d %H:%M}"),
        ],
        form,
    )


class NoticeOut(BaseModel):
    status_code: int | None
    outcome: str | None


class CheckoutOut(BaseModel):
    txn_id: str
    order_number: str | None
    amount_fen: int
    paid_at: datetime
    first: bool
    notice: NoticeOut | None


async def _choice(request: Request) -> str:
    """`notice=send` (the default) or `notice=lose`, from the page's form or a JSON body."""
    raw = await request.body()
    fields: dict[str, Any] = {}
    if raw and request.headers.get("content-type", "").startswith(FORM):
        fields = {k: v[-1] for k, v in parse_qs(raw.decode("utf-8", "replace")).items()}
    elif raw:
        try:
            loaded = json.loads(raw)
        except ValueError:
            raise Unprocessable("CHECKOUT_BODY_INVALID", "the body is a form or a JSON object") from None
        fields = loaded if isinstance(loaded, dict) else {}
    choice = fields.get("notice", "send")
    if choice not in ("send", "lose"):
        raise Unprocessable("CHECKOUT_BODY_INVALID", "notice is send or lose")
    return str(choice)


def _checkout_page(done: Checkout) -> HTMLResponse:
    notice = done.notice
    if notice is None:
        told = "未发送（模拟通知丢失）：生成当日对账单并对账后补记"
    elif notice.status_code is None:
        told = "平台未应答：对账时补记"
    else:
        told = f"平台已应答 {notice.status_code} {notice.outcome or ''}".strip()
    return _page(
        "支付成功" if done.first else "该订单已支付（已重发到账通知）",
        [
            ("银行流水号", done.payment.txn_id),
            ("订单号", done.payment.order_number or ""),
            ("金额（元）", _yuan(done.payment.amount_fen)),
            ("支付时间", f"{done.payment.paid_at.astimezone(SHANGHAI):%Y-%m-%d %H:%M:%S}"),
            ("到账通知", told),
        ],
    )


@router.post(
    "/bank-checkout",
    response_model=CheckoutOut,
    summary="Pay an order at the local bank (VI-04)",
    responses={200: {"description": "the order was paid before: its notice sent again"}},
    status_code=201,
)
async def checkout(request: Request, order: OrderDep, bank: LocalBankDep) -> Response:
    """VI-04 (dev/test): POST to the order's `pay_url`: the bank takes the payment once and posts its
    signed notice to the platform's `POST /api/v1/payments/bank-notices/sim`, as a bank does. Body (form or
    JSON, optional): `notice=send` (the default) or `notice=lose` (the payment is taken, the notice never
    sent: the day's reconciliation books it). Again for the same order: 200, the same payment, its notice
    sent again. The page's form gets a page back; anything else JSON."""
    choice = await _choice(request)
    done = await bank.checkout(order, send_notice=choice == "send")
    if request.headers.get("content-type", "").startswith(FORM):
        return _checkout_page(done)
    out = CheckoutOut(
        txn_id=done.payment.txn_id,
        order_number=done.payment.order_number,
        amount_fen=done.payment.amount_fen,
        paid_at=done.payment.paid_at,
        first=done.first,
        notice=NoticeOut(status_code=done.notice.status_code, outcome=done.notice.outcome)
        if done.notice
        else None,
    )
    return JSONResponse(out.model_dump(mode="json"), status_code=201 if done.first else 200)


class StatementIn(Input):
    day: date | None = None  # the platform's today (Shanghai) when absent
    reconcile: bool = True


class StatementOut(BaseModel):
    bank: str
    day: date
    lines: int
    statement: str
    signature: str
    reconciliation: ReconciliationOut | None


@router.post("/bank-statement", response_model=StatementOut, summary="The local bank's statement (VI-04)")
async def bank_statement(
    uow: UowDep, ctx: ContextDep, bank: LocalBankDep, body: StatementIn | None = None
) -> StatementOut:
    """VI-04 (dev/test): the local bank's signed statement file of `day` (CSV, and its `Bank-Signature`),
    and, unless `reconcile` is false, the day reconciled against it as `PUT
    /api/v1/payments/reconciliations/sim/{day}` does: lost notices booked, other differences reported."""
    wanted = body or StatementIn()
    day = wanted.day or (await bank.clock.now()).astimezone(SHANGHAI).date()
    content, signature, lines = await bank.statement(day)
    reconciliation = None
    if wanted.reconcile:
        row = await committed(
            uow, payments.reconcile, ctx, STATEMENT_ACTOR, SIMULATOR, day, content, signature
        )
        reconciliation = ReconciliationOut.model_validate(dict(row))
    return StatementOut(
        bank=SIMULATOR,
        day=day,
        lines=lines,
        statement=content.decode(),
        signature=signature,
        reconciliation=reconciliation,
    )
