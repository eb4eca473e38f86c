"""A citizen binds the car registered in their name, books its safety inspection on a station's calendar
(VH-13, VH-14), reads the message the booking sends to the app's inbox (NT-01) and cancels before the day.

The car is registered at the counter by an intake clerk and the station and its plan are filed and
published by the office's admin, all through the gateway; identity learns the car from vehicle's event, and
vehicle learns the binding from identity's, through the workers of the stack (ADR 0044).
"""

from __future__ import annotations

import asyncio
import re
import secrets
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from datetime import date, datetime, timedelta
from typing import Any

import httpx
from playwright.sync_api import expect
from sqlalchemy import Select, select

from identity_service.demo import ensure_account
from identity_service.service import SPEC as IDENTITY
from identity_service.tables import person_records
from servicekit.clock import SHANGHAI
from servicekit.runtime import Runtime
from servicekit.service import ServiceSpec
from servicekit.testing import new_phone, new_resident_id
from servicekit.validators import vin_check_digit
from tests.e2e.stack import PASSWORD, Person, login
from vehicle_service.service import SPEC as VEHICLE
from vehicle_service.tables import vehicle_bindings

from .conftest import Screen, accounts, press_sign_in

CHINESE_WEEKDAYS = "一二三四五六日"


def _vin() -> str:
    body = "L" + "".join(secrets.choice("ABCDEFGHJKLMNPRSTUVWXYZ0123456789") for _ in range(16))
    return body[:8] + vin_check_digit(body[:8] + "0" + body[9:]) + body[9:]


def _plate(city_letter: str | None = None) -> str:
    letters = "ABCDEFGHJKLMNPQRSTUVWXYZ"
    first = city_letter or secrets.choice(letters)
    return "冀" + first + "".join(secrets.choice(letters + "0123456789") for _ in range(5))


def _intake_clerk_of(office: str) -> str:
    """An intake clerk of another office than make_accounts' 130100: the car is registered in Cangzhou, so
    that its city's stations are this test's alone (the test database keeps other tests' stations)."""

    async def make() -> str:
        runtime = Runtime.open(IDENTITY.settings(), IDENTITY.metadata)
        username = "E2EINT" + secrets.token_hex(4)
        try:
            async with runtime.uow() as uow:
                await ensure_account(
                    uow.session,
                    category="staff",
                    kind="staff",
                    name="intake clerk",
                    password=PASSWORD,
                    roles=["clerk.intake"],
                    now=uow.now,
                    username=username,
                    office=office,
                )
                await uow.commit()
        finally:
            await runtime.aclose()
        return username

    with ThreadPoolExecutor(max_workers=1) as pool:
        return pool.submit(asyncio.run, make()).result()


def settled(screen: Screen) -> Screen:
    """The screen once its transitions (a dialog fading in, a toast) have ended: axe measures contrast on
    what is drawn, and half-faded text is not what a person reads."""
    screen.page.wait_for_function(
        """() => document.getAnimations().every(
            a => a.playState !== 'running' || a.effect?.getTiming().iterations === Infinity)"""
    )
    return screen


def _until(spec: ServiceSpec, query: Callable[[], Select[Any]], what: str, timeout_s: float = 30) -> None:
    """Wait until `query` finds a row in the service's database: what a worker does after an event. Run on
    another thread: Playwright's sync API keeps an event loop on this one."""

    async def poll() -> None:
        runtime = Runtime.open(spec.settings(), spec.metadata)
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout_s
        try:
            while True:
                async with runtime.engine.connect() as conn:
                    if (await conn.execute(query())).first() is not None:
                        return
                if loop.time() > deadline:
                    raise AssertionError(f"not within {timeout_s:.0f} s: {what}")
                await asyncio.sleep(0.1)
        finally:
            await runtime.aclose()

    with ThreadPoolExecutor(max_workers=1) as pool:
        pool.submit(asyncio.run, poll()).result()


