"""DL-01 bulk import: every line kept with its outcome, bad lines failing alone with field and reason,
progress readable while the worker goes, and the same file again issuing nothing twice."""

from __future__ import annotations

import csv
import io
import uuid
from typing import Any

import httpx
import pytest
from sqlalchemy import func, or_, select

from license_service import imports
from license_service.tables import licence_imports, licence_records
from servicekit.crypto import blind_match
from servicekit.runtime import Runtime
from servicekit.testing import new_phone, new_resident_id

from .conftest import Actors, events_about

pytestmark = pytest.mark.integration

COLUMNS = ["number", "name", "classes", "first_issue", "valid_from", "valid_until", "phone", "state"]


def line(**kw: str) -> dict[str, str]:
    row = {
        "number": new_resident_id(),
        "name": "吴十",
        "classes": "C1",
        "first_issue": "2015-06-01",
        "valid_from": "2021-06-01",
        "valid_until": "2027-06-01",
        "phone": new_phone(),
        "state": "",
    }
    row.update(kw)
    return row


def as_csv(rows: list[dict[str, str]], columns: list[str] = COLUMNS) -> bytes:
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=columns, lineterminator="\n")
    writer.writeheader()
    writer.writerows(rows)
    return out.getvalue().encode()


async def send(
    client: httpx.AsyncClient, actors: Actors, content: bytes, office: str | None = "130100"
) -> httpx.Response:
    params = {"office_code": office} if office else {}
    return await client.post(
        "/api/v1/licences/imports",
        content=content,
        params=params,
        headers={**actors.system, "Content-Type": "text/csv"},
    )


async def finish(runtime: Runtime) -> None:
    """The worker's sweep, until no import has a pending line."""
    while await imports.run_imports(runtime):
        pass


async def progress(client: httpx.AsyncClient, actors: Actors, import_id: str) -> dict[str, Any]:
    r = await client.get(f"/api/v1/licences/imports/{import_id}", headers=actors.system)
    assert r.status_code == 200, r.text
    data: dict[str, Any] = r.json()
    return data


async def all_lines(
    client: httpx.AsyncClient, actors: Actors, import_id: str, **params: str
) -> list[dict[str, Any]]:
    items: list[dict[str, Any]] = []
    cursor = None
    while True:
        query = {**params, "limit": "100"} | ({"cursor": cursor} if cursor else {})
        r = await client.get(
            f"/api/v1/licences/imports/{import_id}/lines", params=query, headers=actors.admin
        )
        assert r.status_code == 200, r.text
        items += r.json()["items"]
        cursor = r.json()["next_cursor"]
        if cursor is None:
            return items


async def test_dl01_import_issues_every_line_with_its_event_and_shows_progress(
    client: httpx.AsyncClient, actors: Actors, runtime: Runtime
) -> None:
    await finish(runtime)  # nothing of an earlier test left running
    rows = [line() for _ in range(450)]
    r = await send(client, actors, as_csv(rows))
    assert r.status_code == 202, r.text
    job = r.json()
    assert r.headers["Location"] == f"/api/v1/licences/imports/{job['id']}"
    assert (job["state"], job["total"], job["processed"]) == ("running", 450, 0)
    assert await imports.run_batch(runtime, 200) == 200
    halfway = await progress(client, actors, job["id"])
    assert (halfway["state"], halfway["processed"], halfway["issued"]) == ("running", 200, 200)
    await finish(runtime)
    done = await progress(client, actors, job["id"])
    assert (done["state"], done["processed"], done["issued"], done["failed"]) == ("done", 450, 450, 0)
    assert done["finished_at"] is not None
    lines = await all_lines(client, actors, job["id"])
    assert [item["line"] for item in lines] == list(range(2, 452))
    assert {item["outcome"] for item in lines} == {"issued"}
    first = lines[0]["record_id"]
    ((kind, payload),) = await events_about(runtime, first)
    assert (kind, payload["source"], payload["number"]) == (
        "license.record.issued.v1",
        "import",
        rows[0]["number"],
    )


async def test_dl01_bad_lines_fail_alone_with_field_and_reason_and_nothing_is_lost(
    client: httpx.AsyncClient, actors: Actors, runtime: Runtime
) -> None:
    rows = [
        line(),
        line(number="130102199003071234"),  # check digit
        line(classes="C1X"),
        line(valid_until="2027-13-01"),
        line(valid_from="2027-06-01", valid_until="2027-06-01"),  # DL-01: not after valid_from
        line(phone="1234"),
        line(state="cancelled"),
        line(name=""),
        line(classes="A2D"),
    ]
    r = await send(client, actors, as_csv(rows))
    await finish(runtime)
    done = await progress(client, actors, r.json()["id"])
    assert (done["total"], done["issued"], done["failed"], done["state"]) == (9, 2, 7, "done")
    failed = await all_lines(client, actors, r.json()["id"], outcome="failed")
    assert [(f["line"], f["field"]) for f in failed] == [
        (3, "number"),
        (4, "classes"),
        (5, "valid_until"),
        (6, "valid_until"),
        (7, "phone"),
        (8, "state"),
        (9, "name"),
    ]
    assert all(f["reason"] for f in failed)
    issued = await all_lines(client, actors, r.json()["id"], outcome="issued")
    assert [i["line"] for i in issued] == [2, 10]
    async with runtime.engine.connect() as conn:
        classes = (
            await conn.execute(
                select(licence_records.c.classes).where(
                    blind_match(licence_records.c.number, rows[8]["number"])
                )
            )
        ).scalar_one()
    assert classes == ["A2", "D"]


