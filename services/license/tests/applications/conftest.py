"""license's applications, medical certificates and contact changes against the real `license_test`
database (TMS_ENV=test, set by the root conftest): the app in-process, its real PostgreSQL and Redis."""

from __future__ import annotations

import secrets
import uuid
from datetime import UTC, date, datetime, timedelta
from typing import Any

import httpx
import pytest
from sqlalchemy import select, update
from sqlalchemy.engine import RowMapping

from license_service import records
from license_service.tables import licence_records, metadata
from servicekit.clock import SHANGHAI
from servicekit.envelope import Envelope
from servicekit.runtime import Runtime
from servicekit.testing import TokenFactory, new_phone, new_resident_id
from servicekit.uow import SYSTEM_ACTOR

# A Monday: where the `clock` fixture (tests/conftest.py) starts.
START = datetime(2027, 3, 1, 9, 0, tzinfo=SHANGHAI)
TODAY = START.date()
ADDRESS = "河北省石家庄市长安区建设北大街1号"


def new_office() -> str:
    """An office of one test alone: the queue it reads holds only that test's applications."""
    return "13" + "".join(secrets.choice("0123456789") for _ in range(4))


class Desk:
    """The callers of one test, at an office of its own."""

    def __init__(self, tokens: TokenFactory) -> None:
        self.tokens = tokens
        self.office = new_office()
        self.intake = tokens.headers(tokens.clerk(roles=("clerk.intake",), office=self.office))
        self.archive = tokens.headers(
            tokens.clerk(subject="staff-archive", roles=("clerk.archive",), office=self.office)
        )
        self.system = tokens.headers(tokens.system())
        self.hospital_subject = f"unit-hospital-{uuid.uuid4().hex[:8]}"
        self.hospital = tokens.headers(
            tokens.mint(
                self.hospital_subject,
                kind="unit",
                channel="counter",
                roles=("unit", "hospital"),
                id_number="12130100MA0HQ8PT3A",
            )
        )

    def citizen(self, number: str, channel: str = "counter") -> dict[str, str]:
        return self.tokens.headers(
            self.tokens.citizen(subject=f"person-{number}", id_number=number, channel=channel)
        )


@pytest.fixture
def desk(tokens: TokenFactory) -> Desk:
    return Desk(tokens)


async def issue(
    runtime: Runtime,
    desk: Desk,
    *,
    born: date = date(1980, 5, 6),
    classes: tuple[str, ...] = ("C1",),
    valid_from: date = date(2021, 5, 6),
    valid_until: date = date(2027, 5, 6),
    review_due: date | None = None,
    medical_due: date | None = None,
    photo_valid_until: date | None = date(2029, 1, 1),
    phone: str | None = "",
    name: str = "张三",
) -> RowMapping:
    """A licence record as a police system issues it (records.issue), with the photo identity's approval
    would have stored (DL-05)."""
    facts = records.Facts(
        number=new_resident_id(born=born),
        name=name,
        birth_date=born,
        classes=frozenset(classes),  # type: ignore[arg-type]
        first_issue=valid_from,
        valid_from=valid_from,
        valid_until=valid_until,
        office_code=desk.office,
        review_due=review_due,
        medical_due=medical_due,
        phone=new_phone() if phone == "" else phone,
    )
    async with runtime.uow() as uow:
        row = await records.issue(uow, SYSTEM_ACTOR, facts, "police_system")
        if photo_valid_until is not None:
            await uow.session.execute(
                update(licence_records)
                .where(licence_records.c.id == row["id"])
                .values(photo_document_id=str(uuid.uuid4()), photo_valid_until=photo_valid_until)
            )
        await uow.commit()
    found = await load_record(runtime, row["id"])
    return found


async def load_record(runtime: Runtime, record_id: Any) -> RowMapping:
    async with runtime.engine.connect() as conn:
        row = (
            (await conn.execute(select(licence_records).where(licence_records.c.id == record_id)))
            .mappings()
            .one()
        )
    return row


async def apply(
    client: httpx.AsyncClient, desk: Desk, record: RowMapping, channel: str = "counter", **body: Any
) -> httpx.Response:
    payload: dict[str, Any] = {"kind": "reissue", "delivery": "mail", "address": ADDRESS} | body
    payload = {k: v for k, v in payload.items() if v is not None}
    return await client.post(
        "/api/v1/licence-applications", json=payload, headers=desk.citizen(record["number"], channel)
    )


async def applied(client: httpx.AsyncClient, desk: Desk, record: RowMapping, **body: Any) -> dict[str, Any]:
    r = await apply(client, desk, record, **body)
    assert r.status_code == 201, r.text
    data: dict[str, Any] = r.json()
    return data


async def step(
    client: httpx.AsyncClient, headers: dict[str, str], case: str, what: str, **body: Any
) -> dict[str, Any]:
    r = await client.post(f"/api/v1/licence-applications/{case}/{what}", json=body, headers=headers)
    assert r.status_code == 200, r.text
    data: dict[str, Any] = r.json()
    return data


async def certify(client: httpx.AsyncClient, desk: Desk, record: RowMapping, **body: Any) -> httpx.Response:
    payload: dict[str, Any] = {
        "id_number": record["number"],
        "name": record["name"],
        "purpose": "renewal",
        "conclusion": "fit",
        "examined_on": TODAY.isoformat(),
    } | body
    return await client.post("/api/v1/medical-certificates", json=payload, headers=desk.hospital)


async def events_about(runtime: Runtime, subject: str) -> list[tuple[str, dict[str, Any]]]:
    outbox = metadata.tables["outbox"]
    async with runtime.engine.connect() as conn:
        rows = await conn.execute(
            select(outbox.c.routing_key, outbox.c.payload)
            .where(outbox.c.subject == subject)
            .order_by(outbox.c.id)
        )
        return [(r.routing_key, r.payload) for r in rows]


def envelope(message_type: str, data: dict[str, Any]) -> Envelope:
    return Envelope(
        id=uuid.uuid4(),
        type=message_type,
        source="/vehicle",
        time=datetime.now(UTC),
        subject=None,
        data=data,
        trace_headers={},
    )


def days(n: int) -> timedelta:
    return timedelta(days=n)
