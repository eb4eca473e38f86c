"""NT-01: the in-app inbox (`GET /api/v1/messages`): the signed-in account's messages, newest first, with
read state; another account's message answers 404. And the provider's delivery-report callback.
Real PostgreSQL; tokens from servicekit.testing.TokenFactory."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
from sqlalchemy import select

from notify_service.delivery import enqueue
from notify_service.main import create_app
from notify_service.settings import NotifySettings
from notify_service.sms import ALIYUN
from notify_service.tables import sms_messages
from servicekit.clock import FixedClock
from servicekit.runtime import Runtime
from servicekit.testing import TokenFactory, service_client

pytestmark = pytest.mark.integration

TOKENS = TokenFactory()


@pytest.fixture
async def client(runtime: Runtime) -> AsyncIterator[httpx.AsyncClient]:
    app = create_app()
    app.state.verifier = TOKENS.verifier()
    async with service_client(app) as c:
        yield c


def as_user(account_id: str) -> dict[str, str]:
    return TOKENS.headers(TOKENS.citizen(account_id))


async def message(
    runtime: Runtime,
    phone: str,
    account_id: str | None,
    template: str = "selection_confirmed",
    params: dict[str, str] | None = None,
) -> uuid.UUID:
    async with runtime.uow() as uow:
        sms_id = await enqueue(
            uow,
            phone=phone,
            template=template,
            params=params
            or {
                "plate": "冀A8K2M7",
                "certificate": f"YX{uuid.uuid4().hex[:10]}",
                "register_by": "2032年3月4日",
            },
            case_id=f"test:{uuid.uuid4()}",
            account_id=account_id,
            requested_at=uow.now,
        )
        await uow.commit()
    assert sms_id is not None
    return sms_id


async def test_nt01_the_inbox_lists_the_accounts_own_messages_newest_first_with_read_state(
    runtime: Runtime, client: httpx.AsyncClient, phone: str
) -> None:
    me, someone = str(uuid.uuid4()), str(uuid.uuid4())
    first = await message(runtime, phone, me)
    second = await message(
        runtime, phone, me, "registration_approved", {"name": "张三", "account": "138****8000"}
    )
    await message(runtime, phone, someone)
    await message(runtime, phone, me, "verification_code", {"code": "123456", "minutes": "5"})
    r = await client.get("/api/v1/messages", headers=as_user(me))
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["next_cursor"] is None
    assert [i["id"] for i in body["items"]] == [str(second), str(first)]  # codes are never kept in an inbox
    item = body["items"][1]
    assert set(item) == {"id", "kind", "title", "body", "case_id", "created_at", "read", "read_at"}
    assert (item["kind"], item["title"], item["read"], item["read_at"]) == (
        "selection_confirmed",
        "预选号牌成功",
        False,
        None,
    )
    assert item["body"].startswith("【交管12123】您已成功预选机动车号牌冀A8K2M7")
    assert item["created_at"].endswith("+08:00")


async def test_nt01_the_inbox_pages_with_a_cursor_and_filters_unread(
    runtime: Runtime, client: httpx.AsyncClient, phone: str
) -> None:
    me = str(uuid.uuid4())
    ids = [await message(runtime, phone, me) for _ in range(3)]
    first = (await client.get("/api/v1/messages", params={"limit": 2}, headers=as_user(me))).json()
    rest = (
        await client.get(
            "/api/v1/messages", params={"limit": 2, "cursor": first["next_cursor"]}, headers=as_user(me)
        )
    ).json()
    assert [i["id"] for i in first["items"] + rest["items"]] == [str(i) for i in reversed(ids)]
    assert rest["next_cursor"] is None
    assert (await client.post(f"/api/v1/messages/{ids[1]}/read", headers=as_user(me))).status_code == 200
    unread = (await client.get("/api/v1/messages", params={"unread": "true"}, headers=as_user(me))).json()
    assert [i["id"] for i in unread["items"]] == [str(ids[2]), str(ids[0])]
    bad = await client.get("/api/v1/messages", params={"cursor": "x!"}, headers=as_user(me))
    assert (bad.status_code, bad.json()["code"]) == (422, "INVALID_CURSOR")


async def test_nt01_marking_read_keeps_the_first_read_time_and_is_audited(
    runtime: Runtime, client: httpx.AsyncClient, phone: str, clock: FixedClock
) -> None:
    me = str(uuid.uuid4())
    sms_id = await message(runtime, phone, me)
    r = await client.post(f"/api/v1/messages/{sms_id}/read", headers=as_user(me))
    assert r.status_code == 200, r.text
    read_at = r.json()["read_at"]
    assert r.json()["read"] is True
    again = await client.post(f"/api/v1/messages/{sms_id}/read", headers=as_user(me))
    assert again.json()["read_at"] == read_at
    one = await client.get(f"/api/v1/messages/{sms_id}", headers=as_user(me))
    assert (one.status_code, one.json()["read_at"]) == (200, read_at)
    audit = runtime.metadata.tables["audit_log"]
    async with runtime.engine.connect() as conn:
        entries = (await conn.execute(select(audit).where(audit.c.target == f"sms_message:{sms_id}"))).all()
    assert [(e.actor, e.role, e.action) for e in entries] == [(me, "citizen", "notify.message.read")]


@pytest.mark.parametrize("path", ["/api/v1/messages/{id}", "/api/v1/messages/{id}/read"])
async def test_nt01_another_accounts_message_answers_404_like_a_missing_one(
    runtime: Runtime, client: httpx.AsyncClient, phone: str, path: str
) -> None:
    owner, other = str(uuid.uuid4()), str(uuid.uuid4())
    sms_id = await message(runtime, phone, owner)
    method = "POST" if path.endswith("/read") else "GET"
    theirs = await client.request(method, path.format(id=sms_id), headers=as_user(other))
    missing = await client.request(method, path.format(id=uuid.uuid4()), headers=as_user(other))
    assert theirs.status_code == missing.status_code == 404
    assert theirs.json()["code"] == missing.json()["code"] == "NOT_FOUND"
    async with runtime.engine.connect() as conn:
        assert await conn.scalar(select(sms_messages.c.read_at).where(sms_messages.c.id == sms_id)) is None


async def test_nt01_the_unread_badge_and_mark_all_read_count_only_the_accounts_own(
    runtime: Runtime, client: httpx.AsyncClient, phone: str
) -> None:
    me, someone = str(uuid.uuid4()), str(uuid.uuid4())
    for _ in range(3):
        await message(runtime, phone, me)
    theirs = await message(runtime, phone, someone)
    await message(runtime, phone, me, "verification_code", {"code": "654321", "minutes": "5"})
    badge = await client.get("/api/v1/messages/unread-count", headers=as_user(me))
    assert (badge.status_code, badge.json()) == (200, {"unread": 3})
    marked = await client.post("/api/v1/messages/read-all", headers=as_user(me))
    assert (marked.status_code, marked.json()) == (200, {"marked": 3})
    assert (await client.get("/api/v1/messages/unread-count", headers=as_user(me))).json() == {"unread": 0}
    assert all(i["read"] for i in (await client.get("/api/v1/messages", headers=as_user(me))).json()["items"])
    assert (await client.post("/api/v1/messages/read-all", headers=as_user(me))).json() == {"marked": 0}
    other = await client.get(f"/api/v1/messages/{theirs}", headers=as_user(someone))
    assert other.json()["read"] is False


async def test_nt01_the_inbox_needs_a_signed_in_user(client: httpx.AsyncClient) -> None:
    r = await client.get("/api/v1/messages")
    assert (r.status_code, r.json()["code"]) == (401, "UNAUTHENTICATED")


# --- the provider's delivery reports --------------------------------------------------------------------


def report(sms_id: uuid.UUID | None, biz_id: str | None, success: bool = True, **more: Any) -> dict[str, Any]:
    return {
        "phone_number": "1381111****",
        "send_time": "2032-01-01 00:00:00",
        "report_time": "2032-01-01 00:00:05",
        "success": success,
        "err_code": "DELIVERED" if success else "MK:0001",
        "err_msg": "用户接收成功" if success else "空号",
        "sms_size": "1",
        "biz_id": biz_id,
        "out_id": None if sms_id is None else str(sms_id),
        **more,
    }


async def mark_sent(runtime: Runtime, sms_id: uuid.UUID, biz_id: str) -> None:
    async with runtime.engine.begin() as conn:
        await conn.execute(
            sms_messages.update()
            .where(sms_messages.c.id == sms_id)
            .values(state="sent", provider=ALIYUN, provider_ref=biz_id, next_attempt_at=None)
        )


async def states(runtime: Runtime, *ids: uuid.UUID) -> list[tuple[str, str | None]]:
    async with runtime.engine.connect() as conn:
        rows = (
            await conn.execute(
                select(sms_messages.c.id, sms_messages.c.state, sms_messages.c.failure_reason).where(
                    sms_messages.c.id.in_(ids)
                )
            )
        ).all()
    by_id = {r.id: (r.state, r.failure_reason) for r in rows}
    return [by_id[i] for i in ids]


RECEIPTS = "/api/v1/messages/sms-receipts/aliyun/"


async def test_nt01_delivery_reports_turn_sent_into_delivered_or_failed_with_the_operators_reason(
    runtime: Runtime, client: httpx.AsyncClient, phone: str
) -> None:
    token = NotifySettings().receipt_token.get_secret_value()
    ok, bad, by_ref = [await message(runtime, phone, None) for _ in range(3)]
    for sms_id in (ok, bad, by_ref):
        await mark_sent(runtime, sms_id, f"biz-{sms_id}")
    reports = [
        report(ok, f"biz-{ok}"),
        report(bad, f"biz-{bad}", success=False),
        report(None, f"biz-{by_ref}"),  # no OutId: found by the provider's BizId
        report(uuid.uuid4(), "biz-unknown"),  # not ours: acknowledged, nothing changes
        report(None, None, out_id="not-a-uuid"),
    ]
    r = await client.post(RECEIPTS + token, json=reports)
    assert (r.status_code, r.json()) == (200, {"code": 0, "msg": "接收成功"})
    assert await states(runtime, ok, bad, by_ref) == [
        ("delivered", None),
        ("failed", "MK:0001: 空号"),
        ("delivered", None),
    ]
    # Pushed again (the provider retries a batch it thinks was lost): nothing changes.
    again = await client.post(RECEIPTS + token, json=[report(bad, f"biz-{bad}")])
    assert again.status_code == 200
    assert await states(runtime, bad) == [("failed", "MK:0001: 空号")]


async def test_nt01_a_report_with_the_wrong_secret_answers_404_and_changes_nothing(
    runtime: Runtime, client: httpx.AsyncClient, phone: str
) -> None:
    sms_id = await message(runtime, phone, None)
    await mark_sent(runtime, sms_id, f"biz-{sms_id}")
    r = await client.post(RECEIPTS + "guessed-token", json=[report(sms_id, f"biz-{sms_id}")])
    assert r.status_code == 404
    assert await states(runtime, sms_id) == [("sent", None)]
    malformed = await client.post(
        RECEIPTS + NotifySettings().receipt_token.get_secret_value(), json={"not": "a list"}
    )
    assert malformed.status_code == 422


async def test_nt01_a_report_settles_a_message_whose_acceptance_was_never_heard(
    runtime: Runtime, client: httpx.AsyncClient, phone: str
) -> None:
    """The provider accepted, every answer to notify was lost (timeouts), notify dead-lettered it: the
    report says the phone got it, so it is delivered and never requeued into a second SMS."""
    token = NotifySettings().receipt_token.get_secret_value()
    sms_id = await message(runtime, phone, None)
    async with runtime.engine.begin() as conn:
        await conn.execute(
            sms_messages.update()
            .where(sms_messages.c.id == sms_id)
            .values(state="dead_lettered", provider=ALIYUN, next_attempt_at=None)
        )
    r = await client.post(RECEIPTS + token, json=[report(sms_id, "biz-late")])
    assert r.status_code == 200
    assert await states(runtime, sms_id) == [("delivered", None)]
    async with runtime.engine.connect() as conn:
        ref = await conn.scalar(select(sms_messages.c.provider_ref).where(sms_messages.c.id == sms_id))
    assert ref == "biz-late"
