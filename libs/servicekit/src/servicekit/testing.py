"""Helpers for every service's tests: tokens as identity issues them, and a started app to call.

tokens = TokenFactory()
app = create_service_app(...)
app.state.verifier = tokens.verifier()          # before start-up: the lifespan keeps it
async with service_client(app) as client:
    r = await client.get("/api/v1/vehicles", headers=tokens.headers(tokens.citizen()))
"""

from __future__ import annotations

import secrets
import time
import uuid
from collections.abc import AsyncIterator, Iterable
from contextlib import asynccontextmanager
from datetime import date, datetime, timedelta
from typing import Any, Literal

import httpx
import jwt
from cryptography.hazmat.primitives.asymmetric import ed25519, rsa
from fastapi import FastAPI
from jwt.algorithms import OKPAlgorithm, RSAAlgorithm
from sqlalchemy.ext.asyncio import AsyncConnection
from stdnum.cn import ric

from servicekit.clock import FixedClock
from servicekit.crypto import KeyRing
from servicekit.db import psycopg_dsn
from servicekit.sealed import ClaimKeys
from servicekit.web.auth import Channel, JwksVerifier, access_token_claims

__all__ = [
    "PROD_KEYS",
    "PROD_TRANSIT",
    "FixedClock",
    "TokenFactory",
    "new_phone",
    "new_resident_id",
    "open_payload",
    "outbox_payloads",
    "service_client",
    "set_test_calendar_years",
]

# Settings blocks prod accepts (ADR 0094), for tests that build prod settings without connecting.
PROD_TRANSIT: dict[str, dict[str, str]] = {
    "database": {
        "url": "postgresql+psycopg://svc@db.internal:5432/svc?sslmode=verify-full&sslrootcert=/etc/tms/pg-ca.pem"
    },
    "broker": {"url": "amqps://svc:secret@mq.internal:5671/tms"},
    "redis": {"url": "rediss://:secret@redis.internal:6380/0"},
}

# Keys prod requires for the sealed columns (ADR 0095), for tests that build prod settings.
_PROD_RING = KeyRing.generate("prod-test").spec()
PROD_KEYS: dict[str, dict[str, str]] = {"crypto": {"data_keys": _PROD_RING, "index_keys": _PROD_RING}}

Algorithm = Literal["RS256", "EdDSA"]


def new_resident_id(region: str | None = None, born: date | None = None) -> str:
    """A valid resident identity number (GB 11643 check digit) that practically never repeats.

    The test databases keep every run's people, so numbers drawn from a small space (one birth date and
    district, 1,000 sequence numbers) meet within a few runs, and a registration answers ACCOUNT_EXISTS.
    Unless the caller fixes them, the district (one of Shijiazhuang's, 1301xx: local to the demo offices)
    and the birth date (1970-1999: an adult of working age) vary too: about a billion numbers.
    """
    region = region or "1301" + f"{secrets.randbelow(100):02d}"
    born = born or date(1970, 1, 1) + timedelta(days=secrets.randbelow(10_950))
    body = f"{region}{born:%Y%m%d}{secrets.randbelow(1000):03d}"
    return body + ric.calc_check_digit(body + "0")


def new_phone(prefix: str = "13") -> str:
    """A valid mainland mobile number, random after `prefix` (1 and a second digit at least)."""
    return prefix + "".join(secrets.choice("0123456789") for _ in range(11 - len(prefix)))


