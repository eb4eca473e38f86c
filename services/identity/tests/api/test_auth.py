"""Sign-in, tokens, refresh rotation and reuse, lockout, JWKS, client credentials, /users/me (ID-07)."""

from datetime import timedelta
from typing import TYPE_CHECKING

import jwt
import pytest

from identity_service import keys as keys_module
from servicekit.testing import TokenFactory
from servicekit.web.auth import JwksVerifier

if TYPE_CHECKING:
    from tests.api.conftest import Api

pytestmark = pytest.mark.integration


async def test_login_by_identity_number_and_by_phone(api: "Api") -> None:
    id_number, phone = await api.owner_driver()
    for username in (id_number, phone):
        tokens = await api.login(username)
        assert tokens["token_type"] == "bearer"
        assert tokens["expires_in"] == 900
        assert tokens["refresh_token"]


async def test_access_token_is_asymmetric_and_verifies_against_the_published_jwks(api: "Api") -> None:
    id_number, _ = await api.owner_driver()
    access = (await api.login(id_number))["access_token"]
    header = jwt.get_unverified_header(access)
    assert header["alg"] == "EdDSA"
    jwks = (await api.client.get("/api/v1/auth/jwks.json")).json()
    assert header["kid"] in {k["kid"] for k in jwks["keys"]}
    assert all("d" not in k for k in jwks["keys"])  # public halves only
    principal = await JwksVerifier(
        None, "tms-identity", "tms", jwks=jwks, claim_keys=api.app.state.identity.claim_keys
    ).verify(access)
    assert principal.account_kind == "person"
    assert principal.channel == "online"
    assert principal.roles == frozenset({"citizen"})
    assert principal.office == "130100"
    assert principal.id_number == id_number


async def test_id07_users_me_returns_the_account_with_the_capabilities_of_its_kind(api: "Api") -> None:
    _id_number, phone = await api.owner_driver("赵六")
    r = await api.client.get("/api/v1/users/me", headers=await api.bearer(phone))
    assert r.status_code == 200, r.text
    me = r.json()
    assert me["name"] == "赵六"
    assert me["phone"] == phone[:3] + "****" + phone[-4:]
    assert "handle_camera_violations" in me["capabilities"]
    assert "reissue_replace_plates" not in me["capabilities"]  # counter-registered users only (ID-07)


async def test_users_me_needs_a_valid_token(api: "Api") -> None:
    assert (await api.client.get("/api/v1/users/me")).status_code == 401
    foreign = TokenFactory().citizen()  # signed by a key identity never published
    r = await api.client.get("/api/v1/users/me", headers=TokenFactory.headers(foreign))
    assert r.status_code == 401


async def test_wrong_password_is_refused_without_saying_which_part_was_wrong(api: "Api") -> None:
    id_number, _ = await api.owner_driver()
    wrong = await api.client.post("/api/v1/auth/login", json={"username": id_number, "password": "nope12345"})
    unknown = await api.client.post(
        "/api/v1/auth/login", json={"username": api.new_resident_id(), "password": "nope12345"}
    )
    assert wrong.status_code == unknown.status_code == 401
    assert wrong.json()["code"] == unknown.json()["code"] == "INVALID_CREDENTIALS"


async def test_lockout_after_five_failures_until_the_lock_expires(api: "Api") -> None:
    id_number, _ = await api.owner_driver()
    for _ in range(5):
        r = await api.client.post(
            "/api/v1/auth/login", json={"username": id_number, "password": "wrong12345"}
        )
        assert r.status_code == 401
    locked = await api.client.post(
        "/api/v1/auth/login", json={"username": id_number, "password": "Passw0rd2027"}
    )
    assert locked.status_code == 409
    assert locked.json()["code"] == "ACCOUNT_LOCKED"
    assert int(locked.headers["Retry-After"]) > 0
    api.clock.advance(timedelta(minutes=16))
    assert (await api.login(id_number))["access_token"]


async def test_refresh_rotates_and_a_reused_token_revokes_the_family(api: "Api") -> None:
    id_number, _ = await api.owner_driver()
    first = (await api.login(id_number))["refresh_token"]
    r = await api.client.post("/api/v1/auth/refresh", json={"refresh_token": first})
    assert r.status_code == 200, r.text
    second = r.json()["refresh_token"]
    assert second != first
    reuse = await api.client.post("/api/v1/auth/refresh", json={"refresh_token": first})
    assert reuse.status_code == 401
    assert reuse.json()["code"] == "INVALID_REFRESH_TOKEN"
    # the reuse revoked the whole family: the newer token is dead too
    assert (await api.client.post("/api/v1/auth/refresh", json={"refresh_token": second})).status_code == 401


