"""A citizen's data export (PIPL art. 45, ADR 0093) at identity: asked, refused while one runs, collected
from the parts the services send back, shown as missing past the deadline, offered for a week, audited.

The services' answers are fed through identity's real handlers of `identity.data_export.requested.v1`
(its own part) and `identity.data_export.add_part.v1` (the command every service sends); the whole trip
through the broker and all six services is tests/e2e/test_person_rights.py.
"""

from __future__ import annotations

import asyncio
import uuid
from datetime import timedelta
from typing import TYPE_CHECKING, Any

import pytest
from sqlalchemy import func, select

from identity_service.data_exports import purge_expired_exports
from identity_service.domain import EXPORT_DEADLINE, EXPORT_KEPT, EXPORT_SERVICES
from identity_service.holdings import HOLDINGS
from identity_service.published import AddDataExportPart
from identity_service.subscriptions import ExportPartIn, collect_export_part
from identity_service.tables import data_export_parts
from servicekit import personal

if TYPE_CHECKING:
    from tests.api.conftest import Api

pytestmark = pytest.mark.integration

BASE = "/api/v1/users/me/data-exports"


async def _citizen(api: Api, name: str = "张三") -> tuple[dict[str, str], str, str]:
    id_number, phone = await api.owner_driver(name)
    return await api.bearer(phone), id_number, phone


async def _outbox(api: Api, message_type: str, subject: str) -> list[dict[str, Any]]:
    outbox = api.runtime.metadata.tables["outbox"]
    async with api.runtime.engine.connect() as conn:
        rows = await conn.execute(
            select(outbox.c.payload).where(outbox.c.routing_key == message_type, outbox.c.subject == subject)
        )
        return [dict(r.payload) for r in rows]


async def _answer(api: Api, export_id: str, service: str, part: dict[str, Any]) -> None:
    message = ExportPartIn(export_id=uuid.UUID(export_id), service=service, part=part)
    async with api.runtime.uow() as uow:
        await collect_export_part(uow, message, None)  # type: ignore[arg-type]
        await uow.commit()


async def _identity_answers(api: Api, export_id: str) -> dict[str, Any]:
    """identity's own handler of the request, as its worker runs it; returns the part it sent."""
    (request,) = await _outbox(api, personal.EXPORT_REQUESTED, export_id)
    handler = personal.export_handler("identity", HOLDINGS, AddDataExportPart)
    async with api.runtime.uow() as uow:
        await handler(uow, personal.ExportRequest.model_validate(request), None)  # type: ignore[arg-type]
        await uow.commit()
    (sent,) = await _outbox(api, personal.ADD_EXPORT_PART, export_id)
    await _answer(api, export_id, "identity", sent["part"])
    return sent


async def test_an_export_is_asked_collected_from_every_service_and_downloaded(api: Api) -> None:
    me, id_number, phone = await _citizen(api, "赵云")
    r = await api.client.post(BASE, headers=me)
    assert r.status_code == 202, r.text
    export = r.json()
    assert r.headers["location"] == f"{BASE}/{export['id']}"
    assert (export["state"], export["parts_expected"], export["parts_received"]) == ("collecting", 6, 0)
    assert export["download"] is None

    # The request names the person's keys, for every service to find their rows.
    (request,) = await _outbox(api, personal.EXPORT_REQUESTED, export["id"])
    assert (request["id_number"], request["phone"], request["account_kind"]) == (id_number, phone, "personal")

    sent = await _identity_answers(api, export["id"])
    (account,) = sent["part"]["账户"]
    assert (account["name"], account["id_number"], account["phone"]) == ("赵云", id_number, phone)
    assert "password_hash" not in account
    assert [r["id_number"] for r in sent["part"]["名下机动车和驾驶证"]] == [id_number]
    r = await api.client.get(f"{BASE}/{export['id']}", headers=me)
    assert (r.json()["state"], r.json()["parts_received"], r.json()["received"]) == (
        "collecting",
        1,
        ["identity"],
    )
    assert (await api.client.get(f"{BASE}/{export['id']}/document", headers=me)).status_code == 409

    for service in EXPORT_SERVICES[1:]:
        await _answer(api, export["id"], service, {"记录": [{"service": service}]})
    await _answer(api, export["id"], "vehicle", {"记录": ["a second copy is ignored"]})
    r = await api.client.get(f"{BASE}/{export['id']}", headers=me)
    done = r.json()
    assert (done["state"], done["parts_received"], done["missing"]) == ("ready", 6, [])
    assert done["download"] == f"{BASE}/{export['id']}/document"

    # Kept sealed (ADR 0095): the stored parts show neither the number nor the phone.
    async with api.runtime.engine.connect() as conn:
        stored = (
            await conn.exec_driver_sql(
                "SELECT part FROM data_export_parts WHERE export_id = %(id)s", {"id": uuid.UUID(export["id"])}
            )
        ).all()
    assert len(stored) == 6
    assert all(clear not in repr(stored) for clear in (id_number, phone, "赵云"))

    listed = (await api.client.get(BASE, headers=me)).json()["items"]
    assert [(e["id"], e["state"]) for e in listed] == [(export["id"], "ready")]

    r = await api.client.get(done["download"], headers=me)
    assert r.status_code == 200
    assert r.headers["content-disposition"].startswith("attachment;")
    document = r.json()
    assert list(document["parts"]) == list(EXPORT_SERVICES)
    assert document["parts"]["identity"]["账户"][0]["name"] == "赵云"
    assert document["parts"]["vehicle"] == {"记录": [{"service": "vehicle"}]}
    assert document["missing"] == []

    audit = api.runtime.metadata.tables["audit_log"]
    async with api.runtime.engine.connect() as conn:
        actions = (
            await conn.scalars(select(audit.c.action).where(audit.c.target == f"data_export:{export['id']}"))
        ).all()
    assert {"data_export_requested", "data_export_completed", "data_export_downloaded"} <= set(actions)


