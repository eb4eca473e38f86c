"""VH-15/PP-09: vehicle's first registration settles a selection; the counter's refusal for a difference
cancels it with the 2-year ban. PP-09 is vehicle's decision (ADR 0045): plate-pool never compares the
fields again. The handlers run as the consumer runs them (inside a unit of work, then commit)."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Any

import pytest
from pydantic import BaseModel

from plate_pool_service.subscriptions import settlement_subscriptions
from servicekit.envelope import Envelope

from .conftest import Platform

pytestmark = pytest.mark.integration


async def deliver(p: Platform, name: str, data: dict[str, Any]) -> None:
    (subscription,) = [s for s in settlement_subscriptions(lambda uow: p.ctx) if s.name == name]
    (model,) = subscription.handles.values()
    event: BaseModel = model.model_validate(data)
    envelope = Envelope(
        id=uuid.uuid4(),
        type=next(iter(subscription.handles)),
        source="/vehicle",
        time=datetime.now(UTC),
        subject=None,
        data=data,
        trace_headers={},
    )
    async with p.ctx.runtime.uow() as uow:
        await subscription.handler(uow, event, envelope)
        await uow.commit()


async def selected(p: Platform) -> tuple[Any, dict[str, Any]]:
    who, sel = await p.start()
    drawn = (await p.draw(who, sel)).json()
    await p.choose(who, sel, drawn["numbers"][0])
    done = await p.confirm(who, sel)
    assert done.status_code == 200, done.text
    return who, done.json()


def registered(who: Any, sel: dict[str, Any], **changes: Any) -> dict[str, Any]:
    data = {
        "vehicle_id": str(uuid.uuid4()),
        "office_code": sel["office_code"],
        "plate_number": sel["plate_number"],
        "plate_kind": "02",
        "vin": who.vin,
        "owner": {"id_kind": "resident_id", "id_number": who.id_number, "name": "张三"},
        "phone": who.phone,
        "use": "non_commercial",
        "selection_id": sel["id"],
        "registered_at": "2027-03-02T10:00:00+08:00",
    }
    data.update(changes)
    return data


async def test_pp09_a_matching_registration_settles_the_selection(platform: Platform) -> None:
    p = platform
    segment = await p.open_segment()
    who, sel = await selected(p)
    await deliver(p, "settle-registration", registered(who, sel))
    await deliver(p, "settle-registration", registered(who, sel))  # a redelivery: no second effect
    view = await p.get(who, sel)
    assert (view["state"], view["registered_at"]) == ("registered", "2027-03-02T10:00:00+08:00")
    assert (await p.ctx.hot.counts(segment)).allocated == 1  # the plate stays allocated: it is in use


@pytest.mark.parametrize(
    "change",
    [
        {"owner": {"id_kind": "resident_id", "id_number": "x", "name": "张 三"}},
        {"phone": "13700000000"},
    ],
)
async def test_pp09_a_registration_the_counter_accepted_settles_without_a_second_comparison(
    platform: Platform, change: dict[str, Any]
) -> None:
    """The counter decides PP-09 (its name comparison ignores spaces, ADR 0040): whatever the registered
    event carries, plate-pool settles and bans no one."""
    p = platform
    segment = await p.open_segment()
    who, sel = await selected(p)
    await deliver(p, "settle-registration", registered(who, sel, **change))
    view = await p.get(who, sel)
    assert (view["state"], view["cancel_reason"]) == ("registered", None)
    assert (await p.ctx.hot.counts(segment)).allocated == 1
    again = p.applicant()
    again.id_number, again.token, again.subject = who.id_number, who.token, who.subject
    again.phone = who.phone  # the same person: the same registered phone (PP-07)
    r = await p.client.post("/api/v1/plate-selections", json=p.start_body(again), headers=again.headers)
    assert r.json().get("code") != "PRESELECTION_BANNED", r.text


async def test_pp09_a_refusal_at_the_counter_cancels_with_a_ban(platform: Platform) -> None:
    p = platform
    await p.open_segment()
    who, sel = await selected(p)
    await deliver(
        p,
        "registration-refused",
        {
            "selection_id": sel["id"],
            "office_code": p.office,
            "vin": who.vin,
            "mismatched": ["phone"],
            "refused_at": "2027-03-02T10:00:00+08:00",
        },
    )
    view = await p.get(who, sel)
    assert (view["state"], view["cancel_reason"]) == ("cancelled", "registration_mismatch")
    again = p.applicant()
    again.id_number, again.token, again.subject = who.id_number, who.token, who.subject
    again.phone = who.phone  # the same person: the same registered phone (PP-07)
    r = await p.client.post("/api/v1/plate-selections", json=p.start_body(again), headers=again.headers)
    assert (r.status_code, r.json()["code"], r.json()["ban_until"]) == (
        409,
        "PRESELECTION_BANNED",
        "2029-03-01",
    )
