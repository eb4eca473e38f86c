"""The server side of a staff sign-in's steps (ADR 0091): challenges kept in identity's database, single
use and bound to their account, and what each step hands the client (for enrolment: the secret, its
otpauth:// URI and a QR code of it). The rules themselves are `domain.staff_auth`'s."""

from __future__ import annotations

import hashlib
import secrets
import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import segno
from sqlalchemy import select, update

from identity_service import domain
from identity_service.settings import IdentitySettings
from identity_service.tables import sign_in_challenges
from servicekit.ids import new_id
from servicekit.uow import UnitOfWork


@dataclass(frozen=True)
class Enrolment:
    secret: str  # base32, for typing into an app that cannot scan
    otpauth_uri: str
    qr_svg: str  # a data: URI of an SVG image of the URI's QR code


@dataclass(frozen=True)
class OpenedStep:
    step: domain.SignInStep
    challenge: str
    expires_in: int
    enrolment: Enrolment | None = None


def _hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def password_changed_at(row: Any) -> datetime:
    """When the account's password was set; accounts made before it was recorded count from creation."""
    changed: datetime | None = row.password_changed_at
    return changed if changed is not None else row.created_at


def password_expired(row: Any, now: datetime, settings: IdentitySettings) -> bool:
    return domain.password_expired(
        password_changed_at(row), now, timedelta(days=settings.staff_password_max_age_days)
    )


async def open_step(
    uow: UnitOfWork, row: Any, step: domain.SignInStep, settings: IdentitySettings
) -> OpenedStep:
    """A new challenge for `step` of this account's sign-in. Enrolment draws the secret now and keeps it
    with the challenge: the account holds it only once a first code proves the app has it."""
    token = secrets.token_urlsafe(32)
    secret = domain.new_totp_secret() if step == "enrol" else None
    now = uow.now
    await uow.session.execute(
        sign_in_challenges.insert().values(
            id=new_id(),
            token_hash=_hash(token),
            account_id=row.id,
            step=step,
            totp_secret=secret,
            created_at=now,
            expires_at=now + timedelta(seconds=settings.staff_challenge_ttl_s),
        )
    )
    enrolment = None
    if secret is not None:
        uri = domain.otpauth_uri(secret, row.username or str(row.id), settings.totp_issuer)
        enrolment = Enrolment(
            secret=secret, otpauth_uri=uri, qr_svg=segno.make(uri, error="m").svg_data_uri(scale=5)
        )
    return OpenedStep(step, token, settings.staff_challenge_ttl_s, enrolment)


async def live_challenge(uow: UnitOfWork, token: str, steps: tuple[domain.SignInStep, ...]) -> Any:
    """The challenge (locked) if it is one of `steps`, unspent and unexpired; else INVALID_CHALLENGE."""
    row = (
        await uow.session.execute(
            select(sign_in_challenges)
            .where(sign_in_challenges.c.token_hash == _hash(token))
            .with_for_update()
        )
    ).first()
    if row is None or row.used_at is not None or row.step not in steps or uow.now >= row.expires_at:
        raise domain.InvalidChallenge("the sign-in step has expired or was already taken; sign in again")
    return row


async def spend(uow: UnitOfWork, challenge_id: uuid.UUID) -> None:
    await uow.session.execute(
        update(sign_in_challenges).where(sign_in_challenges.c.id == challenge_id).values(used_at=uow.now)
    )


async def spend_all(uow: UnitOfWork, account_id: uuid.UUID) -> None:
    """An admin's reset: the account's pending sign-in steps end with it."""
    await uow.session.execute(
        update(sign_in_challenges)
        .where(sign_in_challenges.c.account_id == account_id, sign_in_challenges.c.used_at.is_(None))
        .values(used_at=uow.now)
    )
