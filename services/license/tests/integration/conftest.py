"""license against its real `license_test` database (TMS_ENV=test, set by the root conftest)."""

from __future__ import annotations

import secrets
import uuid
from datetime import UTC, date, datetime, timedelta
from typing import Any

import httpx
import pytest
from pydantic import BaseModel
from sqlalchemy import select
from sqlalchemy.engine import RowMapping

from license_service import records
from license_service.tables import metadata
from servicekit.clock import SHANGHAI, FixedClock
from servicekit.consumer import Subscription
from servicekit.envelope import Envelope
from servicekit.runtime import Runtime
from servicekit.testing import TokenFactory, new_phone, new_resident_id
from servicekit.uow import SYSTEM_ACTOR

from .factories import facts, licence_body

# A Monday: where the `clock` fixture (tests/conftest.py) starts.
START = datetime(2027, 3, 1, 9, 0, tzinfo=SHANGHAI)
OFFICE = "130100"


class Actors:
    """Tokens for the callers of one test, each with its own identity: the office's clerks (intake, the
    administrator, an examiner), clerks of another office, and `system` clients."""

    def __init__(self, tokens: TokenFactory, office: str = OFFICE) -> None:
        self.tokens = tokens
        self.office = office
        self.system = tokens.headers(tokens.system(subject="police-system-" + uuid.uuid4().hex[:8]))
        self.clerk = tokens.headers(tokens.clerk(roles=("clerk.intake",), office=office))
        self.other_office_clerk = tokens.headers(tokens.clerk(roles=("clerk.intake",), office="130200"))
        self.admin = tokens.headers(tokens.clerk(roles=("clerk.admin",), office=office))
        self.examiner = tokens.headers(tokens.clerk("examiner-1", roles=("clerk.review",), office=office))
        self.counter = tokens.headers(tokens.clerk("intake-1", roles=("clerk.intake",), office=office))
        self.elsewhere = tokens.headers(
            tokens.clerk("examiner-2", roles=("clerk.review", "clerk.intake"), office="130200")
        )

    def citizen(self, id_number: str, channel: str = "counter") -> dict[str, str]:
        return self.tokens.headers(
            self.tokens.citizen(subject=f"person-{id_number}", id_number=id_number, channel=channel)  # type: ignore[arg-type]
        )


@pytest.fixture
def actors(tokens: TokenFactory) -> Actors:
    return Actors(tokens)


async def issue(client: httpx.AsyncClient, actors: Actors, **overrides: Any) -> dict[str, Any]:
    """A licence a police system issued through the API."""
    r = await client.post("/api/v1/licences", json=licence_body(**overrides), headers=actors.system)
    assert r.status_code == 201, r.text
    data: dict[str, Any] = r.json()
    return data


async def events_about(runtime: Runtime, subject: str) -> list[tuple[str, dict[str, Any]]]:
    outbox = metadata.tables["outbox"]
    async with runtime.engine.connect() as conn:
        rows = await conn.execute(
            select(outbox.c.routing_key, outbox.c.payload)
            .where(outbox.c.subject == subject)
            .order_by(outbox.c.id)
        )
        return [(r.routing_key, r.payload) for r in rows]


async def audits_about(runtime: Runtime, target: str) -> list[dict[str, Any]]:
    audit = metadata.tables["audit_log"]
    async with runtime.engine.connect() as conn:
        rows = await conn.execute(select(audit).where(audit.c.target == target).order_by(audit.c.id))
        return [dict(r._mapping) for r in rows]


async def deliver(
    runtime: Runtime, subscription: Subscription, data: dict[str, Any], message_type: str | None = None
) -> None:
    """Run the subscription's handler on one message in a unit of work, as the consumer does."""
    message_type = message_type or next(iter(subscription.handles))
    parsed: BaseModel = subscription.handles[message_type].model_validate(data)
    envelope = Envelope(
        id=uuid.uuid4(),
        type=message_type,
        source="/" + message_type.split(".", 1)[0],
        time=datetime.now(UTC),
        subject=None,
        data=data,
        trace_headers={},
    )
    async with runtime.uow() as uow:
        await subscription.handler(uow, parsed, envelope)
        await uow.commit()


async def issue_record(runtime: Runtime, **overrides: Any) -> RowMapping:
    """A licence record as a police system issues it (DL-01), straight through records.py; first issued
    on 20 August 2015 unless told (the points tests count their cycles from it)."""
    overrides.setdefault("first_issue", date(2015, 8, 20))
    async with runtime.uow() as uow:
        row = await records.issue(uow, SYSTEM_ACTOR, facts(**overrides), "police_system")
        await uow.commit()
    return row


