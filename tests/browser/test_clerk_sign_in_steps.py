"""The console's staff sign-in steps (ADR 0091, 0092): a wrong code is refused in plain Chinese, a code
once used is refused again, and a 90-day-old password is replaced before the workbench opens."""

from __future__ import annotations

import asyncio
import re
import secrets
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta

import httpx
from playwright.sync_api import expect
from sqlalchemy import update

from identity_service.service import SPEC as IDENTITY
from identity_service.tables import accounts as accounts_table
from servicekit.runtime import Runtime
from tests.e2e.stack import PASSWORD, login

from .conftest import REASONS, Screen, accounts, console_sign_in, pass_second_factor, press_sign_in


def _age_password(username: str, days: int) -> None:
    """The clerk's password as if set `days` ago (on another thread: Playwright's loop owns this one)."""

    async def age() -> None:
        runtime = Runtime.open(IDENTITY.settings(), IDENTITY.metadata)
        try:
            async with runtime.uow() as uow:
                await uow.session.execute(
                    update(accounts_table)
                    .where(accounts_table.c.username == username)
                    .values(password_changed_at=uow.now - timedelta(days=days))
                )
                await uow.commit()
        finally:
            await runtime.aclose()

    with ThreadPoolExecutor(max_workers=1) as pool:
        pool.submit(asyncio.run, age()).result()


def _password_step(desk: Screen, username: str, password: str = PASSWORD) -> None:
    desk.open("/console/login")
    desk.page.get_by_label("警员编号").fill(username)
    desk.page.get_by_label("密码").fill(password)
    press_sign_in(desk.page)


def test_mlps_console_refuses_a_wrong_code_then_signs_in_with_the_right_one(desk: Screen) -> None:
    names = accounts({"intake": ["clerk.intake"]}, [])
    console_sign_in(desk, names["intake"])  # enrols
    desk.page.get_by_role("button", name="退出").click()
    expect(desk.page).to_have_url(re.compile(r"/console/login"))
    _password_step(desk, names["intake"])
    page = desk.page
    expect(page.get_by_role("heading", name="输入动态验证码")).to_be_visible()
    desk.check("code")
    page.get_by_label("动态验证码").fill("000000")
    page.get_by_role("button", name="验证并登录").click()
    expect(page.get_by_role("alert")).to_contain_text(REASONS["INVALID_SECOND_FACTOR"])
    pass_second_factor(desk, names["intake"])
    expect(page.get_by_role("heading", name="工作台")).to_be_visible()


def test_mlps_console_asks_a_new_password_when_the_old_one_is_ninety_days_old(desk: Screen) -> None:
    names = accounts({"review": ["clerk.review"]}, [])
    console_sign_in(desk, names["review"])
    desk.page.get_by_role("button", name="退出").click()
    _age_password(names["review"], 90)
    _password_step(desk, names["review"])
    pass_second_factor(desk, names["review"])
    page = desk.page
    expect(page.get_by_role("heading", name="密码已到期，请设置新密码")).to_be_visible()
    desk.check("new password")
    page.get_by_label("新密码", exact=True).fill("Fresh2027pass")
    page.get_by_label("再次输入新密码").fill("Fresh2027pasz")
    page.get_by_role("button", name="设置新密码并登录").click()
    expect(page.get_by_role("alert")).to_contain_text("两次输入的新密码不一致")
    page.get_by_label("新密码", exact=True).fill(PASSWORD)
    page.get_by_label("再次输入新密码").fill(PASSWORD)
    page.get_by_role("button", name="设置新密码并登录").click()
    expect(page.get_by_role("alert")).to_contain_text(REASONS["PASSWORD_REUSED"])
    page.get_by_label("新密码", exact=True).fill("Fresh2027pass")
    page.get_by_label("再次输入新密码").fill("Fresh2027pass")
    page.get_by_role("button", name="设置新密码并登录").click()
    expect(page.get_by_role("heading", name="工作台")).to_be_visible()


def test_mlps_an_admin_resets_a_clerks_second_factor_in_the_console(desk: Screen, gw: httpx.Client) -> None:
    # An office of its own: 130100's list holds every clerk the other tests made (hundreds of rows), and
    # there, under CI's load, the confirmation's button was once found covered by the table.
    office = f"139{secrets.randbelow(1000):03d}"
    names = accounts({"admin": ["clerk.admin"], "intake": ["clerk.intake"]}, [], office=office)
    login(gw, names["intake"])  # the clerk has enrolled
    console_sign_in(desk, names["admin"])
    page = desk.page
    page.get_by_role("navigation", name="业务菜单").get_by_role("link", name="民警账号").click()
    expect(page.get_by_role("heading", name="民警账号")).to_be_visible()
    clerk_row = page.get_by_role("row").filter(has_text=names["intake"])
    expect(clerk_row).to_contain_text("已绑定")
    expect(page.get_by_role("row").filter(has_text=names["admin"])).to_contain_text("本人")
    desk.check("staff")
    clerk_row.get_by_role("button", name=re.compile("重置")).click()
    dialog = page.get_by_role("dialog")
    expect(dialog).to_contain_text("下次登录时须重新绑定身份验证器")
    dialog.get_by_role("button", name="重置").click()
    expect(clerk_row).to_contain_text("未绑定")
    page.get_by_role("button", name="退出").click()
    _password_step(desk, names["intake"])
    expect(page.get_by_role("heading", name="绑定身份验证器")).to_be_visible()
    pass_second_factor(desk, names["intake"])
    expect(page.get_by_role("heading", name="工作台")).to_be_visible()
