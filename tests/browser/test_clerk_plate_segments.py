"""The console's management posts: a segment planned by its office's admin, approved by the superior office's
admin (PP-10), published with its pool built and its figures shown (PP-13); a station filed and its plan
published (VH-14); the SMS delivery log (NT-01); and each post seeing only the entries its roles allow."""

from __future__ import annotations

import asyncio
import base64
import re
import secrets
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from datetime import date, datetime, timedelta

import httpx
import pytest
from playwright.sync_api import Page, expect
from sqlalchemy import update

from identity_service.demo import ensure_account
from identity_service.service import SPEC as IDENTITY
from plate_pool_service.context import context_for
from plate_pool_service.domain import SEED_SETTINGS, OfficeSettings
from plate_pool_service.segments import PlanSegment, build_pool, plan_segment, save_office_settings
from plate_pool_service.service import SPEC as PLATE_POOL
from plate_pool_service.tables import segments
from servicekit.clock import SHANGHAI
from servicekit.runtime import Runtime
from servicekit.testing import new_phone, new_resident_id
from servicekit.validators import vin_check_digit
from tests.e2e.stack import PASSWORD, Person

from .conftest import REASONS, Screen, accounts, console_sign_in

SUPERIOR = "130000"  # 河北省公安厅交通警察总队: approves the cities' segment plans


@pytest.fixture(autouse=True)
def _patient_expect() -> Iterator[None]:
    """Each step here waits on the API behind it; on a busy CI machine that takes more than Playwright's
    default 5 s. Put back afterwards, for the other modules."""
    expect.set_options(timeout=20_000)
    yield
    expect.set_options(timeout=5_000)


def _in_thread(job: object) -> object:
    """Run a coroutine on another thread: Playwright's sync API keeps an event loop on this one."""
    with ThreadPoolExecutor(max_workers=1) as pool:
        return pool.submit(asyncio.run, job).result()  # type: ignore[arg-type]


def staff(office: str, roles: list[str]) -> str:
    """A clerk of `office` with `roles` (tests.e2e.stack.make_accounts makes clerks of 130100 only)."""
    username = "E2EMGT" + secrets.token_hex(4).upper()

    async def make() -> None:
        runtime = Runtime.open(IDENTITY.settings(), IDENTITY.metadata)
        try:
            async with runtime.uow() as uow:
                await ensure_account(
                    uow.session,
                    category="staff",
                    kind="staff",
                    name=f"{'、'.join(roles)} 民警",
                    password=PASSWORD,
                    roles=roles,
                    now=uow.now,
                    username=username,
                    office=office,
                )
                await uow.commit()
        finally:
            await runtime.aclose()

    _in_thread(make())
    return username


def office_under_superior(office: str) -> None:
    """A vehicle office at the seed's settings whose plans SUPERIOR approves: set in plate-pool's database,
    as its demo data sets 130100's (no API names an office's superior)."""

    async def save() -> None:
        runtime = Runtime.open(PLATE_POOL.settings(), PLATE_POOL.metadata)
        try:
            await save_office_settings(runtime, office, SEED_SETTINGS, superior=SUPERIOR, name="测试车管所")
        finally:
            await runtime.aclose()

    _in_thread(save())


def office_with_open_segment(office: str) -> None:
    """An office selecting all day (so the test runs at any hour, PP-04/PP-06a) with an open segment of
    10,000 numbers and no pool floor to meet: set in plate-pool's database, as its own tests set theirs."""

    async def make() -> None:
        runtime = Runtime.open(PLATE_POOL.settings(), PLATE_POOL.metadata)
        try:
            ctx = context_for(runtime)
            always = OfficeSettings(opens_at="00:00", closes_at="23:59", low_pool_threshold=0)
            await save_office_settings(runtime, office, always, superior=SUPERIOR, name="测试车管所")
            now = await runtime.clock.now()
            body = PlanSegment(
                office_code=office,
                prefix="冀A",
                pattern="5####",
                custom_patterns=["5####"],
                opens_at=now - timedelta(days=1),
            )
            segment_id = await plan_segment(ctx, body, "test", now)
            async with runtime.uow() as uow:
                await uow.session.execute(
                    update(segments)
                    .where(segments.c.id == segment_id)
                    .values(state="published", approved_by="test", approved_at=now, published_at=now)
                )
                await uow.commit()
            await build_pool(ctx, segment_id)
        finally:
            await runtime.aclose()

    _in_thread(make())


