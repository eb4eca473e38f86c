"""VI-04: the bank adapter's scheme (ADR 0060) with the simulator behind it, both signing schemes: a
notice or a statement verifies only as the bank signed it."""

from __future__ import annotations

import json
from datetime import date, datetime

from pydantic import SecretStr

from servicekit.clock import SHANGHAI
from violation_service.banks import Bank, BankSettings, HmacKey, canonical, verifier_for
from violation_service.banksim import BankSimulator, RsaPrivateKey

PAID = datetime(2027, 3, 2, 10, 15, tzinfo=SHANGHAI)


def _bank(settings: BankSettings) -> Bank:
    return Bank("b", settings, verifier_for(settings))


def test_vi04_the_canonical_string_sorts_members_and_leaves_out_the_signature_and_empty_ones() -> None:
    assert canonical({"b": 2, "a": "x", "signature": "s", "c": None, "d": ""}) == b"a=x&b=2"


def test_vi04_an_rsa_bank_notice_verifies_with_its_public_key_and_not_when_altered_or_forged() -> None:
    key = RsaPrivateKey()
    bank = _bank(BankSettings(name="RSA银行", scheme="rsa-sha256", key=SecretStr(key.public_pem())))
    sim = BankSimulator("b", key)
    payment = sim.pay(amount_fen=20_000, paid_at=PAID, order_number="VI1")
    good = bank.read_notice(sim.notice_body(payment))
    assert good.signature_ok
    assert good.notice is not None
    assert (good.notice.bank_txn_id, good.notice.amount_fen, good.notice.status) == (
        payment.txn_id,
        20_000,
        "SUCCESS",
    )
    altered = json.loads(sim.notice_body(payment)) | {"amount_fen": 2_000}
    assert not bank.read_notice(json.dumps(altered).encode()).signature_ok
    other = BankSimulator("b", RsaPrivateKey())  # someone else's key
    assert not bank.read_notice(other.notice_body(payment)).signature_ok
    hmac_forger = BankSimulator("b", HmacKey(b"guess"))
    assert not bank.read_notice(hmac_forger.notice_body(payment)).signature_ok


def test_vi04_an_hmac_bank_and_its_statement() -> None:
    bank = _bank(BankSettings(name="HMAC银行", key=SecretStr("merchant-key")))
    sim = BankSimulator("b", HmacKey(b"merchant-key"))
    one = sim.pay(amount_fen=5_000, paid_at=PAID, payment_reference="1301042027000123459")
    sim.pay(amount_fen=7_000, paid_at=datetime(2027, 3, 3, 9, 0, tzinfo=SHANGHAI), order_number="VI2")
    assert bank.read_notice(sim.notice_body(one)).signature_ok
    content, signature = sim.statement(date(2027, 3, 2))
    lines = bank.read_statement(content, signature)
    assert lines is not None
    assert [(x.bank_txn_id, x.payment_reference, x.amount_fen) for x in lines] == [
        (one.txn_id, "1301042027000123459", 5_000)
    ]
    assert bank.read_statement(content.replace(b"5000", b"500"), signature) is None


def test_vi04_garbage_is_not_a_notice() -> None:
    bank = _bank(BankSettings(name="x", key=SecretStr("k")))
    for body in (b"", b"[]", b"{", b'{"txn_id": 1}', b"\x00\xff"):
        assert bank.read_notice(body).notice is None
