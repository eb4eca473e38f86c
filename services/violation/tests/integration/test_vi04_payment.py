"""VI-04: the payment voucher (rendered and read back), online orders, the banks' signed notices (replayed,
forged, altered, wrong amounts), the late fine on the platform clock, and the daily reconciliation that
finds every planted difference; VI-05: payments as their readers see them."""

from __future__ import annotations

import asyncio
import json
import re
from datetime import date, datetime, timedelta
from typing import Any

import httpx
import pytest
from sqlalchemy import func, select

from servicekit.clock import SHANGHAI, FixedClock
from servicekit.runtime import Runtime
from violation_service.tables import bank_notices, bank_transactions

from .conftest import Actors, decided, events_about, read_pdf, simulator

pytestmark = pytest.mark.integration

NOTICE = "/api/v1/payments/bank-notices/sim"


async def order(
    client: httpx.AsyncClient, who: Any, decision: dict[str, Any], bank: str = "sim"
) -> dict[str, Any]:
    r = await client.post(
        "/api/v1/payments/orders", json={"decision_id": decision["id"], "bank": bank}, headers=who.headers
    )
    assert r.status_code == 201, r.text
    body: dict[str, Any] = r.json()
    return body


async def decision_of(client: httpx.AsyncClient, actors: Actors, decision: dict[str, Any]) -> dict[str, Any]:
    r = await client.get(f"/api/v1/violations/decisions/{decision['id']}", headers=actors.system)
    body: dict[str, Any] = r.json()
    return body


async def payment_events(runtime: Runtime, decision: dict[str, Any]) -> list[dict[str, Any]]:
    return [
        p for k, p in await events_about(runtime, decision["id"]) if k == "violation.payment.confirmed.v1"
    ]


async def test_vi04_the_voucher_reads_back_for_laser_and_impact_printers_and_a_counter_checks_its_qr(
    client: httpx.AsyncClient, actors: Actors, runtime: Runtime, clock: FixedClock
) -> None:
    owner, _, decision = await decided(client, actors, runtime)
    url = f"/api/v1/payments/decisions/{decision['id']}/voucher"
    sizes = {}
    for layout in ("laser", "impact"):
        r = await client.get(url, params={"layout": layout}, headers=owner.headers)
        assert (r.status_code, r.headers["content-type"]) == (200, "application/pdf")
        text, codes = read_pdf(r.content)
        flat = re.sub(r"\s+", "", text)
        for expected in (
            "公安交通管理罚款缴款凭证",
            decision["payment_reference"],
            decision["number"],
            "罚款金额：200.00元",
            "应缴金额合计：人民币200元00分",
            "激光或针式打印机",
            "不能使用热敏打印机",
        ):
            assert expected in flat, (layout, expected)
        (code,) = codes
        import pypdfium2

        sizes[layout] = tuple(round(v / 72 * 25.4) for v in pypdfium2.PdfDocument(r.content)[0].get_size())
        check = await client.get(
            "/api/v1/payments/voucher-checks", params={"code": code}, headers=actors.system
        )
        assert check.status_code == 200, check.text
        assert (check.json()["genuine"], check.json()["due"]["total_fen"]) == (True, 20_000)
    assert sizes == {"laser": (210, 297), "impact": (241, 140)}
    forged = code.replace("|20000|", "|2000|")
    r = await client.get("/api/v1/payments/voucher-checks", params={"code": forged}, headers=actors.system)
    assert (r.status_code, r.json()["code"], r.json()["rule"]) == (422, "VOUCHER_INVALID", "VI-04")
    # On the 16th day the voucher and the counter both show the late fine.
    clock.set(datetime(2027, 3, 17, 9, 0, tzinfo=SHANGHAI))
    text, _ = read_pdf((await client.get(url, headers=owner.headers)).content)
    assert "加处罚款：6.00元（逾期1日）" in re.sub(r"\s+", "", text)
    check = await client.get("/api/v1/payments/voucher-checks", params={"code": code}, headers=actors.clerk)
    assert (check.json()["due"]["late_fee_fen"], check.json()["due"]["total_fen"]) == (600, 20_600)
    assert (await client.get(url, headers=actors.person().headers)).status_code == 404


