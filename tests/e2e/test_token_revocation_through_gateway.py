"""ADR 0082 end to end: an access token revoked by identity (sign-out, suspension, self-service and forced
cancellation, a password change) is refused at once by identity and by vehicle, through the gateway, and
files no application; before the revocation the same token works at both.

Real processes (tests/e2e/stack.py): identity's api writes the marks into Redis, vehicle's api reads them
through servicekit's check; everything is new per run.
"""

from __future__ import annotations

import base64
import json
import secrets
from collections.abc import Callable, Iterator

import httpx
import psycopg
import pytest

from servicekit.db import psycopg_dsn
from servicekit.migrate import migrate
from servicekit.testing import new_phone, new_resident_id, set_test_calendar_years
from vehicle_service.service import SPEC as VEHICLE

from .stack import PASSWORD, Person, gateway_stack, login, make_accounts, system_login
from .test_vehicle_through_gateway import _bind, _plate, _vin

pytestmark = pytest.mark.integration

REVOKED = "the access token has been revoked"


@pytest.fixture(scope="module")
def gateway() -> Iterator[str]:
    migrate("vehicle")
    set_test_calendar_years(VEHICLE.settings().database.url, 2027)
    with gateway_stack(["vehicle"]) as url:
        yield url


def _subject(headers: dict[str, str]) -> str:
    payload = headers["Authorization"].removeprefix("Bearer ").split(".")[1]
    subject: str = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))["sub"]
    return subject


Revoke = Callable[[httpx.Client, dict[str, str], str, dict[str, str]], None]


def _logout(gw: httpx.Client, citizen: dict[str, str], refresh: str, system: dict[str, str]) -> None:
    assert gw.post("/api/v1/auth/logout", json={"refresh_token": refresh}).status_code == 204


def _suspend(gw: httpx.Client, citizen: dict[str, str], refresh: str, system: dict[str, str]) -> None:
    r = gw.post("/api/v1/users/me/suspension", json={"password": PASSWORD}, headers=citizen)
    assert r.status_code == 204, r.text


def _cancel_own(gw: httpx.Client, citizen: dict[str, str], refresh: str, system: dict[str, str]) -> None:
    r = gw.post("/api/v1/users/me/cancellation", json={"password": PASSWORD}, headers=citizen)
    assert r.status_code == 204, r.text


def _cancel_by_force(gw: httpx.Client, citizen: dict[str, str], refresh: str, system: dict[str, str]) -> None:
    r = gw.post(
        f"/api/v1/users/{_subject(citizen)}/cancellation", json={"reason": "deceased"}, headers=system
    )
    assert r.status_code == 204, r.text


def _change_password(gw: httpx.Client, citizen: dict[str, str], refresh: str, system: dict[str, str]) -> None:
    body = {"old_password": PASSWORD, "new_password": "NewPass2028"}
    assert gw.put("/api/v1/users/me/password", json=body, headers=citizen).status_code == 204


REVOCATIONS: dict[str, Revoke] = {
    "logout": _logout,
    "suspension": _suspend,
    "self_service_cancellation": _cancel_own,
    "forced_cancellation": _cancel_by_force,
    "password_change": _change_password,
}


@pytest.mark.parametrize("how", sorted(REVOCATIONS))
def test_a_revoked_token_is_refused_by_every_service_at_once(gateway: str, how: str) -> None:
    owner_id, owner_phone = new_resident_id(), new_phone()
    names = make_accounts({"intake": ["clerk.intake"]}, [Person(owner_id, owner_phone)])
    with httpx.Client(base_url=gateway, trust_env=False, timeout=30) as gw:
        intake = login(gw, names["intake"])
        system = system_login(gw, names["system"])
        r = gw.post("/api/v1/auth/login", json={"username": owner_id, "password": PASSWORD})
        assert r.status_code == 200, r.text
        citizen = {"Authorization": f"Bearer {r.json()['access_token']}"}
        refresh = r.json()["refresh_token"]
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
        vehicle = r.json()["id"]
        _bind(citizen, vehicle)
        # Before: the token works at identity and at vehicle.
        assert gw.get("/api/v1/auth/whoami", headers=citizen).status_code == 200
        assert gw.get(f"/api/v1/vehicles/{vehicle}", headers=citizen).status_code == 200

        REVOCATIONS[how](gw, citizen, refresh, system)

        for path in ("/api/v1/auth/whoami", f"/api/v1/vehicles/{vehicle}", "/api/v1/vehicle-applications"):
            r = gw.get(path, headers=citizen)
            assert r.status_code == 401, (path, r.text)
            assert r.json()["detail"] == REVOKED
            assert r.headers["content-type"] == "application/problem+json"
        r = gw.post(
            "/api/v1/vehicle-applications",
            headers=citizen | {"Idempotency-Key": secrets.token_hex(8)},
            json={
                "vehicle_id": vehicle,
                "item": "plate",
                "kind": "reissue",
                "delivery": "mail",
                "address": "河北省石家庄市长安区建设北大街1号",
            },
        )
        assert r.status_code == 401, r.text
        assert r.json()["detail"] == REVOKED
        assert _applications_of(vehicle) == 0


def _applications_of(vehicle_id: str) -> int:
    """Applications in vehicle's own database for this vehicle, in any state."""
    with psycopg.connect(psycopg_dsn(VEHICLE.settings().database.url)) as conn:
        row = conn.execute(
            "SELECT count(*) FROM applications WHERE vehicle_id = %s", (vehicle_id,)
        ).fetchone()
    assert row is not None
    return int(row[0])