def check(desk: Screen, label: str) -> None:
    """`Screen.check` once the page has settled: no loading mask over a table, and no transition running (a
    toast fading in is at part opacity, which axe-core measures as too little contrast)."""
    expect(desk.page.locator(".el-loading-mask")).to_have_count(0)
    desk.page.evaluate(SETTLED)
    desk.check(label)


SETTLED = """async () => {
    await new Promise((done) => requestAnimationFrame(() => requestAnimationFrame(done)));
    await Promise.all(document.getAnimations()
        .filter((a) => a.effect && a.effect.getComputedTiming().iterations !== Infinity)
        .map((a) => a.finished.catch(() => null)));
}"""


def sign_in(desk: Screen, username: str) -> None:
    console_sign_in(desk, username)


def sign_out(desk: Screen) -> None:
    desk.page.get_by_role("button", name="退出").click()
    expect(desk.page).to_have_url(re.compile(r"/console/login"))


def menu(page: Page) -> list[str]:
    entries = page.get_by_role("navigation", name="业务菜单").get_by_role("link")
    return [t.strip() for t in entries.all_inner_texts()]


def confirm(page: Page, button: str) -> None:
    dialog = page.get_by_role("dialog")
    expect(dialog).to_be_visible()
    dialog.get_by_role("button", name=button).click()


def test_pp10_a_segment_is_planned_approved_by_the_superior_and_published_its_pool_shown(
    desk: Screen,
) -> None:
    office = f"139{secrets.randbelow(1000):03d}"
    office_under_superior(office)
    admin = staff(office, ["clerk.admin"])
    superior = staff(SUPERIOR, ["clerk.admin"])
    page = desk.page

    # The office's admin plans a segment of 50,000 numbers, opening in three weeks.
    sign_in(desk, admin)
    plates = ["号段管理", "号池统计", "选号参数", "预选号牌申诉"]
    assert menu(page) == ["工作台", *plates, "检验站与检验计划", "民警账号", "短信发送记录"]
    check(desk, "workbench-admin")
    page.get_by_role("navigation", name="业务菜单").get_by_role("link", name="号段管理").click()
    expect(page.get_by_role("heading", name="号段管理")).to_be_visible()
    expect(page.get_by_text("暂无号段")).to_be_visible()
    check(desk, "segments-empty")
    page.get_by_role("button", name="规划新号段").click()
    dialog = page.get_by_role("dialog", name="规划新号段")
    pattern = dialog.get_by_label("号码模式（5 位）")
    pattern.fill("512##")
    dialog.get_by_label("自编号码规则（可填多个，以空格或逗号分隔）").fill("*#### ##*##")
    opens = datetime.now(SHANGHAI).date() + timedelta(days=21)
    dialog.get_by_label("启用时间（北京时间）").fill(f"{opens:%Y-%m-%d} 08:00")
    dialog.get_by_label("启用时间（北京时间）").press("Enter")
    expect(dialog.get_by_text("共 100 个号码，不足 1,000 个，不能作为号段")).to_be_visible()
    dialog.get_by_role("button", name="提交规划").click()  # the service decides, and says why in Chinese
    # the code's plain-Chinese sentence (web/packages/api/src/reasons.json) with the rule that decided it
    expect(dialog.get_by_role("alert")).to_contain_text(f"{REASONS['SEGMENT_TOO_SMALL']}（PP-10）")
    check(desk, "plan-refused")
    pattern.fill("*####")
    expect(dialog.get_by_text("共 240,000 个号码")).to_be_visible()
    dialog.get_by_label("号码数量（可选，只用号码模式中的前若干个）").fill("50000")
    check(desk, "plan-dialog")
    dialog.get_by_role("button", name="提交规划").click()
    row = page.get_by_role("row").filter(has_text="冀AA0000 – 冀AE9999")
    expect(row).to_contain_text("待上级审批")
    expect(row).to_contain_text("50,000")
    expect(row.get_by_role("button", name="审批")).to_have_count(0)  # not the planning office's to approve
    check(desk, "segment-planned")

    # The superior office's admin approves it.
    sign_out(desk)
    sign_in(desk, superior)
    desk.open("/console/plates/segments")
    row = page.get_by_role("row").filter(has_text="冀AA0000 – 冀AE9999").filter(has_text=office)
    row.get_by_role("button", name="审批").click()
    check(desk, "approve-confirm")
    confirm(page, "审批通过")
    expect(row).to_contain_text("已审批，待发布")
    check(desk, "segment-approved")

    # The office publishes it: the pool is built and its figures show.
    sign_out(desk)
    sign_in(desk, admin)
    desk.open("/console/plates/segments")
    row = page.get_by_role("row").filter(has_text="冀AA0000 – 冀AE9999")
    row.get_by_role("button", name="发布").click()
    confirm(page, "发布")
    expect(row).to_contain_text("已发布")
    check(desk, "segment-published")
    page.get_by_role("navigation", name="业务菜单").get_by_role("link", name="号池统计").click()
    expect(page.get_by_role("heading", name=f"车管所 {office} 号池合计")).to_be_visible()
    figures = page.locator(".figures")
    expect(figures).to_contain_text("可选号码50,000")
    expect(page.get_by_text("可选号码不少于 50,000 个的下限（PP-10）")).to_be_visible()
    expect(page.get_by_role("row").filter(has_text="冀AA0000 – 冀AE9999")).to_contain_text("50,000")
    check(desk, "pool-statistics")

    # PP-06a: the office's counts and windows.
    page.get_by_role("navigation", name="业务菜单").get_by_role("link", name="选号参数").click()
    draws = page.get_by_label("随机选号次数（次）")
    expect(draws).to_have_value("10")
    check(desk, "office-settings")
    draws.fill("8")
    draws.press("Tab")
    page.get_by_role("button", name="保存").click()
    expect(page.get_by_text("选号参数已保存")).to_be_visible()
    expect(page.get_by_text("未修改")).to_be_visible()


