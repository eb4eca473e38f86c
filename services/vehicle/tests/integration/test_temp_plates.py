"""VH-12: temporary plates issued by car dealers, against the real vehicle_test database."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

import httpx
import pytest

from servicekit.clock import SHANGHAI, FixedClock
from servicekit.runtime import Runtime
from servicekit.testing import new_phone, new_resident_id
from vehicle_service.dealers import sweep_missed_reviews

from .conftest import Actors, events_about, registration
from .factories import new_uscc, new_vin

pytestmark = pytest.mark.integration

DOCUMENTS = {
    "organisation_certificate": "scans/org.pdf",
    "power_of_attorney": "scans/poa.pdf",
    "agent_identity": "scans/agent.pdf",
    "brand_model_list": "scans/brands.pdf",
    "sales_authorisation": "scans/sales.pdf",
}


class Desk:
    def __init__(self, actors: Actors) -> None:
        t = actors.tokens
        self.actors = actors
        self.review = t.headers(t.clerk(roles=("clerk.review",), office=actors.office))
        self.intake = t.headers(t.clerk(roles=("clerk.intake",), office=actors.office))
        self.subject = "dealer-" + new_uscc()
        self.dealer = t.headers(
            t.mint(self.subject, kind="unit", channel="counter", roles=("unit", "dealer"))
        )


async def qualify(client: httpx.AsyncClient, desk: Desk, **kw: Any) -> dict[str, Any]:
    body = {
        "account_subject": desk.subject,
        "uscc": new_uscc(),
        "name": "石家庄某汽车销售有限公司",
        "legal_rep_name": "郑十一",
        "legal_rep_phone": new_phone(),
        "authorised": ["大众", "丰田/卡罗拉"],
        "documents": DOCUMENTS,
        "quota": 50,
    } | kw
    r = await client.post("/api/v1/temp-plates/dealers", json=body, headers=desk.review)
    assert r.status_code == 201, r.text
    data: dict[str, Any] = r.json()
    return data


def plate_for(brand: str = "大众", model: str = "朗逸", **kw: Any) -> dict[str, Any]:
    return {
        "vin": new_vin(),
        "brand": brand,
        "model": model,
        "owner": {"id_kind": "resident_id", "id_number": new_resident_id(), "name": "冯十二"},
        "phone": new_phone(),
    } | kw


async def collect(client: httpx.AsyncClient, desk: Desk, dealer: dict[str, Any], **kw: Any) -> httpx.Response:
    return await client.post(
        f"/api/v1/temp-plates/dealers/{dealer['id']}/collections",
        json={"quantity": 10} | kw,
        headers=desk.intake,
    )


@pytest.fixture
def desk(actors: Actors) -> Desk:
    return Desk(actors)


async def test_vh12_qualified_dealer_collects_blanks_and_issues_within_its_brands(
    client: httpx.AsyncClient, desk: Desk, runtime: Runtime
) -> None:
    dealer = await qualify(client, desk)
    assert (dealer["valid_from"], dealer["valid_until"]) == ("2027-03-01", "2028-02-29")
    r = await client.post("/api/v1/temp-plates", json=plate_for(), headers=desk.dealer)
    assert (r.status_code, r.json()["code"]) == (409, "NO_BLANK_TEMP_PLATES")
    assert (await collect(client, desk, dealer, quantity=51)).json()["code"] == "ABOVE_COLLECTION_QUOTA"
    assert (await collect(client, desk, dealer)).status_code == 201
    r = await client.post("/api/v1/temp-plates", json=plate_for(), headers=desk.dealer)
    assert r.status_code == 201, r.text
    assert r.json()["valid_until"] == "2027-03-15"
    assert [t for t, _ in await events_about(runtime, r.json()["id"])] == ["vehicle.temp_plate.issued.v1"]
    assert (
        await client.post("/api/v1/temp-plates", json=plate_for("丰田", "卡罗拉"), headers=desk.dealer)
    ).status_code == 201
    r = await client.post("/api/v1/temp-plates", json=plate_for("丰田", "凯美瑞"), headers=desk.dealer)
    assert (r.status_code, r.json()["code"]) == (422, "BRAND_NOT_AUTHORISED")
    r = await client.get(f"/api/v1/temp-plates/dealers/{dealer['id']}", headers=desk.dealer)
    assert r.json()["blanks_in_stock"] == 8


async def test_vh12_qualification_needs_every_document(client: httpx.AsyncClient, desk: Desk) -> None:
    body = {
        "account_subject": desk.subject,
        "uscc": new_uscc(),
        "name": "某公司",
        "legal_rep_name": "甲",
        "legal_rep_phone": new_phone(),
        "authorised": ["大众"],
        "quota": 5,
        "documents": {k: v for k, v in DOCUMENTS.items() if k != "sales_authorisation"},
    }
    r = await client.post("/api/v1/temp-plates/dealers", json=body, headers=desk.review)
    assert (r.status_code, r.json()["code"], r.json()["rule"]) == (422, "DEALER_DOCUMENTS_MISSING", "VH-12")


async def test_vh12_review_only_in_the_last_month_and_a_missed_one_cancels(
    client: httpx.AsyncClient, desk: Desk, runtime: Runtime, clock: FixedClock
) -> None:
    dealer = await qualify(client, desk)
    r = await client.post(
        f"/api/v1/temp-plates/dealers/{dealer['id']}/renewal",
        json={"documents": DOCUMENTS},
        headers=desk.review,
    )
    assert (r.status_code, r.json()["code"]) == (409, "RENEWAL_OUTSIDE_LAST_MONTH")
    clock.set(datetime(2028, 2, 10, 9, 0, tzinfo=SHANGHAI))
    r = await client.post(
        f"/api/v1/temp-plates/dealers/{dealer['id']}/renewal",
        json={"documents": DOCUMENTS},
        headers=desk.review,
    )
    assert r.status_code == 200
    assert r.json()["valid_until"] == "2029-02-28"
    clock.set(datetime(2029, 3, 1, 9, 0, tzinfo=SHANGHAI))
    await sweep_missed_reviews(runtime)
    r = await client.get(f"/api/v1/temp-plates/dealers/{dealer['id']}", headers=desk.review)
    assert (r.json()["state"], r.json()["state_reason"]) == ("cancelled", "review_missed")
    changes = [p["change"] for t, p in await events_about(runtime, dealer["id"])]
    assert changes == ["qualified", "renewed", "cancelled"]


async def test_vh12_cancelled_dealer_may_not_reapply_for_a_year(
    client: httpx.AsyncClient, desk: Desk, clock: FixedClock
) -> None:
    uscc = new_uscc()
    dealer = await qualify(client, desk, uscc=uscc)
    r = await client.post(
        f"/api/v1/temp-plates/dealers/{dealer['id']}/cancellation",
        json={"reason": "repeated_damaged_blanks"},
        headers=desk.review,
    )
    assert r.json()["state"] == "cancelled"
    clock.advance(timedelta(days=300))
    body = {
        "account_subject": desk.subject,
        "uscc": uscc,
        "name": "某公司",
        "legal_rep_name": "甲",
        "legal_rep_phone": new_phone(),
        "authorised": ["大众"],
        "documents": DOCUMENTS,
        "quota": 5,
    }
    r = await client.post("/api/v1/temp-plates/dealers", json=body, headers=desk.review)
    assert (r.status_code, r.json()["code"]) == (409, "DEALER_REAPPLY_BARRED")
    clock.advance(timedelta(days=66))  # 2028-03-01: a year after
    r = await client.post("/api/v1/temp-plates/dealers", json=body, headers=desk.review)
    assert r.status_code == 201, r.text


async def test_vh12_damaged_blanks_are_returned_at_the_next_collection_and_counted(
    client: httpx.AsyncClient, desk: Desk
) -> None:
    dealer = await qualify(client, desk)
    await collect(client, desk, dealer)
    for _ in range(3):
        r = await client.post(
            "/api/v1/temp-plates/damaged-blanks", json={"count": 1, "cause": "打印故障"}, headers=desk.dealer
        )
        assert r.status_code == 200
    assert r.json()["explanation_required"] is True
    assert (r.json()["damaged_outstanding"], r.json()["blanks_in_stock"]) == (3, 7)
    r = await collect(client, desk, dealer, damaged_returned=0)
    assert (r.status_code, r.json()["code"]) == (422, "DAMAGED_BLANKS_COUNT_WRONG")
    assert (await collect(client, desk, dealer, damaged_returned=3)).status_code == 201


async def test_vh12_failed_late_check_suspends_and_recalls_unissued_blanks(
    client: httpx.AsyncClient, desk: Desk
) -> None:
    dealer = await qualify(client, desk)
    r = await collect(client, desk, dealer, network_check="unavailable")
    collection = r.json()
    assert collection["check_state"] == "pending"
    assert (
        await client.post("/api/v1/temp-plates", json=plate_for(), headers=desk.dealer)
    ).status_code == 201
    r = await client.post(
        f"/api/v1/temp-plates/collections/{collection['id']}/check",
        json={"passed": False},
        headers=desk.intake,
    )
    assert (r.json()["check_state"], r.json()["recalled"]) == ("failed", 9)
    r = await client.get(f"/api/v1/temp-plates/dealers/{dealer['id']}", headers=desk.review)
    assert (r.json()["state"], r.json()["blanks_in_stock"]) == ("suspended", 0)
    r = await client.post("/api/v1/temp-plates", json=plate_for(), headers=desk.dealer)
    assert (r.status_code, r.json()["code"]) == (409, "DEALER_NOT_ACTIVE")


async def test_vh12_owner_differing_at_registration_counts_against_the_dealer(
    client: httpx.AsyncClient, desk: Desk, actors: Actors
) -> None:
    dealer = await qualify(client, desk)
    await collect(client, desk, dealer)
    issued = plate_for()
    assert (await client.post("/api/v1/temp-plates", json=issued, headers=desk.dealer)).status_code == 201
    body = registration(vin=issued["vin"])  # another owner than the dealer entered
    assert (await client.post("/api/v1/vehicles", json=body, headers=actors.clerk)).status_code == 201
    r = await client.get(f"/api/v1/temp-plates/dealers/{dealer['id']}", headers=desk.review)
    assert r.json()["mismatch_count"] == 1


async def test_vh12_the_office_sets_the_blank_quota_from_sales(client: httpx.AsyncClient, desk: Desk) -> None:
    dealer = await qualify(client, desk, quota=5)
    assert (await collect(client, desk, dealer, quantity=8)).json()["code"] == "ABOVE_COLLECTION_QUOTA"
    r = await client.put(
        f"/api/v1/temp-plates/dealers/{dealer['id']}/quota",
        json={"quota": 10, "basis": "上月销售新车 40 辆"},
        headers=desk.review,
    )
    assert r.status_code == 200
    assert r.json()["quota"] == 10
    assert (await collect(client, desk, dealer, quantity=8)).status_code == 201
