"""Passwords (argon2id), access tokens (EdDSA JWTs in servicekit's one format) and refresh tokens.

Refresh tokens are opaque random strings; only their SHA-256 is stored. Each use rotates the token within
its family; presenting a token that was already rotated (a stolen copy, or the legitimate one after the
thief used it) revokes the whole family, so both sides must sign in again.

A family is a sign-in session: its id is the access tokens' `sid`. Revoking a family (sign-out, reuse)
or every session of an account (password change, suspension, cancellation) also writes the revocation
mark every service checks (ADR 0082), before the transaction commits, so the access tokens already out
stop at once instead of at their `exp`.
"""

from __future__ import annotations

import hashlib
import secrets
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import jwt
from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from sqlalchemy import select, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.ext.asyncio import AsyncSession

from identity_service.keys import ALGORITHM, KeyRing
from identity_service.settings import IdentitySettings
from identity_service.tables import accounts, refresh_tokens, token_revocations
from servicekit.ids import new_id
from servicekit.runtime import Runtime
from servicekit.sealed import ClaimKeys
from servicekit.settings import AuthSettings
from servicekit.uow import UnitOfWork
from servicekit.web.auth import Channel, JwksVerifier, Principal, access_token_claims
from servicekit.web.revocation import Mark, Revocations

_hasher = PasswordHasher()
# A hash to verify against when the username is unknown, so both paths cost one argon2 verification.
_DUMMY_HASH = _hasher.hash(secrets.token_hex(16))


def hash_password(password: str) -> str:
    return _hasher.hash(password)


def verify_password(password_hash: str | None, password: str) -> bool:
    try:
        return _hasher.verify(password_hash or _DUMMY_HASH, password) and password_hash is not None
    except (VerificationError, InvalidHashError):
        return False


@dataclass(frozen=True)
class TokenAccount:
    """What an access token says about its account."""

    id: uuid.UUID
    category: str
    roles: list[str]
    office: str | None
    id_number: str | None
    channel: str
    credit_code: str | None = None
    phone: str | None = None  # the phone registered with (ID-03); `phn` in the token (ADR 0047)


def owner_id_claim(account: TokenAccount) -> str | None:
    """ADR 0012: `idn` names whose records are the caller's own: a person's identity number, a unit's
    unified social credit code (the token's `kind` says which), nothing for staff and system clients.
    A unit's agent signs in as the unit and acts as it; the agent's own identity number stays out."""
    if account.category == "personal":
        return account.id_number
    if account.category == "unit":
        return account.credit_code
    return None


TOKEN_KIND = {"personal": "person", "unit": "unit", "staff": "staff", "system": "system"}


def token_issue_time() -> float:
    """Real time to the millisecond (servicekit.web.auth), for `iat`. Sign-in and refresh take it inside
    the transaction that finds the session live: a revocation that commits after that transaction has a
    later mark, and so ends the token (ADR 0082)."""
    return round(time.time(), 3)


async def issue_access_token(
    keys: KeyRing,
    auth: AuthSettings,
    account: TokenAccount,
    ttl_s: int,
    *,
    claim_keys: ClaimKeys,
    session_id: uuid.UUID | None = None,
    issued_at: float | None = None,
) -> str:
    """An access token; `session_id` is the refresh-token family it belongs to (none for clients), the
    identity number and phone sealed with `claim_keys` (ADR 0082)."""
    signer = await keys.signer()
    if issued_at is None:
        issued_at = token_issue_time()
    channel: Channel = "counter" if account.channel == "counter" else "online"
    claims = access_token_claims(
        issuer=auth.issuer,
        audience=auth.audience,
        subject=str(account.id),
        kind=TOKEN_KIND[account.category],
        channel=channel,
        roles=account.roles,
        issued_at=issued_at,
        expires_at=int(issued_at) + ttl_s,
        office=account.office,
        id_number=owner_id_claim(account),
        # ADR 0047: the registered phone, for the services that send a code to it (PP-07); not staff's.
        phone=account.phone if account.category in ("personal", "unit") else None,
        session_id=str(session_id) if session_id is not None else None,
        claim_keys=claim_keys,
    )
    return jwt.encode(claims, signer.private_key, algorithm=ALGORITHM, headers={"kid": signer.kid})


