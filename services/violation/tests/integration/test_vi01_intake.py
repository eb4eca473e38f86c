"""VI-01: camera records from other police systems, by HTTP, by the broker's command and in bulk; their
evidence kept with them and served only to those entitled to see them (AR-01, VI-05)."""

from __future__ import annotations

import asyncio
import base64
import json
import uuid
from typing import Any

import httpx
import pytest

from servicekit.runtime import Runtime
from violation_service import subscriptions as subs

from .conftest import (
    Actors,
    bind_vehicle,
    deliver,
    events_about,
    has_vehicle,
    owner_of,
    png,
    record,
    take,
)

pytestmark = pytest.mark.integration


async def test_vi01_a_record_is_taken_with_its_evidence_and_published(
    client: httpx.AsyncClient, actors: Actors, runtime: Runtime
) -> None:
    body = record()
    r = await client.post("/api/v1/violations", json=body, headers=actors.system)
    assert r.status_code == 201, r.text
    taken = r.json()
    assert r.headers["location"] == f"/api/v1/violations/{taken['id']}"
    assert (taken["state"], taken["fine_fen"], taken["points"], taken["evidence_count"]) == (
        "open",
        20_000,
        6,
        3,
    )
    ((kind, payload),) = await events_about(runtime, taken["id"])
    assert kind == "violation.violation.recorded.v1"
    assert (payload["record_id"], payload["plate_number"], payload["evidence_count"]) == (
        body["record_id"],
        body["plate_number"],
        3,
    )
    r = await client.get(f"/api/v1/violations/{taken['id']}", headers=actors.system)
    assert r.status_code == 200
    evidence = r.json()["evidence"]
    assert len(evidence) == 3
    image = await client.get(evidence[1]["url"], headers=actors.system)
    assert (image.status_code, image.headers["content-type"], image.content) == (200, "image/png", png(1))


async def test_vi01_intake_is_idempotent_by_the_records_own_id(
    client: httpx.AsyncClient, actors: Actors, runtime: Runtime
) -> None:
    body = record()
    first = await client.post("/api/v1/violations", json=body, headers=actors.system)
    again = await client.post("/api/v1/violations", json=body, headers=actors.system)
    assert (first.status_code, again.status_code) == (201, 200)
    assert again.json()["id"] == first.json()["id"]
    assert len(await events_about(runtime, first.json()["id"])) == 1
    reused = await client.post("/api/v1/violations", json=body | {"fine_fen": 10_000}, headers=actors.system)
    assert (reused.status_code, reused.json()["code"], reused.json()["rule"]) == (
        409,
        "RECORD_ID_REUSED",
        "VI-01",
    )


async def test_vi01_the_same_record_sent_twice_at_once_is_taken_once(
    client: httpx.AsyncClient, actors: Actors, runtime: Runtime
) -> None:
    body = record()
    answers = await asyncio.gather(
        *(client.post("/api/v1/violations", json=body, headers=actors.system) for _ in range(4))
    )
    assert sorted(a.status_code for a in answers) == [200, 200, 200, 201]
    assert len({a.json()["id"] for a in answers}) == 1


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"penalty": "warning"}, None),  # a warning with a fine: the domain's refusal
        ({"plate_number": "ABC"}, "plate_number"),
        ({"violated_at": "2027-02-20T18:42:00"}, "violated_at"),
        ({"place": "a\x00b"}, "place"),
        ({"evidence": []}, "evidence"),
        ({"evidence": ["not base64!"]}, "evidence"),
        ({"points": 13}, "points"),
    ],
)
async def test_vi01_bad_records_are_refused_with_the_field(
    client: httpx.AsyncClient, actors: Actors, change: dict[str, Any], field: str | None
) -> None:
    r = await client.post("/api/v1/violations", json=record(**change), headers=actors.system)
    assert r.status_code == 422, r.text
    problem = r.json()
    if field is None:
        assert (problem["code"], problem["rule"]) == ("PENALTY_INCONSISTENT", "VI-01")
    else:
        assert field in json.dumps(problem)


async def test_vi01_evidence_must_be_an_image_by_its_bytes(client: httpx.AsyncClient, actors: Actors) -> None:
    fake = base64.b64encode(b"GIF89a" + bytes(32)).decode()
    r = await client.post("/api/v1/violations", json=record(evidence=[fake]), headers=actors.system)
    assert (r.status_code, r.json()["code"]) == (415, "DOCUMENT_TYPE_NOT_ALLOWED")


async def test_vi01_only_other_police_systems_send_records(client: httpx.AsyncClient, actors: Actors) -> None:
    person = actors.person()
    for headers in (person.headers, actors.clerk):
        r = await client.post("/api/v1/violations", json=record(), headers=headers)
        assert r.status_code == 403


