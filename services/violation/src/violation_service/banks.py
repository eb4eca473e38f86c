"""VI-04: the bank adapter. A bank that takes traffic fines online (or at its counters) tells the platform
of each payment by a signed notice, and publishes a signed statement file each day; the platform makes
online orders whose checkout the bank's website serves. One adapter for every bank, by ADR 0060's scheme:

- a notice is a JSON object; its **signature** (base64) is over the canonical string: every other member
  with a value, sorted by name, as `name=value` joined by `&` (UTF-8), the way the banks' and UnionPay's
  gateways sign;
- the **statement** is a CSV file (`txn_id,order_number,payment_reference,amount_fen,paid_at`), signed
  whole (the signature travels beside it);
- the scheme is the bank's: `rsa-sha256` (SHA256withRSA, PKCS #1 v1.5, verified with the bank's public
  key, as bank gateways sign) or `hmac-sha256` (a merchant key shared with the bank). SM2withSM3 is the
  same canonical string under another algorithm, added when a bank requires it (ADR 0060).

The local simulator (`banksim.py`) signs exactly so, behind this same adapter.
"""

from __future__ import annotations

import base64
import binascii
import csv
import hashlib
import hmac
import io
import json
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Literal, Protocol
from urllib.parse import urlencode

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa
from pydantic import BaseModel, SecretStr

from violation_service.domain import Notice, StatementLine

Scheme = Literal["rsa-sha256", "hmac-sha256"]
STATEMENT_HEADER = ("txn_id", "order_number", "payment_reference", "amount_fen", "paid_at")


class BankSettings(BaseModel):
    """One bank: its name for people, its signing scheme and key (the bank's public key PEM for
    `rsa-sha256`, the shared merchant key for `hmac-sha256`), and where its checkout page is."""

    name: str
    scheme: Scheme = "hmac-sha256"
    key: SecretStr
    checkout_url: str = "http://127.0.0.1:8055/checkout"
    simulator: bool = False  # the local simulator: refused in prod


def canonical(fields: Mapping[str, Any]) -> bytes:
    """The string a notice's signature covers: members other than `signature` with a value, sorted."""
    parts = []
    for name in sorted(fields):
        value = fields[name]
        if name == "signature" or value is None or value == "":
            continue
        parts.append(f"{name}={value}")
    return "&".join(parts).encode()


class Verifier(Protocol):
    def verify(self, message: bytes, signature: str) -> bool: ...


class HmacKey:
    def __init__(self, key: bytes) -> None:
        self._key = key

    def sign(self, message: bytes) -> str:
        return base64.b64encode(hmac.new(self._key, message, hashlib.sha256).digest()).decode()

    def verify(self, message: bytes, signature: str) -> bool:
        return hmac.compare_digest(self.sign(message), signature)


class RsaPublicKey:
    def __init__(self, pem: bytes) -> None:
        key = serialization.load_pem_public_key(pem)
        if not isinstance(key, rsa.RSAPublicKey):
            raise ValueError("an rsa-sha256 bank needs an RSA public key")
        self._key = key

    def verify(self, message: bytes, signature: str) -> bool:
        try:
            self._key.verify(
                base64.b64decode(signature, validate=True), message, padding.PKCS1v15(), hashes.SHA256()
            )
        except (InvalidSignature, binascii.Error, ValueError):
            return False
        return True


def verifier_for(settings: BankSettings) -> Verifier:
    secret = settings.key.get_secret_value().encode()
    return RsaPublicKey(secret) if settings.scheme == "rsa-sha256" else HmacKey(secret)


class NoticeIn(BaseModel):
    """A notice's members as the banks send them (ADR 0060)."""

    txn_id: str
    order_number: str | None = None
    payment_reference: str | None = None
    amount_fen: int
    paid_at: datetime
    status: str
    signature: str


@dataclass(frozen=True)
class Verified:
    notice: Notice | None  # None when the body is not a notice at all
    signature_ok: bool


@dataclass(frozen=True)
class Bank:
    code: str
    settings: BankSettings
    verifier: Verifier

    def checkout_url(self, order_number: str, amount_fen: int, expires_at: datetime) -> str:
        """Where the payer goes to pay the order on the bank's website."""
        query = urlencode(
            {"order_number": order_number, "amount_fen": amount_fen, "expires_at": expires_at.isoformat()}
        )
        return f"{self.settings.checkout_url}?{query}"

    def read_notice(self, body: bytes) -> Verified:
        """The notice if its signature is the bank's; an unreadable body or a bad signature changes
        nothing (the caller records it and books nothing)."""
        try:
            fields = json.loads(body)
            parsed = NoticeIn.model_validate(fields)
        except ValueError:
            return Verified(None, False)
        if not isinstance(fields, dict) or parsed.paid_at.tzinfo is None:
            return Verified(None, False)
        ok = self.verifier.verify(canonical(fields), parsed.signature)
        notice = Notice(
            bank=self.code,
            bank_txn_id=parsed.txn_id[:64],
            order_number=parsed.order_number,
            payment_reference=parsed.payment_reference,
            amount_fen=parsed.amount_fen,
            paid_at=parsed.paid_at,
            status=parsed.status,
        )
        return Verified(notice, ok)

    def read_statement(self, content: bytes, signature: str) -> list[StatementLine] | None:
        """The statement's lines if the file is the bank's (signed whole), else None."""
        if not self.verifier.verify(content, signature):
            return None
        reader = csv.reader(io.StringIO(content.decode("utf-8-sig")))
        rows = list(reader)
        if not rows or tuple(rows[0]) != STATEMENT_HEADER:
            raise ValueError(f"the statement's header must be {','.join(STATEMENT_HEADER)}")
        lines = []
        for number, row in enumerate(rows[1:], start=2):
            if not row:
                continue
            if len(row) != len(STATEMENT_HEADER):
                raise ValueError(f"line {number}: {len(STATEMENT_HEADER)} columns expected")
            txn, order, reference, amount, paid_at = row
            lines.append(
                StatementLine(
                    bank_txn_id=txn,
                    order_number=order or None,
                    payment_reference=reference or None,
                    amount_fen=int(amount),
                    paid_at=datetime.fromisoformat(paid_at),
                )
            )
        return lines


def banks_of(configured: Mapping[str, BankSettings]) -> dict[str, Bank]:
    return {code: Bank(code, s, verifier_for(s)) for code, s in configured.items()}
