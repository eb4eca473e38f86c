"""One open application of a kind per person, under concurrent requests through the API against the real
license_test database: each fires its requests at once (asyncio.gather) and shows the limit holds."""

from __future__ import annotations

import asyncio
from collections import Counter
from datetime import date

import httpx
import pytest
from sqlalchemy import func, select

from license_service.tables import licence_applications
from servicekit.runtime import Runtime

from .conftest import ADDRESS, Desk, certify, issue

pytestmark = pytest.mark.integration

N = 8


def codes(responses: list[httpx.Response]) -> Counter[tuple[int, str | None]]:
    return Counter((r.status_code, r.json().get("code")) for r in responses)


async def open_count(runtime: Runtime, record_id: object) -> int:
    async with runtime.engine.connect() as conn:
        count: int = (
            await conn.execute(select(func.count()).where(licence_applications.c.record_id == record_id))
        ).scalar_one()
    return count


async def test_dl02_concurrent_reissue_applications_open_one_case(
    client: httpx.AsyncClient, desk: Desk, runtime: Runtime
) -> None:
    """DL-02: the record's row lock serialises them, the open-slot index stands behind it."""
    record = await issue(runtime, desk)
    body = {"kind": "reissue", "delivery": "mail", "address": ADDRESS}
    headers = desk.citizen(record["number"])
    responses = await asyncio.gather(
        *(client.post("/api/v1/licence-applications", json=body, headers=headers) for _ in range(N))
    )
    assert codes(responses) == {(201, None): 1, (409, "APPLICATION_OPEN"): N - 1}
    assert await open_count(runtime, record["id"]) == 1


async def test_dl03_concurrent_card_applications_of_different_kinds_open_one(
    client: httpx.AsyncClient, desk: Desk, runtime: Runtime
) -> None:
    """DL-03/DL-07: a replacement and a renewal asked at once share the card slot: one of them opens."""
    record = await issue(runtime, desk)
    headers = desk.citizen(record["number"])
    bodies = [{"kind": "replace", "delivery": "pickup"}, {"kind": "renew", "delivery": "pickup"}] * (N // 2)
    responses = await asyncio.gather(
        *(client.post("/api/v1/licence-applications", json=body, headers=headers) for body in bodies)
    )
    assert codes(responses) == {(201, None): 1, (409, "APPLICATION_OPEN"): N - 1}
    assert await open_count(runtime, record["id"]) == 1


async def test_dl06_concurrent_deferrals_of_one_kind_open_one(
    client: httpx.AsyncClient, desk: Desk, runtime: Runtime
) -> None:
    record = await issue(runtime, desk, review_due=date(2027, 9, 1))
    body = {"kind": "defer_review", "months": 6, "deferral_reason": "military_service"}
    headers = desk.citizen(record["number"])
    responses = await asyncio.gather(
        *(client.post("/api/v1/licence-applications", json=body, headers=headers) for _ in range(N))
    )
    assert codes(responses) == {(201, None): 1, (409, "APPLICATION_OPEN"): N - 1}


async def test_dl09_a_certificate_arriving_while_the_renewal_is_made_is_never_lost(
    client: httpx.AsyncClient, desk: Desk, runtime: Runtime
) -> None:
    """DL-09: the application and the hospital's certificate take the record's lock in turn, so the
    renewal either finds the certificate on file or is waiting when it arrives: never left waiting."""
    for _ in range(4):
        record = await issue(runtime, desk)
        applied, certified = await asyncio.gather(
            client.post(
                "/api/v1/licence-applications",
                json={"kind": "renew", "delivery": "pickup"},
                headers=desk.citizen(record["number"]),
            ),
            certify(client, desk, record),
        )
        assert (applied.status_code, certified.status_code) == (201, 201)
        state = (
            await client.get(f"/api/v1/licence-applications/{applied.json()['id']}", headers=desk.intake)
        ).json()["state"]
        assert state == "submitted"


async def test_dl02_a_repeated_application_with_its_idempotency_key_answers_the_first(
    client: httpx.AsyncClient, desk: Desk, runtime: Runtime
) -> None:
    record = await issue(runtime, desk)
    headers = desk.citizen(record["number"]) | {"Idempotency-Key": f"apply-{record['id']}"}
    body = {"kind": "reissue", "delivery": "pickup"}
    first, again = [
        await client.post("/api/v1/licence-applications", json=body, headers=headers) for _ in range(2)
    ]
    assert (first.status_code, again.status_code) == (201, 201)
    assert again.json()["id"] == first.json()["id"]
    assert again.headers.get("Idempotent-Replayed") == "true"
    assert await open_count(runtime, record["id"]) == 1
