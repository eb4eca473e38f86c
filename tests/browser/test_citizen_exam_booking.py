"""DL-11 in the citizen app: a learner (an accepted first application) sees her exam progress, books
subject 1 in a slot of her office's venue, reads her provisional place and why, withdraws and books again,
and after the cut-off sees the seat decided in the published order: another learner whose application was
accepted earlier ranks before her. The application, the venue and the slot are set up through the gateway
as tests/e2e/test_learner_to_driver_through_gateway.py does; the platform clock moves only to the cut-off
and back."""

from __future__ import annotations

import re
import secrets
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime, timedelta
from typing import Any

import httpx
from playwright.sync_api import expect

from servicekit.clock import SHANGHAI
from servicekit.testing import new_phone, new_resident_id
from tests.e2e.stack import Person, login, make_accounts, system_login

from .conftest import Screen, press_sign_in


def _ok(r: httpx.Response, status: int = 200) -> dict[str, Any]:
    assert r.status_code == status, r.text
    data: dict[str, Any] = r.json()
    return data


def _learner(gw: httpx.Client, system: dict[str, str], id_number: str, name: str, accepted: datetime) -> None:
    _ok(
        gw.post(
            "/api/v1/exams/learners",
            headers=system,
            json={
                "application_number": secrets.token_hex(8).upper(),
                "id_number": id_number,
                "name": name,
                "phone": new_phone(),
                "classes": ["C1"],
                "office_code": "130100",
                "accepted_at": accepted.isoformat(),
            },
        ),
        201,
    )


