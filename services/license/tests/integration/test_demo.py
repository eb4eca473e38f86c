"""The demo records load, loading them again adds nothing (make run runs it at every start), and they are
the licences identity's demo records and binds (same ids, same phones)."""

from __future__ import annotations

import uuid
from datetime import date

import pytest

from license_service import demo, domain, records
from servicekit.runtime import Runtime

from .conftest import events_about

pytestmark = pytest.mark.integration


def test_dl01_demo_records_are_sound_and_are_identitys_demo_licences() -> None:
    from identity_service import demo as identity_demo

    facts = demo.demo_facts(date(2027, 3, 1))
    for one in facts:
        domain.check_record(
            birth_date=one.birth_date,
            classes=frozenset(one.classes),
            first_issue=one.first_issue,
            valid_from=one.valid_from,
            valid_until=one.valid_until,
        )
    assert [(f.number, f.phone) for f in facts] == identity_demo.DEMO_LICENCES
    for one in facts:
        assert str(demo.demo_licence_id(one.number)) == identity_demo.demo_licence_ref(one.number)
        assert demo.demo_licence_id(one.number) == uuid.uuid5(
            uuid.NAMESPACE_URL, f"tms-demo/licence/{one.number}"
        )
    zhang = facts[0]
    opens, _ = domain.renewal_window(zhang.valid_until)
    assert opens <= date(2027, 3, 1)  # DL-07: 张三's renewal can be tried at once


async def test_dl01_demo_load_is_idempotent_and_publishes_each_record_once(runtime: Runtime) -> None:
    async with runtime.uow() as uow:
        await demo.load(uow)
        await uow.commit()
    async with runtime.uow() as uow:
        assert await demo.load(uow) == 0
        await uow.commit()
    for number, *_ in demo.DEMO_HOLDERS:
        async with runtime.uow() as uow:
            row = await records.load_by_number(uow, number)
        assert row is not None
        assert row["id"] == demo.demo_licence_id(number)
        kinds = [t for t, _ in await events_about(runtime, str(row["id"]))]
        assert kinds.count("license.record.issued.v1") == 1
