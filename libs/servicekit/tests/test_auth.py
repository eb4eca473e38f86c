"""JwksVerifier: RS256 and EdDSA, key fetch and rotation, rate-limited refetch, the verified-token cache."""

from __future__ import annotations

import asyncio
import base64
import hashlib
import hmac
import json
import time
from typing import Any

import httpx
import jwt
import pytest
from cryptography.hazmat.primitives import serialization

from servicekit.testing import TokenFactory
from servicekit.web.auth import (
    InvalidToken,
    JwksUnavailable,
    JwksVerifier,
    Principal,
    access_token_claims,
    current_principal,
    require_roles,
    roles_required_by,
)

IDN = "130102199003071233"


@pytest.fixture(scope="module")
def ed_tokens() -> TokenFactory:
    return TokenFactory(algorithm="EdDSA")


class FakeIdentity:
    """Serves a JWKS document and counts fetches."""

    def __init__(self, *factories: TokenFactory) -> None:
        self.factories = list(factories)
        self.fetches = 0
        self.fail = False

    def handler(self, request: httpx.Request) -> httpx.Response:
        self.fetches += 1
        if self.fail:
            return httpx.Response(503)
        return httpx.Response(200, json={"keys": [f.jwk() for f in self.factories]})

    def verifier(self, **kw: Any) -> JwksVerifier:
        client = httpx.AsyncClient(transport=httpx.MockTransport(self.handler))
        keys = self.factories[0].claim_keys
        url = "http://identity/api/v1/auth/jwks.json"
        return JwksVerifier(url, "tms-identity", "tms", 0, client, claim_keys=keys, **kw)


async def test_rs256_token_gives_the_principal(tokens: TokenFactory) -> None:
    token = tokens.mint("p-1", roles=["citizen"], id_number=IDN, office="130100")
    principal = await tokens.verifier().verify(token)
    assert principal.subject == "p-1"
    assert principal.account_kind == "person"
    assert principal.channel == "online"
    assert principal.roles == frozenset({"citizen"})
    assert principal.office == "130100"
    assert principal.id_number == IDN
    assert IDN not in repr(principal)


async def test_eddsa_token_is_accepted(ed_tokens: TokenFactory) -> None:
    principal = await ed_tokens.verifier().verify(ed_tokens.clerk("s-1", roles=["clerk.review"]))
    assert principal.channel == "counter"
    assert principal.is_staff


def test_token_claims_are_identitys_format(tokens: TokenFactory) -> None:
    claims = jwt.decode(tokens.citizen(id_number=IDN), options={"verify_signature": False})
    assert set(claims) == {
        "iss",
        "aud",
        "sub",
        "iat",
        "exp",
        "jti",
        "kind",
        "channel",
        "roles",
        "office",
        "sid",
        "pii",
    }
    assert jwt.get_unverified_header(tokens.citizen())["kid"] == tokens.kid


@pytest.mark.parametrize(
    "change",
    [
        {"audience": "someone-else"},
        {"issuer": "not-identity"},
        {"exp": 1_000_000_000},
        {"iat": int(time.time()) + 3600, "ttl_s": 7200},
        {"channel": "carrier-pigeon"},
    ],
)
async def test_bad_claims_are_refused(tokens: TokenFactory, change: dict[str, Any]) -> None:
    with pytest.raises(InvalidToken):
        await tokens.verifier().verify(tokens.mint(**change))


async def test_a_token_signed_by_another_key_with_our_kid_is_refused(tokens: TokenFactory) -> None:
    impostor = TokenFactory(kid=tokens.kid)
    with pytest.raises(InvalidToken):
        await tokens.verifier().verify(impostor.mint())


async def test_hs256_with_the_public_key_as_secret_is_refused(tokens: TokenFactory) -> None:
    """Algorithm confusion: the key decides the algorithm, not the token's header."""
    claims = access_token_claims(
        issuer="tms-identity",
        audience="tms",
        subject="evil",
        kind="person",
        channel="online",
        roles=["clerk.admin"],
        issued_at=int(time.time()),
        expires_at=int(time.time()) + 60,
    )
    forged = jwt.encode(claims, "s" * 32, algorithm="HS256", headers={"kid": tokens.kid})
    with pytest.raises(InvalidToken):
        await tokens.verifier().verify(forged)


async def test_keys_are_fetched_once_and_cached(tokens: TokenFactory) -> None:
    identity = FakeIdentity(tokens)
    verifier = identity.verifier()
    for i in range(3):
        await verifier.verify(tokens.mint(f"p-{i}"))
    assert identity.fetches == 1
    await verifier.aclose()


async def test_unknown_kid_refetches_at_most_once_per_interval(tokens: TokenFactory) -> None:
    rotated = TokenFactory()
    identity = FakeIdentity(tokens)
    ticks = [1000.0]
    verifier = identity.verifier(refetch_interval_s=0.2, monotonic=lambda: ticks[0])
    await verifier.verify(tokens.mint())
    identity.factories.append(rotated)  # identity rotates its key
    with pytest.raises(InvalidToken, match="unknown kid"):
        await verifier.verify(rotated.mint())  # too soon after the last fetch: no request
    with pytest.raises(InvalidToken, match="unknown kid"):
        await verifier.verify(TokenFactory(kid="made-up").mint())
    assert identity.fetches == 1
    ticks[0] += 0.25
    assert (await verifier.verify(rotated.mint("p-2"))).subject == "p-2"
    assert identity.fetches == 2