def _station_with_a_published_plan(
    gw: httpx.Client, admin: dict[str, str], first_day: date
) -> dict[str, Any]:
    """VH-14: the office files a station of Shijiazhuang (130100) and a two-week plan, and publishes it."""
    r = gw.post(
        "/api/v1/inspection-stations",
        headers=admin,
        json={
            "name": f"沧州市运河机动车检测站{secrets.token_hex(2).upper()}",
            "address": "沧州市运河区解放西路100号",
            "city_code": "130900",
            "vehicle_kinds": ["small_car"],
            "brake_kinds": ["hydraulic"],
        },
    )
    assert r.status_code == 201, r.text
    station: dict[str, Any] = r.json()
    r = gw.post(
        f"/api/v1/inspection-stations/{station['id']}/plans",
        headers=admin,
        json={
            "first_day": first_day.isoformat(),
            "last_day": (first_day + timedelta(days=13)).isoformat(),
            "times": [
                {"start": "09:00", "end": "10:30", "capacity": 3},
                {"start": "14:00", "end": "15:30", "capacity": 3},
            ],
        },
    )
    assert r.status_code == 201, r.text
    r = gw.post(f"/api/v1/inspection-plans/{r.json()['id']}/publication", headers=admin)
    assert r.status_code == 200, r.text
    assert r.json()["slots"] == 28
    return station