def test_each_post_sees_only_the_management_entries_its_roles_allow(desk: Screen) -> None:
    reviewer = staff("130100", ["clerk.review"])
    sign_in(desk, reviewer)
    counter = ["审核岗", "驾驶证照片审核"]  # the review post's counter work (features/counter)
    assert menu(desk.page) == ["工作台", *counter, "号池统计", "预选号牌申诉", "短信发送记录"]
    check(desk, "workbench-reviewer")
    desk.open("/console/plates/segments")  # typed by hand: the page is not the review post's
    expect(desk.page.get_by_text("您的岗位无权办理此项业务")).to_be_visible()
    expect(desk.page.get_by_role("heading", name="工作台")).to_be_visible()
    desk.page.get_by_role("navigation", name="业务菜单").get_by_role("link", name="预选号牌申诉").click()
    expect(desk.page.get_by_role("heading", name="预选号牌申诉")).to_be_visible()
    check(desk, "appeals-queue")


def test_vh14_a_station_is_filed_and_its_plan_published(desk: Screen) -> None:
    city = f"139{secrets.randbelow(1000):03d}"
    admin = staff(city, ["clerk.admin"])
    page = desk.page
    sign_in(desk, admin)
    page.get_by_role("navigation", name="业务菜单").get_by_role("link", name="检验站与检验计划").click()
    expect(page.get_by_text(f"城市 {city} 尚无检验站")).to_be_visible()
    page.get_by_role("button", name="登记检验站").click()
    dialog = page.get_by_role("dialog", name="登记检验站")
    name = f"测试机动车检测站{secrets.token_hex(2).upper()}"
    dialog.get_by_label("检验站名称").fill(name)
    dialog.get_by_label("地址").fill("石家庄市长安区建设北大街1号")
    for choice in ("大型汽车", "液压制动"):  # Element Plus hides the native box under its label
        dialog.locator("label").filter(has_text=choice).click()
        expect(dialog.get_by_label(choice)).to_be_checked()
    check(desk, "station-dialog")
    dialog.get_by_role("button", name="登记").click()
    row = page.get_by_role("row").filter(has_text=name)
    expect(row).to_contain_text("小型汽车、大型汽车")
    expect(row).to_contain_text("正常服务")
    check(desk, "stations")

    row.get_by_role("link", name="检验计划").click()
    expect(page.get_by_role("heading", name=f"{name} · 检验计划")).to_be_visible()
    expect(page.get_by_text("尚未报备检验计划")).to_be_visible()
    page.get_by_role("button", name="报备检验计划").click()
    dialog = page.get_by_role("dialog", name="报备检验计划")
    monday = _next_monday(datetime.now(SHANGHAI).date() + timedelta(days=7))
    for label, day in (("开始日期", monday), ("结束日期（至多 92 天）", monday + timedelta(days=6))):
        dialog.get_by_label(label).fill(f"{day:%Y-%m-%d}")
        dialog.get_by_label(label).press("Enter")
    dialog.locator("label").filter(has_text="接受省内其他城市车辆预约").click()
    check(desk, "plan-dialog")
    dialog.get_by_role("button", name="报备").click()
    row = page.get_by_role("row").filter(has_text=f"{monday:%Y-%m-%d} 至")
    expect(row).to_contain_text("待发布")
    expect(row).to_contain_text("09:00–11:30（20 个）、13:30–17:00（20 个）")
    check(desk, "plan-filed")
    row.get_by_role("button", name="发布").click()
    confirm(page, "发布")
    expect(row).to_contain_text("已发布")
    expect(row).to_contain_text("10 个时段")  # five weekdays, two times each
    check(desk, "plan-published")

    # A power cut: the station suspends service, saying why (its holders are told, VH-14).
    page.get_by_role("link", name="检验站与检验计划").first.click()
    row = page.get_by_role("row").filter(has_text=name)
    row.get_by_role("button", name="暂停/停止服务").click()
    dialog = page.get_by_role("dialog", name="检验站服务状态")
    expect(dialog.get_by_label("暂停服务")).to_be_checked()
    dialog.get_by_label("原因（将告知车主）").fill("停电检修")
    check(desk, "station-suspend")
    dialog.get_by_role("button", name="确认").click()
    expect(row).to_contain_text("暂停服务")
    expect(row).to_contain_text("停电检修")
    check(desk, "station-suspended")


