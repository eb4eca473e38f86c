"""VH-02..VH-10 end to end through the gateway: a clerk registers a car for a counter-registered citizen
(VH-15), the citizen applies for a plate reissue by mail, the intake clerk works the queue (intake,
production, hand-off to the post), the post's bridge reports the delivery as a system client, the citizen
sees the plate delivered and the archive files the case; another citizen reaches neither car nor case.

Real processes (tests/e2e/stack.py): identity's api signs every token (clerks, citizens and the system
client sign in through nginx), vehicle's api verifies them; everything is new per run.
"""

from __future__ import annotations

import asyncio
import base64
import json
import secrets
import uuid
from collections.abc import Iterator

import httpx
import pytest

from servicekit.migrate import migrate
from servicekit.runtime import Runtime
from servicekit.testing import new_phone, new_resident_id, set_test_calendar_years
from servicekit.validators import PROVINCES, vin_check_digit
from vehicle_service import records as vehicle_records
from vehicle_service.service import SPEC as VEHICLE

from .stack import Person, gateway_stack, login, make_accounts, system_login

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def gateway() -> Iterator[str]:
    migrate("vehicle")
    # WD-01: an application's intake due date may reach 2027 (the real clock, December 2026): test fixture
    set_test_calendar_years(VEHICLE.settings().database.url, 2027)
    with gateway_stack(["vehicle"]) as url:
        yield url


def _vin() -> str:
    body = "L" + "".join(secrets.choice("ABCDEFGHJKLMNPRSTUVWXYZ0123456789") for _ in range(16))
    return body[:8] + vin_check_digit(body[:8] + "0" + body[9:]) + body[9:]


def _plate() -> str:
    letters = "ABCDEFGHJKLMNPQRSTUVWXYZ"
    return (
        secrets.choice(PROVINCES)
        + secrets.choice(letters)
        + "".join(secrets.choice(letters + "0123456789") for _ in range(5))
    )


def _bind(headers: dict[str, str], vehicle_id: str) -> None:
    """The account signed in with `headers` has bound the vehicle: what vehicle's worker does with identity's
    `identity.binding.created.v1` (the account id is the token's `sub`)."""
    token = headers["Authorization"].removeprefix("Bearer ").split(".")[1]
    subject = json.loads(base64.urlsafe_b64decode(token + "=" * (-len(token) % 4)))["sub"]

    async def run() -> None:
        runtime = Runtime.open(VEHICLE.settings(), VEHICLE.metadata)
        try:
            async with runtime.uow() as uow:
                await vehicle_records.project_binding(
                    uow,
                    binding_id=str(uuid.uuid4()),
                    account_id=subject,
                    vehicle_ref=vehicle_id,
                    owned=True,
                    bound_at=uow.now,
                )
                await uow.commit()
        finally:
            await runtime.aclose()

    asyncio.run(run())


def test_vh09_citizen_to_delivered_plate_with_clerks_working_the_queue_through_the_gateway(
    gateway: str,
) -> None:
    owner_id, owner_phone = new_resident_id(), new_phone()
    stranger_id = new_resident_id()
    names = make_accounts(
        {"intake": ["clerk.intake"], "archive": ["clerk.archive"]},
        [Person(owner_id, owner_phone), Person(stranger_id, new_phone())],
    )
    with httpx.Client(base_url=gateway, trust_env=False, timeout=30) as gw:
        intake, archive = login(gw, names["intake"]), login(gw, names["archive"])
        system = system_login(gw, names["system"])
        citizen, stranger = login(gw, owner_id), login(gw, stranger_id)

        r = gw.post(
            "/api/v1/vehicles",
            headers=intake,
            json={
                "plate_number": _plate(),
                "vin": _vin(),
                "owner": {"id_kind": "resident_id", "id_number": owner_id, "name": "沈十七"},
                "phone": owner_phone,
            },
        )
        assert r.status_code == 201, r.text
        vehicle = r.json()
        assert gw.get(f"/api/v1/vehicles/{vehicle['id']}", headers=citizen).status_code == 200
        assert gw.get(f"/api/v1/vehicles/{vehicle['id']}", headers=stranger).status_code == 404
        # VH-02: reissue serves vehicles bound in the applicant's name (ADR 0044); identity's
        # `identity.binding.created.v1` reaches vehicle's projection (no broker in this test).
        _bind(citizen, vehicle["id"])

        r = gw.post(
            "/api/v1/vehicle-applications",
            headers=citizen | {"Idempotency-Key": secrets.token_hex(8)},
            json={
                "vehicle_id": vehicle["id"],
                "item": "plate",
                "kind": "reissue",
                "delivery": "mail",
                "address": "河北省石家庄市长安区建设北大街1号",
            },
        )
        assert r.status_code == 201, r.text
        case = r.json()
        assert gw.get(f"/api/v1/vehicle-applications/{case['id']}", headers=stranger).status_code == 404

        queue = gw.get(
            "/api/v1/vehicle-applications", params={"state": "submitted", "limit": 200}, headers=intake
        )
        assert case["id"] in [c["id"] for c in queue.json()]
        for step, body in (("intake", {"decision": "accept"}), ("production", None), ("handoff", None)):
            r = gw.post(f"/api/v1/vehicle-applications/{case['id']}/{step}", headers=intake, json=body)
            assert r.status_code == 200, r.text
        mailed = r.json()
        assert mailed["state"] == "mailed"

        r = gw.post(
            "/api/v1/vehicle-applications/post-events",
            headers=system,
            json={"tracking_number": mailed["tracking_number"], "event": "delivered"},
        )
        assert r.status_code == 200, r.text
        r = gw.get(f"/api/v1/vehicle-applications/{case['id']}", headers=citizen)
        assert r.json()["state"] == "delivered"
        r = gw.post(
            f"/api/v1/vehicle-applications/{case['id']}/archive", headers=archive, json={"action": "file"}
        )
        assert r.status_code == 200, r.text
        assert r.json()["archived"] is True
        r = gw.get(f"/api/v1/vehicles/{vehicle['id']}", headers=citizen)
        assert r.json()["plate_reissue_count"] == 1
