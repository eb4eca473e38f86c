"""ADR 0010: signing keys from the secrets (prod) publish only their public half; prod refuses to start
without one."""

from typing import TYPE_CHECKING

import jwt
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ed25519
from sqlalchemy import delete, select

from identity_service.keys import KeyRing
from identity_service.settings import IdentitySettings
from identity_service.tables import signing_keys
from servicekit.testing import PROD_TRANSIT

if TYPE_CHECKING:
    from tests.api.conftest import Api

pytestmark = pytest.mark.integration


def test_prod_needs_a_signing_key_from_the_secrets() -> None:
    with pytest.raises(ValueError, match="signing_key_pem"):
        IdentitySettings.model_validate({"TMS_ENV": "prod", "secret_key": "a-real-secret"} | PROD_TRANSIT)


async def test_a_key_from_the_secrets_signs_and_only_its_public_half_is_stored(api: "Api") -> None:
    private = ed25519.Ed25519PrivateKey.generate()
    pem = private.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    ).decode()
    ring = KeyRing(api.runtime.engine, secret_pem=pem)
    signer = await ring.signer()
    assert signer.kid in {k["kid"] for k in (await ring.jwks())["keys"]}
    async with api.runtime.engine.connect() as conn:
        stored = (await conn.execute(select(signing_keys).where(signing_keys.c.kid == signer.kid))).one()
    assert stored.private_pem is None
    async with api.runtime.engine.begin() as conn:  # the shared test database keeps no stray public keys
        await conn.execute(delete(signing_keys).where(signing_keys.c.kid == signer.kid))
    token = jwt.encode({"sub": "x"}, signer.private_key, algorithm="EdDSA", headers={"kid": signer.kid})
    assert jwt.decode(token, private.public_key(), algorithms=["EdDSA"])["sub"] == "x"
