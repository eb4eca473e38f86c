"""VI-02..VI-04 in the citizen app: a camera violation on her own car reaches her list; she opens it with
its evidence, confirms it with the SMS code (VI-03), holds the decision and its voucher as PDFs, orders the
payment online and pays at the order's pay_url, the local bank's checkout (dev and test only), then comes
back to the app and sees the fine paid (VI-04). The car, the licence and the record are set up through the
gateway as tests/e2e/test_violation_through_gateway.py does."""

from __future__ import annotations

import re
import secrets
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import httpx
from playwright.sync_api import expect

from servicekit.testing import new_phone, new_resident_id
from tests.e2e.stack import Person, login, make_accounts, system_login
from tests.e2e.test_violation_through_gateway import _plate, _png, _vin, eventually

from .conftest import REASONS, Screen, press_sign_in

NAME = "孙十二"


def _sms_code(gw: httpx.Client, phone: str) -> str:
    def latest() -> str | None:
        items = gw.get("/api/v1/_test/sms", params={"phone": phone}).json()["items"]
        codes = [m for m in items if m["template"] == "verification_code"]
        found = re.search(r"验证码为(\d{6})", codes[0]["body"]) if codes else None
        return found.group(1) if found else None

    code: str = eventually(latest, "the SMS code")
    return code


def _camera_violation_on_her_car(gw: httpx.Client, her: Person) -> dict[str, Any]:
    """Her car registered at the counter, her licence issued by the police system, both bound to her
    account, and a red-light record from a camera (200 yuan, 6 points): VI-02 lets her handle it online."""
    with ThreadPoolExecutor(max_workers=1) as pool:  # Playwright's loop runs on this thread
        names = pool.submit(make_accounts, {"intake": ["clerk.intake"]}, [her]).result()
    intake, system = login(gw, names["intake"]), system_login(gw, names["system"])
    she = login(gw, her.id_number)
    plate = _plate()
    r = gw.post(
        "/api/v1/vehicles",
        headers=intake,
        json={
            "plate_number": plate,
            "vin": _vin(),
            "owner": {"id_kind": "resident_id", "id_number": her.id_number, "name": NAME},
            "phone": her.phone,
        },
    )
    assert r.status_code == 201, r.text
    vehicle = r.json()
    r = gw.post(
        "/api/v1/licences",
        headers=system,
        json={
            "number": her.id_number,
            "name": NAME,
            "classes": ["C1"],
            "first_issue": "2012-04-01",
            "valid_from": "2024-04-01",
            "valid_until": "2030-04-01",
            "office_code": "130100",
            "phone": her.phone,
        },
    )
    assert r.status_code == 201, r.text
    licence = r.json()
    r = gw.post(
        "/api/v1/violations",
        headers=system,
        json={
            "record_id": "WEB" + secrets.token_hex(10).upper(),
            "office_code": "130104",
            "plate_kind": "02",
            "plate_number": plate,
            "violated_at": "2026-11-20T18:42:00+08:00",
            "place": "石家庄市中华大街与裕华路交叉口",
            "violation_code": "1625",
            "description": "驾驶机动车违反道路交通信号灯通行的",
            "penalty": "fine",
            "fine_fen": 20_000,
            "points": 6,
            "evidence": [_png(), _png()],
        },
    )
    assert r.status_code == 201, r.text
    violation: dict[str, Any] = r.json()

    def bound(kind: str, ref: str) -> bool:
        r = gw.post("/api/v1/users/me/bindings", headers=she, json={"record_kind": kind, "ref": ref})
        assert r.status_code in (201, 404, 409), r.text
        return r.status_code in (201, 409)  # 404 until identity has the record

    eventually(lambda: bound("vehicle", vehicle["id"]), "identity knows her car", every_s=1.5)
    eventually(lambda: bound("licence", licence["id"]), "identity knows her licence", every_s=1.5)

    def handleable() -> bool:
        r = gw.get(f"/api/v1/violations/{violation['id']}", headers=she)
        return r.status_code == 200 and bool(r.json()["handling"]["allowed"])

    eventually(handleable, "violation knows her bindings")
    return violation