class TokenFactory:
    """An in-memory signing key and access tokens in identity's exact format (see `access_token_claims`)."""

    def __init__(
        self,
        *,
        issuer: str = "tms-identity",
        audience: str = "tms",
        algorithm: Algorithm = "RS256",
        kid: str | None = None,
        claim_keys: ClaimKeys | None = None,
    ) -> None:
        self.issuer = issuer
        # ADR 0082: the key sealing `idn` and `phn`; `claim_keys.spec()` is the settings' form of it.
        self.claim_keys = claim_keys or ClaimKeys.generate()
        self.audience = audience
        self.algorithm: Algorithm = algorithm
        self.kid = kid or f"test-{uuid.uuid4().hex[:8]}"
        self._private_key: rsa.RSAPrivateKey | ed25519.Ed25519PrivateKey
        if algorithm == "RS256":
            self._private_key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        else:
            self._private_key = ed25519.Ed25519PrivateKey.generate()

    def jwk(self) -> dict[str, Any]:
        """The public key as identity publishes it."""
        public = self._private_key.public_key()
        if isinstance(public, rsa.RSAPublicKey):
            jwk = dict(RSAAlgorithm.to_jwk(public, as_dict=True))
        else:
            jwk = dict(OKPAlgorithm.to_jwk(public, as_dict=True))
        jwk.update({"kid": self.kid, "use": "sig", "alg": self.algorithm})
        return jwk

    def jwks(self) -> dict[str, Any]:
        return {"keys": [self.jwk()]}

    def verifier(self, *, leeway_s: float = 0) -> JwksVerifier:
        """A verifier that knows this factory's key and never fetches over HTTP."""
        return JwksVerifier(
            None, self.issuer, self.audience, leeway_s, jwks=self.jwks(), claim_keys=self.claim_keys
        )

    def mint(
        self,
        subject: str = "person-1",
        *,
        kind: str = "person",
        channel: Channel = "online",
        roles: Iterable[str] = ("citizen",),
        office: str | None = None,
        id_number: str | None = None,
        phone: str | None = None,
        ttl_s: int = 900,
        exp: datetime | int | None = None,
        iat: datetime | float | None = None,
        jti: str | None = None,
        session_id: str | None = None,
        extra_claims: dict[str, Any] | None = None,
        issuer: str | None = None,
        audience: str | None = None,
    ) -> str:
        """A signed access token. `exp` in the past makes an expired one; claims default to a citizen."""
        issued_at = _issued_at(iat) if iat is not None else int(time.time())
        expires_at = _epoch(exp) if exp is not None else int(issued_at) + ttl_s
        claims = access_token_claims(
            issuer=issuer or self.issuer,
            audience=audience or self.audience,
            subject=subject,
            kind=kind,
            channel=channel,
            roles=roles,
            issued_at=issued_at,
            expires_at=expires_at,
            office=office,
            id_number=id_number,
            jti=jti,
            phone=phone,
            session_id=session_id,
            claim_keys=self.claim_keys,
        )
        claims.update(extra_claims or {})
        return jwt.encode(claims, self._private_key, algorithm=self.algorithm, headers={"kid": self.kid})

    def citizen(self, subject: str = "person-1", id_number: str = "130102199003071233", **kw: Any) -> str:
        return self.mint(subject, kind="person", roles=("citizen",), id_number=id_number, **kw)

    def clerk(
        self,
        subject: str = "staff-1",
        roles: Iterable[str] = ("clerk.intake",),
        office: str = "130100",
        **kw: Any,
    ) -> str:
        return self.mint(subject, kind="staff", channel="counter", roles=roles, office=office, **kw)

    def system(self, subject: str = "system-client", **kw: Any) -> str:
        return self.mint(subject, kind="system", roles=("system",), **kw)

    @staticmethod
    def headers(token: str, **more: str) -> dict[str, str]:
        return {"Authorization": f"Bearer {token}", **more}


def _epoch(moment: datetime | float) -> int:
    if isinstance(moment, datetime):
        if moment.tzinfo is None:
            raise ValueError("token times need an aware datetime")
        return int(moment.timestamp())
    return int(moment)


def _issued_at(moment: datetime | float) -> float:
    """`iat` keeps a float's milliseconds, as identity's tokens do (ADR 0082)."""
    return round(moment, 3) if isinstance(moment, float) else _epoch(moment)


@asynccontextmanager
async def service_client(
    app: FastAPI, base_url: str = "http://testserver"
) -> AsyncIterator[httpx.AsyncClient]:
    """Run the app's lifespan and yield an httpx client calling it in-process."""
    async with (
        app.router.lifespan_context(app),
        httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url=base_url) as client,
    ):
        yield client


def set_test_calendar_years(database_url: str, *years: int) -> None:
    """WD-01 (ADR 0004): mark `years` set in a test database's office calendar (`add_workday_tables`), as an
    admin (or, in a consumer, identity's event) would, for tests that live in years the calendar package
    does not carry. A test fixture, not the State Council's notice: weekends only. A year already held is
    left as it is; the fixture's `set_at` is older than any setting a test delivers (`keep_year`)."""
    import psycopg

    with psycopg.connect(psycopg_dsn(database_url), autocommit=True) as conn:
        for year in years:
            conn.execute(
                "INSERT INTO office_calendar_years (year, source, set_by, set_at) "
                "VALUES (%s, 'test fixture: weekends only', 'tests', '2000-01-01T00:00:00Z') "
                "ON CONFLICT DO NOTHING",
                (year,),
            )


def open_payload(stored: str) -> dict[str, Any]:
    """An outbox payload as stored (sealed, ADR 0095), opened: for tests reading the outbox with psycopg."""
    from servicekit import crypto

    payload: dict[str, Any] = crypto.installed().open_value(stored, "outbox.payload", json_value=True)
    return payload


async def outbox_payloads(
    conn: AsyncConnection,
    routing_key: str | Iterable[str],
    *,
    subject: str | None = None,
    newest_first: bool = False,
    **fields: Any,
) -> list[dict[str, Any]]:
    """The payloads of the outbox rows with `routing_key` (and `subject`), oldest first, whose top-level
    `fields` equal the values given. The payload is sealed (ADR 0095): SQL cannot look into it, so the
    fields are compared here, after opening."""
    from sqlalchemy import select

    from servicekit.db import new_metadata

    outbox = new_metadata().tables["outbox"]
    keys = [routing_key] if isinstance(routing_key, str) else list(routing_key)
    query = select(outbox.c.payload).where(outbox.c.routing_key.in_(keys))
    if subject is not None:
        query = query.where(outbox.c.subject == subject)
    query = query.order_by(outbox.c.id.desc() if newest_first else outbox.c.id)
    payloads = (await conn.execute(query)).scalars().all()
    return [p for p in payloads if all(p.get(name) == value for name, value in fields.items())]
