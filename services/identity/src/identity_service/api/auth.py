"""`/api/v1/auth/*`: SMS codes, sign-in, refresh, sign-out, client credentials, the JWKS."""

from __future__ import annotations

import contextlib
from datetime import datetime, timedelta
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Request, Response
from pydantic import AfterValidator, BaseModel, Field
from sqlalchemy import select, update
from stdnum.cn import uscc

from identity_service import domain
from identity_service.api.common import CtxDep, load_account, token_account
from identity_service.commands import SendSms
from identity_service.settings import IdentitySettings
from identity_service.tables import accounts
from identity_service.tokens import (
    RefreshRefused,
    issue_access_token,
    new_refresh_token,
    revoke_by_token,
    rotate_refresh_token,
    token_issue_time,
    verify_password,
)
from servicekit.ids import new_id
from servicekit.uow import UnitOfWork
from servicekit.validators import InvalidValue, mobile_phone, resident_id
from servicekit.web import Conflict, CurrentPrincipal, Problem, UowDep, actor_from
from servicekit.web.limits import enforce_limit
from servicekit.web.openapi_problems import declared

router = APIRouter(prefix="/api/v1/auth", tags=["auth"])

SMS_PURPOSES = ("register", "reset_password", "change_phone", "cancel_account", "reactivate")
Phone = Annotated[str, AfterValidator(mobile_phone)]


class SmsCodeIn(BaseModel):
    phone: Phone
    purpose: Literal["register", "reset_password", "change_phone", "cancel_account", "reactivate"]


class TokensOut(BaseModel):
    access_token: str
    refresh_token: str | None = None
    token_type: str = "bearer"  # noqa: S105 (the OAuth token type, not a secret)
    expires_in: int


class LoginIn(BaseModel):
    username: Annotated[str, Field(min_length=1, max_length=64)]
    password: Annotated[str, Field(min_length=1, max_length=128)]


class RefreshIn(BaseModel):
    refresh_token: Annotated[str, Field(min_length=1, max_length=200)]


class ClientCredentialsIn(BaseModel):
    grant_type: Literal["client_credentials"]
    client_id: Annotated[str, Field(min_length=1, max_length=64)]
    client_secret: Annotated[str, Field(min_length=1, max_length=200)]


def invalid_credentials() -> Problem:
    """The one answer to a wrong password and to an unknown account: no account enumeration."""
    return Problem(401, "INVALID_CREDENTIALS", "the username or password is wrong")


def refuse_if_locked(row: Any, now: datetime) -> None:
    """The sign-in lockout refuses every password check of a locked account, right or wrong."""
    retry = domain.lock_remaining_s(row.locked_until, now)
    if retry is not None:
        raise Conflict(
            "ACCOUNT_LOCKED",
            "too many wrong passwords; the account is locked for a while",
            extra={"retry_after_s": retry},
            headers={"Retry-After": str(retry)},
        )


async def count_wrong_password(
    uow: UnitOfWork, request: Request, row: Any, settings: IdentitySettings, action: str = "login_failed"
) -> None:
    """One more wrong password on the sign-in lockout's counter (the row locked FOR UPDATE), audited and
    committed before the caller raises."""
    count = domain.count_wrong_password(
        row.failed_logins, uow.now, settings.max_failed_logins, timedelta(minutes=settings.lockout_minutes)
    )
    values: dict[str, Any] = {"failed_logins": count.failed_logins}
    if count.locked_until is not None:
        values["locked_until"] = count.locked_until
    await uow.session.execute(update(accounts).where(accounts.c.id == row.id).values(**values))
    uow.audit(
        actor_from(request, None),
        action,
        f"account:{row.id}",
        after={"failures": row.failed_logins + 1},
    )
    await uow.commit()


