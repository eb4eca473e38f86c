"""A cancelled account de-identified after its retention (PIPL art. 47, ADR 0093), at identity: the sweep
on the moved platform clock, one day before and after the 180 days, resumable batch by batch, the event
for the other services, and the person's newer account left alone. The other services' part is
tests/e2e/test_person_rights.py."""

from __future__ import annotations

import logging
import uuid
from datetime import timedelta
from typing import TYPE_CHECKING, Any

import pytest
from sqlalchemy import select

from identity_service.deidentify import sweep_deidentify
from identity_service.tables import accounts, licence_photos
from servicekit import personal
from servicekit.personal import DEIDENTIFIED

from .conftest import START

if TYPE_CHECKING:
    from tests.api.conftest import Api

pytestmark = pytest.mark.integration

RETENTION = timedelta(days=180)
# Earlier than any other test's cancellations, so the sweep's oldest-first batches reach these first.
LONG_AGO = START - timedelta(days=400)


async def _cancelled(api: Api, name: str) -> tuple[uuid.UUID, str, str]:
    id_number, phone = await api.owner_driver(name)
    me = await api.bearer(phone)
    account_id = uuid.UUID((await api.client.get("/api/v1/users/me", headers=me)).json()["id"])
    r = await api.client.post("/api/v1/users/me/cancellation", json={"password": "Passw0rd2027"}, headers=me)
    assert r.status_code == 204, r.text
    return account_id, id_number, phone


async def _account(api: Api, account_id: uuid.UUID) -> Any:
    async with api.runtime.engine.connect() as conn:
        return (await conn.execute(select(accounts).where(accounts.c.id == account_id))).one()


async def _events(api: Api, account_id: uuid.UUID) -> list[dict[str, Any]]:
    outbox = api.runtime.metadata.tables["outbox"]
    query = select(outbox.c.payload).where(
        outbox.c.routing_key == personal.ACCOUNT_DEIDENTIFIED, outbox.c.subject == str(account_id)
    )
    async with api.runtime.engine.connect() as conn:
        return [dict(r.payload) for r in await conn.execute(query)]


async def test_a_cancelled_account_is_kept_180_days_then_de_identified_batch_by_batch(
    api: Api, caplog: pytest.LogCaptureFixture
) -> None:
    api.clock.set(LONG_AGO)
    first, id_number, phone = await _cancelled(api, "诸葛亮")
    # Its licence photo application, the account's own.
    async with api.runtime.uow() as uow:
        await uow.session.execute(
            licence_photos.insert().values(
                id=uuid.uuid4(),
                account_id=first,
                id_number=id_number,
                office="130100",
                photo_ref="ref",
                format="jpeg",
                state="approved",
                submitted_at=uow.now,
                deadline=uow.now,
            )
        )
        await uow.commit()
    api.clock.advance(timedelta(hours=1))
    second, _, _ = await _cancelled(api, "司马懿")
    # The person comes back with a new account: the same identity number and phone, never touched.
    r = await api.register("owner_driver", id_number, phone, "诸葛亮")
    assert r.status_code == 201, r.text
    newer = uuid.UUID(r.json()["id"])

    api.clock.set(LONG_AGO + RETENTION - timedelta(days=1))
    await sweep_deidentify(api.runtime)
    kept = await _account(api, first)
    assert (kept.name, kept.id_number, kept.phone, kept.deidentified_at) == ("诸葛亮", id_number, phone, None)
    assert await _events(api, first) == []

    api.clock.set(LONG_AGO + RETENTION + timedelta(hours=2))
    settings = api.runtime.settings
    batch = settings.deidentify_batch  # type: ignore[attr-defined]
    settings.deidentify_batch = 1  # type: ignore[attr-defined]
    try:
        with caplog.at_level(logging.INFO, logger="identity_service.deidentify"):
            assert await sweep_deidentify(api.runtime) == 1
            assert (await _account(api, second)).deidentified_at is None  # the next batch's
            assert await sweep_deidentify(api.runtime) == 1
    finally:
        settings.deidentify_batch = batch  # type: ignore[attr-defined]
    # Each batch says how far the sweep has got: done in it, and how many are still due.
    said = [(r.deidentified, r.batch, r.left) for r in caplog.records if hasattr(r, "left")]
    assert [(done, size) for done, size, _ in said] == [(1, 1), (1, 1)]
    assert said[0][2] == said[1][2] + 1

    for account_id in (first, second):
        gone = await _account(api, account_id)
        assert (gone.name, gone.id_number, gone.phone, gone.email) == (DEIDENTIFIED, None, None, None)
        assert gone.details == {}
        assert gone.status == "cancelled"
        assert gone.deidentified_at == LONG_AGO + RETENTION + timedelta(hours=2)
        (event,) = await _events(api, account_id)
        assert set(event) == {"account_id", "cancelled_at", "deidentified_at"}  # the account id alone
    async with api.runtime.engine.connect() as conn:
        photo_numbers = (
            await conn.scalars(select(licence_photos.c.id_number).where(licence_photos.c.account_id == first))
        ).all()
    assert photo_numbers == [DEIDENTIFIED]
    r = await api.client.post("/api/v1/auth/login", json={"username": phone, "password": "Passw0rd2027"})
    assert r.status_code == 200, "the newer account signs in"
    live = await _account(api, newer)
    assert (live.name, live.id_number, live.phone) == ("诸葛亮", id_number, phone)

    # Done once: a later run finds nothing of these to do and publishes nothing again.
    await sweep_deidentify(api.runtime)
    assert len(await _events(api, first)) == 1

    audit = api.runtime.metadata.tables["audit_log"]
    async with api.runtime.engine.connect() as conn:
        query = select(audit.c.action).where(audit.c.target == f"account:{first}")
        actions = (await conn.scalars(query)).all()
    assert "account_deidentified" in actions
