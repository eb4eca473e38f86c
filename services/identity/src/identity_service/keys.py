"""Signing keys of access tokens (ADR 0010): Ed25519 (EdDSA), rotatable, public halves at the JWKS URL.

- prod: the private key comes from the secrets (`TMS_IDENTITY__SIGNING_KEY_PEM`); its public half is
  written to `signing_keys` at start-up so every process publishes it. No private key in the database.
- dev and test: the first process that needs a key generates one and keeps it in `signing_keys` under an
  advisory lock, so all identity processes (api replicas, worker) sign with the same key.
- rotation (`python -m identity_service.keys rotate`): a new key becomes the signer; the old one is
  retired but stays in the JWKS until every token it signed has expired.

Key times are real time, like token times (servicekit.web.auth): moving the platform clock changes nothing.
"""

from __future__ import annotations

import asyncio
import hashlib
import sys
import time
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ed25519
from jwt.algorithms import OKPAlgorithm
from sqlalchemy import select, text, update
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncEngine

from identity_service.tables import signing_keys

ALGORITHM = "EdDSA"
_LOCK_ID = 0x1D3_0010  # advisory lock: one key generation at a time


@dataclass(frozen=True)
class SigningKey:
    kid: str
    private_key: ed25519.Ed25519PrivateKey


def _public_jwk(kid: str, private_key: ed25519.Ed25519PrivateKey) -> dict[str, Any]:
    jwk = dict(OKPAlgorithm.to_jwk(private_key.public_key(), as_dict=True))
    jwk.update({"kid": kid, "use": "sig", "alg": ALGORITHM})
    return jwk


def _kid_of(private_key: ed25519.Ed25519PrivateKey) -> str:
    raw = private_key.public_key().public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    return "ed-" + hashlib.sha256(raw).hexdigest()[:16]


def _pem(private_key: ed25519.Ed25519PrivateKey) -> str:
    return private_key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    ).decode()


def _load_pem(pem: str) -> ed25519.Ed25519PrivateKey:
    key = serialization.load_pem_private_key(pem.encode(), password=None)
    if not isinstance(key, ed25519.Ed25519PrivateKey):
        raise ValueError("the signing key must be an Ed25519 private key (PKCS#8 PEM)")
    return key


class KeyRing:
    """The signer and the published keys of one process, read from `signing_keys` and cached briefly."""

    def __init__(
        self,
        engine: AsyncEngine,
        *,
        secret_pem: str | None = None,
        publish_retired_for: timedelta = timedelta(hours=1),
        cache_s: float = 5.0,
    ) -> None:
        self._engine = engine
        self._secret_pem = secret_pem
        self._publish_retired_for = publish_retired_for
        self._cache_s = cache_s
        self._signer: SigningKey | None = None
        self._jwks: dict[str, Any] | None = None
        self._loaded_at = 0.0
        self._lock = asyncio.Lock()

    async def signer(self) -> SigningKey:
        await self._refresh()
        assert self._signer is not None
        return self._signer

    async def jwks(self, *, force: bool = False) -> dict[str, Any]:
        await self._refresh(force=force)
        assert self._jwks is not None
        return self._jwks

    async def _refresh(self, *, force: bool = False) -> None:
        if not force and self._signer is not None and time.monotonic() - self._loaded_at < self._cache_s:
            return
        async with self._lock:
            if not force and self._signer is not None and time.monotonic() - self._loaded_at < self._cache_s:
                return
            if self._secret_pem:
                await self._publish_secret_key(_load_pem(self._secret_pem))
            else:
                await ensure_generated_key(self._engine)
            await self._load()

    async def _publish_secret_key(self, private_key: ed25519.Ed25519PrivateKey) -> None:
        kid = _kid_of(private_key)
        async with self._engine.begin() as conn:
            await conn.execute(
                insert(signing_keys)
                .values(
                    kid=kid,
                    algorithm=ALGORITHM,
                    private_pem=None,
                    public_jwk=_public_jwk(kid, private_key),
                    created_at=datetime.now(UTC),
                )
                .on_conflict_do_nothing(index_elements=[signing_keys.c.kid])
            )
        self._secret_key = SigningKey(kid, private_key)

    async def _load(self) -> None:
        now = datetime.now(UTC)
        async with self._engine.connect() as conn:
            rows = (await conn.execute(select(signing_keys).order_by(signing_keys.c.created_at.desc()))).all()
        published = [
            row.public_jwk
            for row in rows
            if row.retired_at is None or row.retired_at > now - self._publish_retired_for
        ]
        if self._secret_pem:
            self._signer = self._secret_key
        else:
            live = [row for row in rows if row.retired_at is None and row.private_pem]
            if not live:
                raise RuntimeError("no active signing key")
            self._signer = SigningKey(live[0].kid, _load_pem(live[0].private_pem))
        self._jwks = {"keys": published}
        self._loaded_at = time.monotonic()


async def ensure_generated_key(engine: AsyncEngine) -> None:
    """dev/test: make one active key if there is none (under an advisory lock: one per database)."""
    async with engine.begin() as conn:
        found = await conn.execute(
            select(signing_keys.c.kid).where(
                signing_keys.c.retired_at.is_(None), signing_keys.c.private_pem.is_not(None)
            )
        )
        if found.first() is not None:
            return
        await conn.execute(text("SELECT pg_advisory_xact_lock(:id)"), {"id": _LOCK_ID})
        found = await conn.execute(
            select(signing_keys.c.kid).where(
                signing_keys.c.retired_at.is_(None), signing_keys.c.private_pem.is_not(None)
            )
        )
        if found.first() is None:
            await _insert_new_key(conn)


async def _insert_new_key(conn: Any) -> str:
    private_key = ed25519.Ed25519PrivateKey.generate()
    kid = _kid_of(private_key)
    await conn.execute(
        insert(signing_keys).values(
            kid=kid,
            algorithm=ALGORITHM,
            private_pem=_pem(private_key),
            public_jwk=_public_jwk(kid, private_key),
            created_at=datetime.now(UTC),
        )
    )
    return kid


async def rotate(engine: AsyncEngine) -> str:
    """Retire the active generated key(s) and make a new signer. Returns the new kid."""
    async with engine.begin() as conn:
        await conn.execute(text("SELECT pg_advisory_xact_lock(:id)"), {"id": _LOCK_ID})
        await conn.execute(
            update(signing_keys)
            .where(signing_keys.c.retired_at.is_(None), signing_keys.c.private_pem.is_not(None))
            .values(retired_at=datetime.now(UTC))
        )
        return await _insert_new_key(conn)


def main(argv: list[str]) -> int:
    from identity_service.service import SPEC
    from servicekit.db import create_engine

    if argv != ["rotate"]:
        print("usage: python -m identity_service.keys rotate", file=sys.stderr)
        return 2

    async def run() -> str:
        engine = create_engine(SPEC.settings().database)
        try:
            return await rotate(engine)
        finally:
            await engine.dispose()

    print(f"new signing key {asyncio.run(run())}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
