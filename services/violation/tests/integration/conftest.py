"""violation against its real `violation_test` database and Redis (TMS_ENV=test, set by the root conftest)."""

from __future__ import annotations

import base64
import io
import secrets
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from pydantic import BaseModel, SecretStr
from sqlalchemy import select

from servicekit.clock import SHANGHAI, FixedClock
from servicekit.consumer import Subscription
from servicekit.envelope import Envelope
from servicekit.migrate import migrate
from servicekit.runtime import Runtime
from servicekit.testing import TokenFactory, new_phone, new_resident_id, outbox_payloads, service_client
from servicekit.web import create_service_app
from violation_service import subscriptions as subs
from violation_service.api import router
from violation_service.context import close_context, open_context
from violation_service.service import SPEC
from violation_service.tables import metadata

from .factories import new_plate

START = datetime(2027, 3, 1, 9, 0, tzinfo=SHANGHAI)  # a Monday


@pytest.fixture(scope="session")
def violation_database() -> str:
    settings = SPEC.settings()
    assert settings.env.value == "test", "the tests run with TMS_ENV=test (root conftest.py)"
    migrate("violation")
    return settings.database.url


@pytest.fixture
def clock() -> FixedClock:
    return FixedClock(START)


@pytest.fixture
async def runtime(violation_database: str, clock: FixedClock) -> AsyncIterator[Runtime]:
    rt = Runtime.open(SPEC.settings(), SPEC.metadata, clock=clock)
    yield rt
    await rt.aclose()


@pytest.fixture(scope="session")
def tokens() -> TokenFactory:
    return TokenFactory()


def build_app(
    tokens: TokenFactory, clock: FixedClock, settings: Any = None, *, local_bank: bool = False
) -> FastAPI:
    """The api as main.py builds it, on the test's clock; `local_bank` mounts the dev/test checkout."""
    from violation_service.api import testing

    settings = settings or SPEC.settings()
    routers, on_startup, on_shutdown = [router], [open_context], [close_context]
    if local_bank:
        routers.append(testing.router)
        on_startup.append(testing.open_local_bank)
        on_shutdown.append(testing.close_local_bank)
    app = create_service_app(
        settings,
        title="violation",
        routers=routers,
        runtime_factory=lambda: Runtime.open(settings, SPEC.metadata, clock=clock),
        on_startup=on_startup,
        on_shutdown=on_shutdown,
    )
    app.state.verifier = tokens.verifier()
    return app


@pytest.fixture
async def client(
    violation_database: str, tokens: TokenFactory, clock: FixedClock
) -> AsyncIterator[httpx.AsyncClient]:
    async with service_client(build_app(tokens, clock)) as c:
        yield c


def png(seed: int = 0) -> bytes:
    """A small real PNG (reportlab brings Pillow), different for each seed."""
    from PIL import Image

    out = io.BytesIO()
    Image.new("RGB", (8, 8), ((seed * 37) % 256, (seed * 91) % 256, 120)).save(out, format="PNG")
    return out.getvalue()


def record(**overrides: Any) -> dict[str, Any]:
    """A camera record's body as another police system sends it (VI-01)."""
    body: dict[str, Any] = {
        "record_id": "R" + secrets.token_hex(12).upper(),
        "office_code": "130104",
        "plate_kind": "02",
        "plate_number": new_plate(),
        "violated_at": "2027-02-20T18:42:00+08:00",
        "place": "石家庄市中华大街与裕华路交叉口",
        "violation_code": "1625",
        "description": "驾驶机动车违反道路交通信号灯通行的",
        "penalty": "fine",
        "fine_fen": 20_000,
        "points": 6,
        "evidence": [base64.b64encode(png(i)).decode() for i in range(3)],
    }
    body.update(overrides)
    return body


@dataclass
class Person:
    """A citizen as identity signs them in: account id (`sub`), identity number (`idn`), phone (`phn`)."""

    account_id: str
    id_number: str
    phone: str
    headers: dict[str, str]
    name: str = "张三"


