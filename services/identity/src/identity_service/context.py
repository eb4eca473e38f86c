"""What identity's routes share, built once per process at start-up: `app.state.identity`."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta

from fastapi import FastAPI, Request

from identity_service.keys import KeyRing
from identity_service.population import LocalPopulationRegistry, PopulationRegistry
from identity_service.settings import IdentitySettings
from servicekit.documents import DocumentStore
from servicekit.ratelimit import RateLimiter
from servicekit.runtime import Runtime
from servicekit.sealed import ClaimKeys
from servicekit.verification import VerificationCodes
from servicekit.workdays import OfficeCalendar, WorkdayCalendar


@dataclass
class IdentityContext:
    settings: IdentitySettings
    keys: KeyRing
    registry: PopulationRegistry
    codes: VerificationCodes
    limiter: RateLimiter
    office_calendar: OfficeCalendar
    documents: DocumentStore
    calendar: WorkdayCalendar  # `office_calendar.live`: kept current by `get_context`
    claim_keys: ClaimKeys  # seal the identity number and phone in access tokens (ADR 0082)


def build_context(settings: IdentitySettings, runtime: Runtime) -> IdentityContext:
    claim_keys = settings.auth.claim_key_ring()
    if claim_keys is None:
        # Tokens would have to carry the identity number in clear, or be useless to the services.
        raise RuntimeError(
            "identity needs TMS_IDENTITY__AUTH__CLAIM_KEYS, the same as every service's (ADR 0082)"
        )
    office_calendar = OfficeCalendar(runtime.metadata)
    secret = settings.signing_key_pem.get_secret_value() if settings.signing_key_pem else None
    return IdentityContext(
        settings=settings,
        keys=KeyRing(runtime.engine, secret_pem=secret, publish_retired_for=_retired_grace(settings)),
        registry=LocalPopulationRegistry(runtime.engine),
        codes=VerificationCodes(
            runtime.redis, runtime.clock, settings.secret_key.get_secret_value().encode()
        ),
        limiter=RateLimiter.from_url(settings.redis.url, key_prefix="tms:identity:rl"),
        office_calendar=office_calendar,
        documents=DocumentStore.from_settings(runtime.metadata, settings.documents),
        calendar=office_calendar.live,
        claim_keys=claim_keys,
    )


def _retired_grace(settings: IdentitySettings) -> timedelta:
    # A retired key stays published until the last token it signed has expired (plus the leeway).
    return timedelta(seconds=settings.access_ttl_s + settings.auth.leeway_s + 60)


def context_of_app(app: FastAPI) -> IdentityContext:
    ctx = getattr(app.state, "identity", None)
    if not isinstance(ctx, IdentityContext):
        raise RuntimeError("app.state.identity is not set (the start-up hook sets it)")
    return ctx


async def get_context(request: Request) -> IdentityContext:
    """The context, its working-day calendar reloaded from the office table when a minute old (WD-01)."""
    ctx = context_of_app(request.app)
    await ctx.office_calendar.refresh_if_stale(request.app.state.runtime.engine)
    return ctx
