"""servicekit.web.limits: per-user and per-IP request limits as dependencies, 429 with Retry-After."""

import secrets
from typing import Annotated

import httpx
import pytest
from fastapi import Depends, FastAPI
from redis.asyncio import Redis

from servicekit.settings import ServiceSettings
from servicekit.testing import TokenFactory
from servicekit.web.auth import Principal
from servicekit.web.limits import per_ip_limit, per_user_limit
from servicekit.web.problems import install_problem_handlers
from servicekit.web.revocation import Revocations

pytestmark = pytest.mark.integration


def _app(scope: str) -> tuple[FastAPI, TokenFactory]:
    tokens = TokenFactory()
    app = FastAPI()
    app.state.settings = ServiceSettings()  # Redis db 15 in tests (root conftest)
    app.state.verifier = tokens.verifier()
    app.state.redis = Redis.from_url(app.state.settings.redis.url)
    app.state.revocations = Revocations(app.state.redis)  # as create_service_app's lifespan sets it
    install_problem_handlers(app)

    @app.get("/user")
    async def user(
        principal: Annotated[Principal, Depends(per_user_limit("2/minute", scope))],
    ) -> dict[str, str]:
        return {"subject": principal.subject}

    @app.get("/ip", dependencies=[Depends(per_ip_limit("2/minute", scope))])
    async def ip() -> dict[str, str]:
        return {"ok": "yes"}

    return app, tokens


async def test_per_user_limit_answers_429_with_retry_after_and_keeps_users_apart() -> None:
    app, tokens = _app("t-" + secrets.token_hex(6))
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://t") as client:
        alice = tokens.headers(tokens.citizen("alice-" + secrets.token_hex(4)))
        bob = tokens.headers(tokens.citizen("bob-" + secrets.token_hex(4)))
        assert [(await client.get("/user", headers=alice)).status_code for _ in range(2)] == [200, 200]
        refused = await client.get("/user", headers=alice)
        assert refused.status_code == 429
        assert int(refused.headers["Retry-After"]) >= 1
        assert refused.json()["code"] == "RATE_LIMITED"
        assert (await client.get("/user", headers=bob)).status_code == 200
        assert (await client.get("/user")).status_code == 401  # no token: refused before counting
    await app.state.rate_limiter.aclose()
    await app.state.redis.aclose()


async def test_per_ip_limit_counts_each_forwarded_client_alone() -> None:
    app, _ = _app("t-" + secrets.token_hex(6))
    transport = httpx.ASGITransport(app=app, client=("127.0.0.1", 1234))
    async with httpx.AsyncClient(transport=transport, base_url="http://t") as client:
        one = {"X-Forwarded-For": "10.9.8.7"}
        two = {"X-Forwarded-For": "10.9.8.6"}
        assert [(await client.get("/ip", headers=one)).status_code for _ in range(3)] == [200, 200, 429]
        assert (await client.get("/ip", headers=two)).status_code == 200
    await app.state.rate_limiter.aclose()
    await app.state.redis.aclose()
