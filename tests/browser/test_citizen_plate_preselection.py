"""A citizen registers through the app and pre-selects a number plate to the certificate, step by step as
seed 000 describes it (PP-01..PP-10, PP-13): the segments and their pools, a custom verify refused and one
held for 180 seconds and let lapse, random draws of five, a redraw that waits in line, the choice, the
30-minute SMS step, and the certificate to print or download.

The office, its segment and its settings are set up as the police would: the office's admin plans the
segment and sets the office's windows, the superior office's admin approves it, the office publishes it
three working days before it opens (PP-10), all through the API. Only what no API does is written directly:
the office's row naming its superior office, and the two admins' accounts. The platform clock moves through
the test endpoint (a Monday in November 2026 for the publication, the opening Thursday for the selection).
"""

from __future__ import annotations

import asyncio
import base64
import re
import secrets
import struct
import time
import zlib
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime, timedelta
from typing import Any, TypeVar

import httpx
import pytest
from playwright.sync_api import expect
from sqlalchemy import delete

from identity_service.demo import ensure_account
from identity_service.service import SPEC as IDENTITY
from plate_pool_service.context import context_for
from plate_pool_service.domain import SEED_SETTINGS
from plate_pool_service.segments import save_office_settings
from plate_pool_service.service import SPEC as PLATE_POOL
from plate_pool_service.tables import allocations, segments, selections
from servicekit.clock import SHANGHAI
from servicekit.runtime import Runtime
from servicekit.testing import new_phone, new_resident_id
from servicekit.validators import vin_check_digit
from tests.e2e.stack import PASSWORD, Person, login

from .conftest import Screen, accounts, press_sign_in

T = TypeVar("T")
SUPERIOR = "130000"
PUBLISH_AT = datetime(2026, 11, 2, 9, 0, tzinfo=SHANGHAI)  # a Monday
OPENS_AT = datetime(2026, 11, 5, 8, 0, tzinfo=SHANGHAI)  # three working days on (PP-10)
SELECT_AT = datetime(2026, 11, 5, 10, 0, tzinfo=SHANGHAI)  # inside the seed's 08:00-23:00 (PP-04)
TIMEOUT_S = 30.0


def _off_the_page_loop(fn: Callable[[], T]) -> T:
    """Playwright's sync API keeps an event loop on this thread: async setup runs on another."""
    with ThreadPoolExecutor(max_workers=1) as pool:
        return pool.submit(fn).result()


def _eventually(check: Callable[[], T | None], what: str) -> T:
    deadline = time.monotonic() + TIMEOUT_S
    while (found := check()) is None:
        if time.monotonic() > deadline:
            raise AssertionError(f"not within {TIMEOUT_S:.0f} s: {what}")
        time.sleep(0.3)
    return found


def _ok(r: httpx.Response, status: int = 200) -> dict[str, Any]:
    assert r.status_code == status, r.text
    body: dict[str, Any] = r.json()
    return body


def _set_clock(gw: httpx.Client, moment: datetime) -> None:
    _ok(gw.post("/api/v1/_test/clock", json={"now": moment.isoformat()}))


def _vin() -> str:
    body = "LFV" + "".join(secrets.choice("ABCDEFGHJKLMNPRSTUVWXYZ0123456789") for _ in range(14))
    return body[:8] + vin_check_digit(body[:8] + "0" + body[9:]) + body[9:]


