"""DL-01, DL-12, DL-06 in the citizen app: a counter-registered holder reads her licence (state, validity,
points of the cycle), applies online to defer its review (延期审验) and follows the application, with its
receipt as a PDF. The licence record is issued through the gateway by a police system, as
tests/e2e/test_violation_through_gateway.py issues one."""

from __future__ import annotations

import re
from concurrent.futures import ThreadPoolExecutor
from datetime import date, timedelta

import httpx
from playwright.sync_api import expect

from servicekit.testing import new_phone, new_resident_id
from tests.e2e.stack import Person, make_accounts, system_login

from .conftest import Screen, press_sign_in

NAME = "冯十五"


def test_dl06_a_counter_registered_holder_reads_her_licence_and_applies_to_defer_its_review(
    phone: Screen, gw: httpx.Client
) -> None:
    her = Person(new_resident_id(), new_phone(), channel="counter", name=NAME)
    with ThreadPoolExecutor(max_workers=1) as pool:  # Playwright's loop runs on this thread
        names = pool.submit(make_accounts, {}, [her]).result()
    review_due = date.today() + timedelta(days=200)
    r = gw.post(
        "/api/v1/licences",
        headers=system_login(gw, names["system"]),
        json={
            "number": her.id_number,
            "name": NAME,
            "classes": ["C1", "D"],
            "first_issue": "2014-06-01",
            "valid_from": "2020-06-01",
            "valid_until": "2030-06-01",
            "office_code": "130100",
            "review_due": review_due.isoformat(),
            "phone": her.phone,
        },
    )
    assert r.status_code == 201, r.text

    page = phone.page
    phone.open("/login")
    page.get_by_label("账号").fill(her.id_number)
    page.get_by_label("密码").fill("Passw0rd2027")
    press_sign_in(page)
    page.get_by_text("我的驾驶证", exact=True).click()  # a home tile (Vant grid item)

    # DL-01: the licence as the police system recorded it; DL-12: no points this cycle.
    card = page.get_by_role("region", name=re.compile("机动车驾驶证"))
    expect(card).to_contain_text("C1 D")
    expect(card).to_contain_text("2020-06-01 至 2030-06-01")
    expect(card).to_contain_text("正常")
    expect(page.get_by_role("link", name=re.compile("本周期记分"))).to_contain_text("0 分")
    expect(page.get_by_text(review_due.isoformat(), exact=True)).to_be_visible()
    phone.check("licence")
    page.get_by_role("link", name=re.compile("本周期记分")).click()
    expect(page.get_by_text("本周期没有记分")).to_be_visible()
    expect(page.get_by_text(re.compile(r"记分周期 \d{4}-06-01 至 \d{4}-05-31"))).to_be_visible()
    phone.check("points")
    page.go_back()

    # DL-06: her application to defer the review, a year, for military service.
    page.get_by_role("link", name=re.compile("驾驶证业务")).click()
    expect(page.get_by_text("还没有驾驶证业务申请")).to_be_visible()
    phone.check("applications-none")
    page.get_by_role("button", name="申请新业务").click()
    page.get_by_role("radio", name="延期审验").click()
    page.get_by_label("延期月数").fill("12")
    page.get_by_role("radio", name="服兵役").click()
    phone.check("apply")
    page.get_by_role("button", name="提交申请").click()

    expect(page.get_by_role("heading", name=re.compile("延期审验"))).to_contain_text("待受理")
    expect(page.get_by_text("已提交，等待车辆管理所受理。")).to_be_visible()
    expect(page.get_by_text(review_due.isoformat(), exact=True)).to_be_visible()  # the date being deferred
    expect(page.locator(".van-toast")).to_be_hidden()
    phone.check("application")
    with page.expect_download() as saved:
        page.get_by_role("button", name="下载申请回执（PDF）").click()
    assert saved.value.path().read_bytes()[:5] == b"%PDF-"

    page.go_back()  # the form was replaced by the application: back to the list
    expect(page.get_by_role("link", name=re.compile("延期审验"))).to_contain_text("待受理")
    phone.check("applications")