async def test_vi04_an_online_payment_replayed_ten_times_books_once(
    client: httpx.AsyncClient, actors: Actors, runtime: Runtime
) -> None:
    owner, violation, decision = await decided(client, actors, runtime)
    banks = await client.get("/api/v1/payments/banks", headers=owner.headers)
    assert banks.json() == {"items": [{"code": "sim", "name": "本地模拟银行"}]}
    made = await order(client, owner, decision)
    assert (made["amount_fen"], made["late_fee_fen"], made["state"]) == (20_000, 0, "created")
    assert made["pay_url"].startswith("http")
    assert made["order_number"] in made["pay_url"]
    bank = simulator(runtime)
    paid = bank.pay(
        order_number=made["order_number"],
        amount_fen=20_000,
        paid_at=datetime(2027, 3, 1, 10, 0, tzinfo=SHANGHAI),
    )
    body = bank.notice_body(paid)
    answers = await asyncio.gather(*(client.post(NOTICE, content=body) for _ in range(10)))
    assert [a.status_code for a in answers] == [200] * 10
    assert sorted(a.json()["outcome"] for a in answers) == ["booked"] + ["replayed"] * 9
    again = await client.post(NOTICE, content=body)  # and once more later
    assert again.json()["outcome"] == "replayed"
    now = await decision_of(client, actors, decision)
    assert (now["payment_state"], now["paid_fen"], now["late_fee_fen"]) == ("paid", 20_000, 0)
    (event,) = await payment_events(runtime, decision)
    assert (event["amount_fen"], event["channel"], event["booked_by"], event["phone"]) == (
        20_000,
        "online",
        "notice",
        owner.phone,
    )
    assert (event["plate_number"], event["violation_id"]) == (violation["plate_number"], violation["id"])
    async with runtime.engine.connect() as conn:
        count = (
            await conn.execute(
                select(func.count())
                .select_from(bank_transactions)
                .where(bank_transactions.c.bank_txn_id == paid.txn_id)
            )
        ).scalar_one()
    assert count == 1
    r = await client.post(
        "/api/v1/payments/orders", json={"decision_id": decision["id"], "bank": "sim"}, headers=owner.headers
    )
    assert (r.status_code, r.json()["code"], r.json()["rule"]) == (409, "NOTHING_TO_PAY", "VI-04")


async def test_vi04_a_forged_or_altered_notice_changes_nothing(
    client: httpx.AsyncClient, actors: Actors, runtime: Runtime
) -> None:
    from violation_service.banks import HmacKey
    from violation_service.banksim import BankSimulator

    owner, _, decision = await decided(client, actors, runtime)
    made = await order(client, owner, decision)
    bank = simulator(runtime)
    at = datetime(2027, 3, 1, 10, 0, tzinfo=SHANGHAI)
    forger = BankSimulator("sim", HmacKey(b"a guessed key"))
    forged = forger.notice_body(forger.pay(order_number=made["order_number"], amount_fen=20_000, paid_at=at))
    genuine = bank.notice(bank.pay(order_number=made["order_number"], amount_fen=20_000, paid_at=at))
    altered_txn = json.dumps(genuine | {"txn_id": genuine["txn_id"] + "9"}).encode()
    unsigned = json.dumps({k: v for k, v in genuine.items() if k != "signature"} | {"signature": ""}).encode()
    cheaper = bank.notice(bank.pay(order_number=made["order_number"], amount_fen=1, paid_at=at))
    altered_amount = json.dumps(cheaper | {"amount_fen": 20_000}).encode()  # 1 fen paid, "20000" claimed
    for body in (forged, altered_txn, unsigned, altered_amount, b"not json", b"{}"):
        r = await client.post(NOTICE, content=body)
        assert (r.status_code, r.json()["code"], r.json()["rule"]) == (
            400,
            "NOTICE_SIGNATURE_INVALID",
            "VI-04",
        )
    assert (await decision_of(client, actors, decision))["payment_state"] == "unpaid"
    assert await payment_events(runtime, decision) == []
    async with runtime.engine.connect() as conn:
        booked = (
            await conn.execute(
                select(func.count())
                .select_from(bank_transactions)
                .where(bank_transactions.c.order_number == made["order_number"])
            )
        ).scalar_one()
        refused = (
            await conn.execute(
                select(func.count())
                .select_from(bank_notices)
                .where(
                    bank_notices.c.signature_ok.is_(False), bank_notices.c.body.contains(made["order_number"])
                )
            )
        ).scalar_one()
    assert (booked, refused) == (0, 4)  # each kept as received; the two not even notices too, elsewhere
    assert (await client.post("/api/v1/payments/bank-notices/nobank", content=forged)).status_code == 404