async def record(runtime: Runtime, record_id: uuid.UUID) -> RowMapping:
    async with runtime.uow() as uow:
        row = await records.load(uow, record_id)
    assert row is not None
    return row


# --- DL-11 helpers: a site, slots relative to the clock, learners, bookings, results ---------------


async def add_site(
    client: httpx.AsyncClient, actors: Actors, subjects: tuple[int, ...] = (1, 2, 3, 4)
) -> str:
    r = await client.post(
        "/api/v1/exams/sites",
        json={
            "name": f"考场{secrets.token_hex(3)}",
            "address": "石家庄市长安区",
            "office_code": actors.office,
            "subjects": list(subjects),
        },
        headers=actors.system,
    )
    assert r.status_code == 201, r.text
    return str(r.json()["id"])


async def add_slot(
    client: httpx.AsyncClient,
    actors: Actors,
    site_id: str,
    now: datetime,
    subject: int = 1,
    capacity: int = 10,
    exam_in: timedelta = timedelta(days=5),
    classes: tuple[str, ...] = ("C1", "C2"),
) -> dict[str, Any]:
    """A slot of `subject` `exam_in` after `now`: open since an hour ago, cut-off 3 days before the exam."""
    starts = now + exam_in
    r = await client.post(
        f"/api/v1/exams/sites/{site_id}/slots",
        json={
            "subject": subject,
            "classes": list(classes),
            "starts_at": starts.isoformat(),
            "capacity": capacity,
            "booking_opens_at": (now - timedelta(hours=1)).isoformat(),
            "cutoff_at": (starts - timedelta(days=3)).isoformat(),
        },
        headers=actors.admin,
    )
    assert r.status_code == 201, r.text
    data: dict[str, Any] = r.json()
    return data


class Learner:
    def __init__(self, id_number: str, headers: dict[str, str], data: dict[str, Any]) -> None:
        self.id_number = id_number
        self.headers = headers
        self.data = data


async def add_learner(
    client: httpx.AsyncClient,
    actors: Actors,
    accepted_at: datetime,
    classes: tuple[str, ...] = ("C1",),
    id_number: str | None = None,
) -> Learner:
    idn = id_number or new_resident_id()
    r = await client.post(
        "/api/v1/exams/learners",
        json={
            "application_number": secrets.token_hex(8).upper(),
            "id_number": idn,
            "name": "李四",
            "phone": new_phone(),
            "classes": list(classes),
            "office_code": actors.office,
            "accepted_at": accepted_at.isoformat(),
        },
        headers=actors.system,
    )
    assert r.status_code == 201, r.text
    return Learner(idn, actors.citizen(idn), r.json())


async def book(client: httpx.AsyncClient, learner: Learner, slot: dict[str, Any]) -> httpx.Response:
    return await client.post("/api/v1/exams/bookings", json={"slot_id": slot["id"]}, headers=learner.headers)


async def decide(
    client: httpx.AsyncClient, actors: Actors, clock: FixedClock, slot: dict[str, Any]
) -> dict[str, Any]:
    """Move the clock to the slot's cut-off and seat it."""
    cutoff = datetime.fromisoformat(slot["cutoff_at"])
    if await clock.now() < cutoff:
        clock.set(cutoff)
    r = await client.post(f"/api/v1/exams/slots/{slot['id']}/decision", headers=actors.admin)
    assert r.status_code == 200, r.text
    data: dict[str, Any] = r.json()
    return data


async def result(
    client: httpx.AsyncClient,
    actors: Actors,
    clock: FixedClock,
    booking: dict[str, Any],
    outcome: str,
) -> httpx.Response:
    """Move the clock to the exam (if it is earlier) and record the outcome."""
    starts = datetime.fromisoformat(booking["starts_at"])
    if await clock.now() < starts:
        clock.set(starts + timedelta(hours=2))
    return await client.post(
        f"/api/v1/exams/bookings/{booking['id']}/result", json={"outcome": outcome}, headers=actors.examiner
    )


async def sit(
    client: httpx.AsyncClient,
    actors: Actors,
    clock: FixedClock,
    site_id: str,
    learner: Learner,
    subject: int,
    outcome: str,
) -> dict[str, Any]:
    """One exam end to end: a slot for the subject from now, the learner's request, the cut-off, the
    outcome. Returns the result's answer."""
    slot = await add_slot(client, actors, site_id, await clock.now(), subject=subject)
    r = await book(client, learner, slot)
    assert r.status_code == 201, r.text
    await decide(client, actors, clock, slot)
    done = await result(client, actors, clock, r.json(), outcome)
    assert done.status_code == 200, done.text
    data: dict[str, Any] = done.json()
    return data
