"""ADR 0082: an access token stops working at once when its session or account is revoked: sign-out, a
reused refresh token, suspension, self-service and forced cancellation, a password change. identity
writes the marks (real Redis), and refuses the token itself through servicekit's check."""

import uuid
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

import jwt
import pytest
from sqlalchemy import select

from identity_service.main import create_app
from identity_service.revocation_marks import restore_revocation_marks
from identity_service.service import SPEC
from identity_service.tables import token_revocations
from identity_service.tokens import revocations
from servicekit.runtime import Runtime
from servicekit.settings import RedisSettings
from servicekit.testing import TokenFactory, service_client
from servicekit.web.revocation import PRESENT_KEY, account_key, session_key

from .conftest import test_settings as identity_settings

if TYPE_CHECKING:
    from tests.api.conftest import Api

pytestmark = pytest.mark.integration

PASSWORD = "Passw0rd2027"


async def _works(api: "Api", access: str) -> int:
    r = await api.client.get("/api/v1/auth/whoami", headers=TokenFactory.headers(access))
    if r.status_code == 401:
        assert r.json()["detail"] == "the access token has been revoked", r.text
    return r.status_code


async def _logout(api: "Api", tokens: dict[str, Any]) -> None:
    r = await api.client.post("/api/v1/auth/logout", json={"refresh_token": tokens["refresh_token"]})
    assert r.status_code == 204


async def _suspend(api: "Api", tokens: dict[str, Any]) -> None:
    r = await api.client.post(
        "/api/v1/users/me/suspension",
        json={"password": PASSWORD},
        headers=TokenFactory.headers(tokens["access_token"]),
    )
    assert r.status_code == 204, r.text


async def _cancel_own(api: "Api", tokens: dict[str, Any]) -> None:
    r = await api.client.post(
        "/api/v1/users/me/cancellation",
        json={"password": PASSWORD},
        headers=TokenFactory.headers(tokens["access_token"]),
    )
    assert r.status_code == 204, r.text


async def _cancel_by_force(api: "Api", tokens: dict[str, Any]) -> None:
    subject = jwt.decode(tokens["access_token"], options={"verify_signature": False})["sub"]
    r = await api.client.post(
        f"/api/v1/users/{subject}/cancellation",
        json={"reason": "deceased"},
        headers=TokenFactory.headers(api.system_token),
    )
    assert r.status_code == 204, r.text


async def _change_password(api: "Api", tokens: dict[str, Any]) -> None:
    r = await api.client.put(
        "/api/v1/users/me/password",
        json={"old_password": PASSWORD, "new_password": "NewPass2028"},
        headers=TokenFactory.headers(tokens["access_token"]),
    )
    assert r.status_code == 204, r.text


async def _reuse_refresh(api: "Api", tokens: dict[str, Any]) -> None:
    first = tokens["refresh_token"]
    assert (await api.client.post("/api/v1/auth/refresh", json={"refresh_token": first})).status_code == 200
    assert (await api.client.post("/api/v1/auth/refresh", json={"refresh_token": first})).status_code == 401


Revoke = Callable[["Api", dict[str, Any]], Awaitable[None]]
REVOCATIONS: dict[str, Revoke] = {
    "logout": _logout,
    "refresh_reuse": _reuse_refresh,
    "suspension": _suspend,
    "self_service_cancellation": _cancel_own,
    "forced_cancellation": _cancel_by_force,
    "password_change": _change_password,
}


@pytest.mark.parametrize("how", sorted(REVOCATIONS))
async def test_a_revoked_token_is_refused_at_once(api: "Api", how: str) -> None:
    _, phone = await api.owner_driver()
    tokens = await api.login(phone)
    assert await _works(api, tokens["access_token"]) == 200
    await REVOCATIONS[how](api, tokens)
    assert await _works(api, tokens["access_token"]) == 401


async def test_logout_ends_only_its_own_session(api: "Api") -> None:
    _, phone = await api.owner_driver()
    phone_app, browser = await api.login(phone), await api.login(phone)
    await _logout(api, phone_app)
    assert await _works(api, phone_app["access_token"]) == 401
    assert await _works(api, browser["access_token"]) == 200


