"""VI-04 in dev and test: the local bank's checkout at an order's `pay_url` (`/api/v1/_test/bank-checkout`)
pays the order once and posts the bank's signed notice to the platform's notice endpoint over HTTP (here
the app itself, as the edge would reach it); a notice the payer lets be lost is booked by the day's
reconciliation against the local bank's signed statement (`/api/v1/_test/bank-statement`)."""

from __future__ import annotations

import asyncio
import secrets
from collections.abc import AsyncIterator
from typing import Any
from urllib.parse import urlsplit

import httpx
import pytest
from fastapi import FastAPI

from servicekit.clock import FixedClock
from servicekit.runtime import Runtime
from servicekit.testing import TokenFactory, service_client
from violation_service.localbank import LocalBank
from violation_service.settings import ViolationSettings

from .conftest import Actors, build_app, decided, events_about

pytestmark = pytest.mark.integration


@pytest.fixture
async def bank_app(
    violation_database: str, tokens: TokenFactory, clock: FixedClock
) -> AsyncIterator[tuple[httpx.AsyncClient, FastAPI]]:
    """The api with the local bank mounted; the bank posts its notices to this same app."""
    app = build_app(tokens, clock, local_bank=True)
    async with service_client(app) as client:
        bank = app.state.local_bank
        assert isinstance(bank, LocalBank)
        own_http, own_url = bank.http, bank.notice_url
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://violation") as back:
            bank.http, bank.notice_url = back, "http://violation/api/v1/payments/bank-notices/sim"
            try:
                yield client, app
            finally:
                bank.http, bank.notice_url = own_http, own_url


async def online_order(client: httpx.AsyncClient, who: Any, decision: dict[str, Any]) -> dict[str, Any]:
    r = await client.post(
        "/api/v1/payments/orders",
        json={"decision_id": decision["id"], "bank": "sim"},
        headers=who.headers | {"Idempotency-Key": secrets.token_hex(8)},
    )
    assert r.status_code == 201, r.text
    body: dict[str, Any] = r.json()
    return body


def local(pay_url: str) -> str:
    """The pay_url's path and query, to call the app in-process (in `make run` it is the edge's URL)."""
    parts = urlsplit(pay_url)
    return f"{parts.path}?{parts.query}"


async def test_vi04_a_paid_order_at_the_local_banks_checkout_books_once_by_its_signed_notice(
    bank_app: tuple[httpx.AsyncClient, FastAPI], actors: Actors, runtime: Runtime
) -> None:
    client, _ = bank_app
    owner, _, decision = await decided(client, actors, runtime)
    order = await online_order(client, owner, decision)
    settings = runtime.settings
    assert isinstance(settings, ViolationSettings)
    assert order["pay_url"].startswith(settings.simulator_checkout_url + "?")

    page = await client.get(local(order["pay_url"]))
    assert (page.status_code, page.headers["content-type"]) == (200, "text/html; charset=utf-8")
    assert order["order_number"] in page.text
    assert "200.00" in page.text
    assert 'method="post"' in page.text

    first = await client.post(local(order["pay_url"]))
    assert first.status_code == 201, first.text
    paid = first.json()
    assert (paid["first"], paid["amount_fen"], paid["notice"]) == (
        True,
        20_000,
        {"status_code": 200, "outcome": "booked"},
    )
    again = await client.post(local(order["pay_url"]), json={"notice": "send"})
    assert again.status_code == 200, again.text
    assert (again.json()["txn_id"], again.json()["first"]) == (paid["txn_id"], False)
    assert again.json()["notice"] == {"status_code": 200, "outcome": "replayed"}
    form = await client.post(
        local(order["pay_url"]),
        content="notice=send",
        headers={"Content-Type": "application/x-www-form-urlencoded"},
    )
    assert form.status_code == 200
    assert "该订单已支付" in form.text
    assert paid["txn_id"] in form.text

    mine = await client.get(f"/api/v1/violations/decisions/{decision['id']}", headers=owner.headers)
    assert (mine.json()["payment_state"], mine.json()["paid_fen"]) == ("paid", 20_000)
    payments = (await client.get("/api/v1/payments", headers=owner.headers)).json()["items"]
    assert [(p["bank_txn_id"], p["outcome"], p["received_via"]) for p in payments] == [
        (paid["txn_id"], "booked", "notice")
    ]
    confirmed = [
        k for k, _ in await events_about(runtime, decision["id"]) if k.endswith("payment.confirmed.v1")
    ]
    assert confirmed == ["violation.payment.confirmed.v1"]  # notify's SMS follows this, once


