"""A counter-registered citizen follows their reissue and replacement applications (VH-05, VH-07, VH-09):
one mailed (the tracking number, then the post's refusal and the year's ban it brings), one not taken in
(the intake clerk's reason); the office's steps come through the gateway, the screens show each in turn,
and the messages they send reach the app's inbox (NT-01)."""

from __future__ import annotations

import re
import secrets
import time
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime
from typing import Any

import httpx
from playwright.sync_api import expect
from sqlalchemy import select

from identity_service.service import SPEC as IDENTITY
from identity_service.tables import person_records
from servicekit.clock import SHANGHAI
from servicekit.testing import new_phone, new_resident_id, set_test_calendar_years
from tests.e2e.stack import Person, login, make_accounts, system_login
from vehicle_service.service import SPEC as VEHICLE
from vehicle_service.tables import vehicle_bindings

from .conftest import Screen, press_sign_in
from .test_citizen_inspection_booking import _plate, _until, _vin, settled


def _step(gw: httpx.Client, clerk: dict[str, str], case: str, step: str, body: Any = None) -> dict[str, Any]:
    r = gw.post(f"/api/v1/vehicle-applications/{case}/{step}", headers=clerk, json=body)
    assert r.status_code == 200, r.text
    answer: dict[str, Any] = r.json()
    return answer


def test_vh09_citizen_follows_a_mailed_reissue_to_the_posts_refusal_and_reads_a_rejection(
    phone: Screen, gw: httpx.Client
) -> None:
    person = Person(new_resident_id(), new_phone(), channel="counter", name="周十三")
    with ThreadPoolExecutor(max_workers=1) as pool:
        names = pool.submit(make_accounts, {"intake": ["clerk.intake"]}, [person]).result()
    # WD-01: the 1-working-day intake deadline may reach next year; a test fixture, weekends only.
    this_year = datetime.now(SHANGHAI).year
    set_test_calendar_years(VEHICLE.settings().database.url, this_year, this_year + 1)
    intake, post = login(gw, names["intake"]), system_login(gw, names["system"])
    plate = _plate()
    r = gw.post(
        "/api/v1/vehicles",
        headers=intake,
        json={
            "plate_number": plate,
            "vin": _vin(),
            "owner": {"id_kind": "resident_id", "id_number": person.id_number, "name": person.name},
            "phone": person.phone,
        },
    )
    assert r.status_code == 201, r.text
    vehicle = r.json()
    _until(
        IDENTITY,
        lambda: select(person_records.c.ref).where(person_records.c.ref == vehicle["id"]),
        "identity records the new car",
    )
    citizen = login(gw, person.id_number)
    r = gw.post(
        "/api/v1/users/me/bindings", headers=citizen, json={"record_kind": "vehicle", "ref": vehicle["id"]}
    )
    assert r.status_code == 201, r.text
    _until(
        VEHICLE,
        lambda: select(vehicle_bindings.c.binding_id).where(vehicle_bindings.c.vehicle_ref == vehicle["id"]),
        "vehicle learns the binding",
    )
    applications = {}
    for item, kind, delivery in (("plate", "reissue", "mail"), ("licence", "replace", "pickup")):
        body = {"vehicle_id": vehicle["id"], "item": item, "kind": kind, "delivery": delivery}
        if delivery == "mail":
            body["address"] = "河北省石家庄市长安区建设北大街1号"
        r = gw.post(
            "/api/v1/vehicle-applications",
            headers=citizen | {"Idempotency-Key": secrets.token_hex(8)},
            json=body,
        )
        assert r.status_code == 201, r.text
        applications[item] = r.json()["id"]

    page = phone.page
    phone.open("/login")
    page.get_by_label("账号").fill(person.id_number)
    page.get_by_label("密码").fill("Passw0rd2027")
    press_sign_in(page)
    expect(page.get_by_text(f"您好，{person.name}")).to_be_visible()
    page.get_by_text("补换领进度", exact=True).click()  # ID-07: a counter-registered person's service
    mailed = page.get_by_role("link", name=re.compile("补领机动车号牌"))
    expect(mailed).to_contain_text("待受理")
    expect(page.get_by_role("link", name=re.compile("换领机动车行驶证"))).to_contain_text("待受理")
    settled(phone).check("applications")

    mailed.click()
    expect(page.get_by_role("heading", name="补领机动车号牌")).to_be_visible()
    expect(page.get_by_text("状态每 15 秒自动刷新，业务办结后停止。")).to_be_visible()
    expect(page.get_by_text("交寄后显示")).to_be_visible()
    settled(phone).check("submitted")

    _step(gw, intake, applications["plate"], "intake", {"decision": "accept"})
    _step(gw, intake, applications["plate"], "production")
    tracking = _step(gw, intake, applications["plate"], "handoff")["tracking_number"]
    page.get_by_role("button", name="刷新").click()
    expect(page.get_by_text(tracking, exact=True)).to_be_visible()
    expect(page.get_by_text("投递中")).to_be_visible()
    settled(phone).check("mailed")

    # VH-07: the post reports the parcel refused; the page tells the year's ban and stops asking again.
    r = gw.post(
        "/api/v1/vehicle-applications/post-events",
        headers=post,
        json={"tracking_number": tracking, "event": "refused"},
    )
    assert r.status_code == 200, r.text
    page.get_by_role("button", name="刷新").click()
    expect(page.get_by_role("alert")).to_contain_text("一年内，不能通过互联网申请补领、换领")
    expect(page.get_by_text("业务已办结，不再自动刷新。")).to_be_visible()
    settled(phone).check("refused")

    # VH-09: intake does not take the licence's replacement in, with its reason.
    _step(
        gw,
        intake,
        applications["licence"],
        "intake",
        {"decision": "reject", "reason": "行驶证照片与车辆不符"},
    )
    page.go_back()
    page.reload()
    page.get_by_role("link", name=re.compile("换领机动车行驶证")).click()
    expect(page.get_by_role("alert")).to_have_text("车管所不予受理，原因：行驶证照片与车辆不符。")
    settled(phone).check("rejected")

    # NT-01: the mailing and the rejection were told to the applicant's inbox too.
    deadline = time.monotonic() + 30
    while gw.get("/api/v1/messages/unread-count", headers=citizen).json()["unread"] < 2:
        assert time.monotonic() < deadline, "the applications' messages did not reach the inbox"
        time.sleep(0.2)  # polling the inbox, not waiting out a deadline
    phone.open("/messages")
    expect(page.get_by_role("link", name=re.compile("证件邮寄"))).to_contain_text(tracking)
    expect(page.get_by_role("link", name=re.compile("业务申请未通过"))).to_contain_text(
        "行驶证照片与车辆不符"
    )
    settled(phone).check("messages")
    page.get_by_role("link", name=re.compile("证件邮寄")).click()
    expect(page.get_by_role("heading", name="证件邮寄")).to_be_visible()
    page.get_by_role("button", name="查看业务进度").click()
    expect(page.get_by_role("heading", name="补领机动车号牌")).to_be_visible()
    expect(page.get_by_text(tracking, exact=True)).to_be_visible()
    phone.open("/messages")
    expect(page.get_by_text(re.compile(r"未读消息\s*1\s*条"))).to_be_visible()
