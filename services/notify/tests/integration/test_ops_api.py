"""NT-01 for operators: delivery records by phone, case or state (phone masked, no bodies), and dead letters
put back in the queue by clerk.admin, audited. Real PostgreSQL."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from datetime import timedelta

import httpx
import pytest
from sqlalchemy import select

from notify_service.delivery import DispatchPolicy, dispatch_due, enqueue
from notify_service.main import create_app
from notify_service.sms import LocalSink, OutgoingSms, Receipt, TransientSmsError
from notify_service.tables import sms_messages
from servicekit.runtime import Runtime
from servicekit.testing import TokenFactory, service_client

pytestmark = pytest.mark.integration

TOKENS = TokenFactory()


def _admin() -> dict[str, str]:
    # Minted when used, not at import: a token made at collection can expire before a long run reaches it.
    return TOKENS.headers(TOKENS.clerk("admin-1", roles=("clerk.admin",)))


def _intake() -> dict[str, str]:
    return TOKENS.headers(TOKENS.clerk("intake-1", roles=("clerk.intake",)))


POLICY = DispatchPolicy(max_attempts=1, retry_base=timedelta(seconds=1), retry_max=timedelta(seconds=2))


class Down:
    name = "down"

    async def send(self, sms: OutgoingSms) -> Receipt:
        raise TransientSmsError("isp.SYSTEM_ERROR: 系统错误")


@pytest.fixture
async def client(runtime: Runtime) -> AsyncIterator[httpx.AsyncClient]:
    app = create_app()
    app.state.verifier = TOKENS.verifier()
    async with service_client(app) as c:
        yield c


async def dead_letter(runtime: Runtime, phone: str) -> uuid.UUID:
    async with runtime.uow() as uow:
        sms_id = await enqueue(
            uow,
            phone=phone,
            template="delivery_mailed",
            params={"item": "机动车号牌", "tracking": "EMS1234567890"},
            case_id=f"test:{uuid.uuid4()}",
            account_id=None,
            requested_at=uow.now,
        )
        await uow.commit()
    assert sms_id is not None
    assert (await dispatch_due(runtime, Down(), POLICY, phones=[phone])).dead_lettered == 1
    return sms_id


async def test_nt01_staff_see_delivery_records_with_the_phone_masked(
    runtime: Runtime, client: httpx.AsyncClient, phone: str
) -> None:
    sms_id = await dead_letter(runtime, phone)
    r = await client.get("/api/v1/messages/deliveries", params={"phone": phone}, headers=_intake())
    assert r.status_code == 200, r.text
    (item,) = r.json()["items"]
    assert item["id"] == str(sms_id)
    assert item["phone"] == f"{phone[:3]}****{phone[-4:]}"
    assert (item["template"], item["title"]) == ("delivery_mailed", "证件邮寄")
    assert (item["state"], item["attempts"], item["provider"]) == ("dead_lettered", 1, "down")
    assert "isp.SYSTEM_ERROR" in item["last_error"]
    assert "body" not in item
    need_filter = await client.get("/api/v1/messages/deliveries", headers=_intake())
    assert (need_filter.status_code, need_filter.json()["code"]) == (422, "FILTER_REQUIRED")


async def test_nt01_citizens_may_not_read_delivery_records(client: httpx.AsyncClient, phone: str) -> None:
    r = await client.get(
        "/api/v1/messages/deliveries", params={"phone": phone}, headers=TOKENS.headers(TOKENS.citizen())
    )
    assert r.status_code == 403


async def test_nt01_dead_letters_are_requeued_by_an_admin_and_then_sent(
    runtime: Runtime, client: httpx.AsyncClient, phone: str
) -> None:
    sms_id = await dead_letter(runtime, phone)
    refused = await client.post(
        "/api/v1/messages/dead-letters/requeue", json={"ids": [str(sms_id)]}, headers=_intake()
    )
    assert refused.status_code == 403
    requeue = {"ids": [str(sms_id)]}
    r = await client.post("/api/v1/messages/dead-letters/requeue", json=requeue, headers=_admin())
    assert (r.status_code, r.json()) == (200, {"requeued": 1})
    # Requeued by the app on the real platform clock, years before this test's: due at once.
    assert (await dispatch_due(runtime, LocalSink(), POLICY, phones=[phone])).handed_over == 1
    async with runtime.engine.connect() as conn:
        state = await conn.scalar(select(sms_messages.c.state).where(sms_messages.c.id == sms_id))
        audit = runtime.metadata.tables["audit_log"]
        entries = (
            await conn.execute(
                select(audit.c.actor, audit.c.action, audit.c.after).where(
                    audit.c.action == "notify.dead_letters.requeued", audit.c.actor == "admin-1"
                )
            )
        ).all()
    assert state == "delivered"
    assert any(e.after["ids"] == [str(sms_id)] for e in entries)