async def test_vi04_an_amount_other_than_the_amount_due_books_nothing(
    client: httpx.AsyncClient, actors: Actors, runtime: Runtime
) -> None:
    owner, _, decision = await decided(client, actors, runtime)
    made = await order(client, owner, decision)
    bank = simulator(runtime)
    at = datetime(2027, 3, 1, 10, 0, tzinfo=SHANGHAI)
    for amount in (19_999, 20_001):
        short = bank.pay(order_number=made["order_number"], amount_fen=amount, paid_at=at)
        r = await client.post(NOTICE, content=bank.notice_body(short))
        assert (r.status_code, r.json()["outcome"]) == (200, "amount_mismatch")
    assert (await decision_of(client, actors, decision))["payment_state"] == "unpaid"
    assert await payment_events(runtime, decision) == []


async def test_vi04_the_late_fine_follows_the_platform_clock_and_a_counter_pays_by_reference(
    client: httpx.AsyncClient, actors: Actors, runtime: Runtime, clock: FixedClock
) -> None:
    owner, _, decision = await decided(client, actors, runtime)
    clock.set(datetime(2027, 3, 26, 9, 0, tzinfo=SHANGHAI))  # the 25th day: 10 days late
    made = await order(client, owner, decision)
    assert (made["fine_fen"], made["late_fee_fen"], made["amount_fen"]) == (20_000, 6_000, 26_000)
    assert datetime.fromisoformat(made["expires_at"]) == datetime(2027, 3, 27, tzinfo=SHANGHAI)
    # At the counter the next day, by the voucher's reference: 11 days late, 26 600.
    bank = simulator(runtime)
    at = datetime(2027, 3, 27, 11, 0, tzinfo=SHANGHAI)
    clock.set(at + timedelta(minutes=1))
    stale = bank.pay(order_number=made["order_number"], amount_fen=26_000, paid_at=at)  # yesterday's amount
    assert (await client.post(NOTICE, content=bank.notice_body(stale))).json()["outcome"] == "amount_mismatch"
    counter = bank.pay(payment_reference=decision["payment_reference"], amount_fen=26_600, paid_at=at)
    assert (await client.post(NOTICE, content=bank.notice_body(counter))).json()["outcome"] == "booked"
    now = await decision_of(client, actors, decision)
    assert (now["paid_fen"], now["late_fee_fen"]) == (26_600, 6_600)
    (event,) = await payment_events(runtime, decision)
    assert (event["channel"], event["late_fee_fen"]) == ("counter", 6_600)
    # VI-05: the payer lists their payments; a system searches them.
    mine = (await client.get("/api/v1/payments", headers=owner.headers)).json()["items"]
    assert {(p["bank_txn_id"], p["outcome"]) for p in mine} == {
        (stale.txn_id, "amount_mismatch"),
        (counter.txn_id, "booked"),
    }
    found = await client.get(
        "/api/v1/payments",
        params={"since": "2027-03-27T00:00:00+08:00", "outcome": "booked"},
        headers=actors.system,
    )
    assert counter.txn_id in [p["bank_txn_id"] for p in found.json()["items"]]