def _sms_arrived(gw: httpx.Client, phone: str, timeout_s: float = 30) -> None:
    deadline = time.monotonic() + timeout_s
    while not gw.get("/api/v1/_test/sms", params={"phone": phone}).json()["items"]:
        assert time.monotonic() < deadline, f"no SMS to {phone} within {timeout_s:.0f} s"
        time.sleep(0.3)


def _next_monday(day: date) -> date:
    return day + timedelta(days=(7 - day.weekday()) % 7)


def test_nt01_the_sms_log_finds_a_phone_s_messages_masked(desk: Screen, gw: httpx.Client) -> None:
    phone = new_phone()
    sent = gw.post("/api/v1/auth/sms-codes", json={"phone": phone, "purpose": "register"})
    assert sent.status_code == 202, sent.text
    intake = staff("130100", ["clerk.intake"])
    sign_in(desk, intake)
    desk.page.get_by_role("navigation", name="业务菜单").get_by_role("link", name="短信发送记录").click()
    expect(desk.page.get_by_role("heading", name="短信发送记录")).to_be_visible()
    check(desk, "sms-log-failed")
    desk.page.get_by_label("手机号码（完整 11 位）").fill(phone)
    desk.page.get_by_role("combobox", name="发送状态").press("Enter")
    desk.page.get_by_role("option", name="全部状态").click()
    masked = f"{phone[:3]}****{phone[-4:]}"
    _sms_arrived(gw, phone)  # through identity's outbox, the broker and notify's worker
    desk.page.get_by_role("button", name="查询").click()
    row = desk.page.get_by_role("row").filter(has_text=masked)
    expect(row).to_contain_text("短信验证码")
    expect(desk.page.locator(".el-table")).not_to_contain_text(phone)  # only the masked number is shown
    check(desk, "sms-log-phone")


