"""VI-04 in dev and test: the local simulator (`banksim.py`) run as a bank the platform talks to.

- Its **checkout** is the page an online order's `pay_url` opens (`/api/v1/_test/bank-checkout`, mounted
  in dev and test only): the payer confirms, the bank takes the payment into its ledger and posts its
  signed notice over HTTP to the platform's `POST /api/v1/payments/bank-notices/sim`, as a bank does (the
  same adapter reads it; ADR 0060). Confirming the same order again takes no second payment: the bank
  sends the same notice again, as a bank retries. The payer may also have the notice lost, so that the
  reconciliation has a payment to repair.
- Its **ledger** lives in Redis (the bank's books, not the platform's database), so that its signed
  **statement** of a day can be produced for the reconciliation at any time.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass
from datetime import date, datetime
from typing import Any

import httpx
from redis.asyncio import Redis

from servicekit.clock import SHANGHAI, Clock
from servicekit.refusal import refusal
from violation_service.banks import HmacKey
from violation_service.banksim import BankSimulator, Payment
from violation_service.settings import SIMULATOR, ViolationSettings

OrderExpired = refusal("CHECKOUT_ORDER_EXPIRED", "VI-04", 422)
NothingToTake = refusal("CHECKOUT_AMOUNT_INVALID", "VI-04", 422)

KEEP_S = 40 * 24 * 3600  # the bank keeps its books of a day well past that day's reconciliation
NOTICE_TIMEOUT_S = 10.0


@dataclass(frozen=True)
class CheckoutOrder:
    """What the platform put in the order's `pay_url` (`Bank.checkout_url`)."""

    order_number: str
    amount_fen: int
    expires_at: datetime


@dataclass(frozen=True)
class NoticeAnswer:
    status_code: int | None  # None: the platform did not answer (the bank would retry later)
    outcome: str | None  # the platform's `outcome` (`booked`, `replayed`, ...) or its problem's code


@dataclass(frozen=True)
class Checkout:
    payment: Payment
    first: bool  # False: the bank had taken this order's payment before (its notice is sent again)
    notice: NoticeAnswer | None  # None: no notice sent (the payer chose a lost notice)


def _dump(payment: Payment) -> bytes:
    return json.dumps(asdict(payment) | {"paid_at": payment.paid_at.isoformat()}).encode()


def _load(raw: bytes | str) -> Payment:
    fields: dict[str, Any] = json.loads(raw)
    return Payment(**(fields | {"paid_at": datetime.fromisoformat(fields["paid_at"])}))


class LocalBank:
    """The simulator `sim` with its ledger and its way to the platform; one per api process."""

    def __init__(
        self,
        signer: HmacKey,
        redis: Redis,
        clock: Clock,
        notice_url: str,
        http: httpx.AsyncClient,
        code: str = SIMULATOR,
    ) -> None:
        self.code = code
        self.signer = signer
        self.redis = redis
        self.clock = clock
        self.notice_url = notice_url
        self.http = http

    @classmethod
    def of(
        cls, settings: ViolationSettings, redis: Redis, clock: Clock, http: httpx.AsyncClient
    ) -> LocalBank:
        """The simulator as the platform trusts it: the merchant key `bank_settings` gives `sim`."""
        if not settings.is_test_env:
            raise ValueError("the bank simulator is for dev and test only")
        bank = settings.bank_settings()[SIMULATOR]
        if not bank.simulator or bank.scheme != "hmac-sha256":
            raise ValueError(f"bank {SIMULATOR!r} is configured as another bank, not the simulator")
        return cls(
            HmacKey(bank.key.get_secret_value().encode()), redis, clock, settings.simulator_notice_url, http
        )

    def _key(self, *parts: str) -> str:
        return ":".join(("vi:banksim", self.code, *parts))

    async def take(
        self, amount_fen: int, *, order_number: str | None = None, payment_reference: str | None = None
    ) -> tuple[Payment, bool]:
        """The bank takes the payment of an order (online) or of a voucher's reference (at a counter),
        once: asked again, it answers the payment it took (False)."""
        if amount_fen <= 0:
            raise NothingToTake("the amount must be a positive number of fen")
        paying = (
            self._key("order", order_number) if order_number else self._key("ref", str(payment_reference))
        )
        known = await self.redis.get(paying)
        if known is not None:
            return _load(known), False
        now = (await self.clock.now()).astimezone(SHANGHAI)
        # A simulator per payment: its run prefix makes the transaction id unique across processes.
        payment = BankSimulator(self.code, self.signer).pay(
            amount_fen=amount_fen,
            paid_at=now,
            order_number=order_number,
            payment_reference=payment_reference,
        )
        if not await self.redis.set(paying, _dump(payment), nx=True, ex=KEEP_S):
            twin = await self.redis.get(paying)  # a twin confirm took it first: that payment stands
            if twin is not None:
                return _load(twin), False
        day = self._key("day", now.date().isoformat())
        await self.redis.hset(day, payment.txn_id, _dump(payment))
        await self.redis.expire(day, KEEP_S)
        return payment, True

    def notice_body(self, payment: Payment) -> bytes:
        """The signed notice, exactly as `BankSimulator` (and so a bank, by ADR 0060) signs it."""
        return BankSimulator(self.code, self.signer).notice_body(payment)

    async def post_notice(self, payment: Payment) -> NoticeAnswer:
        """The notice posted to the platform over HTTP, as the bank posts it."""
        try:
            answer = await self.http.post(
                self.notice_url,
                content=self.notice_body(payment),
                headers={"Content-Type": "application/json"},
                timeout=NOTICE_TIMEOUT_S,
            )
        except httpx.HTTPError:
            return NoticeAnswer(None, None)
        try:
            body = answer.json()
        except ValueError:
            body = {}
        outcome = (body.get("outcome") or body.get("code")) if isinstance(body, dict) else None
        return NoticeAnswer(answer.status_code, outcome)

    async def checkout(self, order: CheckoutOrder, *, send_notice: bool = True) -> Checkout:
        """VI-04: the payer confirms at the checkout. An order past its time is refused (the platform
        priced it for that day only); otherwise the payment is taken once and its notice sent."""
        if order.expires_at <= await self.clock.now():
            raise OrderExpired(
                "the order has expired: make a new one for today's amount",
                extra={"expires_at": order.expires_at.isoformat()},
            )
        payment, first = await self.take(order.amount_fen, order_number=order.order_number)
        notice = await self.post_notice(payment) if send_notice else None
        return Checkout(payment, first, notice)

    async def statement(self, day: date) -> tuple[bytes, str, int]:
        """The day's statement file (the bank's business day, Shanghai), its signature and its lines."""
        raw = await self.redis.hvals(self._key("day", day.isoformat()))
        ledger = sorted((_load(one) for one in raw), key=lambda p: (p.paid_at, p.txn_id))
        content, signature = BankSimulator(self.code, self.signer, ledger=ledger).statement(day)
        return content, signature, len(ledger)
