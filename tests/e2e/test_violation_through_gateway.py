"""VI-01..VI-05 end to end through the gateway: another police system sends a camera record; a citizen who
has bound the car and her licence in identity (their events reach violation's projections over the real
broker) sees it, asks for the SMS code (notify's sink has it), confirms, and holds a numbered decision as a
PDF; the points reach her licence (license's worker consumes `violation.decision.issued.v1`, DL-12); she
prints the voucher, orders online and pays at the order's pay_url, the local bank's checkout (the
simulator behind the bank adapter): its signed notice books the payment once, a second confirm and a
forgery change nothing, the day's statement reconciles, and notify tells her of the decision and the
payment. A stranger sees nothing of it.

Real processes (tests/e2e/stack.py): identity, vehicle, violation, license and notify apis and workers,
the gateway and nginx; RabbitMQ, PostgreSQL and Redis; everything is new per run.
"""

from __future__ import annotations

import base64
import io
import json
import re
import secrets
import time
from collections.abc import Callable, Iterator
from datetime import datetime
from typing import Any

import httpx
import pytest

from servicekit.clock import SHANGHAI
from servicekit.migrate import migrate
from servicekit.testing import new_phone, new_resident_id
from servicekit.validators import PROVINCES, vin_check_digit
from violation_service.banks import HmacKey
from violation_service.banksim import BankSimulator
from violation_service.settings import ViolationSettings

from .stack import Person, gateway_stack, login, make_accounts, system_login

pytestmark = pytest.mark.integration

SERVICES = ["vehicle", "violation", "license", "notify"]
TIMEOUT_S = 60.0


@pytest.fixture(scope="module")
def gateway() -> Iterator[str]:
    for name in SERVICES:
        migrate(name)
    with gateway_stack(SERVICES, workers=["identity", *SERVICES]) as url:
        yield url


def eventually(check: Callable[[], Any], what: str, every_s: float = 0.2) -> Any:
    deadline = time.monotonic() + TIMEOUT_S
    while True:
        found = check()
        if found:
            return found
        if time.monotonic() > deadline:
            raise AssertionError(f"not within {TIMEOUT_S:.0f} s: {what}")
        time.sleep(every_s)


def _plate() -> str:
    letters = "ABCDEFGHJKLMNPQRSTUVWXYZ"
    return secrets.choice(PROVINCES) + "A" + "".join(secrets.choice(letters + "0123456789") for _ in range(5))


def _vin() -> str:
    body = "L" + "".join(secrets.choice("ABCDEFGHJKLMNPRSTUVWXYZ0123456789") for _ in range(16))
    return body[:8] + vin_check_digit(body[:8] + "0" + body[9:]) + body[9:]


def _png() -> str:
    from PIL import Image

    out = io.BytesIO()
    Image.new("RGB", (16, 12), (200, 30, secrets.randbelow(256))).save(out, format="PNG")
    return base64.b64encode(out.getvalue()).decode()


def _sms(gw: httpx.Client, phone: str, template: str) -> list[dict[str, Any]]:
    r = gw.get("/api/v1/_test/sms", params={"phone": phone})
    assert r.status_code == 200, r.text
    return [m for m in r.json()["items"] if m["template"] == template]


def _read_pdf(content: bytes) -> tuple[str, list[str]]:
    import pypdfium2
    import zxingcpp

    document = pypdfium2.PdfDocument(content)
    text = "".join(page.get_textpage().get_text_range() for page in document)
    codes = [c.text for page in document for c in zxingcpp.read_barcodes(page.render(scale=3).to_pil())]
    return re.sub(r"\s+", "", text), codes