def test_dl11_a_learner_books_subject_one_and_is_seated_in_the_published_order(
    phone: Screen, gw: httpx.Client
) -> None:
    her, earlier = (
        Person(new_resident_id(), new_phone(), kind="learner", channel="online", name=name)
        for name in ("吴十三", "郑十四")
    )
    with ThreadPoolExecutor(max_workers=1) as pool:  # Playwright's loop runs on this thread
        names = pool.submit(make_accounts, {"admin": ["clerk.admin"]}, [her, earlier]).result()
    admin, system = login(gw, names["admin"]), system_login(gw, names["system"])
    now = datetime.now(SHANGHAI).replace(microsecond=0)
    _learner(gw, system, earlier.id_number, earlier.name, now - timedelta(days=3))
    _learner(gw, system, her.id_number, her.name, now - timedelta(days=1))
    venue = "考场" + secrets.token_hex(3).upper()
    site = _ok(
        gw.post(
            "/api/v1/exams/sites",
            headers=admin,
            json={
                "name": f"石家庄市{venue}",
                "address": "石家庄市长安区建设北大街",
                "office_code": "130100",
                "subjects": [1, 4],
            },
        ),
        201,
    )
    starts = (now + timedelta(days=3)).replace(hour=9, minute=0, second=0)
    cutoff = starts - timedelta(days=1)
    slot = _ok(
        gw.post(
            f"/api/v1/exams/sites/{site['id']}/slots",
            headers=admin,
            json={
                "subject": 1,
                "classes": ["C1", "C2"],
                "starts_at": starts.isoformat(),
                "capacity": 2,
                "booking_opens_at": (now - timedelta(hours=1)).isoformat(),
                "cutoff_at": cutoff.isoformat(),
            },
        ),
        201,
    )
    # The other learner books first; her application was accepted two days before ours.
    other = login(gw, earlier.id_number)
    _ok(gw.post("/api/v1/exams/bookings", headers=other, json={"slot_id": slot["id"]}), 201)

    page = phone.page
    phone.open("/login")
    page.get_by_label("账号").fill(her.id_number)
    page.get_by_label("密码").fill("Passw0rd2027")
    press_sign_in(page)
    expect(page.get_by_text(f"您好，{her.name}")).to_be_visible()
    phone.check("home")
    page.get_by_text("考试预约", exact=True).click()  # a home tile (Vant grid item)

    # Her progress: nothing passed yet, subject 1 next and bookable now.
    expect(page.get_by_role("heading", name="考试进度 · C1")).to_be_visible()
    expect(page.get_by_text("下一科目")).to_be_visible()
    expect(page.get_by_text("还没有考试预约")).to_be_visible()
    phone.check("exams")

    # The venue of her office and its subject-1 slot, with the request already in it.
    page.get_by_role("button", name="预约科目一考试").click()
    expect(page.get_by_role("heading", name="场次")).to_be_visible()
    venue_radio = page.get_by_role("radio", name=f"石家庄市{venue}")
    venue_radio.click()  # the office has other venues (earlier tests' too)
    expect(venue_radio).to_be_checked()
    expect(page.get_by_text("考位 2 个 · 已申请 1 人")).to_be_visible()
    phone.check("book")
    when = starts.strftime("%Y-%m-%d %H:%M")
    page.get_by_role("button", name=f"预约 {when} 的场次").click()

    # DL-11: her place so far and why: after the learner accepted earlier.
    expect(page.get_by_role("heading", name="预约详情")).to_be_visible()
    expect(page.get_by_text("待排序")).to_be_visible()
    expect(page.get_by_text(re.compile(r"目前暂排第 2 位（本场 2 个考位）"))).to_be_visible()
    expect(page.get_by_text(re.compile(r"首次预约科目一，按受理时间排序"))).to_be_visible()
    expect(page.locator(".van-toast")).to_be_hidden()  # "预约申请已提交" has gone
    phone.check("booking-requested")

    # Withdrawn before the cut-off, without consequence; then booked again.
    page.get_by_role("button", name="撤销预约").click()
    confirm = page.get_by_role("dialog").filter(has_text="撤销后需重新预约")
    expect(confirm).to_be_visible()
    expect(confirm).not_to_have_class(re.compile("enter-active"))  # its opening animation has ended
    phone.check("withdraw-confirm")
    confirm.get_by_role("button", name="确认").click()
    expect(page.get_by_role("heading", name=re.compile("已撤销"))).to_be_visible()
    expect(page.get_by_text("不影响下次预约的排序")).to_be_visible()
    expect(page.get_by_role("button", name="撤销预约")).to_have_count(0)
    expect(page.locator(".van-toast")).to_be_hidden()
    phone.check("booking-withdrawn")
    page.get_by_role("button", name="返回考试预约").click()
    expect(page.get_by_role("link").filter(has_text="已撤销")).to_be_visible()
    page.get_by_role("button", name="预约科目一考试").click()
    venue_radio.click()
    page.get_by_role("button", name=f"预约 {when} 的场次").click()
    expect(page.get_by_text(re.compile(r"目前暂排第 2 位"))).to_be_visible()
    booking_id = page.url.rsplit("/", 1)[1]

    # The cut-off: the office seats the slot in the published order (the platform clock moves there and
    # back); she reads her seat.
    r = gw.post("/api/v1/_test/clock", json={"now": cutoff.isoformat()})
    assert r.status_code == 200, r.text
    try:
        decided = _ok(gw.post(f"/api/v1/exams/slots/{slot['id']}/decision", headers=admin))
    finally:
        assert gw.delete("/api/v1/_test/clock").status_code == 200
    assert (decided["requests"], decided["seated"]) == (2, 2)
    page.reload()
    expect(page.get_by_role("heading", name=re.compile("预约成功"))).to_be_visible()
    expect(page.get_by_text(re.compile(r"预约成功：第 2 位（共 2 人申请，2 个考位）"))).to_be_visible()
    phone.check("booking-seated")
    mine = _ok(gw.get(f"/api/v1/exams/bookings/{booking_id}", headers=login(gw, her.id_number)))
    assert (mine["state"], mine["place"], mine["place_final"]) == ("seated", 2, True)

    # Her exams page: the seated booking listed, no second booking offered for subject 1.
    page.get_by_role("button", name="返回考试预约").click()
    expect(page.get_by_role("link").filter(has_text="预约成功")).to_be_visible()
    expect(page.get_by_text(re.compile("科目一已预约成功，请按时参加考试"))).to_be_visible()
    expect(page.get_by_role("button", name="预约科目一考试")).to_have_count(0)
    phone.check("exams-seated")
