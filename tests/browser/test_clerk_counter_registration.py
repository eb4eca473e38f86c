"""ID-09 in the console: the intake clerk enters a person and stores the scans, the review clerk reads the
case with its scans and approves it, the archive clerk files the originals; each post sees only its own
queues, and the person can then sign in with the password typed at the counter."""

from __future__ import annotations

import base64
import re
import secrets

import httpx
from playwright.sync_api import Page, expect

from servicekit.testing import new_phone, new_resident_id

from .conftest import Screen, accounts, console_sign_in

PASSWORD = "Passw0rd2027"  # the staff accounts' password (tests.e2e.stack)
PERSON_PASSWORD = "Counter2027pass"
SCANS = {"现场照片": "image/jpeg", "注册申请表": "image/png", "身份证明": "image/jpeg"}


def image(page: Page, label: str, media_type: str) -> bytes:
    """A small JPEG or PNG drawn by the browser's canvas: a card with the scan's name on it."""
    data_url: str = page.evaluate(
        """([label, type]) => {
            const canvas = document.createElement('canvas')
            canvas.width = 320; canvas.height = 200
            const g = canvas.getContext('2d')
            g.fillStyle = '#dbeafe'; g.fillRect(0, 0, 320, 200)
            g.strokeStyle = '#1e3a8a'; g.lineWidth = 6; g.strokeRect(8, 8, 304, 184)
            g.fillStyle = '#1e3a8a'; g.font = '28px sans-serif'; g.fillText(label, 32, 110)
            return canvas.toDataURL(type, 0.9)
        }""",
        [label, media_type],
    )
    header, encoded = data_url.split(",", 1)
    assert header == f"data:{media_type};base64", header
    return base64.b64decode(encoded)


def sign_in(screen: Screen, username: str) -> None:
    console_sign_in(screen, username)


def sign_out(screen: Screen) -> None:
    screen.page.get_by_role("button", name="退出").click()
    expect(screen.page).to_have_url(re.compile(r"/console/login"))


def posts(screen: Screen) -> set[str]:
    """The counter posts the side menu offers (other features add entries of their own)."""
    entries = screen.page.get_by_role("navigation", name="业务菜单").get_by_role("link").all_inner_texts()
    return {e.strip() for e in entries} & {"受理岗", "审核岗", "档案岗", "驾驶证照片审核"}


def open_queue(screen: Screen, post: str) -> None:
    screen.page.get_by_role("navigation", name="业务菜单").get_by_role("link", name=post, exact=True).click()
    expect(screen.page.get_by_role("heading", name=f"{post}工作队列")).to_be_visible()


def shown_scans(page: Page) -> list[str]:
    """The alt texts of the scans the case page shows, each loaded (an image of some width)."""
    images = page.locator("figure img")
    expect(images).to_have_count(len(SCANS))
    for i in range(len(SCANS)):
        expect(images.nth(i)).to_have_js_property("complete", True)
        assert images.nth(i).evaluate("img => img.naturalWidth") == 320
    alts: list[str] = images.evaluate_all("imgs => imgs.map(img => img.alt)")
    return alts


