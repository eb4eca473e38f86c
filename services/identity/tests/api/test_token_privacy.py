"""ADR 0082: a token identity issues shows no identity number or phone to whoever holds it; the services
open them (sealed, SM4-GCM) with the claim keys of their settings, and refuse a tampered seal."""

import base64
from typing import TYPE_CHECKING

import jwt
import pytest

from servicekit.testing import TokenFactory
from servicekit.web.auth import InvalidToken, JwksVerifier

if TYPE_CHECKING:
    from tests.api.conftest import Api

pytestmark = pytest.mark.integration


def _readable(token: str) -> str:
    """Everything a token's holder can read without a key: header and payload, base64url-decoded."""
    parts = token.split(".")[:2]
    return "".join(base64.urlsafe_b64decode(p + "=" * (-len(p) % 4)).decode() for p in parts)


async def test_a_real_token_shows_no_identity_number_or_phone(api: "Api") -> None:
    id_number, phone = await api.owner_driver()
    tokens = await api.login(phone)
    refreshed = (
        await api.client.post("/api/v1/auth/refresh", json={"refresh_token": tokens["refresh_token"]})
    ).json()
    jwks = (await api.client.get("/api/v1/auth/jwks.json")).json()
    verifier = JwksVerifier(
        None, "tms-identity", "tms", jwks=jwks, claim_keys=api.app.state.identity.claim_keys
    )
    for access in (tokens["access_token"], refreshed["access_token"]):
        readable = _readable(access)
        assert id_number not in readable
        assert phone not in readable
        assert id_number[-4:] + '"' not in readable  # nor the masked tail, as a value
        principal = await verifier.verify(access)  # ...yet every service reads them
        assert (principal.id_number, principal.phone) == (id_number, phone)


async def test_a_tampered_sealed_claim_is_refused(api: "Api") -> None:
    """Re-signed by a key the verifier trusts, so only the seal itself can refuse it."""
    _, phone = await api.owner_driver()
    access = (await api.login(phone))["access_token"]
    claims = jwt.decode(access, options={"verify_signature": False})
    kid, body = claims["pii"].split(".")
    flipped = ("A" if body[5] != "A" else "B").join((body[:5], body[6:]))
    signer = TokenFactory(claim_keys=api.app.state.identity.claim_keys)
    forged = signer.mint(claims["sub"], extra_claims={**claims, "pii": f"{kid}.{flipped}"})
    with pytest.raises(InvalidToken, match="does not open"):
        await signer.verifier().verify(forged)
    r = await api.client.get("/api/v1/users/me", headers=TokenFactory.headers(forged))
    assert r.status_code == 401  # identity does not know that signing key either: refused twice over