def _hash_refresh(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


async def new_refresh_token(
    session: AsyncSession,
    account_id: uuid.UUID,
    channel: str,
    now: datetime,
    ttl: timedelta,
    family_id: uuid.UUID | None = None,
) -> str:
    token = secrets.token_urlsafe(32)
    await session.execute(
        refresh_tokens.insert().values(
            id=new_id(),
            family_id=family_id or new_id(),
            account_id=account_id,
            token_hash=_hash_refresh(token),
            channel=channel,
            issued_at=now,
            expires_at=now + ttl,
        )
    )
    return token


class RefreshRefused(Exception):
    """The refresh token is unknown, expired, revoked or reused."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


@dataclass(frozen=True)
class Rotated:
    account_id: uuid.UUID
    token: str  # the new refresh token
    family_id: uuid.UUID  # the session, the access tokens' `sid`


async def rotate_refresh_token(uow: UnitOfWork, token: str, ttl_of: Callable[[str], timedelta]) -> Rotated:
    """Use a refresh token. A reused token revokes its family (and the session's access tokens). The new
    token lives `ttl_of(the account's category)`: for staff, that is the inactivity limit (ADR 0092)."""
    session, now = uow.session, uow.now
    row = (
        await session.execute(
            select(refresh_tokens, accounts.c.category)
            .join(accounts, accounts.c.id == refresh_tokens.c.account_id)
            .where(refresh_tokens.c.token_hash == _hash_refresh(token))
            .with_for_update(of=refresh_tokens)
        )
    ).first()
    if row is None:
        raise RefreshRefused("unknown")
    if row.revoked_at is not None:
        raise RefreshRefused("revoked")
    if row.used_at is not None:
        await revoke_family(uow, row.account_id, row.family_id)
        raise RefreshRefused("reused")
    if now >= row.expires_at:
        raise RefreshRefused("expired")
    await session.execute(update(refresh_tokens).where(refresh_tokens.c.id == row.id).values(used_at=now))
    new = await new_refresh_token(
        session, row.account_id, row.channel, now, ttl_of(row.category), family_id=row.family_id
    )
    return Rotated(uuid.UUID(str(row.account_id)), new, uuid.UUID(str(row.family_id)))


def revocations(runtime: Runtime) -> Revocations:
    """The marks every service checks, kept as long as an access token can live (ADR 0082)."""
    settings = runtime.settings
    if not isinstance(settings, IdentitySettings):
        raise RuntimeError("revocations are written by identity's own processes")
    return Revocations(runtime.redis, ttl_s=settings.access_ttl_s + settings.auth.leeway_s)


async def _keep(uow: UnitOfWork, marks: Revocations, mark: Mark) -> None:
    """The mark in the database too, in the revocation's transaction: Redis may lose it (ADR 0082)."""
    expires_at = datetime.now(UTC) + timedelta(seconds=marks.ttl_s)  # real time, as Redis's TTL
    row = {"key": mark.key, "value": mark.value.decode(), "expires_at": expires_at}
    await uow.session.execute(
        pg_insert(token_revocations).values(**row).on_conflict_do_update(index_elements=["key"], set_=row)
    )


async def revoke_family(uow: UnitOfWork, account_id: uuid.UUID, family_id: uuid.UUID) -> None:
    """One session ends: its refresh tokens here, its access tokens at every service (ADR 0082)."""
    await uow.session.execute(
        update(refresh_tokens)
        .where(refresh_tokens.c.family_id == family_id, refresh_tokens.c.revoked_at.is_(None))
        .values(revoked_at=uow.now)
    )
    marks = revocations(uow.runtime)
    await _keep(uow, marks, await marks.revoke_session(str(account_id), str(family_id)))


async def revoke_by_token(uow: UnitOfWork, token: str) -> uuid.UUID | None:
    """Logout: revoke the family of this refresh token. Returns its account id, or None if unknown."""
    row = (
        await uow.session.execute(
            select(refresh_tokens).where(refresh_tokens.c.token_hash == _hash_refresh(token))
        )
    ).first()
    if row is None:
        return None
    account_id = uuid.UUID(str(row.account_id))
    await revoke_family(uow, account_id, row.family_id)
    return account_id


async def revoke_all(uow: UnitOfWork, account_id: uuid.UUID) -> None:
    """Password change, suspension, cancellation: every session of the account ends, and every access
    token issued until now (ADR 0082). The mark is taken after the refresh rows are updated: a sign-in or
    refresh that committed before took its `iat` earlier still, so the mark ends its token too."""
    await uow.session.execute(
        update(refresh_tokens)
        .where(refresh_tokens.c.account_id == account_id, refresh_tokens.c.revoked_at.is_(None))
        .values(revoked_at=uow.now)
    )
    marks = revocations(uow.runtime)
    await _keep(uow, marks, await marks.revoke_account(str(account_id), time.time()))


class OwnKeysVerifier:
    """identity verifies its own access tokens against its own key table, not over HTTP to itself."""

    def __init__(self, keys_of: Any, auth: AuthSettings) -> None:
        self._keys_of = keys_of  # () -> KeyRing, resolved at first use (the runtime opens later)
        self._auth = auth
        self._verifier: JwksVerifier | None = None
        self._kids: frozenset[str] = frozenset()

    async def verify(self, token: str) -> Principal:
        keys: KeyRing = self._keys_of()
        try:
            kid = jwt.get_unverified_header(token).get("kid")
        except jwt.PyJWTError:
            kid = None
        unknown_kid = isinstance(kid, str) and kid not in self._kids
        if self._verifier is None or unknown_kid:
            # The key ring re-reads its table at most every 5 s, so made-up kids cannot flood the database,
            # and a rotation in this process (or another, within 5 s) is picked up.
            jwks = await keys.jwks()
            kids = frozenset(str(k.get("kid")) for k in jwks.get("keys", []))
            if self._verifier is None or kids != self._kids:
                self._verifier = JwksVerifier(
                    None,
                    self._auth.issuer,
                    self._auth.audience,
                    self._auth.leeway_s,
                    jwks=jwks,
                    claim_keys=self._auth.claim_key_ring(),
                )
                self._kids = self._verifier.key_ids
        return await self._verifier.verify(token)