def _png(width: int = 120, height: int = 80) -> bytes:
    """A small real PNG (a pale invoice-coloured rectangle) for the invoice photo."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    rows = b"".join(b"\x00" + bytes((250, 240, 220)) * width for _ in range(height))
    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    body = chunk(b"IHDR", header) + chunk(b"IDAT", zlib.compress(rows)) + chunk(b"IEND", b"")
    return b"\x89PNG\r\n\x1a\n" + body


def _admins(office: str) -> dict[str, str]:
    """The office's admin and its superior office's admin (identity's accounts, as its demo makes them)."""

    async def make() -> dict[str, str]:
        names = {"office": f"E2EPP{secrets.token_hex(4)}", "superior": f"E2EPS{secrets.token_hex(4)}"}
        runtime = Runtime.open(IDENTITY.settings(), IDENTITY.metadata)
        try:
            async with runtime.uow() as uow:
                for post, at in (("office", office), ("superior", SUPERIOR)):
                    await ensure_account(
                        uow.session,
                        category="staff",
                        kind="staff",
                        name=f"{post} admin",
                        password=PASSWORD,
                        roles=["clerk.admin"],
                        now=uow.now,
                        username=names[post],
                        office=at,
                    )
                await uow.commit()
        finally:
            await runtime.aclose()
        return names

    return _off_the_page_loop(lambda: asyncio.run(make()))


def _office_row(office: str, name: str) -> None:
    """The office and the superior office that approves its segments (no API names a superior)."""

    async def save() -> None:
        runtime = Runtime.open(PLATE_POOL.settings(), PLATE_POOL.metadata)
        try:
            await save_office_settings(runtime, office, SEED_SETTINGS, superior=SUPERIOR, name=name)
        finally:
            await runtime.aclose()

    _off_the_page_loop(lambda: asyncio.run(save()))


def _hot(segment_id: str, change: Callable[[Any], Any]) -> Any:
    """Run `change(redis)` on plate-pool's hot state (the stack's Redis)."""

    async def run() -> Any:
        runtime = Runtime.open(PLATE_POOL.settings(), PLATE_POOL.metadata)
        try:
            return await change((runtime.redis, context_for(runtime).hot.seg_key(segment_id, "n")))
        finally:
            await runtime.aclose()

    return _off_the_page_loop(lambda: asyncio.run(run()))


def _forget(office: str) -> None:
    """Leave nothing of the office for the sweeps of later runs to walk through."""

    async def remove() -> None:
        runtime = Runtime.open(PLATE_POOL.settings(), PLATE_POOL.metadata)
        try:
            async with runtime.engine.begin() as conn:
                for table in (allocations, selections, segments):
                    await conn.execute(delete(table).where(table.c.office_code == office))
        finally:
            await runtime.aclose()

    _off_the_page_loop(lambda: asyncio.run(remove()))


def publish_segment(gw: httpx.Client, office: str, name: str) -> dict[str, Any]:
    """PP-10 through the API: planned by the office, approved by its superior, published 3 working days
    before it opens; PP-06a: the office's windows set by its admin."""
    _office_row(office, name)
    admins = _admins(office)
    admin, superior = login(gw, admins["office"]), login(gw, admins["superior"])
    _set_clock(gw, PUBLISH_AT)
    settings = _ok(
        gw.put(
            f"/api/v1/plate-segments/offices/{office}/settings",
            json={"opens_at": "08:00", "closes_at": "23:00", "hold_seconds": 180, "sms_minutes": 30},
            headers=admin,
        )
    )
    assert (settings["custom_attempts"], settings["random_draws"], settings["draw_size"]) == (20, 10, 5)
    planned = _ok(
        gw.post(
            "/api/v1/plate-segments",
            json={
                "office_code": office,
                "prefix": "冀A",
                "pattern": "*####",
                "custom_patterns": ["*####"],
                "opens_at": OPENS_AT.isoformat(),
            },
            headers=admin,
        ),
        201,
    )
    assert planned["state"] == "planned"
    url = f"/api/v1/plate-segments/{planned['id']}"
    assert _ok(gw.post(f"{url}/approval", headers=superior))["state"] == "approved"
    published = _ok(gw.post(f"{url}/publication", headers=admin))
    assert published["statistics"]["available"] == 240_000
    return published


def _sms(gw: httpx.Client, phone: str, after: set[str]) -> str:
    """The code in the newest message to `phone` that is not one of `after` (the local SMS sink)."""

    def newest() -> str | None:
        items = _ok(gw.get("/api/v1/_test/sms", params={"phone": phone}))["items"]
        fresh = sorted((m for m in items if m["id"] not in after), key=lambda m: m["created_at"])
        found = re.search(r"\d{6}", fresh[-1]["body"]) if fresh else None
        return found.group(0) if found else None

    return _eventually(newest, f"an SMS code to {phone}")


def _sms_ids(gw: httpx.Client, phone: str) -> set[str]:
    return {m["id"] for m in _ok(gw.get("/api/v1/_test/sms", params={"phone": phone}))["items"]}


@pytest.fixture
def office(gw: httpx.Client) -> Iterator[str]:
    code = "13" + f"{secrets.randbelow(100):02d}" + f"{secrets.randbelow(100):02d}"
    try:
        yield code
    finally:
        gw.delete("/api/v1/_test/clock")
        _forget(code)


def _confirm_dialog(screen: Screen) -> None:
    dialog = screen.page.get_by_role("dialog")
    dialog.get_by_role("button", name="确认").click()
    expect(dialog).to_be_hidden()


def register(phone_screen: Screen, gw: httpx.Client, id_number: str, name: str, mobile: str) -> None:
    """ID-01/ID-05: online registration as a new-car owner, with the code sent to the phone."""
    page = phone_screen.page
    phone_screen.open("/register")
    page.get_by_label("姓名").fill(name)
    page.get_by_label("身份证号码").fill(id_number)
    page.get_by_role("radio", name="新车车主（选号）").click()
    page.get_by_label("手机号").fill(mobile)
    before = _sms_ids(gw, mobile)
    page.get_by_role("button", name="获取验证码").click()
    page.get_by_label("短信验证码").fill(_sms(gw, mobile, before))
    page.get_by_label("密码").fill(PASSWORD)
    expect(page.locator(".van-toast")).to_be_hidden()  # "验证码已发送" fades before the screenshot
    phone_screen.check("register")
    page.get_by_role("button", name="注册", exact=True).click()
    expect(page.get_by_text(f"您好，{name}")).to_be_visible()
    expect(page.locator(".van-toast")).to_be_hidden()  # "注册成功" fades before the next screenshot


def test_pp01_to_pp08_a_citizen_registers_and_pre_selects_a_plate_to_the_certificate(
    phone: Screen, gw: httpx.Client, office: str
) -> None:
    page = phone.page
    office_name = f"测试车管所{office}"
    segment = publish_segment(gw, office, office_name)
    _set_clock(gw, SELECT_AT)
    id_number, mobile, name = new_resident_id(office), new_phone(), "周预选"
    _ok(gw.post("/api/v1/_test/population", json={"id_number": id_number, "name": name}), 201)

    register(phone, gw, id_number, name, mobile)
    phone.check("home")
    page.get_by_text("号牌预选").click()
    expect(page.get_by_role("heading", name="办理须知")).to_be_visible()
    phone.check("plates home")

    # PP-10/PP-13: the published segment and its pool, office by office
    page.get_by_role("button", name="号段公示与号池统计").click()
    section = page.get_by_role("region", name=office_name)
    expect(section.get_by_text("冀AA0000 – 冀AZ9999")).to_be_visible()
    expect(section.get_by_text("240,000").first).to_be_visible()
    phone.check("segments and pools")
    page.go_back()

    # PP-01..PP-03: the car, the invoice and its photo, the owner
    page.get_by_role("button", name="开始选号").click()
    page.get_by_role("radio", name=office_name).click()
    expect(page.get_by_text("每天 08:00–23:00 可选号")).to_be_visible()
    vin = _vin()
    page.get_by_label("身份证号码").fill(id_number)
    page.get_by_label("车辆识别代号").fill(vin)
    page.get_by_label("合格证编号").fill("WAC" + secrets.token_hex(5).upper())
    page.get_by_label("发票代码").fill("113002600111")
    page.get_by_label("发票号码").fill("26110301")
    page.get_by_label("开票日期").fill("2026-11-03")
    page.get_by_label("价税合计（元）").fill("158000")
    page.get_by_label("发票照片").set_input_files(
        {"name": "invoice.png", "mimeType": "image/png", "buffer": _png()}
    )
    page.get_by_role("checkbox").click()
    expect(page.get_by_role("img", name="已选择的发票照片")).to_be_visible()
    phone.check("start form")
    page.get_by_role("button", name="进入选号").click()
    expect(page).to_have_url(re.compile(r"/plates/selections/[0-9a-f-]{36}$"))
    selection_id = page.url.rsplit("/", 1)[1]
    citizen = login(gw, id_number)
    api = f"/api/v1/plate-selections/{selection_id}"
    expect(page.get_by_text("自编 20 次 · 随机 10 次")).to_be_visible()
    phone.check("selecting")

    # PP-05: a number the segment's custom patterns do not allow costs one attempt, and says why
    page.get_by_label("自编号码").fill("12345")
    page.get_by_role("button", name="验证").click()
    refusal = page.get_by_role("alert")
    expect(refusal).to_contain_text("（PP-05）")
    expect(refusal).to_contain_text("剩余自编机会 19 次")
    assert _ok(gw.get(api, headers=citizen))["custom_attempts_left"] == 19
    phone.check("custom verify refused")

    # PP-05: a free number is held for 180 s and no custom attempt is left
    page.get_by_label("自编号码").fill("K2027")
    page.get_by_role("button", name="验证").click()
    expect(page.get_by_role("heading", name="验证成功，号码已为您保留")).to_be_visible()
    hold = page.get_by_role("region", name="验证成功，号码已为您保留")
    expect(hold.get_by_role("timer")).to_have_text(re.compile(r"^[23]:\d\d$"))
    held = _ok(gw.get(api, headers=citizen))
    assert (held["held_numbers"], held["custom_attempts_left"]) == (["冀AK2027"], 0)
    phone.check("custom number held")

    # ... and not confirmed within the 180 s: the number goes back, only random selection remains
    _set_clock(gw, datetime.fromisoformat(held["held_until"]) - timedelta(seconds=3))
    page.reload()
    expect(page.get_by_role("status").filter(has_text="号码保留时间（180 秒）已到")).to_be_visible()
    expect(page.get_by_role("heading", name="验证成功，号码已为您保留")).to_have_count(0)
    assert "held_numbers" not in _ok(gw.get(api, headers=citizen))
    phone.check("custom hold lapsed")

    # PP-06: five numbers held for 180 s
    page.get_by_role("tab", name="随机选号").click()
    page.get_by_role("button", name="随机选号", exact=True).click()
    expect(page.get_by_role("heading", name="随机选出的号码")).to_be_visible()
    first_five = _ok(gw.get(api, headers=citizen))["held_numbers"]
    assert len(first_five) == 5
    expect(page.get_by_role("radio", name=first_five[0])).to_be_visible()
    phone.check("random five held")

    # PP-10: the redraw finds too few numbers free (every other number held, as in a rush: the pool's
    # count is set to nothing for the moment) and waits in line; once numbers are free again it draws
    available = _hot(segment["id"], lambda rk: rk[0].getset(rk[1], 0))
    try:
        page.get_by_role("button", name=re.compile(r"放弃重选")).click()
        _confirm_dialog(phone)
        queue = page.get_by_role("status").filter(has_text="号池繁忙，正在排队")
        expect(queue).to_be_visible()
        expect(queue).to_contain_text("您排在第 1 位")
        phone.check("waiting in line")
    finally:
        _hot(segment["id"], lambda rk: rk[0].set(rk[1], int(available)))
    expect(queue).to_have_count(0, timeout=TIMEOUT_S * 1000)

    def admitted() -> dict[str, Any] | None:
        now = _ok(gw.get(api, headers=citizen))
        return now if now["random_draws_left"] == 8 else None

    redrawn = _eventually(admitted, "the redraw, once admitted")
    assert len(redrawn["held_numbers"]) == 5
    assert set(redrawn["held_numbers"]) != set(first_five)
    expect(page.get_by_role("radio", name=redrawn["held_numbers"][0])).to_be_visible()

    # PP-06/PP-07: the choice, then 30 minutes to confirm by SMS
    chosen = redrawn["held_numbers"][1]
    page.get_by_role("radio", name=chosen).click()
    page.get_by_role("button", name=f"确认选号 {chosen}").click()
    _confirm_dialog(phone)
    expect(page.get_by_role("heading", name="短信验证")).to_be_visible()
    expect(page.get_by_role("timer")).to_have_text(re.compile(r"^(30:00|29:\d\d)$"))
    assert _ok(gw.get(api, headers=citizen))["state"] == "awaiting_sms"
    phone.check("sms step")

    before = _sms_ids(gw, mobile)
    page.get_by_role("button", name="获取验证码").click()
    code = _sms(gw, mobile, before)
    page.get_by_label("短信验证码").fill(f"{(int(code) + 1) % 1_000_000:06d}")
    page.get_by_role("button", name="确认", exact=True).click()
    expect(page.get_by_role("alert")).to_contain_text("短信验证码不正确")
    phone.check("sms code refused")
    page.get_by_label("短信验证码").fill(code)
    page.get_by_role("button", name="确认", exact=True).click()

    # PP-08: the number is the citizen's; the certificate to print or save
    expect(page.get_by_role("heading", name="预选成功")).to_be_visible()
    done = _ok(gw.get(api, headers=citizen))
    assert (done["state"], done["plate_number"]) == ("selected", chosen)
    expect(page.get_by_text(done["voucher_number"])).to_be_visible()
    phone.check("selected")

    page.get_by_role("button", name="查看并打印预选号凭证").click()
    paper = page.get_by_role("article", name="机动车号牌预选号凭证")
    expect(paper.get_by_role("cell", name=vin)).to_be_visible()
    expect(paper.get_by_role("cell", name=done["voucher_number"])).to_be_visible()
    phone.check("certificate")
    page.emulate_media(media="print")
    phone.check("certificate as printed")
    page.emulate_media(media="screen")
    with page.expect_download() as download:
        page.get_by_role("button", name=re.compile(r"下载 PDF 凭证")).click()
    assert download.value.suggested_filename == f"预选号凭证-{chosen}.pdf"
    with open(download.value.path(), "rb") as pdf:
        assert pdf.read(4) == b"%PDF"

    phone.open("/plates")
    mine = page.get_by_role("button", name=re.compile(chosen))
    expect(mine).to_contain_text("预选成功")
    phone.check("my selections")


def test_pp04_pp11_a_session_runs_out_the_selection_is_abandoned_and_appealed(
    phone: Screen, gw: httpx.Client, office: str
) -> None:
    """At 360 px wide: the 60-minute session ends on the platform's clock (PP-04: the chances stay), the
    person abandons the selection (放弃) and appeals the outcome (PP-11)."""
    page = phone.page
    page.set_viewport_size({"width": 360, "height": 780})
    publish_segment(gw, office, f"测试车管所{office}")
    _set_clock(gw, SELECT_AT)
    person = Person(
        new_resident_id(office), new_phone(), kind="new_car_owner", channel="online", name="吴申诉"
    )
    accounts({}, [person])
    citizen = login(gw, person.id_number)
    started = _ok(
        gw.post(
            "/api/v1/plate-selections",
            json={
                "vin": _vin(),
                "vehicle_kind": "small_car",
                "invoice": {
                    "number": "26110302",
                    "code": "113002600111",
                    "date": "2026-11-04",
                    "amount_fen": 12_800_000,
                    "photo": base64.b64encode(_png()).decode(),
                },
                "certificate_number": "WAC" + secrets.token_hex(5).upper(),
                "owner": {"id_kind": "resident_id", "id_number": person.id_number, "name": person.name},
                "office_code": office,
            },
            headers=citizen,
        ),
        201,
    )
    api = f"/api/v1/plate-selections/{started['id']}"

    phone.open("/login")
    page.get_by_label("账号").fill(person.id_number)
    page.get_by_label("密码").fill(PASSWORD)
    press_sign_in(page)
    expect(page.get_by_text(f"您好，{person.name}")).to_be_visible()
    phone.open("/plates")
    page.get_by_role("button", name=re.compile("选号中")).click()
    # the list row shows the same chances: wait for the selection's own page before the reload
    expect(page).to_have_url(re.compile(rf"/plates/selections/{started['id']}$"))

    # PP-04: the session's end, counted on the platform's clock; the chances stay with the vehicle
    _set_clock(gw, datetime.fromisoformat(started["session_expires_at"]) - timedelta(seconds=3))
    page.reload()
    expect(page.get_by_role("heading", name="本次选号已结束")).to_be_visible(timeout=TIMEOUT_S * 1000)
    expect(page.get_by_text("您还有自编 20 次、随机 10 次机会")).to_be_visible()
    expect(page.get_by_role("button", name="重新进入选号")).to_be_visible()
    assert _ok(gw.get(api, headers=citizen))["state"] == "session_expired"
    phone.check("session ended")

    page.get_by_role("button", name="放弃选号").click()
    _confirm_dialog(phone)
    expect(page.get_by_text("您已放弃本次选号。")).to_be_visible()
    assert _ok(gw.get(api, headers=citizen))["state"] == "abandoned"
    phone.check("abandoned")

    # PP-11: the outcome appealed; a clerk decides (the console's part)
    page.get_by_label("申诉理由").fill("放弃时误操作，请恢复选号机会。")
    page.get_by_role("button", name="提交申诉").click()
    expect(page.get_by_text("申诉正在审核")).to_be_visible()
    appeals = _ok(gw.get(f"{api}/appeals", headers=citizen))["items"]
    assert [(a["state"], a["reason"]) for a in appeals] == [("filed", "放弃时误操作，请恢复选号机会。")]
    expect(page.get_by_role("button", name="提交申诉")).to_have_count(0)
    phone.check("appeal filed")
