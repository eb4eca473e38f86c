"""VH-09 / VH-10 in the console: a citizen's application to replace a damaged vehicle licence, collected at
the counter, taken by the intake post through intake, production, hand-off and pickup (the damaged licence
handed back), then filed by the archive post, which destroys the licence handed back."""

from __future__ import annotations

import re
import secrets
import time
from collections.abc import Callable
from typing import Any

import httpx
from playwright.sync_api import expect

from servicekit.testing import new_phone, new_resident_id
from tests.e2e.stack import Person, login
from tests.e2e.test_vehicle_through_gateway import _plate, _vin

from .conftest import Screen, accounts
from .test_clerk_counter_registration import sign_in, sign_out


def eventually(check: Callable[[], Any], what: str, timeout_s: float = 60) -> Any:
    """Events between identity and vehicle take a moment through the broker."""
    deadline = time.monotonic() + timeout_s
    while not (found := check()):
        if time.monotonic() > deadline:
            raise AssertionError(f"not within {timeout_s:.0f} s: {what}")
        time.sleep(0.3)
    return found


def test_vh09_vh10_clerks_take_a_licence_replacement_from_intake_to_archive(
    desk: Screen, gw: httpx.Client
) -> None:
    owner_id, owner_phone = new_resident_id(), new_phone()
    names = accounts(
        {"intake": ["clerk.intake"], "archive": ["clerk.archive"]}, [Person(owner_id, owner_phone)]
    )
    intake, citizen = login(gw, names["intake"]), login(gw, owner_id)
    plate = _plate()
    r = gw.post(
        "/api/v1/vehicles",
        headers=intake,
        json={
            "plate_number": plate,
            "vin": _vin(),
            "owner": {"id_kind": "resident_id", "id_number": owner_id, "name": "沈十七"},
            "phone": owner_phone,
        },
    )
    assert r.status_code == 201, r.text
    vehicle_id = r.json()["id"]
    # the owner binds the vehicle once identity has learnt it (ID-12), and applies once vehicle has
    # learnt the binding (VH-02)
    bind = {"record_kind": "vehicle", "ref": vehicle_id}
    eventually(
        lambda: gw.post("/api/v1/users/me/bindings", json=bind, headers=citizen).status_code == 201,
        "the owner binds the vehicle",
    )
    application = {"vehicle_id": vehicle_id, "item": "licence", "kind": "replace", "delivery": "pickup"}

    def apply() -> dict[str, Any] | None:
        key = {"Idempotency-Key": secrets.token_hex(8)}
        answer = gw.post("/api/v1/vehicle-applications", json=application, headers=citizen | key)
        return answer.json() if answer.status_code == 201 else None

    case = eventually(apply, "the owner applies to replace the vehicle licence")
    assert case["state"] == "submitted"
    page = desk.page

    # intake: the case waits with its 1-working-day deadline, then goes through each office step
    sign_in(desk, names["intake"])
    page.get_by_role("navigation", name="业务菜单").get_by_role("link", name="机动车补换领").click()
    title = f"{plate} 换领行驶证"
    row = page.get_by_role("row", name=re.compile(re.escape(title)))
    expect(row).to_be_visible()
    desk.check("intake-queue")
    row.get_by_role("link", name=title).click()
    expect(page.get_by_role("heading", name=title)).to_be_visible()
    expect(page.get_by_role("status")).to_contain_text("受理期限：")
    desk.check("intake-case")
    page.get_by_role("button", name="提交受理结论").click()
    expect(page.get_by_role("status")).to_contain_text("已受理，待制作")
    page.get_by_role("button", name="登记制作完成").click()
    expect(page.get_by_role("status")).to_contain_text("已制作，待交付")
    page.get_by_role("button", name="通知申请人领取").click()
    expect(page.get_by_role("status")).to_contain_text("待领取")
    expect(page.get_by_role("status")).to_contain_text("领取期限：")
    desk.check("intake-ready")
    page.locator("label", has_text="申请人已交回损坏的行驶证").click()  # the native checkbox is hidden
    expect(page.get_by_label("申请人已交回损坏的行驶证")).to_be_checked()
    page.get_by_role("button", name="登记已领取").click()
    expect(page.get_by_role("status")).to_contain_text("已领取")
    expect(page.get_by_text("已收回，待销毁")).to_be_visible()
    desk.check("intake-picked-up")
    sign_out(desk)

    # archive: the case filed, the damaged licence handed back destroyed
    sign_in(desk, names["archive"])
    page.get_by_role("navigation", name="业务菜单").get_by_role("link", name="机动车补换领").click()
    page.get_by_role("row", name=re.compile(re.escape(title))).get_by_role("link", name=title).click()
    desk.check("archive-case")
    page.get_by_role("button", name="归档", exact=True).click()
    expect(page.get_by_role("button", name="归档", exact=True)).to_have_count(0)
    page.get_by_role("button", name="销毁交回的旧证件").click()
    expect(page.get_by_text("已销毁", exact=True)).to_be_visible()
    desk.check("archive-done")

    done = gw.get(f"/api/v1/vehicle-applications/{case['id']}", headers=citizen).json()
    assert (done["state"], done["archived"], done["returned_item_destroyed"]) == ("picked_up", True, True)