@router.post(
    "/sms-codes",
    status_code=202,
    summary="Send an SMS verification code (NT-02)",
    responses=declared({429: "RATE_LIMITED: per client address, account or phone"}),
)
async def send_sms_code(body: SmsCodeIn, request: Request, ctx: CtxDep, uow: UowDep) -> dict[str, Any]:
    """NT-02: a 6-digit code for one purpose, sent with notify's `verification_code` template. The
    per-phone limits (one a minute, ten a day) are NT-02's; a per-IP limit guards against a flood."""
    await enforce_limit(request, ctx.settings.sms_rate_per_ip, "sms-codes", "ip", caller_ip(request))
    issued = await ctx.codes.issue(body.phone, body.purpose)
    try:
        async with uow:
            uow.emit(
                SendSms(
                    phone=body.phone,
                    template="verification_code",
                    params={"code": issued.code, "minutes": "5"},
                )
            )
            await uow.commit()
    except Exception:
        # Never sent: the send must not count against the retry (NT-02, ADR 0088).
        with contextlib.suppress(Exception):  # Redis away too: the code expires unused
            await ctx.codes.withdraw(body.phone, body.purpose, issued)
        raise
    return {"phone": body.phone[:3] + "****" + body.phone[-4:], "expires_at": issued.expires_at.isoformat()}


def caller_ip(request: Request) -> str:
    """The client address the per-IP limits count (behind trusted proxies, the forwarded one)."""
    from servicekit.web import client_ip

    return client_ip(request) or "unknown"


def _username_filter(username: str) -> Any:
    """ID-01 / api.md: identity number or phone (personal), credit code (unit), staff number or client id."""
    value = username.strip()
    live = accounts.c.status != "cancelled"
    try:
        return (accounts.c.category == "personal") & (accounts.c.id_number == resident_id(value)) & live
    except InvalidValue:
        pass
    try:
        return (accounts.c.category == "personal") & (accounts.c.phone == mobile_phone(value)) & live
    except InvalidValue:
        pass
    if uscc.is_valid(value.upper()):
        return (accounts.c.category == "unit") & (accounts.c.credit_code == value.upper()) & live
    return (accounts.c.username == value) & accounts.c.category.in_(("staff", "unit")) & live


@router.post(
    "/login",
    response_model=TokensOut,
    summary="Sign in",
    responses=declared(
        {
            401: "INVALID_CREDENTIALS: an unknown account and a wrong password alike",
            429: "RATE_LIMITED: per client address, account or phone",
        }
    ),
)
async def login(body: LoginIn, request: Request, ctx: CtxDep, uow: UowDep) -> TokensOut:
    """Sign in with identity number or phone (personal), credit code (unit) or staff number. After
    `max_failed_logins` wrong passwords in a row the account is locked for `lockout_minutes`."""
    settings = ctx.settings
    await enforce_limit(request, settings.login_rate_per_ip, "login", "ip", caller_ip(request))
    async with uow:
        rows = (
            await uow.session.execute(
                select(accounts).where(_username_filter(body.username)).with_for_update()
            )
        ).all()
        if len(rows) != 1:
            verify_password(None, body.password)  # the same cost as a real check: no account enumeration
            raise invalid_credentials()
        row = rows[0]
        now = uow.now
        refuse_if_locked(row, now)
        if not verify_password(row.password_hash, body.password):
            await count_wrong_password(uow, request, row, settings)
            raise invalid_credentials()
        if row.status == "suspended":
            raise domain.AccountSuspended("the account is suspended; reactivate it with an SMS code")
        await uow.session.execute(
            update(accounts).where(accounts.c.id == row.id).values(failed_logins=0, locked_until=None)
        )
        session_id = new_id()  # the refresh-token family: the access tokens' `sid` (ADR 0082)
        refresh = await new_refresh_token(
            uow.session,
            row.id,
            row.channel,
            now,
            timedelta(days=settings.refresh_ttl_days),
            family_id=session_id,
        )
        uow.audit(actor_from(request, None), "login", f"account:{row.id}")
        issued_at = token_issue_time()
        await uow.commit()
    access = await issue_access_token(
        ctx.keys,
        settings.auth,
        token_account(row),
        settings.access_ttl_s,
        claim_keys=ctx.claim_keys,
        session_id=session_id,
        issued_at=issued_at,
    )
    return TokensOut(access_token=access, refresh_token=refresh, expires_in=settings.access_ttl_s)