class Actors:
    def __init__(self, tokens: TokenFactory) -> None:
        self.tokens = tokens
        self.system = tokens.headers(tokens.system("camera-system"))
        self.other_system = tokens.headers(tokens.system("other-system"))
        self.clerk = tokens.headers(tokens.clerk(roles=("clerk.intake",), office="130100"))
        self.far_clerk = tokens.headers(tokens.clerk(roles=("clerk.intake",), office="440100"))

    def person(self, channel: str = "online") -> Person:
        account_id, id_number, phone = str(uuid.uuid4()), new_resident_id(), new_phone()
        token = self.tokens.citizen(
            subject=account_id,
            id_number=id_number,
            phone=phone,
            channel=channel,  # type: ignore[arg-type]
        )
        return Person(account_id, id_number, phone, self.tokens.headers(token))

    def unit(self) -> Person:
        account_id = str(uuid.uuid4())
        token = self.tokens.mint(account_id, kind="unit", roles=("unit",), id_number="91130100MA0000000X")
        return Person(account_id, "91130100MA0000000X", new_phone(), self.tokens.headers(token))


@pytest.fixture
def actors(tokens: TokenFactory) -> Actors:
    return Actors(tokens)


async def take(client: httpx.AsyncClient, actors: Actors, **overrides: Any) -> dict[str, Any]:
    r = await client.post("/api/v1/violations", json=record(**overrides), headers=actors.system)
    assert r.status_code == 201, r.text
    data: dict[str, Any] = r.json()
    return data


async def deliver(
    runtime: Runtime,
    subscription: Subscription,
    data: dict[str, Any],
    message_type: str | None = None,
    source: str = "/identity",
) -> None:
    """Run the subscription's handler on one message in a unit of work, as the consumer does."""
    message_type = message_type or next(iter(subscription.handles))
    parsed: BaseModel = subscription.handles[message_type].model_validate(data)
    envelope = Envelope(
        id=uuid.uuid4(),
        type=message_type,
        source=source,
        time=datetime.now(UTC),
        subject=None,
        data=data,
        trace_headers={},
    )
    async with runtime.uow() as uow:
        await subscription.handler(uow, parsed, envelope)
        await uow.commit()


async def has_vehicle(
    runtime: Runtime, plate_number: str, plate_kind: str = "02", owner_id_number: str | None = None
) -> str:
    """vehicle's `vehicle.vehicle.registered.v1` for a vehicle with this plate; its id."""
    vehicle_id = str(uuid.uuid4())
    await deliver(
        runtime,
        subs.PLATES,
        {
            "vehicle_id": vehicle_id,
            "plate_number": plate_number,
            "plate_kind": plate_kind,
            "owner": {
                "id_kind": "resident_id",
                "id_number": owner_id_number or new_resident_id(),
                "name": "x",
            },
        },
        "vehicle.vehicle.registered.v1",
        "/vehicle",
    )
    return vehicle_id


async def bind_vehicle(
    runtime: Runtime, person: Person, vehicle_id: str, *, owned: bool = True, ended: bool = False
) -> str:
    """identity's `identity.binding.created.v1` (and `ended.v1`) for the person and the vehicle."""
    data = {
        "binding_id": str(uuid.uuid4()),
        "account_id": person.account_id,
        "record_kind": "vehicle",
        "ref": vehicle_id,
        "owned": owned,
        "channel": "online" if owned else "counter",
        "at": START.isoformat(),
    }
    await deliver(runtime, subs.VEHICLE_BINDINGS, data, "identity.binding.created.v1")
    if ended:
        await deliver(
            runtime, subs.VEHICLE_BINDINGS, data | {"reason": "by_user"}, "identity.binding.ended.v1"
        )
    return str(data["binding_id"])


async def bind_licence(runtime: Runtime, person: Person, *, ended: bool = False) -> str:
    data = {
        "binding_id": str(uuid.uuid4()),
        "account_id": person.account_id,
        "licence_number": person.id_number,
        "holder_name": person.name,
        "channel": "online",
        "at": START.isoformat(),
    }
    await deliver(runtime, subs.LICENCE_BINDINGS, data, "identity.licence_binding.created.v1")
    if ended:
        await deliver(
            runtime, subs.LICENCE_BINDINGS, data | {"reason": "by_user"}, "identity.licence_binding.ended.v1"
        )
    return str(data["binding_id"])


