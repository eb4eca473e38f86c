"""`/api/v1/auth/*`: SMS codes, sign-in, refresh, sign-out, client credentials, the JWKS."""

from __future__ import annotations

import contextlib
import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Request, Response
from pydantic import AfterValidator, BaseModel, Field
from sqlalchemy import select, update
from stdnum.cn import uscc

from identity_service import domain, staff_signin
from identity_service.api.common import CtxDep, load_account, token_account
from identity_service.commands import SendSms
from identity_service.context import IdentityContext
from identity_service.settings import IdentitySettings
from identity_service.tables import accounts
from identity_service.tokens import (
    RefreshRefused,
    hash_password,
    issue_access_token,
    new_refresh_token,
    revoke_all,
    revoke_by_token,
    rotate_refresh_token,
    token_issue_time,
    verify_password,
)
from servicekit.crypto import blind_match
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
        return (
            (accounts.c.category == "personal") & blind_match(accounts.c.id_number, resident_id(value)) & live
        )
    except InvalidValue:
        pass
    try:
        return (accounts.c.category == "personal") & blind_match(accounts.c.phone, mobile_phone(value)) & live
    except InvalidValue:
        pass
    if uscc.is_valid(value.upper()):
        return (accounts.c.category == "unit") & (accounts.c.credit_code == value.upper()) & live
    return (accounts.c.username == value) & accounts.c.category.in_(("staff", "unit")) & live


class EnrolmentOut(BaseModel):
    secret: str = Field(description="the TOTP secret, base32, for an app that cannot scan the QR code")
    otpauth_uri: str
    qr_svg: str = Field(description="a data: URI of an SVG image of the otpauth:// URI's QR code")


class SignInStepOut(BaseModel):
    """A staff sign-in is not done yet (ADR 0091): answer `step` with `challenge` before it expires."""

    step: domain.SignInStep
    challenge: str
    expires_in: int
    enrolment: EnrolmentOut | None = Field(None, description="with step `enrol`: the secret to add")


class SecondFactorIn(BaseModel):
    challenge: Annotated[str, Field(min_length=1, max_length=200)]
    code: Annotated[str, Field(min_length=1, max_length=10)]


class NewPasswordIn(BaseModel):
    challenge: Annotated[str, Field(min_length=1, max_length=200)]
    new_password: Annotated[str, Field(min_length=1, max_length=128)]


def step_out(opened: staff_signin.OpenedStep) -> SignInStepOut:
    enrolment = opened.enrolment
    return SignInStepOut(
        step=opened.step,
        challenge=opened.challenge,
        expires_in=opened.expires_in,
        enrolment=None
        if enrolment is None
        else EnrolmentOut(
            secret=enrolment.secret, otpauth_uri=enrolment.otpauth_uri, qr_svg=enrolment.qr_svg
        ),
    )


def refresh_ttl(category: str, settings: IdentitySettings) -> timedelta:
    """ADR 0092: a staff session unused for `staff_idle_minutes` ends (each use rotates its refresh token
    with a new idle deadline); citizens, units keep theirs for `refresh_ttl_days`."""
    if domain.signs_in_in_steps(category):
        return timedelta(minutes=settings.staff_idle_minutes)
    return timedelta(days=settings.refresh_ttl_days)


@dataclass(frozen=True)
class OpenedSession:
    row: Any
    session_id: uuid.UUID
    refresh_token: str
    issued_at: float


async def open_session(
    uow: UnitOfWork, request: Request, settings: IdentitySettings, row: Any
) -> OpenedSession:
    """The end of every sign-in: the lockout's counter cleared, a refresh-token family, audited. The
    caller commits, then signs the access token (`tokens_of`)."""
    now = uow.now
    await uow.session.execute(
        update(accounts).where(accounts.c.id == row.id).values(failed_logins=0, locked_until=None)
    )
    session_id = new_id()  # the refresh-token family: the access tokens' `sid` (ADR 0082)
    refresh = await new_refresh_token(
        uow.session, row.id, row.channel, now, refresh_ttl(row.category, settings), family_id=session_id
    )
    uow.audit(actor_from(request, None), "login", f"account:{row.id}")
    return OpenedSession(row, session_id, refresh, token_issue_time())


async def tokens_of(ctx: IdentityContext, opened: OpenedSession) -> TokensOut:
    settings = ctx.settings
    access = await issue_access_token(
        ctx.keys,
        settings.auth,
        token_account(opened.row),
        settings.access_ttl_s,
        claim_keys=ctx.claim_keys,
        session_id=opened.session_id,
        issued_at=opened.issued_at,
    )
    return TokensOut(
        access_token=access, refresh_token=opened.refresh_token, expires_in=settings.access_ttl_s
    )


SIGN_IN_PROBLEMS = {
    401: "INVALID_CREDENTIALS: an unknown account and a wrong password alike",
    429: "RATE_LIMITED: per client address, account or phone",
}


@router.post(
    "/login",
    response_model=TokensOut | SignInStepOut,
    summary="Sign in",
    responses=declared(SIGN_IN_PROBLEMS),
)
async def login(body: LoginIn, request: Request, ctx: CtxDep, uow: UowDep) -> TokensOut | SignInStepOut:
    """Sign in with identity number or phone (personal), credit code (unit) or staff number. After
    `max_failed_logins` wrong passwords in a row the account is locked for `lockout_minutes`.

    Staff (ADR 0091) get no tokens here but the next step: `enrol` (the first sign-in, or after an
    admin's reset) or `second_factor`; the lockout's counter runs on until the second factor passed, so
    a known password does not buy fresh guesses at the code."""
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
        refuse_if_locked(row, uow.now)
        if not verify_password(row.password_hash, body.password):
            await count_wrong_password(uow, request, row, settings)
            raise invalid_credentials()
        if row.status == "suspended":
            raise domain.AccountSuspended("the account is suspended; reactivate it with an SMS code")
        if domain.signs_in_in_steps(row.category):
            step = domain.next_step(
                enrolled=row.totp_secret is not None,
                second_factor_passed=False,
                password_expired=staff_signin.password_expired(row, uow.now, settings),
            )
            assert step is not None  # the second factor is always asked
            opened_step = await staff_signin.open_step(uow, row, step, settings)
            uow.audit(actor_from(request, None), "login_password_passed", f"account:{row.id}")
            await uow.commit()
            return step_out(opened_step)
        opened = await open_session(uow, request, settings, row)
        await uow.commit()
    return await tokens_of(ctx, opened)