async def test_vi04_the_reconciliation_finds_every_planted_difference_and_books_the_lost_notice(
    own_bank: tuple[httpx.AsyncClient, Any], actors: Actors, runtime: Runtime, clock: FixedClock
) -> None:
    client, bank = own_bank
    notices = f"/api/v1/payments/bank-notices/{bank.code}"
    day = date(2027, 3, 2)
    at = datetime(2027, 3, 2, 10, 0, tzinfo=SHANGHAI)
    clock.set(datetime(2027, 3, 2, 8, 0, tzinfo=SHANGHAI))
    cases = [await decided(client, actors, runtime) for _ in range(6)]
    orders = [await order(client, who, d, bank.code) for who, _, d in cases]

    async def deliver(payment: Any) -> str:
        r = await client.post(notices, content=bank.notice_body(payment))
        return str(r.json()["outcome"])

    clean = bank.pay(order_number=orders[0]["order_number"], amount_fen=20_000, paid_at=at)
    assert await deliver(clean) == "booked"
    lost = bank.pay(order_number=orders[1]["order_number"], amount_fen=20_000, paid_at=at)  # never told
    reversed_ = bank.pay(order_number=orders[2]["order_number"], amount_fen=20_000, paid_at=at)
    assert await deliver(reversed_) == "booked"
    bank.ledger.remove(reversed_)  # the bank reversed it: not on its statement
    corrected = bank.pay(payment_reference=cases[3][2]["payment_reference"], amount_fen=20_000, paid_at=at)
    assert await deliver(corrected) == "booked"
    corrected.amount_fen = 19_000  # the bank's statement says otherwise
    stranger = bank.pay(order_number="VI20270302DEADBEEFDEADBEEF", amount_fen=5_000, paid_at=at)
    short = bank.pay(order_number=orders[4]["order_number"], amount_fen=10_000, paid_at=at)
    assert await deliver(short) == "amount_mismatch"
    first = bank.pay(order_number=orders[5]["order_number"], amount_fen=20_000, paid_at=at)
    twice = bank.pay(payment_reference=cases[5][2]["payment_reference"], amount_fen=20_000, paid_at=at)
    assert [await deliver(first), await deliver(twice)] == ["booked", "duplicate_payment"]
    content, signature = bank.statement(day)
    clock.set(datetime(2027, 3, 3, 2, 0, tzinfo=SHANGHAI))
    url = f"/api/v1/payments/reconciliations/{bank.code}/{day}"
    r = await client.put(url, content=content, headers=actors.system | {"Bank-Signature": signature})
    assert r.status_code == 200, r.text
    report = r.json()
    found = {
        (d["kind"], d["bank_txn_id"]): (d["statement_fen"], d["platform_fen"], d["repair"])
        for d in report["differences"]
    }
    assert found == {
        ("missing_notice", lost.txn_id): (20_000, None, "booked"),
        ("not_at_bank", reversed_.txn_id): (None, 20_000, None),
        ("amount_differs", corrected.txn_id): (19_000, 20_000, None),
        ("unknown_at_platform", stranger.txn_id): (5_000, None, None),
        ("amount_mismatch", short.txn_id): (10_000, 10_000, None),
        ("refund_due", twice.txn_id): (20_000, 20_000, None),
    }
    assert report["lines"] == 7  # every payment the bank kept (the reversed one is gone)
    # The lost notice is booked as its notice would have been.
    repaired = await decision_of(client, actors, cases[1][2])
    assert repaired["payment_state"] == "paid"
    (event,) = await payment_events(runtime, cases[1][2])
    assert event["booked_by"] == "reconciliation"
    # Run again: what was repaired is no longer a difference; the rest is still reported.
    again = (
        await client.put(url, content=content, headers=actors.system | {"Bank-Signature": signature})
    ).json()
    assert {d["kind"] for d in again["differences"]} == {
        "not_at_bank",
        "amount_differs",
        "unknown_at_platform",
        "amount_mismatch",
        "refund_due",
    }
    assert len(await payment_events(runtime, cases[1][2])) == 1
    # A statement that is not the bank's, or of another day, is refused.
    tampered = content.replace(b",19000,", b",20000,")
    r = await client.put(url, content=tampered, headers=actors.system | {"Bank-Signature": signature})
    assert (r.status_code, r.json()["code"]) == (422, "STATEMENT_SIGNATURE_INVALID")
    r = await client.put(
        f"/api/v1/payments/reconciliations/{bank.code}/2027-03-01",
        content=content,
        headers=actors.system | {"Bank-Signature": signature},
    )
    assert (r.status_code, r.json()["code"]) == (422, "STATEMENT_OF_ANOTHER_DAY")
    assert (await client.put(url, content=content, headers=cases[0][0].headers)).status_code == 403