async def owner_of(runtime: Runtime, actors: Actors, plate_number: str, *, licence: bool = True) -> Person:
    """A person who owns the vehicle with this plate and has bound it (and, by default, their licence)."""
    person = actors.person()
    vehicle_id = await has_vehicle(runtime, plate_number, owner_id_number=person.id_number)
    await bind_vehicle(runtime, person, vehicle_id)
    if licence:
        await bind_licence(runtime, person)
    return person


async def events_about(runtime: Runtime, subject: str) -> list[tuple[str, dict[str, Any]]]:
    outbox = metadata.tables["outbox"]
    async with runtime.engine.connect() as conn:
        rows = await conn.execute(
            select(outbox.c.routing_key, outbox.c.payload)
            .where(outbox.c.subject == subject)
            .order_by(outbox.c.id)
        )
        return [(r.routing_key, r.payload) for r in rows]


async def sent_code(runtime: Runtime, phone: str) -> str:
    """The last SMS code violation asked notify to send to `phone` (the command in its outbox)."""
    async with runtime.engine.connect() as conn:
        sent = await outbox_payloads(conn, "notify.sms.send.v1", newest_first=True, phone=phone)
    return str(sent[0]["params"]["code"])


def read_pdf(content: bytes) -> tuple[str, list[str]]:
    """A PDF as a person and a scanner see it: every page rendered (pdfium), its text, and the QR codes
    read from the rendered pixels (zxing)."""
    import pypdfium2
    import zxingcpp

    assert content.startswith(b"%PDF-")
    document = pypdfium2.PdfDocument(content)
    texts: list[str] = []
    codes: list[str] = []
    for page in document:
        texts.append(page.get_textpage().get_text_range())
        image = page.render(scale=3).to_pil()
        codes += [found.text for found in zxingcpp.read_barcodes(image)]
    return "\n".join(texts), codes


@pytest.fixture
async def own_bank(
    violation_database: str, tokens: TokenFactory, clock: FixedClock
) -> AsyncIterator[tuple[httpx.AsyncClient, Any]]:
    """A client of an app that trusts one more bank, this test's own (a fresh code and key), and that
    bank's simulator: what it reconciles is only this test's (the test database outlives a test)."""
    from violation_service.banks import BankSettings, HmacKey
    from violation_service.banksim import BankSimulator

    code, key = "t" + secrets.token_hex(4), secrets.token_hex(16)
    settings = SPEC.settings()
    settings.banks = {code: BankSettings(name="测试银行", key=SecretStr(key), simulator=True)}  # type: ignore[attr-defined]
    async with service_client(build_app(tokens, clock, settings)) as c:
        yield c, BankSimulator(code, HmacKey(key.encode()))


def simulator(runtime: Runtime) -> Any:
    """The local bank as the service is configured to trust it (dev and test: `sim`, HMAC-SHA256)."""
    from violation_service.banks import HmacKey
    from violation_service.banksim import BankSimulator
    from violation_service.settings import ViolationSettings

    settings = runtime.settings
    assert isinstance(settings, ViolationSettings)
    return BankSimulator("sim", HmacKey(settings.simulator_key().hex().encode()))


async def decided(
    client: httpx.AsyncClient, actors: Actors, runtime: Runtime, **overrides: Any
) -> tuple[Person, dict[str, Any], dict[str, Any]]:
    """A camera record its owner has handled: (owner, violation, decision)."""
    taken = await take(client, actors, **overrides)
    owner = await owner_of(runtime, actors, taken["plate_number"])
    r = await client.post(f"/api/v1/violations/{taken['id']}/handling-code", headers=owner.headers)
    assert r.status_code == 202, r.text
    code = await sent_code(runtime, owner.phone)
    r = await client.post(
        f"/api/v1/violations/{taken['id']}/handling", json={"code": code}, headers=owner.headers
    )
    assert r.status_code == 201, r.text
    return owner, taken, r.json()