def test_vh13_citizen_binds_the_car_books_on_the_station_calendar_reads_the_message_and_cancels(
    phone: Screen, gw: httpx.Client
) -> None:
    person = Person(new_resident_id(), new_phone(), channel="online", name="孙十二")
    names = accounts({"admin": ["clerk.admin"]}, [person])
    intake = _intake_clerk_of("130900")
    today = datetime.now(SHANGHAI).date()
    tomorrow = today + timedelta(days=1)
    plate = _plate("J")

    # VH-15: the car registered in the citizen's name; its inspection ends in 40 days, so booking is open.
    r = gw.post(
        "/api/v1/vehicles",
        headers=login(gw, intake),
        json={
            "plate_number": plate,
            "vin": _vin(),
            "owner": {"id_kind": "resident_id", "id_number": person.id_number, "name": person.name},
            "phone": person.phone,
            "inspection_valid_until": (today + timedelta(days=40)).isoformat(),
        },
    )
    assert r.status_code == 201, r.text
    vehicle = r.json()
    station = _station_with_a_published_plan(gw, login(gw, names["admin"]), tomorrow)
    _until(
        IDENTITY,
        lambda: select(person_records.c.ref).where(
            person_records.c.record_kind == "vehicle", person_records.c.ref == vehicle["id"]
        ),
        "identity records the new car (vehicle.vehicle.registered.v1)",
    )

    page = phone.page
    phone.open("/login")
    page.get_by_label("账号").fill(person.id_number)
    page.get_by_label("密码").fill("Passw0rd2027")
    press_sign_in(page)
    expect(page.get_by_text(f"您好，{person.name}")).to_be_visible()
    for tile in ("我的机动车", "绑定管理", "检验预约"):  # ID-07: what an online owner/driver may do
        expect(page.get_by_text(tile, exact=True)).to_be_visible()
    settled(phone).check("home")

    # ID-12: the car is the citizen's own, not yet bound; they bind it online.
    page.get_by_text("绑定管理", exact=True).click()
    expect(page.get_by_role("heading", name="本人名下的机动车")).to_be_visible()
    row = page.locator("li", has_text=plate)
    expect(row.get_by_text("未绑定")).to_be_visible()
    expect(page.get_by_text("未查询到您名下的机动车驾驶证")).to_be_visible()
    settled(phone).check("bindings-unbound")
    row.get_by_role("button", name=f"绑定 {plate}").click()
    expect(row.get_by_text("已绑定")).to_be_visible()
    expect(row.get_by_role("button", name=f"解绑 {plate}")).to_be_visible()
    settled(phone).check("bindings-bound")
    account_id = gw.get("/api/v1/users/me", headers=login(gw, person.id_number)).json()["id"]
    _until(
        VEHICLE,
        lambda: select(vehicle_bindings.c.binding_id).where(
            vehicle_bindings.c.vehicle_ref == vehicle["id"],
            vehicle_bindings.c.account_id == account_id,
            vehicle_bindings.c.ended_at.is_(None),
        ),
        "vehicle learns the binding (identity.binding.created.v1)",
    )

    # VH-01: the car among the citizen's vehicles, with its state; from its page to the booking.
    row.get_by_role("link", name=plate).click()
    expect(page.get_by_role("heading", name=plate)).to_be_visible()
    expect(page.get_by_text("已绑定本账号")).to_be_visible()
    expect(page.get_by_text("正常", exact=True)).to_be_visible()
    settled(phone).check("vehicle")
    page.get_by_role("button", name="预约检验").click()

    # VH-13 / VH-14: the car is chosen, the station of its city, then a day with places on the calendar.
    expect(page.get_by_role("radio", name=re.compile(plate))).to_be_checked()
    page.get_by_role("radio", name=re.compile(station["name"])).click()
    weekday = CHINESE_WEEKDAYS[tomorrow.weekday()]
    day_name = rf"^{tomorrow.month}月\s*{tomorrow.day}\s*日\s*星期{weekday}，\s*余6\s*个名额$"
    day = page.get_by_role("button", name=re.compile(day_name))
    expect(day).to_be_visible()
    expect(page.get_by_role("button", name=re.compile(r"余\d+\s*个名额"))).to_have_count(14)
    settled(phone).check("station-calendar")
    day.click()
    expect(day).to_have_attribute("aria-pressed", "true")
    page.get_by_role("radio", name=re.compile("09:00–10:30")).click()
    expect(page.get_by_role("heading", name="5. 确认预约")).to_be_visible()
    settled(phone).check("confirm")
    page.get_by_role("button", name="确认预约").click()

    expect(page).to_have_url(re.compile(r"/inspection\?booked="))
    card = page.locator("li", has_text=plate)
    expect(card.get_by_text("已预约")).to_be_visible()
    expect(card.get_by_text(station["name"])).to_be_visible()
    expect(card.get_by_text(re.compile("09:00"))).to_be_visible()
    settled(phone).check("booked")
    citizen = login(gw, person.id_number)
    (booking,) = gw.get("/api/v1/inspection-bookings", headers=citizen).json()
    assert (booking["vehicle_id"], booking["station_id"], booking["state"]) == (
        vehicle["id"],
        station["id"],
        "booked",
    )
    slot_start = datetime.fromisoformat(booking["starts_at"]).astimezone(SHANGHAI)
    assert (slot_start.date(), slot_start.hour) == (tomorrow, 9)

    # NT-01: notify keeps the booking's message in the holder's inbox (the event names the account).
    _until_message(gw, citizen)
    phone.open("/")
    page.get_by_role("tab", name="消息").click()
    expect(page.get_by_text(re.compile(r"未读消息\s*1\s*条"))).to_be_visible()
    message = page.get_by_role("link", name=re.compile("预约成功"))
    expect(message).to_contain_text(plate)
    settled(phone).check("messages-unread")
    message.click()
    expect(page.get_by_role("heading", name="预约成功")).to_be_visible()
    expect(page.locator("article")).to_contain_text(f"您已成功预约机动车安全技术检验（{plate}）")
    settled(phone).check("message")
    assert gw.get("/api/v1/messages/unread-count", headers=citizen).json() == {"unread": 0}

    # VH-13: cancelled before the inspection day; the place goes back to the slot.
    page.get_by_role("button", name="查看我的检验预约").click()
    page.locator("li", has_text=plate).get_by_role("button", name="取消预约").click()
    dialog = page.get_by_role("dialog")
    expect(dialog).to_contain_text("取消后名额将释放给他人")
    settled(phone).check("cancel-dialog")
    dialog.get_by_role("button", name="取消预约").click()
    expect(page.locator("li", has_text=plate).get_by_text("已取消")).to_be_visible()
    settled(phone).check("cancelled")
    slots = gw.get(
        "/api/v1/inspection-slots",
        params={
            "station_id": station["id"],
            "day_from": tomorrow.isoformat(),
            "day_to": tomorrow.isoformat(),
        },
        headers=citizen,
    ).json()
    assert [s["available"] for s in slots] == [3, 3]


def _until_message(gw: httpx.Client, headers: dict[str, str], timeout_s: float = 30) -> None:
    """The booking's message reaches the inbox through vehicle's relay and notify's consumer."""
    deadline = time.monotonic() + timeout_s
    while gw.get("/api/v1/messages/unread-count", headers=headers).json()["unread"] == 0:
        assert time.monotonic() < deadline, "the booking's message did not reach the inbox"
        time.sleep(0.2)  # polling the inbox, not waiting out a deadline
