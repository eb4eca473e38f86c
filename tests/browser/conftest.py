"""Browser tests: Playwright drives Debian's Chromium against the whole platform behind its gateway, the
built apps served by nginx as `make run` serves them. Every `Screen.check` keeps a screenshot under
var/test-artifacts/browser/ (CI keeps them) and runs axe-core on the page: a serious or critical WCAG 2.1
A/AA violation fails the test."""

from __future__ import annotations

import json
import os
import re
import shutil
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import ExitStack
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest
from playwright.sync_api import Browser, Page, Playwright, Response, expect, sync_playwright

from tests.e2e.stack import PASSWORD, Person, gateway_stack, make_accounts, remember_totp_secret, totp_code

ROOT = Path(__file__).resolve().parents[2]
WEB_DIST = ROOT / "web" / "dist"
AXE = ROOT / "web" / "node_modules" / "axe-core" / "axe.min.js"
ARTIFACTS = ROOT / "var" / "test-artifacts" / "browser"
# What the apps say for each problem code (web/packages/api/src/reasons.json): tests expect these
# sentences rather than copies of them.
REASONS: dict[str, str] = json.loads((ROOT / "web/packages/api/src/reasons.json").read_text(encoding="utf-8"))
SERVICES = ("vehicle", "license", "plate-pool", "violation", "notify")
WORKERS = ("identity", *SERVICES)
# True once every finite CSS animation and transition on the page has finished.
SETTLED = """() => document.getAnimations().every(
    (a) => a.playState !== 'running' || a.effect === null || a.effect.getComputedTiming().endTime === Infinity
)"""
PHONE = {"width": 390, "height": 844}
DESKTOP = {"width": 1366, "height": 900}


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Every test here needs the whole platform: `integration` keeps them out of `make test-unit` (a
    conftest's own `pytestmark` would mark nothing but the conftest)."""
    for item in items:
        if Path(item.path).parent == Path(__file__).parent:
            item.add_marker(pytest.mark.integration)
            item.add_marker(pytest.mark.browser)


def _unavailable(reason: str) -> None:
    # A developer without Chromium may skip; CI installs everything (`make test`), so there it fails.
    if os.environ.get("CI"):
        pytest.fail(f"browser tests cannot run: {reason}")
    pytest.skip(reason)


# One platform and one Playwright for all the browser tests, closed as soon as the last of them is done
# (the hook below), not at the end of the session: the platform's workers would compete with later tests
# for the test vhost's messages, and Playwright's sync API keeps an event loop running on this thread,
# which breaks every later asyncio.run.
_shared = ExitStack()
_opened: dict[str, Any] = {}


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_teardown(item: pytest.Item, nextitem: pytest.Item | None) -> Iterator[None]:
    yield
    if nextitem is None or Path(nextitem.path).parent != Path(__file__).parent:
        _shared.close()
        _opened.clear()


@pytest.fixture(scope="session")
def edge() -> str:
    """The platform's base URL with every service, every worker and the built apps."""
    if not (WEB_DIST / "citizen" / "index.html").exists():
        _unavailable("web/dist is not built (make web)")
    if "edge" not in _opened:
        _opened["edge"] = _shared.enter_context(
            gateway_stack(SERVICES, workers=WORKERS, web_root=WEB_DIST, start_timeout_s=300)
        )
    url: str = _opened["edge"]
    return url


@pytest.fixture(scope="session")
def chromium() -> Browser:
    executable = shutil.which("chromium")
    if executable is None:
        _unavailable("Debian's chromium is not installed (make browser)")
    if "chromium" not in _opened:
        browser = _launch(_shared.enter_context(sync_playwright()), executable)
        _shared.callback(browser.close)
        _opened["chromium"] = browser
    found: Browser = _opened["chromium"]
    return found


def _launch(pw: Playwright, executable: str | None) -> Browser:
    return pw.chromium.launch(executable_path=executable, headless=True, args=["--no-sandbox"])


@dataclass
class Screen:
    """One person's browser tab, with the checks every page gets."""

    page: Page
    edge: str
    name: str
    shots: list[Path] = field(default_factory=list)

    def open(self, path: str) -> None:
        self.page.goto(self.edge + path)

    def check(self, label: str) -> list[dict[str, Any]]:
        """Screenshot the page as it is now and assert axe-core finds no serious or critical violation."""
        self.page.wait_for_load_state("networkidle")
        # A toast fading in is translucent, and axe measures its contrast at that opacity: read the page
        # once its transitions have ended (a spinner's endless animation never does, so it is not waited on).
        self.page.wait_for_function(SETTLED)
        folder = ARTIFACTS / self.name
        folder.mkdir(parents=True, exist_ok=True)
        shot = folder / f"{len(self.shots) + 1:02d}-{re.sub(r'[^0-9A-Za-z_-]+', '-', label)}.png"
        self.page.screenshot(path=str(shot), full_page=True)
        self.shots.append(shot)
        violations = axe_violations(self.page)
        if violations:
            # A toast may have faded out while axe read the page (a read takes longer than a fade): read it
            # again once the page has settled. A violation of the page itself is still there then.
            self.page.wait_for_function(SETTLED)
            violations = axe_violations(self.page)
        assert not violations, f"{label}: axe-core found\n" + json.dumps(
            violations, ensure_ascii=False, indent=1
        )
        return violations


def axe_violations(page: Page) -> list[dict[str, Any]]:
    if not page.evaluate("typeof window.axe !== 'undefined'"):
        # Evaluated through the DevTools protocol, which the apps' CSP (script-src 'self') does not govern:
        # the page is tested under the policy it ships with.
        page.evaluate(AXE.read_text(encoding="utf-8") + "\n;undefined")
    result: dict[str, Any] = page.evaluate(
        """async () => await window.axe.run(document, {
            runOnly: { type: 'tag', values: ['wcag2a', 'wcag2aa', 'wcag21a', 'wcag21aa'] },
            resultTypes: ['violations'],
        })"""
    )
    return [
        {
            "id": v["id"],
            "impact": v["impact"],
            "help": v["help"],
            "targets": [n["target"] for n in v["nodes"][:5]],
        }
        for v in result["violations"]
        if v["impact"] in ("serious", "critical")
    ]


def _screen(
    chromium: Browser, edge: str, request: pytest.FixtureRequest, viewport: dict[str, int]
) -> Iterator[Screen]:
    context = chromium.new_context(viewport=viewport, locale="zh-CN", timezone_id="Asia/Shanghai")
    context.set_default_timeout(15_000)
    page = context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    yield Screen(page, edge, request.node.name)
    context.close()
    assert not errors, f"uncaught errors in the page: {errors}"


@pytest.fixture
def phone(chromium: Browser, edge: str, request: pytest.FixtureRequest) -> Iterator[Screen]:
    """The citizen app on a phone-sized screen."""
    yield from _screen(chromium, edge, request, PHONE)


@pytest.fixture
def desk(chromium: Browser, edge: str, request: pytest.FixtureRequest) -> Iterator[Screen]:
    """The console on a counter's desktop screen."""
    yield from _screen(chromium, edge, request, DESKTOP)


def pass_second_factor(screen: Screen, username: str, check: bool = False) -> None:
    """The console's steps after the password (ADR 0091): at the first sign-in the enrolment page (QR code
    and the secret as text, which the test reads as a clerk types it into an app), else the code page;
    the code is computed from the secret. `check`: screenshot and axe-check the step's page."""
    page = screen.page
    enrol = page.get_by_role("heading", name="绑定身份验证器")
    code = page.get_by_role("heading", name="输入动态验证码")
    expect(enrol.or_(code)).to_be_visible(timeout=15_000)
    if enrol.is_visible():
        expect(page.get_by_role("img", name="身份验证器绑定二维码")).to_be_visible()
        remember_totp_secret(username, page.get_by_test_id("totp-secret").inner_text().strip())
    if check:
        screen.check("second factor")
    page.get_by_label("动态验证码").fill(totp_code(username))
    page.get_by_role("button", name=re.compile("并登录")).click()


def press_sign_in(page: Page, tries: int = 4) -> None:
    """Presses 登录 and, on 操作过于频繁, waits as its Retry-After says and presses again, as a person
    would: every test signs in from 127.0.0.1, whose per-address budget (identity's login_rate_per_ip,
    real time) a fast run spends (the same as `sign_in_post` for the tests without a browser)."""
    for _ in range(tries):
        # As long as a sign-in may take on a busy machine (it hashes the password): test_quality's SIGN_IN_S.
        with page.expect_response(_is_password_step, timeout=30_000) as answer:
            page.get_by_role("button", name="登录").click()
        if answer.value.status != 429:
            return
        time.sleep(min(float(answer.value.headers.get("retry-after", "1")), 60.0))
    raise AssertionError(f"the sign-in was still refused as too frequent after {tries} tries")


def _is_password_step(response: Response) -> bool:
    return response.request.method == "POST" and response.url.endswith("/api/v1/auth/login")


def console_sign_in(screen: Screen, username: str, password: str = PASSWORD) -> None:
    """A clerk signs in to the console, password then second factor, and reaches the workbench."""
    screen.open("/console/login")
    screen.page.get_by_label("警员编号").fill(username)
    screen.page.get_by_label("密码").fill(password)
    press_sign_in(screen.page)
    pass_second_factor(screen, username)
    expect(screen.page.get_by_role("heading", name="工作台")).to_be_visible(timeout=15_000)


def accounts(staff: dict[str, list[str]], people: list[Person], office: str = "130100") -> dict[str, str]:
    """`make_accounts` from a test that has a page open: Playwright's sync API keeps an event loop running
    on this thread, so the accounts are made on another."""
    with ThreadPoolExecutor(max_workers=1) as pool:
        return pool.submit(make_accounts, staff, people, system=False, office=office).result()


@pytest.fixture
def gw(edge: str) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=edge, timeout=30) as client:
        yield client