async def test_dl01_the_same_file_again_issues_nothing_twice(
    client: httpx.AsyncClient, actors: Actors, runtime: Runtime
) -> None:
    rows = [line() for _ in range(5)]
    first = (await send(client, actors, as_csv(rows))).json()
    await finish(runtime)
    rows[2]["phone"] = new_phone()  # the office's file now has another phone for one holder
    second = (await send(client, actors, as_csv(rows))).json()
    await finish(runtime)
    done = await progress(client, actors, second["id"])
    assert (done["issued"], done["updated"], done["unchanged"], done["failed"]) == (0, 1, 4, 0)
    before = {i["line"]: i["record_id"] for i in await all_lines(client, actors, first["id"])}
    after = {i["line"]: i["record_id"] for i in await all_lines(client, actors, second["id"])}
    assert before == after
    changed = [t for t, _ in await events_about(runtime, after[4]) if t == "license.record.changed.v1"]
    assert changed == ["license.record.changed.v1"]
    async with runtime.engine.connect() as conn:
        count = await conn.scalar(
            select(func.count()).where(
                or_(*(blind_match(licence_records.c.number, row["number"]) for row in rows))
            )
        )
    assert count == 5


async def test_dl01_a_number_twice_in_one_file_fails_the_later_line(
    client: httpx.AsyncClient, actors: Actors, runtime: Runtime
) -> None:
    number = new_resident_id()
    r = await send(client, actors, as_csv([line(number=number), line(), line(number=number, name="另一人")]))
    await finish(runtime)
    (failed,) = await all_lines(client, actors, r.json()["id"], outcome="failed")
    assert (failed["line"], failed["field"], failed["reason"]) == (4, "number", "the same number as line 2")


async def test_dl01_a_line_in_a_suspended_or_revoked_state_is_issued_then_moved(
    client: httpx.AsyncClient, actors: Actors, runtime: Runtime
) -> None:
    rows = [line(state="suspended"), line(state="revoked")]
    r = await send(client, actors, as_csv(rows))
    await finish(runtime)
    lines = await all_lines(client, actors, r.json()["id"])
    states = []
    for item in lines:
        got = await client.get(f"/api/v1/licences/{item['record_id']}", headers=actors.system)
        states.append(got.json()["state"])
        kinds = [t for t, _ in await events_about(runtime, item["record_id"])]
        assert kinds == ["license.record.issued.v1", "license.record.changed.v1"]
    assert states == ["suspended", "revoked"]


async def test_dl01_office_code_comes_from_the_line_or_the_import(
    client: httpx.AsyncClient, actors: Actors, runtime: Runtime
) -> None:
    columns = [*COLUMNS, "office_code"]
    rows = [line(office_code="130200"), line(office_code="")]
    r = await send(client, actors, as_csv(rows, columns), office=None)
    await finish(runtime)
    lines = await all_lines(client, actors, r.json()["id"])
    assert [(i["outcome"], i["field"]) for i in lines] == [("issued", None), ("failed", "office_code")]


@pytest.mark.parametrize(
    ("content", "what"),
    [
        (b"number,name\n1,2\n", "missing"),
        (as_csv([line()], [*COLUMNS, "colour"]), "unknown"),
        (as_csv([]), "no line"),
        ("number,name,classes\n张三".encode("gbk"), "UTF-8"),
        (as_csv([line(name="吴\x00十")]), "NUL"),
    ],
)
async def test_dl01_a_file_that_cannot_be_read_is_refused_whole_and_nothing_kept(
    client: httpx.AsyncClient, actors: Actors, runtime: Runtime, content: bytes, what: str
) -> None:
    async with runtime.engine.connect() as conn:
        before = await conn.scalar(select(func.count()).select_from(licence_imports))
    r = await send(client, actors, content)
    assert r.status_code == 422, r.text
    assert (r.json()["code"], r.json()["rule"]) == ("IMPORT_FILE_UNREADABLE", "DL-01")
    assert what in r.json()["detail"]
    async with runtime.engine.connect() as conn:
        assert await conn.scalar(select(func.count()).select_from(licence_imports)) == before


async def test_dl01_a_line_with_more_cells_than_columns_fails(
    client: httpx.AsyncClient, actors: Actors, runtime: Runtime
) -> None:
    content = as_csv([line()]) + b"130102199003071233,x,C1,2015-06-01,2021-06-01,2027-06-01,,,surplus\n"
    r = await send(client, actors, content)
    await finish(runtime)
    failed = await all_lines(client, actors, r.json()["id"], outcome="failed")
    assert [(f["line"], f["field"]) for f in failed] == [(3, "line")]


async def test_dl01_imports_are_the_police_systems_and_the_admin_reads_them(
    client: httpx.AsyncClient, actors: Actors, runtime: Runtime
) -> None:
    r = await client.post(
        "/api/v1/licences/imports",
        content=as_csv([line()]),
        headers={**actors.clerk, "Content-Type": "text/csv"},
    )
    assert r.status_code == 403
    job = (await send(client, actors, as_csv([line()]))).json()
    assert (
        await client.get(f"/api/v1/licences/imports/{job['id']}", headers=actors.admin)
    ).status_code == 200
    assert (
        await client.get(f"/api/v1/licences/imports/{job['id']}", headers=actors.clerk)
    ).status_code == 403
    r = await client.get(f"/api/v1/licences/imports/{uuid.uuid4()}", headers=actors.system)
    assert r.status_code == 404
    await finish(runtime)