async def test_vi04_the_checkout_refuses_an_expired_order_and_a_bad_choice(
    bank_app: tuple[httpx.AsyncClient, FastAPI], actors: Actors, runtime: Runtime, clock: FixedClock
) -> None:
    client, _ = bank_app
    owner, _, decision = await decided(client, actors, runtime)
    order = await online_order(client, owner, decision)
    bad = await client.post(local(order["pay_url"]), json={"notice": "maybe"})
    assert (bad.status_code, bad.json()["code"]) == (422, "CHECKOUT_BODY_INVALID")
    from datetime import timedelta

    clock.advance(timedelta(days=1))  # the order held until midnight
    late = await client.post(local(order["pay_url"]))
    assert (late.status_code, late.json()["code"], late.json()["rule"]) == (
        422,
        "CHECKOUT_ORDER_EXPIRED",
        "VI-04",
    )


async def test_vi04_a_lost_notice_is_booked_by_reconciling_the_local_banks_statement(
    bank_app: tuple[httpx.AsyncClient, FastAPI], actors: Actors, runtime: Runtime
) -> None:
    client, _ = bank_app
    owner, _, decision = await decided(client, actors, runtime)
    order = await online_order(client, owner, decision)
    lost = await client.post(local(order["pay_url"]), json={"notice": "lose"})
    assert lost.status_code == 201, lost.text
    assert lost.json()["notice"] is None
    txn = lost.json()["txn_id"]
    unpaid = await client.get(f"/api/v1/violations/decisions/{decision['id']}", headers=owner.headers)
    assert unpaid.json()["payment_state"] == "unpaid"

    r = await client.post("/api/v1/_test/bank-statement", json={})
    assert r.status_code == 200, r.text
    run = r.json()
    assert run["bank"] == "sim"
    assert run["statement"].startswith("txn_id,order_number,payment_reference,amount_fen,paid_at\n")
    assert txn in run["statement"]
    repaired = [d for d in run["reconciliation"]["differences"] if d["bank_txn_id"] == txn]
    assert repaired == [
        {
            "kind": "missing_notice",
            "bank_txn_id": txn,
            "statement_fen": 20_000,
            "platform_fen": None,
            "repair": "booked",
        }
    ]
    paid = await client.get(f"/api/v1/violations/decisions/{decision['id']}", headers=owner.headers)
    assert paid.json()["payment_state"] == "paid"
    # The statement alone, signed as the bank signs it, for `PUT /api/v1/payments/reconciliations/sim/{day}`.
    alone = await client.post("/api/v1/_test/bank-statement", json={"reconcile": False})
    assert alone.json()["reconciliation"] is None
    again = await client.put(
        f"/api/v1/payments/reconciliations/sim/{alone.json()['day']}",
        content=alone.json()["statement"].encode(),
        headers=actors.system | {"Bank-Signature": alone.json()["signature"], "Content-Type": "text/csv"},
    )
    assert again.status_code == 200, again.text
    assert not [d for d in again.json()["differences"] if d["bank_txn_id"] == txn]


async def test_vi04_confirms_at_once_take_one_payment_and_book_it_once(
    bank_app: tuple[httpx.AsyncClient, FastAPI], actors: Actors, runtime: Runtime
) -> None:
    """A payer pressing the button five times at once: the bank takes one payment (its ledger's key is
    set once per order), the platform books it once; every other confirm sends the same notice again."""
    client, _ = bank_app
    owner, _, decision = await decided(client, actors, runtime)
    order = await online_order(client, owner, decision)
    answers = await asyncio.gather(*(client.post(local(order["pay_url"])) for _ in range(5)))
    assert sorted(r.status_code for r in answers) == [200, 200, 200, 200, 201]
    assert len({r.json()["txn_id"] for r in answers}) == 1
    outcomes = sorted(r.json()["notice"]["outcome"] for r in answers)
    assert outcomes == ["booked", "replayed", "replayed", "replayed", "replayed"]
    confirmed = [k for k, _ in await events_about(runtime, decision["id"]) if k.endswith("confirmed.v1")]
    assert confirmed == ["violation.payment.confirmed.v1"]
