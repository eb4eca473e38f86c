"""A local bank for dev and tests (VI-04), behind the same adapter as a real one: it takes payments of
online orders and of voucher references, signs each notice and its daily statement file as ADR 0060's
scheme says (the canonical string; HMAC-SHA256 with the merchant key, or SHA256withRSA with its own
private key), and keeps its ledger, which a test may edit to plant the differences a reconciliation must
find (a lost notice, a payment reversed at the bank, a corrected amount, a payment of no order of ours).
Never configured in prod (`ViolationSettings.bank_settings` refuses it there).
"""

from __future__ import annotations

import base64
import csv
import io
import itertools
import json
import secrets
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any

from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa

from servicekit.clock import SHANGHAI
from violation_service.banks import STATEMENT_HEADER, HmacKey, canonical


class RsaPrivateKey:
    def __init__(self, key: rsa.RSAPrivateKey | None = None) -> None:
        self._key = key or rsa.generate_private_key(public_exponent=65537, key_size=2048)

    def sign(self, message: bytes) -> str:
        return base64.b64encode(self._key.sign(message, padding.PKCS1v15(), hashes.SHA256())).decode()

    def public_pem(self) -> str:
        return (
            self._key.public_key()
            .public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
            .decode()
        )


@dataclass
class Payment:
    txn_id: str
    order_number: str | None
    payment_reference: str | None
    amount_fen: int
    paid_at: datetime
    status: str = "SUCCESS"


@dataclass
class BankSimulator:
    code: str
    signer: HmacKey | RsaPrivateKey
    ledger: list[Payment] = field(default_factory=list)
    _serial: itertools.count[int] = field(default_factory=lambda: itertools.count(1))
    _run: str = field(default_factory=lambda: secrets.token_hex(4).upper())

    def pay(
        self,
        *,
        amount_fen: int,
        paid_at: datetime,
        order_number: str | None = None,
        payment_reference: str | None = None,
        status: str = "SUCCESS",
    ) -> Payment:
        """The bank takes a payment (online for an order, at a counter for a voucher's reference)."""
        # A run prefix keeps two simulators (two test runs on one database) from reusing transaction ids.
        txn = f"{self.code.upper()}{paid_at.astimezone(SHANGHAI):%Y%m%d}{self._run}{next(self._serial):06d}"
        payment = Payment(txn, order_number, payment_reference, amount_fen, paid_at, status)
        if status == "SUCCESS":
            self.ledger.append(payment)
        return payment

    def notice(self, payment: Payment) -> dict[str, Any]:
        """The signed notice of a payment, as the bank posts it."""
        fields: dict[str, Any] = {
            "txn_id": payment.txn_id,
            "order_number": payment.order_number,
            "payment_reference": payment.payment_reference,
            "amount_fen": payment.amount_fen,
            "paid_at": payment.paid_at.isoformat(),
            "status": payment.status,
        }
        fields = {k: v for k, v in fields.items() if v is not None}
        return fields | {"signature": self.signer.sign(canonical(fields))}

    def notice_body(self, payment: Payment) -> bytes:
        return json.dumps(self.notice(payment), ensure_ascii=False).encode()

    def statement(self, day: date) -> tuple[bytes, str]:
        """The day's statement file (the bank's business day, Shanghai) and its signature."""
        out = io.StringIO()
        writer = csv.writer(out, lineterminator="\n")
        writer.writerow(STATEMENT_HEADER)
        for p in self.ledger:
            if p.paid_at.astimezone(SHANGHAI).date() == day:
                writer.writerow(
                    [
                        p.txn_id,
                        p.order_number or "",
                        p.payment_reference or "",
                        p.amount_fen,
                        p.paid_at.isoformat(),
                    ]
                )
        content = out.getvalue().encode()
        return content, self.signer.sign(content)
