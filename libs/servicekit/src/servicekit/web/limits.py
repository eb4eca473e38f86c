"""Per-user and per-IP request limits as FastAPI dependencies, answering 429 with `Retry-After`.

    @router.post("/api/v1/plate-selections", dependencies=[Depends(per_ip_limit("60/minute", "select"))])
    async def select(principal: Annotated[Principal, Depends(per_user_limit("20/minute", "select"))]): ...

The counting is `servicekit.ratelimit.RateLimiter` (the `limits` package's moving window on Redis, real
time). The limiter is made at first use from the app's settings (`app.state.settings.redis.url`) and kept
in `app.state.rate_limiter`; a test or a service may put its own there first.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from fastapi import Request

from servicekit.ratelimit import RateLimiter
from servicekit.web.auth import CurrentPrincipal, Principal
from servicekit.web.context import client_ip
from servicekit.web.problems import TooManyRequests


def limiter_of(request: Request) -> RateLimiter:
    state = request.app.state
    limiter = getattr(state, "rate_limiter", None)
    if isinstance(limiter, RateLimiter):
        return limiter
    settings = getattr(state, "settings", None)
    if settings is None:
        raise RuntimeError("app.state.settings is not set (create_service_app sets it)")
    limiter = RateLimiter.from_url(settings.redis.url, key_prefix=f"tms:{settings.service_name}:rl")
    state.rate_limiter = limiter
    return limiter


async def enforce_limit(request: Request, limit: str, *keys: str) -> None:
    """Count one hit of `keys` under `limit`; raise 429 RATE_LIMITED with Retry-After when over it."""
    exceeded = await limiter_of(request).hit(limit, *keys)
    if exceeded is not None:
        raise TooManyRequests(exceeded.retry_after_s)


def per_user_limit(limit: str, scope: str) -> Callable[[Request, Principal], Awaitable[Principal]]:
    """A dependency: the authenticated caller, at most `limit` requests of `scope` per subject."""

    async def dependency(request: Request, principal: CurrentPrincipal) -> Principal:
        await enforce_limit(request, limit, scope, "user", principal.subject)
        return principal

    return dependency


def per_ip_limit(limit: str, scope: str) -> Callable[[Request], Awaitable[None]]:
    """A dependency: at most `limit` requests of `scope` per client IP (behind trusted proxies, the
    forwarded address)."""

    async def dependency(request: Request) -> None:
        await enforce_limit(request, limit, scope, "ip", client_ip(request) or "unknown")

    return dependency
