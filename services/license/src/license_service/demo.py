"""Demo data for `make run` (dev only): `python -m license_service.demo`. Idempotent: run at every start.

The licence records (DL-01) of identity's demo people who hold a licence, with the phones identity's demo
gives them (ID-03 compares them):
- 张三 130102199003071233 / 13800138000: C1, expiring in 60 days (inside DL-07's renewal window);
- 赵六 130105197701010040 / 13800138003 (counter-registered, so DL-02/03/05/06 apply): A2, review (审验)
  due in 200 days, no licence photo yet (DL-05: he submits one at identity);
- 陈七 130102200001010029 / 13800138004 (in the registry without an account): C2, so that online
  registration as a driver (ID-03) can be tried with that phone.
李四 (learner) and 王五 (new-car owner) hold none: a first licence converts them (ID-07).

Each record's id is `demo_id("licence", number)`, as identity's demo computes it to record and bind the
licence before it exists; each is issued through records.issue (source `import`), so its
`license.record.issued.v1` reaches identity's projection through the broker once the workers run.
"""

from __future__ import annotations

import asyncio
import sys
import uuid
from datetime import date, timedelta

from license_service import records
from license_service.domain import LicenceClass, months_before
from license_service.records import Facts
from servicekit.clock import SHANGHAI
from servicekit.ids import demo_id
from servicekit.runtime import Runtime
from servicekit.uow import Actor, UnitOfWork
from servicekit.validators import birth_date_of

DEMO_ACTOR = Actor(id="demo", role="system")

# (number, name, phone, classes, days until the licence expires, days until its review or None)
DEMO_HOLDERS: list[tuple[str, str, str, tuple[LicenceClass, ...], int, int | None]] = [
    ("130102199003071233", "张三", "13800138000", ("C1",), 60, None),
    ("130105197701010040", "赵六", "13800138003", ("A2",), 5 * 365, 200),
    ("130102200001010029", "陈七", "13800138004", ("C2",), 4 * 365, None),
]


def demo_licence_id(number: str) -> uuid.UUID:
    """The demo licence's record id, as identity's demo computes it (`demo_licence_ref`)."""
    return demo_id("licence", number)


def demo_facts(today: date) -> list[Facts]:
    out = []
    for number, name, phone, classes, expires_in, review_in in DEMO_HOLDERS:
        valid_until = today + timedelta(days=expires_in)
        valid_from = months_before(valid_until, 12 * 6)  # a six-year card
        birth = birth_date_of(number)
        out.append(
            Facts(
                number=number,
                name=name,
                birth_date=birth,
                classes=frozenset(classes),
                first_issue=max(months_before(valid_from, 12 * 6), months_before(birth, -12 * 18)),
                valid_from=valid_from,
                valid_until=valid_until,
                office_code="130100",
                file_number=f"1301{number[-8:]}",
                review_due=today + timedelta(days=review_in) if review_in is not None else None,
                phone=phone,
            )
        )
    return out


async def load(uow: UnitOfWork) -> int:
    """The demo records not on the platform yet; how many were issued."""
    added = 0
    for facts in demo_facts(uow.now.astimezone(SHANGHAI).date()):
        if await records.load_by_number(uow, facts.number) is not None:
            continue
        await records.issue(uow, DEMO_ACTOR, facts, "import", record_id=demo_licence_id(facts.number))
        added += 1
    return added


async def run() -> None:
    from license_service.service import SPEC

    settings = SPEC.settings()
    if not settings.is_test_env:
        print("license demo data is for dev and test only", file=sys.stderr)
        return
    runtime = Runtime.open(settings, SPEC.metadata)
    try:
        async with runtime.uow() as uow:
            added = await load(uow)
            await uow.commit()
        print(f"license demo: {added} licence records added", flush=True)
    finally:
        await runtime.aclose()


def main() -> int:
    asyncio.run(run())
    return 0


if __name__ == "__main__":
    sys.exit(main())