async def test_logout_revokes_the_refresh_token(api: "Api") -> None:
    id_number, _ = await api.owner_driver()
    refresh = (await api.login(id_number))["refresh_token"]
    assert (await api.client.post("/api/v1/auth/logout", json={"refresh_token": refresh})).status_code == 204
    assert (await api.client.post("/api/v1/auth/refresh", json={"refresh_token": refresh})).status_code == 401


async def test_expired_refresh_token_is_refused(api: "Api") -> None:
    id_number, _ = await api.owner_driver()
    refresh = (await api.login(id_number))["refresh_token"]
    api.clock.advance(timedelta(days=31))
    assert (await api.client.post("/api/v1/auth/refresh", json={"refresh_token": refresh})).status_code == 401


async def test_client_credentials_give_a_system_token(api: "Api") -> None:
    principal = await api.app.state.verifier.verify(api.system_token)
    assert principal.roles == frozenset({"system"})
    assert principal.account_kind == "system"
    bad = await api.client.post(
        "/api/v1/auth/token",
        json={"grant_type": "client_credentials", "client_id": "nobody", "client_secret": "x"},
    )
    assert bad.status_code == 401


async def test_key_rotation_keeps_old_tokens_valid_and_signs_with_the_new_key(api: "Api") -> None:
    id_number, _ = await api.owner_driver()
    old = (await api.login(id_number))["access_token"]
    new_kid = await keys_module.rotate(api.runtime.engine)
    await api.app.state.identity.keys.jwks(force=True)
    new = (await api.login(id_number))["access_token"]
    assert jwt.get_unverified_header(new)["kid"] == new_kid
    jwks = (await api.client.get("/api/v1/auth/jwks.json")).json()
    kids = {k["kid"] for k in jwks["keys"]}
    assert {jwt.get_unverified_header(old)["kid"], new_kid} <= kids
    for token in (old, new):
        r = await api.client.get("/api/v1/users/me", headers=TokenFactory.headers(token))
        assert r.status_code == 200, (token == old, r.text)


async def test_per_ip_login_limit_answers_429_with_retry_after(api: "Api") -> None:
    api.app.state.identity.settings = api.app.state.identity.settings.model_copy(
        update={"login_rate_per_ip": "3/minute"}
    )
    headers = {"X-Forwarded-For": api.new_ip()}
    codes = [
        (
            await api.client.post(
                "/api/v1/auth/login", json={"username": "x", "password": "y"}, headers=headers
            )
        ).status_code
        for _ in range(4)
    ]
    assert codes == [401, 401, 401, 429]


async def test_id08_unit_token_names_the_unit_by_its_credit_code_not_its_agent(api: "Api") -> None:
    """ADR 0012: a unit's access token carries its unified social credit code in `idn` (kind `unit`), so
    other services can match the unit to the records it owns; the agent's identity number stays out."""
    import secrets

    from stdnum.cn import uscc

    from identity_service.demo import ensure_account

    base = "91130100MA" + secrets.token_hex(4).upper()[:7]
    credit_code = base + uscc.calc_check_digit(base)
    agent = api.new_resident_id()
    async with api.runtime.uow() as uow:
        await ensure_account(
            uow.session,
            category="unit",
            kind="enterprise",
            name="某物流公司",
            password="Passw0rd2027",
            roles=["unit"],
            now=uow.now,
            credit_code=credit_code,
            id_number=agent,
            phone=(phone := api.new_phone()),
        )
        await uow.commit()
    tokens = await api.login(credit_code)
    jwks = (await api.client.get("/api/v1/auth/jwks.json")).json()
    principal = await JwksVerifier(
        None, "tms-identity", "tms", jwks=jwks, claim_keys=api.app.state.identity.claim_keys
    ).verify(tokens["access_token"])
    assert principal.account_kind == "unit"
    assert principal.id_number == credit_code
    assert principal.roles == frozenset({"unit"})
    assert principal.phone == phone  # ADR 0047: the registered phone (PP-07's codes go there)
    # A refreshed token says the same.
    refreshed = (
        await api.client.post("/api/v1/auth/refresh", json={"refresh_token": tokens["refresh_token"]})
    ).json()
    again = await JwksVerifier(
        None, "tms-identity", "tms", jwks=jwks, claim_keys=api.app.state.identity.claim_keys
    ).verify(refreshed["access_token"])
    assert (again.account_kind, again.id_number, again.phone) == ("unit", credit_code, phone)