async def test_one_export_runs_per_person_even_when_asked_at_once(api: Api) -> None:
    me, _, _ = await _citizen(api)
    answers = await asyncio.gather(*(api.client.post(BASE, headers=me) for _ in range(6)))
    statuses = sorted(r.status_code for r in answers)
    assert statuses == [202, 409, 409, 409, 409, 409], [r.text for r in answers]
    assert {r.json()["code"] for r in answers if r.status_code == 409} == {"DATA_EXPORT_RUNNING"}


async def test_another_persons_export_answers_404(api: Api) -> None:
    me, _, _ = await _citizen(api, "甲")
    other, _, _ = await _citizen(api, "乙")
    export = (await api.client.post(BASE, headers=me)).json()
    for path in (f"{BASE}/{export['id']}", f"{BASE}/{export['id']}/document"):
        assert (await api.client.get(path, headers=other)).status_code == 404
    assert (await api.client.get(f"{BASE}/{uuid.uuid4()}", headers=me)).status_code == 404
    assert (await api.client.get(f"{BASE}/not-an-id", headers=me)).status_code == 404
    assert (await api.client.get(BASE, headers=other)).json()["items"] == []
    clerk = await api.staff("clerk.intake")
    assert (await api.client.post(BASE, headers=clerk)).status_code == 403


async def test_a_silent_service_is_missing_at_the_deadline_and_the_download_ends_after_a_week(
    api: Api,
) -> None:
    me, _, _ = await _citizen(api)
    export = (await api.client.post(BASE, headers=me)).json()
    await _identity_answers(api, export["id"])
    await _answer(api, export["id"], "license", {"驾驶证": []})

    api.clock.advance(EXPORT_DEADLINE - timedelta(seconds=1))
    assert (await api.client.get(f"{BASE}/{export['id']}", headers=me)).json()["state"] == "collecting"
    assert (await api.client.post(BASE, headers=me)).status_code == 409

    api.clock.advance(timedelta(seconds=1))
    view = (await api.client.get(f"{BASE}/{export['id']}", headers=me)).json()
    assert (view["state"], view["parts_received"]) == ("ready", 2)
    assert view["missing"] == ["vehicle", "plate-pool", "violation", "notify"]
    document = (await api.client.get(view["download"], headers=me)).json()
    assert (list(document["parts"]), document["missing"]) == (["identity", "license"], view["missing"])

    # The deadline closed it: the person may ask again.
    again = await api.client.post(BASE, headers=me)
    assert again.status_code == 202, again.text

    api.clock.advance(EXPORT_KEPT)
    view = (await api.client.get(f"{BASE}/{export['id']}", headers=me)).json()
    assert (view["state"], view["download"]) == ("expired", None)
    r = await api.client.get(f"{BASE}/{export['id']}/document", headers=me)
    assert (r.status_code, r.json()["code"]) == (410, "DATA_EXPORT_EXPIRED")
    await purge_expired_exports(api.runtime)
    async with api.runtime.engine.connect() as conn:
        left = await conn.scalar(
            select(func.count())
            .select_from(data_export_parts)
            .where(data_export_parts.c.export_id == uuid.UUID(export["id"]))
        )
    assert left == 0
