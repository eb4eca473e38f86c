"""The selection flow PP-01..PP-08 through the API, against the real Postgres and Redis."""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy import select

from plate_pool_service.tables import allocations
from servicekit.db import new_metadata

from .conftest import Platform

pytestmark = pytest.mark.integration


async def sms_code(p: Platform, phone: str) -> str:
    outbox = new_metadata().tables["outbox"]
    async with p.ctx.runtime.engine.connect() as conn:
        payloads = (
            await conn.execute(
                select(outbox.c.payload)
                .where(outbox.c.routing_key == "notify.sms.send.v1")
                .order_by(outbox.c.id.desc())
            )
        ).scalars()
        for payload in payloads:
            if payload["phone"] == phone:
                return str(payload["params"]["code"])
    raise AssertionError("no code sent")


async def test_pp06_pp07_pp08_draw_choose_confirm_allocates_and_publishes(
    platform: Platform,
) -> None:
    p = platform
    await p.open_segment()
    who, sel = await p.start()
    assert sel["state"] == "selecting"
    assert (sel["custom_attempts_left"], sel["random_draws_left"]) == (20, 10)
    assert sel["session_expires_at"] == "2027-03-01T11:00:00+08:00"
    r = await p.client.post(f"/api/v1/plate-selections/{sel['id']}/random-draws", headers=who.headers)
    assert r.status_code == 201, r.text
    draw: dict[str, Any] = r.json()
    assert len(set(draw["numbers"])) == 5
    assert all(n.startswith("冀A3") for n in draw["numbers"])
    assert draw["random_draws_left"] == 9
    assert draw["held_until"] == "2027-03-01T10:03:00+08:00"
    chosen = draw["numbers"][2]
    r = await p.client.post(
        f"/api/v1/plate-selections/{sel['id']}/choice", json={"number": chosen}, headers=who.headers
    )
    assert r.status_code == 200, r.text
    assert r.json()["state"] == "awaiting_sms"
    assert r.json()["sms_deadline"] == "2027-03-01T10:30:00+08:00"
    # The four others went back (PP-06): 10,000 minus the one still held.
    counts = await p.ctx.hot.counts(
        sel_segment := (await p.ctx.catalog.open_segments(p.office, await p.clock.now()))[0].id
    )
    assert (counts.available, counts.held) == (9_999, 1)
    r = await p.client.post(f"/api/v1/plate-selections/{sel['id']}/sms-code", headers=who.headers)
    assert r.status_code == 202, r.text
    code = await sms_code(p, who.phone)
    r = await p.client.post(
        f"/api/v1/plate-selections/{sel['id']}/confirmation",
        json={"code": code},
        headers=who.headers,
    )
    assert r.status_code == 200, r.text
    done = r.json()
    assert done["state"] == "selected"
    assert done["plate_number"] == chosen
    assert done["register_by"] == "2027-03-04T23:59:59.999999+08:00"  # 3 working days (PP-08)
    counts = await p.ctx.hot.counts(sel_segment)
    assert (counts.available, counts.held, counts.allocated) == (9_999, 0, 1)
    async with p.ctx.runtime.engine.connect() as conn:
        ledger = (
            (
                await conn.execute(
                    select(allocations.c.plate_number).where(allocations.c.office_code == p.office)
                )
            )
            .scalars()
            .all()
        )
    assert ledger == [chosen]
