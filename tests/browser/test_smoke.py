"""Both apps load through the gateway, sign a person in and show what their account allows."""

from __future__ import annotations

import re

import httpx
from playwright.sync_api import expect

from servicekit.testing import new_phone, new_resident_id
from tests.e2e.stack import Person

from .conftest import Screen, accounts, pass_second_factor, press_sign_in


def test_citizen_signs_in_and_sees_the_services_of_the_account(phone: Screen) -> None:
    person = Person(new_resident_id(), new_phone(), channel="online", name="钱十一")
    accounts({}, [person])
    phone.open("/")
    expect(phone.page).to_have_url(re.compile(r"/login"))
    phone.check("login")
    phone.page.get_by_label("账号").fill(person.id_number)
    phone.page.get_by_label("密码").fill("Passw0rd2027")
    press_sign_in(phone.page)
    expect(phone.page.get_by_text("您好，钱十一")).to_be_visible()
    phone.check("home")


def test_clerk_signs_in_and_sees_the_posts_roles_allow(desk: Screen) -> None:
    names = accounts({"intake": ["clerk.intake"]}, [])
    desk.open("/console/")
    expect(desk.page).to_have_url(re.compile(r"/console/login"))
    desk.check("login")
    desk.page.get_by_label("警员编号").fill(names["intake"])
    desk.page.get_by_label("密码").fill("Passw0rd2027")
    press_sign_in(desk.page)
    pass_second_factor(desk, names["intake"], check=True)  # the enrolment page, QR code and secret
    expect(desk.page.get_by_role("heading", name="工作台")).to_be_visible()
    desk.check("workbench")


def test_edge_serves_the_apps_with_caching_headers_and_keeps_api_404s_problems(gw: httpx.Client) -> None:
    index = gw.get("/")
    assert index.status_code == 200
    assert index.headers["cache-control"] == "no-cache"
    assert "default-src 'self'" in index.headers["content-security-policy"]
    asset = re.search(r'src="(/assets/[^"]+\.js)"', index.text)
    assert asset, index.text
    js = gw.get(asset.group(1), headers={"accept-encoding": "gzip"})
    assert js.headers["cache-control"] == "public, max-age=31536000, immutable"
    assert js.headers["content-type"] == "application/javascript"
    assert js.headers["content-encoding"] == "gzip"
    assert gw.get("/vehicles/123").text == index.text  # a client-side route gets the app
    console = gw.get("/console/queues/intake")
    assert console.status_code == 200
    assert "/console/assets/" in console.text
    missing = gw.get("/api/v1/nowhere")
    assert missing.status_code == 404
    assert missing.headers["content-type"] == "application/problem+json"
    assert gw.get("/console/assets/nothing.js").status_code == 404
