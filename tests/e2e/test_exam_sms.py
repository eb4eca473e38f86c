"""DL-11 and NT-01 across services: a learner's exam request through license's real API and use cases, the
cut-off and a result; license's outbox relay publishes the outcomes on RabbitMQ; notify's real worker
renders them and its dispatch sweep hands them to the local sink, where the learner's phone shows them.

license runs a relay-only worker (no consumers, no sweeps: the test decides the slot itself). Rows its
own earlier tests left unpublished in the license test database are marked published first, so the relay
carries this test's events and not a backlog nobody waits for.
"""

from __future__ import annotations

import dataclasses
import functools
import secrets
from collections.abc import AsyncIterator
from datetime import datetime, timedelta
from typing import Any

import httpx
import pytest
from sqlalchemy import func, update

from license_service.api import router as license_router
from license_service.service import SPEC as LICENSE
from notify_service.main import create_app as create_notify_app
from notify_service.service import SPEC as NOTIFY
from servicekit.clock import SHANGHAI, FixedClock
from servicekit.migrate import migrate
from servicekit.runtime import Runtime
from servicekit.testing import TokenFactory, new_resident_id, service_client
from servicekit.web import create_service_app

from . import workers

pytestmark = pytest.mark.integration

TIMEOUT_S = 60.0
eventually = functools.partial(workers.eventually, timeout_s=TIMEOUT_S)
running = functools.partial(workers.running_workers, timeout_s=TIMEOUT_S)
TOKENS = TokenFactory()
START = datetime(2031, 6, 2, 9, 0, tzinfo=SHANGHAI)


@dataclasses.dataclass
class Platform:
    license: httpx.AsyncClient
    notify: httpx.AsyncClient
    clock: FixedClock

    async def delivered(self, phone: str, count: int) -> list[dict[str, Any]]:
        async def done() -> bool:
            r = await self.notify.get("/api/v1/_test/sms", params={"phone": phone})
            items = r.json()["items"]
            return len(items) >= count and all(i["state"] == "delivered" for i in items)

        await eventually(done, f"{count} SMS delivered to {phone[:3]}****{phone[-4:]}")
        r = await self.notify.get("/api/v1/_test/sms", params={"phone": phone})
        items: list[dict[str, Any]] = r.json()["items"]
        return items


@pytest.fixture(scope="module")
async def platform() -> AsyncIterator[Platform]:
    for spec in (LICENSE, NOTIFY):
        migrate(spec.name)
    settings = LICENSE.settings()
    backlog = Runtime.open(settings, LICENSE.metadata)
    outbox = LICENSE.metadata.tables["outbox"]
    async with backlog.engine.begin() as conn:
        await conn.execute(
            update(outbox).where(outbox.c.published_at.is_(None)).values(published_at=func.now())
        )
    await backlog.aclose()
    clock = FixedClock(START)
    license_app = create_service_app(
        settings,
        title="license",
        routers=[license_router],
        runtime_factory=lambda: Runtime.open(settings, LICENSE.metadata, clock=clock),
    )
    license_app.state.verifier = TOKENS.verifier()
    notify_app = create_notify_app()
    notify_app.state.verifier = TOKENS.verifier()
    relay_only = dataclasses.replace(LICENSE, subscriptions=(), sweeps=())
    async with (
        running(relay_only, NOTIFY),
        service_client(license_app) as license_api,
        service_client(notify_app) as notify_api,
    ):
        yield Platform(license_api, notify_api, clock)


async def test_dl11_nt01_the_cutoff_and_a_result_reach_the_learners_phone(platform: Platform) -> None:
    system = TOKENS.headers(TOKENS.system())
    admin = TOKENS.headers(TOKENS.clerk("admin-e2e", roles=("clerk.admin",), office="130100"))
    examiner = TOKENS.headers(TOKENS.clerk("examiner-e2e", roles=("clerk.review",), office="130100"))
    api, clock = platform.license, platform.clock
    idn, phone = new_resident_id(), "135" + "".join(secrets.choice("0123456789") for _ in range(8))
    r = await api.post(
        "/api/v1/exams/learners",
        json={
            "application_number": secrets.token_hex(8).upper(),
            "id_number": idn,
            "name": "赵六",
            "phone": phone,
            "classes": ["C1"],
            "office_code": "130100",
            "accepted_at": (START - timedelta(days=6)).isoformat(),
        },
        headers=system,
    )
    assert r.status_code == 201, r.text
    site = await api.post(
        "/api/v1/exams/sites",
        json={"name": "石家庄市第九考场", "address": "石家庄市", "office_code": "130100", "subjects": [1]},
        headers=system,
    )
    starts = START + timedelta(days=5)
    slot = await api.post(
        f"/api/v1/exams/sites/{site.json()['id']}/slots",
        json={
            "subject": 1,
            "classes": ["C1"],
            "starts_at": starts.isoformat(),
            "capacity": 20,
            "booking_opens_at": START.isoformat(),
            "cutoff_at": (starts - timedelta(days=3)).isoformat(),
        },
        headers=admin,
    )
    learner = TOKENS.headers(TOKENS.citizen(f"person-{idn}", id_number=idn))
    booking = await api.post("/api/v1/exams/bookings", json={"slot_id": slot.json()["id"]}, headers=learner)
    assert booking.status_code == 201, booking.text
    clock.set(starts - timedelta(days=3))
    decided = await api.post(f"/api/v1/exams/slots/{slot.json()['id']}/decision", headers=admin)
    assert decided.json()["seated"] == 1
    (seated,) = await platform.delivered(phone, 1)
    assert seated["template"] == "exam_seated"
    assert "您预约的科目一考试（石家庄市第九考场，2031年6月7日 09:00）已预约成功" in seated["body"]
    assert (
        "在1名申请人中排第1位（考位20个，排序依据：首次预约科目一，按受理时间2031年5月27日 09:00）"
        in (seated["body"])
    )
    assert idn not in seated["body"]

    clock.set(starts + timedelta(hours=2))
    done = await api.post(
        f"/api/v1/exams/bookings/{booking.json()['id']}/result", json={"outcome": "passed"}, headers=examiner
    )
    assert done.status_code == 200, done.text
    items = await platform.delivered(phone, 2)
    passed = next(i for i in items if i["template"] == "exam_passed")
    assert passed["body"].endswith(
        "您于2031年6月7日参加的科目一考试成绩合格。下一科目为科目二，可于2031年6月17日起预约考试。"
    )
