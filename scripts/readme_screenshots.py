"""The README's screenshots, taken from a running `make run` with the demo accounts:

    uv run python scripts/readme_screenshots.py [--edge http://127.0.0.1:8000]

Writes docs/img/citizen-*.png (a phone, 390 px) and docs/img/console-*.png (a desktop). Debian's chromium.
"""

from __future__ import annotations

import argparse
import shutil
from datetime import UTC, datetime
from pathlib import Path

from playwright.sync_api import Page, sync_playwright

from identity_service.demo import DEMO_TOTP_SECRET
from identity_service.domain import totp_code

ROOT = Path(__file__).resolve().parents[1]
OUT = ROOT / "docs" / "img"
PASSWORD = "Demo2027pass"  # noqa: S105 (the demo accounts' documented password, dev only)


def sign_in_citizen(page: Page, edge: str) -> None:
    page.goto(f"{edge}/login")
    page.get_by_label("账号").fill("130102199003071233")
    page.get_by_label("密码").fill(PASSWORD)
    page.get_by_role("button", name="登录").click()
    page.get_by_text("您好").wait_for()


def sign_in_clerk(page: Page, edge: str, username: str) -> None:
    page.goto(f"{edge}/console/login")
    page.get_by_label("警员编号").fill(username)
    page.get_by_label("密码").fill(PASSWORD)
    page.get_by_role("button", name="登录").click()
    # ADR 0091: the demo clerks' dev-only TOTP secret; `make run` starts with the platform clock unmoved.
    page.get_by_label("动态验证码").fill(totp_code(DEMO_TOTP_SECRET, datetime.now(UTC)))
    page.get_by_role("button", name="验证并登录").click()
    page.get_by_role("heading", name="工作台").wait_for()


def main() -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n")[0])
    parser.add_argument("--edge", default="http://127.0.0.1:8000")
    args = parser.parse_args()
    edge: str = args.edge
    OUT.mkdir(parents=True, exist_ok=True)
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=shutil.which("chromium"), args=["--no-sandbox"])
        phone = browser.new_context(viewport={"width": 390, "height": 844}, locale="zh-CN")
        page = phone.new_page()
        sign_in_citizen(page, edge)
        page.wait_for_load_state("networkidle")
        page.screenshot(path=str(OUT / "citizen-home.png"))
        desk = browser.new_context(viewport={"width": 1280, "height": 800}, locale="zh-CN")
        page = desk.new_page()
        sign_in_clerk(page, edge, "S130100001")
        page.wait_for_load_state("networkidle")
        page.goto(f"{edge}/console/queues/intake")
        page.get_by_role("heading", name="受理岗工作队列").wait_for()
        page.wait_for_load_state("networkidle")
        page.screenshot(path=str(OUT / "console-intake.png"))
        browser.close()
    print(f"wrote {sorted(p.name for p in OUT.glob('*.png'))}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