async def test_concurrent_unknown_kids_make_one_fetch(tokens: TokenFactory) -> None:
    identity = FakeIdentity(tokens)
    verifier = identity.verifier()
    principals = await asyncio.gather(*(verifier.verify(tokens.mint(f"p-{i}")) for i in range(20)))
    assert len(principals) == 20
    assert identity.fetches == 1


async def test_identity_down_with_no_keys_is_unavailable_not_invalid(tokens: TokenFactory) -> None:
    identity = FakeIdentity(tokens)
    identity.fail = True
    verifier = identity.verifier()
    with pytest.raises(JwksUnavailable):
        await verifier.verify(tokens.mint())


async def test_verified_tokens_are_cached_until_exp(
    tokens: TokenFactory, monkeypatch: pytest.MonkeyPatch
) -> None:
    verifier = tokens.verifier()
    token = tokens.mint(ttl_s=60)
    first = await verifier.verify(token)

    def no_decode(*args: object, **kwargs: object) -> dict[str, Any]:
        raise AssertionError("a cached token must not be decoded again")

    monkeypatch.setattr(jwt, "decode", no_decode)
    assert await verifier.verify(token) is first
    real_time = time.time
    monkeypatch.setattr(time, "time", lambda: real_time() + 120)  # past exp: the cache honours it
    with pytest.raises(InvalidToken, match="expired"):
        await verifier.verify(token)


async def test_cache_is_bounded(tokens: TokenFactory) -> None:
    verifier = JwksVerifier(
        None, tokens.issuer, tokens.audience, jwks=tokens.jwks(), cache_size=3, claim_keys=tokens.claim_keys
    )
    for i in range(5):
        await verifier.verify(tokens.mint(f"p-{i}"))
    assert len(verifier._cache) == 3


def test_principal_from_claims_needs_the_right_shapes() -> None:
    with pytest.raises(ValueError, match="roles"):
        Principal.from_claims({"sub": "x", "kind": "person", "channel": "online", "roles": "citizen"})
    with pytest.raises(ValueError, match="phn"):
        Principal.from_claims({"sub": "x", "kind": "person", "channel": "online", "phn": 13800138000})


async def test_the_registered_phone_rides_in_the_token_and_stays_out_of_repr(tokens: TokenFactory) -> None:
    """ADR 0047: `phn` is the phone the account registered with (PP-07 sends codes there)."""
    principal = await tokens.verifier().verify(tokens.citizen("p-2", phone="13800138000"))
    assert principal.phone == "13800138000"
    assert "13800138000" not in repr(principal)
    assert (await tokens.verifier().verify(tokens.citizen("p-3"))).phone is None


def test_a_routes_roles_are_read_from_its_require_roles_dependency() -> None:
    """The authorization matrix (ADR 0086) reads each route's roles from its dependencies: a
    `require_roles` dependency names the roles it admits; any other callable names none."""
    assert roles_required_by(require_roles("clerk.intake", "system")) == frozenset({"clerk.intake", "system"})
    assert roles_required_by(current_principal) is None
    assert roles_required_by(lambda: None) is None


# --- the JWT attack set (each refused by the verifier every service uses) ------------------------------


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


async def test_alg_none_is_refused(tokens: TokenFactory) -> None:
    header = _b64(json.dumps({"alg": "none", "typ": "JWT", "kid": tokens.kid}).encode())
    _, payload, _ = tokens.mint(roles=["clerk.admin"]).split(".")
    for forged in (f"{header}.{payload}.", f"{header}.{payload}"):
        with pytest.raises(InvalidToken):
            await tokens.verifier().verify(forged)


async def test_hs256_keyed_with_the_real_public_key_is_refused(tokens: TokenFactory) -> None:
    public_pem = jwt.PyJWK(tokens.jwk()).key.public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    header = _b64(json.dumps({"alg": "HS256", "typ": "JWT", "kid": tokens.kid}).encode())
    _, payload, _ = tokens.mint(roles=["clerk.admin"]).split(".")
    signature = _b64(hmac.new(public_pem, f"{header}.{payload}".encode(), hashlib.sha256).digest())
    with pytest.raises(InvalidToken):
        await tokens.verifier().verify(f"{header}.{payload}.{signature}")


async def test_a_not_yet_valid_token_is_refused(tokens: TokenFactory) -> None:
    later = int(time.time()) + 3600
    with pytest.raises(InvalidToken):
        await tokens.verifier().verify(tokens.mint(extra_claims={"nbf": later}))


async def test_altered_claims_under_the_original_signature_are_refused(tokens: TokenFactory) -> None:
    header, payload, signature = tokens.mint("p-1", roles=["citizen"]).split(".")
    claims = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
    claims["roles"] = ["clerk.admin"]
    altered = _b64(json.dumps(claims).encode())
    with pytest.raises(InvalidToken):
        await tokens.verifier().verify(f"{header}.{altered}.{signature}")


async def test_an_unknown_kid_is_refused_without_a_jwks_url(tokens: TokenFactory) -> None:
    with pytest.raises(InvalidToken, match="unknown kid"):
        await tokens.verifier().verify(TokenFactory(kid="nobody-knows").mint())


def test_sid_and_a_precise_iat_ride_in_the_token(tokens: TokenFactory) -> None:
    """ADR 0082: the session a revocation names, and the instant an account revocation compares."""
    principal = Principal.from_claims(
        jwt.decode(tokens.mint(session_id="s-1", iat=1_800_000_000.123), options={"verify_signature": False})
    )
    assert (principal.session_id, principal.issued_at) == ("s-1", 1_800_000_000.123)
    with pytest.raises(ValueError, match="sid"):
        Principal.from_claims({"sub": "x", "kind": "person", "channel": "online", "sid": 7})