async def test_vi01_vi05_evidence_is_served_to_the_bound_user_and_a_404_to_anyone_else(
    client: httpx.AsyncClient, actors: Actors, runtime: Runtime
) -> None:
    taken = await take(client, actors)
    owner = await owner_of(runtime, actors, taken["plate_number"])
    stranger = actors.person()
    detail = await client.get(f"/api/v1/violations/{taken['id']}", headers=owner.headers)
    assert detail.status_code == 200
    url = detail.json()["evidence"][0]["url"]
    assert (await client.get(url, headers=owner.headers)).status_code == 200
    assert (await client.get(url, headers=actors.clerk)).status_code == 200  # a clerk of the city
    for headers in (stranger.headers, actors.far_clerk):
        assert (await client.get(url, headers=headers)).status_code == 404
        assert (await client.get(f"/api/v1/violations/{taken['id']}", headers=headers)).status_code == 404
    # An ended binding sees nothing any more.
    gone = actors.person()
    vehicle_id = await has_vehicle(runtime, taken["plate_number"])
    await bind_vehicle(runtime, gone, vehicle_id, ended=True)
    assert (await client.get(url, headers=gone.headers)).status_code == 404
    # Another violation's evidence id under this violation: 404.
    other = await take(client, actors)
    other_doc = (await client.get(f"/api/v1/violations/{other['id']}", headers=actors.system)).json()[
        "evidence"
    ][0]
    crossed = f"/api/v1/violations/{taken['id']}/evidence/{other_doc['id']}"
    assert (await client.get(crossed, headers=actors.system)).status_code == 404


async def test_vi01_a_record_sent_on_the_broker_is_taken_like_one_over_http(
    client: httpx.AsyncClient, actors: Actors, runtime: Runtime
) -> None:
    body = record()
    await deliver(runtime, subs.CAMERA_RECORDS, body, source="/camera-system")
    await deliver(runtime, subs.CAMERA_RECORDS, body, source="/camera-system")  # a repeat: nothing new
    r = await client.get(
        "/api/v1/violations", params={"plate_number": body["plate_number"]}, headers=actors.system
    )
    (item,) = r.json()["items"]
    assert item["record_id"] == body["record_id"]
    again = await client.post("/api/v1/violations", json=body, headers=actors.system)
    assert (again.status_code, again.json()["id"]) == (200, item["id"])


def ndjson(lines: list[Any]) -> bytes:
    return b"".join(
        (line if isinstance(line, bytes) else json.dumps(line).encode()) + b"\n" for line in lines
    )


async def test_vi01_bulk_intake_reports_progress_and_every_refused_line(
    client: httpx.AsyncClient, actors: Actors, runtime: Runtime
) -> None:
    from violation_service import batches

    good = [record(evidence=[base64.b64encode(png(i)).decode()]) for i in range(batches.CHUNK + 5)]
    lines: list[Any] = [*good[:10], b"{not json", record(plate_number="X"), good[3], *good[10:]]
    batch_id = uuid.uuid4()
    url = f"/api/v1/violations/intake-batches/{batch_id}"
    r = await client.put(
        url,
        content=ndjson(lines),
        params={"expected": len(lines)},
        headers=actors.system | {"content-type": "application/x-ndjson"},
    )
    assert r.status_code == 200, r.text
    report = r.json()
    assert (report["state"], report["expected"], report["lines"]) == ("done", len(lines), len(lines))
    assert (report["created"], report["repeated"], report["refused"]) == (len(good), 1, 2)
    assert [(e["line"], e["code"]) for e in report["errors"]] == [
        (11, "INVALID_RECORD"),
        (12, "INVALID_RECORD"),
    ]
    assert "plate_number" in report["errors"][1]["detail"]
    assert (await client.get(url, headers=actors.system)).json() == report
    assert (await client.get(url, headers=actors.other_system)).status_code == 404  # another system's
    # Sent again: nothing new, every good line a repeat.
    again = (await client.put(url, content=ndjson(lines), headers=actors.system)).json()
    assert (again["created"], again["repeated"], again["refused"], again["runs"]) == (0, len(good) + 1, 2, 2)


async def test_vi01_a_line_nested_too_deep_or_holding_a_nul_is_refused_alone(
    client: httpx.AsyncClient, actors: Actors
) -> None:
    """ADR 0084: a line the JSON decoder cannot follow (RecursionError, which was a 500 for the whole
    upload) or one holding a NUL (which PostgreSQL refuses) fails alone, like any bad line."""
    good = record()
    lines: list[Any] = [b'{"a":' * 5000, record(place="a\x00b"), good]
    url = f"/api/v1/violations/intake-batches/{uuid.uuid4()}"
    headers = actors.system | {"content-type": "application/x-ndjson"}
    r = await client.put(url, content=ndjson(lines), headers=headers)
    assert r.status_code == 200, r.text
    report = r.json()
    assert (report["state"], report["created"], report["refused"]) == ("done", 1, 2)
    assert [e["line"] for e in report["errors"]] == [1, 2]


async def test_vi01_bulk_progress_is_visible_while_the_upload_runs(
    client: httpx.AsyncClient, actors: Actors
) -> None:
    from violation_service import batches

    batch_id = uuid.uuid4()
    url = f"/api/v1/violations/intake-batches/{batch_id}"
    first_chunk = ndjson([record() for _ in range(batches.CHUNK)])
    release = asyncio.Event()

    async def body() -> Any:
        yield first_chunk
        await release.wait()  # the client holds back the rest until it has seen the progress
        yield ndjson([record() for _ in range(3)])

    upload = asyncio.create_task(client.put(url, content=body(), headers=actors.system))
    seen: dict[str, Any] = {}
    for _ in range(200):
        r = await client.get(url, headers=actors.system)
        if r.status_code == 200 and r.json()["created"] == batches.CHUNK:
            seen = r.json()
            break
        await asyncio.sleep(0.05)
    release.set()
    final = (await upload).json()
    assert (seen["state"], seen["lines"]) == ("running", batches.CHUNK)
    assert (final["state"], final["created"]) == ("done", batches.CHUNK + 3)
