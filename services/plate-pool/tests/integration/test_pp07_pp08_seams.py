"""Two seams of the selection flow: the SMS code goes to the phone the account registered with (PP-07), and
the success SMS names the number the certificate prints and the counter finds the selection by (PP-08);
and the one cancellation path never undoes a settlement (PP-09)."""

from __future__ import annotations

import uuid
from typing import Any

import pytest
from sqlalchemy import select

from plate_pool_service import certificate, selections
from plate_pool_service.domain import Action
from servicekit.db import new_metadata
from servicekit.uow import SYSTEM_ACTOR

from .conftest import Platform, new_phone, new_vin
from .test_pp09_settlement import deliver, registered

pytestmark = pytest.mark.integration


async def _payloads(p: Platform, routing_key: str, selection_id: str) -> list[dict[str, Any]]:
    outbox = new_metadata().tables["outbox"]
    async with p.ctx.runtime.engine.connect() as conn:
        rows = (
            await conn.execute(select(outbox.c.payload).where(outbox.c.routing_key == routing_key))
        ).scalars()
        return [dict(r) for r in rows if r.get("selection_id") == selection_id]


async def _selected(p: Platform) -> tuple[Any, dict[str, Any]]:
    who, sel = await p.start()
    drawn = (await p.draw(who, sel)).json()
    await p.choose(who, sel, drawn["numbers"][0])
    done = await p.confirm(who, sel)
    assert done.status_code == 200, done.text
    return who, done.json()


@pytest.mark.redis_cluster
async def test_pp07_the_code_goes_to_the_registered_phone(platform: Platform) -> None:
    p = platform
    await p.open_segment()
    who = p.applicant()  # the token carries the phone the account registered with
    body = p.start_body(who)
    del body["phone"]  # nothing typed: the registered phone is the selection's
    r = await p.client.post("/api/v1/plate-selections", json=body, headers=who.headers)
    assert r.status_code == 201, r.text
    sel = r.json()
    drawn = (await p.draw(who, sel)).json()
    assert (await p.choose(who, sel, drawn["numbers"][0])).status_code == 200
    r = await p.client.post(p.url(sel, "/sms-code"), headers=who.headers)
    assert r.status_code == 202, r.text
    assert r.json()["sent_to"] == who.phone[:3] + "****" + who.phone[-4:]
    code = await p.sms_code(who.phone)  # the SMS went to the registered phone
    r = await p.client.post(p.url(sel, "/confirmation"), json={"code": code}, headers=who.headers)
    assert (r.status_code, r.json()["state"]) == (200, "selected")
    # A phone typed into the form that is not the registered one is refused, not used.
    other = p.applicant()
    typed = new_phone()
    r = await p.client.post(
        "/api/v1/plate-selections", json=p.start_body(other, phone=typed), headers=other.headers
    )
    assert (r.status_code, r.json()["code"], r.json()["rule"]) == (422, "PHONE_NOT_REGISTERED", "PP-07")
    # A token that names no registered phone cannot start a selection whose code would go nowhere.
    bare = p.applicant()
    token = p.tokens.citizen(bare.subject, id_number=bare.id_number, ttl_s=600)
    r = await p.client.post(
        "/api/v1/plate-selections", json=p.start_body(bare), headers=p.tokens.headers(token)
    )
    assert (r.status_code, r.json()["code"], r.json()["rule"]) == (422, "NO_REGISTERED_PHONE", "PP-07")


async def test_pp08_the_success_sms_names_the_voucher_number_the_certificate_prints(
    platform: Platform,
) -> None:
    p = platform
    await p.open_segment()
    who, sel = await _selected(p)
    (confirmed,) = await _payloads(p, "plate-pool.selection.confirmed.v1", sel["id"])
    voucher = confirmed["certificate_number"]  # what notify's success SMS names (预选号凭证编号)
    assert voucher == sel["voucher_number"] == sel["id"]
    row = await selections.row_of(p.ctx, uuid.UUID(sel["id"]))
    assert certificate.lines(row, "公安机关交通管理部门")[0] == f"凭证编号：{voucher}"
    pdf = await p.client.get(p.url(sel, "/certificate"), headers=who.headers)
    assert pdf.status_code == 200


async def test_pp08_clerks_find_a_selection_by_voucher_number_vin_or_plate(platform: Platform) -> None:
    p = platform
    await p.open_segment()
    who, sel = await _selected(p)
    await p.start()  # another selection of the office, which no lookup below names
    clerk = p.tokens.headers(p.tokens.clerk(roles=("clerk.intake",), office=p.office))
    for query in (
        {"voucher_number": sel["voucher_number"]},
        {"vin": who.vin.lower()},
        {"plate_number": sel["plate_number"]},
    ):
        r = await p.client.get("/api/v1/plate-selections", params=query, headers=clerk)
        assert r.status_code == 200, r.text
        assert [(s["id"], s["plate_number"]) for s in r.json()["items"]] == [(sel["id"], sel["plate_number"])]
    r = await p.client.get("/api/v1/plate-selections", params={"vin": new_vin()}, headers=clerk)
    assert r.json()["items"] == []
    r = await p.client.get(
        "/api/v1/plate-selections", params={"voucher_number": "not-a-voucher"}, headers=clerk
    )
    assert r.json()["items"] == []
    # Office scoping (access.py): another office's clerk finds nothing; citizens may not look up.
    elsewhere = p.tokens.headers(p.tokens.clerk(roles=("clerk.intake",), office="139999"))
    r = await p.client.get(
        "/api/v1/plate-selections", params={"voucher_number": sel["voucher_number"]}, headers=elsewhere
    )
    assert (r.status_code, r.json()["items"]) == (200, [])
    r = await p.client.get("/api/v1/plate-selections", params={"vin": who.vin}, headers=who.headers)
    assert r.status_code == 403
    r = await p.client.get("/api/v1/plate-selections", headers=clerk)
    assert (r.status_code, r.json()["code"]) == (422, "LOOKUP_KEY_REQUIRED")


async def test_pp09_a_cancellation_never_undoes_a_settlement(platform: Platform) -> None:
    """The one cancellation path decides under the row's lock: a cancel that read the selection as
    `selected` before the registration settled it finds it `registered` and changes nothing, in Postgres
    or in Redis."""
    p = platform
    segment = await p.open_segment()
    who, sel = await _selected(p)
    await deliver(p, "settle-registration", registered(who, sel))
    async with p.ctx.runtime.uow() as uow:
        until = await selections.cancel(
            p.ctx, uow, uuid.UUID(sel["id"]), Action.CANCEL, "not_registered_in_time", SYSTEM_ACTOR
        )
        await uow.commit()
    assert until is None
    assert (await p.get(who, sel))["state"] == "registered"
    assert (await p.ctx.hot.counts(segment)).allocated == 1
    assert await _payloads(p, "plate-pool.selection.cancelled.v1", sel["id"]) == []