@router.post(
    "/login/second-factor",
    response_model=TokensOut | SignInStepOut,
    summary="Staff sign-in: the TOTP code (confirms an enrolment) (ADR 0091)",
    responses=declared(
        {
            401: "INVALID_CHALLENGE: expired, used or unknown; INVALID_SECOND_FACTOR: a wrong or used code",
            409: "ACCOUNT_LOCKED: too many wrong passwords or codes",
        }
    ),
)
async def second_factor(
    body: SecondFactorIn, request: Request, ctx: CtxDep, uow: UowDep
) -> TokensOut | SignInStepOut:
    """The code of the authenticator app, for the challenge of step `enrol` or `second_factor`. A wrong
    code, or one already used, counts toward the sign-in lockout; the challenge stays for another try.
    The answer: tokens, or step `new_password` when the password has expired (ADR 0092)."""
    settings = ctx.settings
    async with uow:
        challenge = await staff_signin.live_challenge(uow, body.challenge, ("enrol", "second_factor"))
        row = await load_account(uow.session, challenge.account_id, lock=True)
        refuse_if_locked(row, uow.now)
        enrolling = challenge.step == "enrol"
        secret = challenge.totp_secret if enrolling else row.totp_secret
        # An admin's reset (or a parallel enrolment) between the steps: this challenge no longer fits.
        if row.status != "active" or secret is None or (enrolling and row.totp_secret is not None):
            raise domain.InvalidChallenge("the sign-in step no longer applies; sign in again")
        check = domain.check_totp(secret, body.code, uow.now, row.totp_last_step)
        if not check.ok:
            await count_wrong_password(uow, request, row, settings, "second_factor_failed")
            raise domain.InvalidSecondFactor(
                "the code is wrong or was already used; wait for the next one"
                if check.replayed
                else "the code is wrong"
            )
        values: dict[str, Any] = {"totp_last_step": check.step}
        if enrolling:
            values |= {"totp_secret": secret, "totp_enrolled_at": uow.now}
            uow.audit(actor_from(request, None), "second_factor_enrolled", f"account:{row.id}")
        await uow.session.execute(update(accounts).where(accounts.c.id == row.id).values(**values))
        await staff_signin.spend(uow, challenge.id)
        step = domain.next_step(
            enrolled=True,
            second_factor_passed=True,
            password_expired=staff_signin.password_expired(row, uow.now, settings),
        )
        if step is not None:
            opened_step = await staff_signin.open_step(uow, row, step, settings)
            await uow.commit()
            return step_out(opened_step)
        opened = await open_session(uow, request, settings, row)
        await uow.commit()
    return await tokens_of(ctx, opened)


@router.post(
    "/login/new-password",
    response_model=TokensOut,
    summary="Staff sign-in: a new password in place of an expired one (ADR 0092)",
    responses=declared(
        {
            401: "INVALID_CHALLENGE: expired, used or unknown",
            409: "ACCOUNT_LOCKED: too many wrong passwords or codes",
            422: "WEAK_PASSWORD (ID-12's policy) or PASSWORD_REUSED: the same as the expired one",
        }
    ),
)
async def new_password(body: NewPasswordIn, request: Request, ctx: CtxDep, uow: UowDep) -> TokensOut:
    """After both factors, a staff member whose password is 90 days old sets a new one (ID-12's policy,
    not the old one); every other session of the account ends, and this one begins."""
    domain.check_password_strength(body.new_password)
    async with uow:
        challenge = await staff_signin.live_challenge(uow, body.challenge, ("new_password",))
        row = await load_account(uow.session, challenge.account_id, lock=True)
        refuse_if_locked(row, uow.now)
        if row.status != "active":
            raise domain.InvalidChallenge("the sign-in step no longer applies; sign in again")
        domain.check_new_password(verify_password(row.password_hash, body.new_password))
        await uow.session.execute(
            update(accounts)
            .where(accounts.c.id == row.id)
            .values(
                password_hash=hash_password(body.new_password),
                password_changed_at=uow.now,
                updated_at=uow.now,
            )
        )
        await staff_signin.spend(uow, challenge.id)
        await revoke_all(uow, row.id)
        uow.audit(actor_from(request, None), "password_expired_changed", f"account:{row.id}")
        opened = await open_session(uow, request, settings=ctx.settings, row=row)
        await uow.commit()
    return await tokens_of(ctx, opened)


@router.post(
    "/refresh",
    response_model=TokensOut,
    summary="Rotate a refresh token",
    responses=declared({401: "INVALID_REFRESH_TOKEN: unknown, used before, revoked or expired"}),
)
async def refresh(body: RefreshIn, ctx: CtxDep, uow: UowDep) -> TokensOut:
    """Each refresh token works once; a second use revokes its whole family (reuse detection). A staff
    refresh token dies `staff_idle_minutes` after it was issued: a session left unused ends."""
    settings = ctx.settings
    async with uow:
        try:
            rotated = await rotate_refresh_token(
                uow, body.refresh_token, lambda category: refresh_ttl(category, settings)
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