@router.post(
    "/refresh",
    response_model=TokensOut,
    summary="Rotate a refresh token",
    responses=declared({401: "INVALID_REFRESH_TOKEN: unknown, used before, revoked or expired"}),
)
async def refresh(body: RefreshIn, ctx: CtxDep, uow: UowDep) -> TokensOut:
    """Each refresh token works once; a second use revokes its whole family (reuse detection)."""
    settings = ctx.settings
    async with uow:
        try:
            rotated = await rotate_refresh_token(
                uow, body.refresh_token, timedelta(days=settings.refresh_ttl_days)
            )
        except RefreshRefused as exc:
            await uow.commit()  # a reuse revoked the family: keep that
            raise Problem(
                401,
                "INVALID_REFRESH_TOKEN",
                f"the refresh token cannot be used ({exc.reason}); sign in again",
            ) from None
        row = await load_account(uow.session, rotated.account_id)
        if row.status != "active":
            raise Problem(401, "INVALID_REFRESH_TOKEN", "the account is not active; sign in again")
        issued_at = token_issue_time()
        await uow.commit()
    access = await issue_access_token(
        ctx.keys,
        settings.auth,
        token_account(row),
        settings.access_ttl_s,
        claim_keys=ctx.claim_keys,
        session_id=rotated.family_id,
        issued_at=issued_at,
    )
    return TokensOut(access_token=access, refresh_token=rotated.token, expires_in=settings.access_ttl_s)


@router.post("/logout", status_code=204, summary="Sign out (revoke the refresh token's family)")
async def logout(body: RefreshIn, request: Request, uow: UowDep) -> Response:
    """The session ends: its refresh tokens, and its access tokens at every service at once (ADR 0082)."""
    async with uow:
        account_id = await revoke_by_token(uow, body.refresh_token)
        if account_id is not None:
            uow.audit(actor_from(request, None), "logout", f"account:{account_id}")
        await uow.commit()
    return Response(status_code=204)


@router.post(
    "/token",
    response_model=TokensOut,
    summary="Client credentials for `system` clients",
    responses=declared(
        {
            401: "INVALID_CLIENT: the client id or secret is wrong",
            429: "RATE_LIMITED: per client address, account or phone",
        }
    ),
)
async def client_credentials(
    body: ClientCredentialsIn, request: Request, ctx: CtxDep, uow: UowDep
) -> TokensOut:
    """Other police systems (role `system`) get an access token, no refresh token."""
    await enforce_limit(request, ctx.settings.login_rate_per_ip, "login", "ip", caller_ip(request))
    async with uow:
        row = (
            await uow.session.execute(
                select(accounts).where(
                    accounts.c.category == "system",
                    accounts.c.username == body.client_id,
                    accounts.c.status == "active",
                )
            )
        ).first()
        if row is None or not verify_password(row.password_hash, body.client_secret):
            if row is None:
                verify_password(None, body.client_secret)
            raise Problem(401, "INVALID_CLIENT", "the client id or secret is wrong")
        issued_at = token_issue_time()
    settings = ctx.settings
    access = await issue_access_token(
        ctx.keys,
        settings.auth,
        token_account(row),
        settings.access_ttl_s,
        claim_keys=ctx.claim_keys,
        issued_at=issued_at,
    )
    return TokensOut(access_token=access, expires_in=settings.access_ttl_s)


@router.get("/jwks.json", summary="The public keys of access tokens (JWKS)")
async def jwks(ctx: CtxDep, response: Response) -> dict[str, Any]:
    response.headers["Cache-Control"] = "public, max-age=60"
    return await ctx.keys.jwks()


@router.get(
    "/whoami", summary="The verified caller of this request (no database: a cheap authenticated call)"
)
async def whoami(principal: CurrentPrincipal) -> dict[str, Any]:
    return {
        "subject": principal.subject,
        "kind": principal.account_kind,
        "channel": principal.channel,
        "roles": sorted(principal.roles),
        "office": principal.office,
        "expires_at": principal.expires_at,
    }