def test_vi03_vi04_a_citizen_handles_a_camera_violation_with_the_sms_code_and_pays_it_at_the_bank(
    phone: Screen, gw: httpx.Client
) -> None:
    her = Person(new_resident_id(), new_phone(), channel="online", name=NAME)
    violation = _camera_violation_on_her_car(gw, her)
    page = phone.page

    phone.open("/login")
    page.get_by_label("账号").fill(her.id_number)
    page.get_by_label("密码").fill("Passw0rd2027")
    press_sign_in(page)
    page.get_by_text("违法处理", exact=True).click()  # a home tile (Vant grid item)

    # VI-05: her list, the unhandled record with its penalty.
    expect(page.get_by_role("heading", name="交通违法")).to_be_visible()
    card = page.get_by_role("link").filter(has_text=violation["plate_number"])
    expect(card).to_contain_text("罚款 200.00 元，记 6 分")
    phone.check("violations")

    # VI-01/VI-02: the record with its two evidence images, and that she may handle it online.
    card.click()
    expect(page.get_by_role("heading", name="违法详情")).to_be_visible()
    expect(page.get_by_role("img", name=re.compile("违法证据图片"))).to_have_count(2)
    for image in page.get_by_role("img", name=re.compile("违法证据图片")).all():
        expect(image).to_have_js_property("complete", True)
        assert image.evaluate("img => img.naturalWidth") == 16  # the PNG the camera sent
    phone.check("violation")
    page.get_by_role("button", name="查看第 1 张证据图片（大图）").click()
    viewer = page.get_by_role("dialog", name="违法证据图片")
    expect(viewer.get_by_role("img", name="违法证据图片 1（共 2 张）")).to_be_visible()
    phone.check("evidence")
    viewer.get_by_role("button", name="下一张").click()
    expect(viewer.get_by_role("img", name="违法证据图片 2（共 2 张）")).to_be_visible()
    page.keyboard.press("Escape")
    expect(viewer).to_be_hidden()

    # VI-03: the SMS code to her registered phone, then the decision.
    page.get_by_role("button", name="在线处理").click()
    expect(page.get_by_role("heading", name="请确认")).to_be_visible()
    phone.check("handling")
    page.get_by_role("button", name="获取验证码").click()
    masked = f"{her.phone[:3]}****{her.phone[-4:]}"
    expect(page.get_by_role("status").filter(has_text="验证码已发送至")).to_contain_text(masked)
    expect(page.get_by_role("button", name=re.compile(r"\d+ 秒后可重新获取"))).to_be_disabled()
    code = _sms_code(gw, her.phone)
    page.get_by_label("短信验证码").fill(f"{(int(code) + 1) % 1_000_000:06d}")  # a wrong code first
    page.get_by_role("button", name="确认处理").click()
    wrong_code = re.escape(REASONS["SMS_CODE_MISMATCH"]) + r"（NT-02），还可以输入 \d 次"
    expect(page.get_by_text(re.compile(wrong_code))).to_be_visible()
    expect(page.locator(".van-toast")).to_be_hidden()  # "验证码已发送" has gone
    phone.check("wrong-code")
    page.get_by_label("短信验证码").fill(code)
    page.get_by_role("button", name="确认处理").click()

    expect(page.get_by_role("heading", name="处罚决定书")).to_be_visible()
    expect(page).to_have_url(re.compile(r"/violations/decisions/[0-9a-f-]{36}$"))
    decision_id = page.url.rsplit("/", 1)[1]
    decision = gw.get(f"/api/v1/violations/decisions/{decision_id}", headers=login(gw, her.id_number)).json()
    assert (decision["violation_id"], decision["payment_state"]) == (violation["id"], "unpaid")
    expect(page.get_by_text(decision["number"], exact=True)).to_be_visible()
    expect(page.get_by_text(decision["payment_reference"], exact=True)).to_be_visible()
    expect(page.get_by_text("未缴款")).to_be_visible()
    expect(page.locator(".van-toast")).to_be_hidden()  # "处罚决定书已生成" has gone
    phone.check("decision-unpaid")

    # The decision as issued and the voucher for a bank counter, saved as PDFs.
    with page.expect_download() as saved:
        page.get_by_role("button", name="下载处罚决定书（PDF）").click()
    assert saved.value.suggested_filename == f"处罚决定书-{decision['number']}.pdf"
    assert saved.value.path().read_bytes()[:5] == b"%PDF-"
    with page.expect_download() as saved:
        page.get_by_role("button", name="缴款凭证（激光打印机，A4）").click()
    assert saved.value.suggested_filename == f"缴款凭证-{decision['payment_reference']}.pdf"
    assert saved.value.path().read_bytes()[:5] == b"%PDF-"

    # VI-04: an order for the amount due today, paid at the bank's page.
    page.get_by_role("button", name="生成缴款订单").click()
    pay = page.get_by_role("link", name="前往银行支付 200.00 元")
    expect(pay).to_be_visible()
    phone.check("order")
    pay.click()
    expect(page.get_by_role("heading", name="收银台")).to_be_visible()
    expect(page.get_by_text("200.00")).to_be_visible()
    phone.check("bank-checkout")
    page.get_by_role("button", name="确认支付", exact=True).click()
    expect(page.get_by_role("heading", name="支付成功")).to_be_visible()
    expect(page.get_by_text("booked")).to_be_visible()  # the bank's notice was booked by the platform

    # Back in the app (the browser's back button, twice: past the bank's form), the fine shows paid.
    page.go_back()
    page.go_back()
    expect(page).to_have_url(re.compile(rf"/violations/decisions/{decision_id}$"))
    expect(page.get_by_text("罚款已缴纳")).to_be_visible()
    expect(page.get_by_text(re.compile(r"已缴 200\.00 元"))).to_be_visible()
    expect(page.get_by_role("button", name="生成缴款订单")).to_have_count(0)
    phone.check("decision-paid")

    # And the violation itself now reads handled, its decision paid.
    page.go_back()  # the handling page was replaced by the decision
    expect(page.get_by_role("heading", name="违法详情")).to_be_visible()
    expect(page.get_by_text("已处理")).to_be_visible()
    expect(page.get_by_text("已缴款")).to_be_visible()
    phone.check("violation-handled")
