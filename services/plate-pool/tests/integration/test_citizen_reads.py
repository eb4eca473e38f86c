"""What the citizen app reads beside the steps: my selections (我的选号), the offices that pre-select, the
platform time every deadline-bearing answer carries, and the answers' declared shapes (schemas.py)."""

from __future__ import annotations

from datetime import timedelta

import pytest

from plate_pool_service.domain import OfficeSettings
from plate_pool_service.schemas import (
    PlateDrawOut,
    PlateSelectionDetailOut,
    PlateSelectionPage,
    PlateServerTimeOut,
    PlateVerifyOut,
)
from plate_pool_service.segment_views import SegmentPage

from .conftest import Platform

pytestmark = pytest.mark.integration


async def test_pp02_my_selections_lists_only_mine_newest_first_a_page_at_a_time(platform: Platform) -> None:
    p = platform
    await p.open_segment()
    who, first = await p.start()
    r = await p.client.delete(p.url(first), headers=who.headers)  # 放弃: the next one may start (PP-02)
    assert r.status_code == 204, r.text
    second_vin = p.applicant().vin
    r = await p.client.post(
        "/api/v1/plate-selections", json=p.start_body(who, vin=second_vin), headers=who.headers
    )
    assert r.status_code == 201, r.text
    second = r.json()
    stranger, _theirs = await p.start()
    drawn = await p.draw(who, second)
    assert drawn.status_code == 201, drawn.text

    r = await p.client.get("/api/v1/plate-selections/mine", headers=who.headers)
    assert r.status_code == 200, r.text
    page = PlateSelectionPage.model_validate(r.json())
    assert [s.id for s in page.items] == [second["id"], first["id"]]
    assert [s.state for s in page.items] == ["selecting", "abandoned"]
    assert page.items[0].random_draws_left == 9  # the hot counter, not the row's start value
    assert page.next_cursor is None

    r = await p.client.get("/api/v1/plate-selections/mine", params={"limit": 1}, headers=who.headers)
    one = r.json()
    assert [s["id"] for s in one["items"]] == [second["id"]]
    r = await p.client.get(
        "/api/v1/plate-selections/mine",
        params={"limit": 1, "cursor": one["next_cursor"]},
        headers=who.headers,
    )
    assert [s["id"] for s in r.json()["items"]] == [first["id"]]
    assert r.json()["next_cursor"] is None

    r = await p.client.get("/api/v1/plate-selections/mine", headers=stranger.headers)
    assert second["id"] not in [s["id"] for s in r.json()["items"]]
    r = await p.client.get("/api/v1/plate-selections/mine", params={"cursor": "x"}, headers=who.headers)
    assert (r.status_code, r.json()["code"]) == (422, "INVALID_CURSOR")
    clerk = p.tokens.headers(p.tokens.clerk(roles=("clerk.intake",), office=p.office))
    assert (await p.client.get("/api/v1/plate-selections/mine", headers=clerk)).status_code == 403


async def test_pp05_pp06_the_platform_time_a_client_counts_the_holds_down_from(
    platform: Platform,
) -> None:
    p = platform
    await p.open_segment(custom=("#####",))
    who, sel = await p.start()
    r = await p.client.get("/api/v1/plate-selections/server-time")  # public: no token
    assert r.status_code == 200, r.text
    assert PlateServerTimeOut.model_validate(r.json()).now == await p.clock.now()
    p.clock.advance(timedelta(seconds=7))
    r = await p.verify(who, sel, "冀A31234")
    assert r.status_code == 201, r.text
    verified = PlateVerifyOut.model_validate(r.json())
    r = await p.client.get("/api/v1/plate-selections/server-time")
    assert verified.held_until == PlateServerTimeOut.model_validate(r.json()).now + timedelta(seconds=180)

    p.clock.advance(timedelta(seconds=10))
    r = await p.draw(who, sel)
    assert r.status_code == 201, r.text
    drawn = PlateDrawOut.model_validate(r.json())
    r = await p.client.get(p.url(sel), headers=who.headers)
    detail = PlateSelectionDetailOut.model_validate(r.json())
    assert detail.held_until == drawn.held_until == await p.clock.now() + timedelta(seconds=180)
    assert sorted(detail.held_numbers or []) == sorted(drawn.numbers)


async def test_pp10_offices_that_pre_select_and_their_segments_statistics(platform: Platform) -> None:
    p = platform
    r = await p.client.get("/api/v1/plate-segments/offices")
    assert p.office not in [o["office_code"] for o in r.json()["items"]]  # no published segment yet
    await p.open_segment()
    r = await p.client.get("/api/v1/plate-segments/offices")
    assert r.status_code == 200, r.text
    assert {"office_code": p.office, "name": "test office"} in r.json()["items"]
    r = await p.client.get("/api/v1/plate-segments", params={"office_code": p.office})
    page = SegmentPage.model_validate(r.json())
    assert [s.statistics.available if s.statistics else None for s in page.items] == [10_000]


async def test_pp06a_office_settings_answer_every_setting_of_the_domain(platform: Platform) -> None:
    r = await platform.client.get(f"/api/v1/plate-segments/offices/{platform.office}/settings")
    assert r.status_code == 200, r.text
    assert r.json() == OfficeSettings(low_pool_threshold=0).to_json()