def test_id09_clerks_take_a_counter_registration_from_intake_to_archive(
    desk: Screen, gw: httpx.Client
) -> None:
    names = accounts(
        {"intake": ["clerk.intake"], "review": ["clerk.review"], "archive": ["clerk.archive"]}, []
    )
    id_number, phone = new_resident_id(), new_phone()
    name = "柜台" + "".join(secrets.choice("甲乙丙丁戊己庚辛壬癸子丑寅卯辰巳午未申酉戌亥") for _ in range(3))
    r = gw.post("/api/v1/_test/population", json={"id_number": id_number, "name": name})
    assert r.status_code == 201, r.text
    page = desk.page

    # intake: the post's own queue only, a new case entered and checked against the registry
    sign_in(desk, names["intake"])
    assert posts(desk) == {"受理岗"}
    desk.check("intake-workbench")
    open_queue(desk, "受理岗")
    desk.check("intake-queue")
    page.get_by_role("link", name="新建柜台注册").click()
    page.get_by_label("身份证号码", exact=True).fill(id_number)
    page.get_by_label("姓名", exact=True).fill(name)
    page.get_by_label("手机号码（接收账号信息）").fill(phone)
    page.get_by_label("登录密码（由申请人在密码键盘上输入）").fill(PERSON_PASSWORD)
    desk.check("intake-new-registration")
    page.get_by_role("button", name="核查并建立案件").click()
    expect(page.get_by_role("heading", name=f"柜台注册案件：{name}")).to_be_visible()
    expect(page.get_by_text("人口信息核查通过")).to_be_visible()
    submit = page.get_by_role("button", name="提交审核岗")
    expect(submit).to_be_disabled()  # the scans are not stored yet
    desk.check("intake-case-opened")

    # the scans stored with the case (AR-01), then submitted to review
    for label, media_type in SCANS.items():
        suffix = "png" if media_type == "image/png" else "jpg"
        page.get_by_label(label, exact=True).set_input_files(
            {"name": f"{label}.{suffix}", "mimeType": media_type, "buffer": image(page, label, media_type)}
        )
        expect(
            page.locator("li", has=page.get_by_label(label, exact=True)).get_by_text("已录入")
        ).to_be_visible()
    assert shown_scans(page) == [f"{label}扫描件" for label in SCANS]
    desk.check("intake-scans-stored")
    submit.click()
    expect(page.get_by_role("status")).to_contain_text("待审核")
    expect(page.get_by_text(re.compile(r"审核期限："))).to_be_visible()
    desk.check("intake-submitted")
    sign_out(desk)

    # review: the case in its queue with its deadline, read with its scans, approved
    sign_in(desk, names["review"])
    assert posts(desk) == {"审核岗", "驾驶证照片审核"}
    open_queue(desk, "审核岗")
    row = page.get_by_role("row", name=re.compile(name))
    expect(row).to_be_visible()
    expect(row.get_by_text("期限内")).to_be_visible()
    desk.check("review-queue")
    row.get_by_role("link", name=name, exact=True).click()
    assert shown_scans(page) == [f"{label}扫描件" for label in SCANS]
    desk.check("review-case")
    page.get_by_role("button", name="提交审核结论").click()
    expect(page.get_by_role("status")).to_contain_text("待归档")
    expect(page.get_by_text("账号已建立", exact=True)).to_be_visible()
    desk.check("review-approved")
    sign_out(desk)

    # archive: the originals bound and filed
    sign_in(desk, names["archive"])
    assert posts(desk) == {"档案岗"}
    open_queue(desk, "档案岗")
    desk.check("archive-queue")
    page.get_by_role("row", name=re.compile(name)).get_by_role("link", name=name, exact=True).click()
    assert shown_scans(page) == [f"{label}扫描件" for label in SCANS]
    file = page.get_by_role("button", name="装订归档")
    expect(file).to_be_disabled()  # until each original is checked
    desk.check("archive-case")
    for original in ("注册申请表原件", "身份证明复印件"):
        page.locator("label", has_text=original).click()  # Element Plus hides the native checkbox
        expect(page.get_by_label(original)).to_be_checked()
    file.click()
    expect(page.get_by_role("status")).to_contain_text("已归档")
    expect(page.get_by_text("注册申请表原件、身份证明复印件")).to_be_visible()
    desk.check("archive-filed")

    # the person's counter account exists: they sign in with the password typed at the counter
    login = gw.post("/api/v1/auth/login", json={"username": id_number, "password": PERSON_PASSWORD})
    assert login.status_code == 200, login.text
    me = gw.get("/api/v1/users/me", headers={"Authorization": f"Bearer {login.json()['access_token']}"})
    assert (me.json()["channel"], me.json()["name"]) == ("counter", name)