def test_pp11_a_reviewer_upholds_an_appeal_and_gives_the_chances_back(desk: Screen, gw: httpx.Client) -> None:
    office = f"139{secrets.randbelow(1000):03d}"
    office_with_open_segment(office)
    citizen = Person(new_resident_id(), new_phone(), channel="online", name="孙十二")
    accounts({}, [citizen])
    reviewer = staff(office, ["clerk.review"])

    # A citizen starts a pre-selection, gives it up, then appeals: the abandoned chances are wanted back.
    login = gw.post("/api/v1/auth/login", json={"username": citizen.id_number, "password": PASSWORD})
    assert login.status_code == 200, login.text
    headers = {"authorization": f"Bearer {login.json()['access_token']}"}
    today = datetime.now(SHANGHAI).date()
    vin = _vin()
    start = {
        "vin": vin,
        "vehicle_kind": "small_car",
        "invoice": {
            "number": "12345678",
            "code": "113001900111",
            "date": f"{today - timedelta(days=2):%Y-%m-%d}",
            "amount_fen": 15_800_000,
            "photo": JPEG,
        },
        "certificate_number": "WAC" + secrets.token_hex(6).upper(),
        "owner": {"id_kind": "resident_id", "id_number": citizen.id_number, "name": citizen.name},
        "residence_permit": {"number": "JZ" + secrets.token_hex(4), "valid_until": f"{today.year + 1}-12-31"},
        "office_code": office,
    }
    started = gw.post("/api/v1/plate-selections", json=start, headers=headers)
    assert started.status_code == 201, started.text
    selection = started.json()["id"]
    assert gw.delete(f"/api/v1/plate-selections/{selection}", headers=headers).status_code == 204
    reason = "误点了放弃，车辆尚未选号，请求恢复选号机会"
    url = f"/api/v1/plate-selections/{selection}"
    appealed = gw.post(f"{url}/appeals", json={"reason": reason}, headers=headers)
    assert appealed.status_code == 201, appealed.text

    # The reviewer of the office finds it in the queue and upholds it, with the reason the citizen is told.
    sign_in(desk, reviewer)
    page = desk.page
    page.get_by_role("navigation", name="业务菜单").get_by_role("link", name="预选号牌申诉").click()
    row = page.get_by_role("row").filter(has_text=vin)
    expect(row).to_contain_text(reason)
    expect(row).to_contain_text("已放弃")
    expect(row).to_contain_text(f"{citizen.phone[:3]}****{citizen.phone[-4:]}")
    check(desk, "appeals-filed")
    row.get_by_role("button", name="处理").click()
    dialog = page.get_by_role("dialog", name="处理申诉")
    restore_number = dialog.get_by_label("恢复原预选号码（重新计算 3 个工作日的登记时限）")
    expect(restore_number).to_be_disabled()  # the abandoned selection never had a number
    submit = dialog.get_by_role("button", name="提交处理结果")
    expect(submit).to_be_disabled()  # a decision gives its reason
    note = "经核实系误操作，恢复选号机会"
    dialog.get_by_label("处理意见（将告知申诉人，至少 2 个字）").fill(note)
    check(desk, "appeal-decision")
    submit.click()
    expect(page.get_by_text("已支持申诉：恢复选号机会")).to_be_visible()
    expect(page.get_by_role("row").filter(has_text=vin)).to_have_count(0)  # no longer awaiting a decision
    page.get_by_text("已支持", exact=True).click()
    row = page.get_by_role("row").filter(has_text=vin)
    expect(row).to_contain_text("恢复选号机会")
    expect(row).to_contain_text(note)
    check(desk, "appeals-upheld")

    # PP-11: the chances are back: a new session with the office's counts.
    mine = gw.get(url, headers=headers).json()
    assert (mine["state"], mine["custom_attempts_left"], mine["random_draws_left"]) == (
        "session_expired",
        20,
        10,
    )


JPEG = base64.b64encode(b"\xff\xd8\xff\xe0" + b"0" * 64).decode()


def _vin() -> str:
    """A VIN with a valid check digit (GB 16735), unique to the test."""
    body = "LSV" + "".join(secrets.choice("0123456789ABCDEFGHJKLMNPRSTUVWXYZ") for _ in range(14))
    return body[:8] + vin_check_digit(body) + body[9:]
