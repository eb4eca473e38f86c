"""PP-10 (seed §24(3)): the pool available for selection never falls below 50,000 numbers. A segment does
not open (its publication is refused) and an office does not serve a new selection below the floor; an
office may raise its floor, never lower it. Refusals are servicekit `Refusal`s with rule PP-10."""

from __future__ import annotations

from typing import Any

import pytest

from plate_pool_service.domain import OfficeSettings
from plate_pool_service.segments import save_office_settings

from .conftest import Platform

pytestmark = pytest.mark.integration


async def seed_floor(p: Platform) -> None:
    """This office at the seed's settings: the 50,000 floor (the fixture lowers it for small test pools)."""
    await save_office_settings(p.ctx.runtime, p.office, OfficeSettings())
    p.ctx.catalog.forget_settings(p.office)


async def test_pp10_an_office_under_the_floor_serves_no_new_selection(platform: Platform) -> None:
    p = platform
    await seed_floor(p)
    await p.open_segment(pattern="3####")  # 10,000 numbers
    who = p.applicant()
    r = await p.client.post("/api/v1/plate-selections", json=p.start_body(who), headers=who.headers)
    assert (r.status_code, r.json()["code"], r.json()["rule"]) == (409, "POOL_BELOW_FLOOR", "PP-10")
    assert (r.json()["available"], r.json()["floor"]) == (10_000, 50_000)
    for pattern in ("4####", "5####", "6####", "7####"):  # 50,000 in all: the floor exactly
        await p.open_segment(pattern=pattern)
    first, selection = await p.start(who)
    drawn = await p.draw(first, selection)
    assert drawn.status_code == 201, drawn.text  # five numbers held: 49,995 available
    late = p.applicant()
    r = await p.client.post("/api/v1/plate-selections", json=p.start_body(late), headers=late.headers)
    assert (r.status_code, r.json()["code"], r.json()["available"]) == (409, "POOL_BELOW_FLOOR", 49_995)
    # the selection already under way goes on: the floor stops new selections, not the ones it let in
    assert (await p.draw(first, selection)).status_code == 201


async def test_pp10_a_segment_does_not_open_below_the_floor(platform: Platform) -> None:
    p = platform
    await seed_floor(p)
    admin = p.tokens.headers(p.tokens.clerk(roles=("clerk.admin",), office=p.office))
    superior = p.tokens.headers(p.tokens.clerk(roles=("clerk.admin",), office="130000"))

    async def approved(prefix: str, pattern: str) -> dict[str, Any]:
        body = {
            "office_code": p.office,
            "prefix": prefix,
            "pattern": pattern,
            "custom_patterns": ["#####"],
            "opens_at": "2027-03-04T08:00:00+08:00",  # 3 working days ahead of Monday
        }
        r = await p.client.post("/api/v1/plate-segments", json=body, headers=admin)
        assert r.status_code == 201, r.text
        r = await p.client.post(f"/api/v1/plate-segments/{r.json()['id']}/approval", headers=superior)
        assert r.json()["state"] == "approved", r.text
        segment: dict[str, Any] = r.json()
        return segment

    small = await approved("冀A", "5####")  # 10,000 numbers
    r = await p.client.post(f"/api/v1/plate-segments/{small['id']}/publication", headers=admin)
    assert (r.status_code, r.json()["code"], r.json()["rule"]) == (409, "POOL_BELOW_FLOOR", "PP-10")
    assert (r.json()["available"], r.json()["floor"]) == (10_000, 50_000)
    r = await p.client.get("/api/v1/plate-segments", params={"office_code": p.office})
    assert r.json()["items"] == []  # not published, no pool built
    large = await approved("冀B", "#####")  # 100,000 numbers: opens on its own
    r = await p.client.post(f"/api/v1/plate-segments/{large['id']}/publication", headers=admin)
    assert r.status_code == 200, r.text
    r = await p.client.post(f"/api/v1/plate-segments/{small['id']}/publication", headers=admin)
    assert r.status_code == 200, r.text  # beside the published pool it keeps the office over the floor
    assert r.json()["statistics"]["available"] == 10_000


async def test_pp10_an_office_may_raise_its_floor_but_never_lower_it(platform: Platform) -> None:
    p = platform
    admin = p.tokens.headers(p.tokens.clerk(roles=("clerk.admin",), office=p.office))
    url = f"/api/v1/plate-segments/offices/{p.office}/settings"
    r = await p.client.put(url, json={"low_pool_threshold": 49_999}, headers=admin)
    assert (r.status_code, r.json()["code"], r.json()["rule"], r.json()["floor"]) == (
        422,
        "INVALID_SETTINGS",
        "PP-10",
        50_000,
    )
    r = await p.client.put(url, json={"low_pool_threshold": 80_000}, headers=admin)
    assert (r.status_code, r.json()["low_pool_threshold"]) == (200, 80_000)
