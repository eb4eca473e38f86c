"""ADR 0095 (GB/T 39786 level 3, PIPL art. 51): a plain `pg_dump` of every service's database, read
without the keys, shows no identity number and no phone of the people the platform holds.

People are made through the flows that carry their data: a police system issues a licence (license's api;
identity projects it), identity sends an SMS (over the broker to notify), a pre-selection is taken through
plate-pool's api and registered at vehicle's counter (vehicle and violation project it). The workers of
all six services run in this process, relaying and consuming over the real broker. Each service's dump is
then searched for the people's identity numbers and phones, and for a non-personal mark of each flow that
must be there (so an empty database cannot pass).
"""

from __future__ import annotations

import asyncio
import secrets
import shutil
import subprocess
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass

import pytest
from sqlalchemy.engine import make_url

from identity_service.commands import SendSms
from identity_service.service import SPEC as IDENTITY
from license_service.service import SPEC as LICENSE
from notify_service.service import SPEC as NOTIFY
from plate_pool_service.service import SPEC as PLATE_POOL
from servicekit.migrate import ADMIN_URL, migrate
from servicekit.service import load_spec
from servicekit.testing import new_phone, new_resident_id, set_test_calendar_years
from servicekit.worker import Worker
from vehicle_service.service import SPEC as VEHICLE
from violation_service.service import SPEC as VIOLATION

from .test_licence_pipes import issued, personal_account, platform  # noqa: F401 - the `platform` fixture
from .test_preselection_to_registration import (  # noqa: F401 - the `pipe` fixture
    Pipe,
    new_vin,
    pipe,
    preselect,
    register_at_counter,
    settled,
)
from .workers import running_workers, without_sweeps

pytestmark = pytest.mark.integration

SERVICES = ("identity", "vehicle", "license", "plate-pool", "violation", "notify")


@pytest.fixture(scope="module")
def databases() -> None:
    for spec in (IDENTITY, VEHICLE, LICENSE, PLATE_POOL, VIOLATION, NOTIFY):
        migrate(spec.name)
    for spec in (PLATE_POOL, VEHICLE):
        set_test_calendar_years(spec.settings().database.url, 2027)


@pytest.fixture(scope="module")
async def others(databases: None) -> AsyncIterator[list[Worker]]:
    """notify's and violation's workers (the pipes start the other four)."""
    async with running_workers(without_sweeps(NOTIFY), without_sweeps(VIOLATION)) as started:
        yield started


@dataclass(frozen=True)
class People:
    personal: tuple[str, ...]  # identity numbers and phones: never in a dump
    marks: dict[str, tuple[str, ...]]  # per service, non-personal values its flows wrote there


@pytest.fixture(scope="module")
async def people(pipe: Pipe, platform: dict[str, object], others: list[Worker]) -> People:  # noqa: F811
    # A licence issued by a police system: license's record, identity's projection of it, an account.
    holder, holder_phone = new_resident_id(), new_phone()
    identity: Worker = platform["identity"]  # type: ignore[assignment]
    account_id = await personal_account(identity, "learner", holder, holder_phone)
    licence = await issued(platform, holder, holder_phone)
    # identity asks notify to send an SMS to the holder (the broker in between).
    case = f"dump-{uuid.uuid4().hex[:12]}"
    async with identity.runtime.uow() as uow:
        account = holder_phone[:3] + "****" + holder_phone[-4:]
        params = {"name": "沙悟净", "account": account}
        uow.emit(SendSms(phone=holder_phone, template="registration_approved", params=params, case_id=case))
        await uow.commit()
    # A pre-selection through plate-pool's api, registered at vehicle's counter.
    owner_id, vin, owner_phone = new_resident_id(pipe.office), new_vin(), new_phone()
    token = pipe.tokens.citizen(
        f"person-{secrets.token_hex(6)}", id_number=owner_id, phone=owner_phone, ttl_s=3600
    )
    owner = {"id_kind": "resident_id", "id_number": owner_id, "name": "欧阳娜娜"}
    selection = await preselect(pipe, pipe.tokens.headers(token), owner, vin, owner_phone)
    r = await register_at_counter(
        pipe, {"selection_id": selection["id"], "vin": vin, "owner": owner, "phone": owner_phone}
    )
    assert r.status_code == 201, r.text
    assert (await settled(pipe, selection["id"]))[0] == "registered"
    marks = {
        # The account, and identity's copies of the licence and the vehicle (from their events).
        "identity": (str(account_id), str(licence["id"]), vin),
        "license": (str(licence["id"]),),
        "notify": (case,),
        "plate-pool": (str(selection["id"]),),
        "vehicle": (vin,),
        "violation": (str(selection["plate_number"]),),
    }
    # Every flow has reached every service it writes to before the dumps are taken.
    for service, wanted in marks.items():
        for _ in range(120):
            text = await asyncio.to_thread(dump, service)  # the workers run on this loop
            if all(mark in text for mark in wanted):
                break
            await asyncio.sleep(0.5)
    personal = (holder, holder_phone, owner_id, owner_phone)
    return People(personal=(*personal, *(p.lower() for p in personal if p.endswith("X"))), marks=marks)


def dump(service: str) -> str:
    """`pg_dump` of the service's test database, plain SQL, as its superuser would take it."""
    database = make_url(load_spec(service).settings().database.url).database
    admin = make_url(ADMIN_URL)
    command = [
        shutil.which("pg_dump") or "pg_dump",
        "-h",
        admin.host or "127.0.0.1",
        "-p",
        str(admin.port or 5432),
        "-U",
        admin.username or "postgres",
        "--no-owner",
        str(database),
    ]
    return subprocess.run(command, capture_output=True, text=True, check=True, timeout=120).stdout


@pytest.mark.parametrize("service", SERVICES)
def test_a_plain_dump_of_each_database_holds_no_identity_number_or_phone(
    people: People, service: str
) -> None:
    text = dump(service)
    assert [mark for mark in people.marks[service] if mark not in text] == []  # the flows' rows are there
    found = [value for value in people.personal if value in text]
    assert found == [], f"{service}'s dump holds {len(found)} identity numbers or phones in clear"