async def test_a_refreshed_token_belongs_to_the_same_session(api: "Api") -> None:
    _, phone = await api.owner_driver()
    tokens = await api.login(phone)
    r = await api.client.post("/api/v1/auth/refresh", json={"refresh_token": tokens["refresh_token"]})
    assert r.status_code == 200, r.text
    refreshed = r.json()
    claims = [jwt.decode(t["access_token"], options={"verify_signature": False}) for t in (tokens, refreshed)]
    assert claims[0]["sid"] == claims[1]["sid"]
    await _logout(api, refreshed)
    assert await _works(api, refreshed["access_token"]) == 401
    assert await _works(api, tokens["access_token"]) == 401


async def test_signing_in_right_after_a_password_change_gives_a_working_token(api: "Api") -> None:
    """The account mark ends tokens issued before it, not the one the new password gets at once."""
    _, phone = await api.owner_driver()
    tokens = await api.login(phone)
    await _change_password(api, tokens)
    fresh = await api.login(phone, "NewPass2028")
    assert await _works(api, fresh["access_token"]) == 200
    assert await _works(api, tokens["access_token"]) == 401


async def test_a_sign_out_whose_mark_cannot_be_written_changes_nothing(api: "Api") -> None:
    """The mark is written before the commit: with Redis gone the sign-out answers 503 and rolls back,
    rather than ending the refresh token while its access token lives on."""
    _, phone = await api.owner_driver()
    tokens = await api.login(phone)
    settings = identity_settings(redis=RedisSettings(url="redis://127.0.0.1:1/0"))  # nothing listens there
    app = create_app(settings, runtime_factory=lambda: Runtime.open(settings, SPEC.metadata, clock=api.clock))
    async with service_client(app) as no_redis:
        r = await no_redis.post("/api/v1/auth/logout", json={"refresh_token": tokens["refresh_token"]})
    assert r.status_code == 503
    assert (r.json()["code"], r.headers["retry-after"]) == ("AUTH_UNAVAILABLE", "5")
    refreshed = await api.client.post("/api/v1/auth/refresh", json={"refresh_token": tokens["refresh_token"]})
    assert refreshed.status_code == 200, refreshed.text  # the refresh token was not revoked


def _claims(tokens: dict[str, Any]) -> dict[str, Any]:
    claims: dict[str, Any] = jwt.decode(tokens["access_token"], options={"verify_signature": False})
    return claims


@pytest.mark.parametrize("how", ["logout", "password_change"])  # a session's mark, an account's
async def test_marks_a_restarted_redis_lost_are_put_back_by_the_worker(api: "Api", how: str) -> None:
    _, phone = await api.owner_driver()
    tokens = await api.login(phone)
    await REVOCATIONS[how](api, tokens)
    assert await _works(api, tokens["access_token"]) == 401
    # Redis restarts without persistence: the marks are gone, and the token works again.
    claims = _claims(tokens)
    redis = api.runtime.redis
    await redis.delete(account_key(claims["sub"]), session_key(claims["sub"], claims["sid"]), PRESENT_KEY)
    assert await _works(api, tokens["access_token"]) == 200
    # The worker's next sweep finds the Redis without its `present` key and puts the marks back.
    assert await restore_revocation_marks(api.runtime) >= 1
    assert await _works(api, tokens["access_token"]) == 401
    lives = await redis.ttl(
        account_key(claims["sub"]) if how == "password_change" else session_key(claims["sub"], claims["sid"])
    )
    assert 0 < lives <= revocations(api.runtime).ttl_s  # what was left of its lifetime, not a new one
    assert await restore_revocation_marks(api.runtime) == 0  # present: nothing to do


async def test_the_sweep_forgets_expired_marks_and_never_puts_them_back(api: "Api") -> None:
    key = session_key(str(uuid.uuid4()), str(uuid.uuid4()))
    async with api.runtime.uow() as uow:
        past = datetime.now(UTC) - timedelta(seconds=1)
        await uow.session.execute(token_revocations.insert().values(key=key, value="1", expires_at=past))
        await uow.commit()
    await api.runtime.redis.delete(PRESENT_KEY)
    await restore_revocation_marks(api.runtime)
    assert await api.runtime.redis.exists(key) == 0
    async with api.runtime.uow() as uow:
        left = await uow.session.scalar(select(token_revocations.c.key).where(token_revocations.c.key == key))
    assert left is None
