"""A citizen gets a copy of their data (PIPL art. 45, ADR 0093) in the citizen app: asks under 我的, watches
every business system answer, and downloads one JSON file holding each system's part."""

from __future__ import annotations

import json
import re

from playwright.sync_api import expect

from servicekit.testing import new_phone, new_resident_id
from tests.e2e.stack import Person

from .conftest import Screen, accounts, press_sign_in


def test_citizen_asks_for_a_copy_of_their_data_and_downloads_it(phone: Screen) -> None:
    person = Person(new_resident_id(), new_phone(), channel="online", name="周十二")
    accounts({}, [person])
    phone.open("/login")
    phone.page.get_by_label("账号").fill(person.id_number)
    phone.page.get_by_label("密码").fill("Passw0rd2027")
    press_sign_in(phone.page)
    expect(phone.page.get_by_text("您好，周十二")).to_be_visible()

    phone.open("/me")
    phone.page.get_by_text("个人信息副本", exact=True).click()
    expect(phone.page.get_by_role("heading", name="个人信息副本")).to_be_visible()
    phone.check("data-export-empty")
    phone.page.get_by_role("button", name="申请个人信息副本").click()
    expect(phone.page.get_by_text(re.compile(r"已汇总 \d / 6 个业务系统"))).to_be_visible()
    expect(phone.page.get_by_text("已汇总 6 / 6 个业务系统")).to_be_visible(timeout=60_000)
    expect(phone.page.get_by_role("status")).to_have_text("副本已生成。")
    phone.check("data-export-ready")

    with phone.page.expect_download() as download:
        phone.page.get_by_role("button", name="下载个人信息副本").click()
    path = download.value.path()
    assert download.value.suggested_filename.startswith("个人信息副本-")
    document = json.loads(path.read_text(encoding="utf-8"))
    assert list(document["parts"]) == ["identity", "vehicle", "license", "plate-pool", "violation", "notify"]
    (account,) = document["parts"]["identity"]["账户"]
    assert (account["name"], account["id_number"], account["phone"]) == (
        "周十二",
        person.id_number,
        person.phone,
    )