def test_vi01_to_vi05_a_camera_record_to_a_paid_decision_with_points_on_the_licence_through_the_gateway(
    gateway: str,
) -> None:
    her_id, her_phone, stranger_id = new_resident_id(), new_phone(), new_resident_id()
    names = make_accounts(
        {"intake": ["clerk.intake"]},
        [Person(her_id, her_phone, channel="online"), Person(stranger_id, new_phone())],
    )
    plate = _plate()
    with httpx.Client(base_url=gateway, trust_env=False, timeout=30) as gw:
        intake, system = login(gw, names["intake"]), system_login(gw, names["system"])
        her, stranger = login(gw, her_id), login(gw, stranger_id)

        # Her car, registered at the counter (vehicle publishes it: identity and violation project it),
        # and her licence as the police system issues it to license (license publishes it: identity
        # projects it, ADR 0050).
        r = gw.post(
            "/api/v1/vehicles",
            headers=intake,
            json={
                "plate_number": plate,
                "vin": _vin(),
                "owner": {"id_kind": "resident_id", "id_number": her_id, "name": "沈十七"},
                "phone": her_phone,
            },
        )
        assert r.status_code == 201, r.text
        vehicle = r.json()
        r = gw.post(
            "/api/v1/licences",
            headers=system,
            json={
                "number": her_id,
                "name": "沈十七",
                "classes": ["C1"],
                "first_issue": "2010-01-15",
                "valid_from": "2022-01-15",
                "valid_until": "2032-01-15",
                "office_code": "130100",
                "phone": her_phone,
            },
        )
        assert r.status_code == 201, r.text
        licence = r.json()

        # VI-01: the camera record, by another police system.
        record = {
            "record_id": "E2E" + secrets.token_hex(10).upper(),
            "office_code": "130104",
            "plate_kind": "02",
            "plate_number": plate,
            "violated_at": "2026-11-20T18:42:00+08:00",
            "place": "石家庄市中华大街与裕华路交叉口",
            "violation_code": "1625",
            "description": "驾驶机动车违反道路交通信号灯通行的",
            "penalty": "fine",
            "fine_fen": 20_000,
            "points": 6,
            "evidence": [_png(), _png()],
        }
        r = gw.post("/api/v1/violations", headers=system, json=record)
        assert r.status_code == 201, r.text
        violation = r.json()
        assert gw.post("/api/v1/violations", headers=system, json=record).status_code == 200  # a repeat

        # She binds the car and her licence online (identity publishes both; violation projects them).
        def bound(kind: str, ref: str) -> bool:
            r = gw.post("/api/v1/users/me/bindings", headers=her, json={"record_kind": kind, "ref": ref})
            assert r.status_code in (201, 404, 409), r.text
            return r.status_code in (201, 409)  # 404 until identity has the vehicle's record

        # A write per try: 1.5 s apart stays under identity's 60 writes a minute per account.
        eventually(lambda: bound("vehicle", vehicle["id"]), "identity knows her car", every_s=1.5)
        eventually(lambda: bound("licence", licence["id"]), "identity knows her licence", every_s=1.5)

        # VI-05: she sees it (once violation's projections have her bindings); a stranger does not.
        def handleable() -> dict[str, Any] | None:
            r = gw.get(f"/api/v1/violations/{violation['id']}", headers=her)
            return r.json() if r.status_code == 200 and r.json()["handling"]["allowed"] else None

        detail = eventually(handleable, "violation knows her bindings")
        evidence = gw.get(detail["evidence"][0]["url"], headers=her)
        assert (evidence.status_code, evidence.headers["content-type"]) == (200, "image/png")
        assert gw.get(f"/api/v1/violations/{violation['id']}", headers=stranger).status_code == 404
        assert gw.get(detail["evidence"][0]["url"], headers=stranger).status_code == 404
        assert [v["id"] for v in gw.get("/api/v1/violations", headers=her).json()["items"]] == [
            violation["id"]
        ]

        # VI-03: the SMS code through notify, the decision with its PDF.
        r = gw.post(f"/api/v1/violations/{violation['id']}/handling-code", headers=her)
        assert r.status_code == 202, r.text
        code_sms = eventually(lambda: _sms(gw, her_phone, "verification_code"), "the SMS code")[0]
        code = re.search(r"验证码为(\d{6})", code_sms["body"])
        assert code is not None
        r = gw.post(
            f"/api/v1/violations/{violation['id']}/handling",
            headers=her | {"Idempotency-Key": secrets.token_hex(8)},
            json={"code": code.group(1)},
        )
        assert r.status_code == 201, r.text
        decision = r.json()
        pdf = gw.get(decision["document_url"], headers=her)
        text, codes = _read_pdf(pdf.content)
        assert decision["number"] in text
        assert "罚款人民币200.00元；记6分" in text
        assert len(codes) == 1
        assert gw.get(decision["document_url"], headers=stranger).status_code == 404

        # DL-12: the points reach her licence.
        def points() -> int:
            r = gw.get("/api/v1/licences/mine/points", headers=her)
            return int(r.json()["total"]) if r.status_code == 200 else 0

        assert eventually(lambda: points() == 6 and 6, "the points on her licence") == 6

        # VI-04: the voucher (read back), an online order, the bank's signed notice.
        voucher = gw.get(f"/api/v1/payments/decisions/{decision['id']}/voucher", headers=her)
        text, (qr,) = _read_pdf(voucher.content)
        assert decision["payment_reference"] in text
        check = gw.get("/api/v1/payments/voucher-checks", params={"code": qr}, headers=system)
        assert check.json()["due"]["total_fen"] == 20_000
        r = gw.post(
            "/api/v1/payments/orders",
            headers=her | {"Idempotency-Key": secrets.token_hex(8)},
            json={"decision_id": decision["id"], "bank": "sim"},
        )
        assert r.status_code == 201, r.text
        order = r.json()
        bank = BankSimulator("sim", HmacKey(ViolationSettings().simulator_key().hex().encode()))
        forger = BankSimulator("sim", HmacKey(b"not the bank"))
        paid_at = datetime.now(SHANGHAI).replace(microsecond=0)
        forged = forger.pay(order_number=order["order_number"], amount_fen=20_000, paid_at=paid_at)
        r = gw.post("/api/v1/payments/bank-notices/sim", content=forger.notice_body(forged))
        assert (r.status_code, r.json()["code"]) == (400, "NOTICE_SIGNATURE_INVALID")
        genuine = bank.notice_body(
            bank.pay(order_number=order["order_number"], amount_fen=20_000, paid_at=paid_at)
        )
        altered = json.dumps(json.loads(genuine) | {"amount_fen": 2_000}).encode()
        assert gw.post("/api/v1/payments/bank-notices/sim", content=altered).status_code == 400
        # She pays as a payer does: pay_url is the local bank's checkout (dev and test, through the
        # gateway); confirming makes the bank post its signed notice to the platform's notice endpoint
        # through the edge, as a bank does. Confirming again takes nothing more: the bank's notice again.
        page = gw.get(order["pay_url"])
        assert (page.status_code, page.headers["content-type"]) == (200, "text/html; charset=utf-8")
        assert order["order_number"] in page.text
        answers = [gw.post(order["pay_url"]).json() for _ in range(3)]
        assert [a["notice"]["outcome"] for a in answers] == ["booked", "replayed", "replayed"]
        assert len({a["txn_id"] for a in answers}) == 1
        mine = gw.get(f"/api/v1/violations/decisions/{decision['id']}", headers=her).json()
        assert (mine["payment_state"], mine["paid_fen"]) == ("paid", 20_000)
        paid = gw.get("/api/v1/payments", headers=her).json()["items"]
        assert [(p["bank_txn_id"], p["outcome"]) for p in paid] == [(answers[0]["txn_id"], "booked")]
        # The day's statement from the local bank, reconciled: nothing of hers is left to settle.
        statement = gw.post("/api/v1/_test/bank-statement", json={})
        assert statement.status_code == 200, statement.text
        assert answers[0]["txn_id"] in statement.json()["statement"]
        differences = statement.json()["reconciliation"]["differences"]
        assert not [d for d in differences if d["bank_txn_id"] == answers[0]["txn_id"]]

        # NT-01: notify told her of the decision and of the payment, once each.
        told = eventually(lambda: _sms(gw, her_phone, "penalty_decision_issued"), "the decision's SMS")
        assert f"缴款编号{decision['payment_reference']}" in told[0]["body"]
        assert len(eventually(lambda: _sms(gw, her_phone, "penalty_paid"), "the payment's SMS")) == 1
