"""ADR 0082: the identity number and phone travel sealed (SM4-GCM) in access tokens: unreadable to whoever
holds the token, opened by every service with the claim keys of its settings, refused when altered."""

from __future__ import annotations

import base64
import json
from typing import Any

import jwt
import pytest
from pydantic import ValidationError

from servicekit.sealed import ClaimKeys, SealError
from servicekit.settings import AuthSettings, ServiceSettings
from servicekit.testing import PROD_KEYS, PROD_TRANSIT, TokenFactory
from servicekit.web.auth import InvalidToken

IDN = "130102199003071233"
PHONE = "13800138000"


def _payload(token: str) -> str:
    """What anyone holding the token reads: its payload, base64url-decoded, no key needed."""
    part = token.split(".")[1]
    return base64.urlsafe_b64decode(part + "=" * (-len(part) % 4)).decode()


def _resigned(tokens: TokenFactory, token: str, **changes: Any) -> str:
    """The token's claims with `changes`, signed again by the factory's (trusted) key."""
    claims = jwt.decode(token, options={"verify_signature": False}) | changes
    return tokens.mint(claims["sub"], extra_claims=claims)


def test_no_identity_number_or_phone_is_readable_in_a_token(tokens: TokenFactory) -> None:
    token = tokens.citizen("p-1", id_number=IDN, phone=PHONE)
    payload = _payload(token)
    assert IDN not in payload
    assert PHONE not in payload
    claims = json.loads(payload)
    assert "idn" not in claims
    assert "phn" not in claims
    assert claims["pii"].startswith(tokens.claim_keys.current + ".")


async def test_the_verifier_opens_the_sealed_claims(tokens: TokenFactory) -> None:
    principal = await tokens.verifier().verify(tokens.citizen("p-1", id_number=IDN, phone=PHONE))
    assert (principal.id_number, principal.phone) == (IDN, PHONE)
    staff = await tokens.verifier().verify(tokens.clerk("s-1"))
    assert (staff.id_number, staff.phone) == (None, None)
    assert jwt.decode(tokens.clerk("s-1"), options={"verify_signature": False})["pii"] is None


async def test_an_altered_sealed_claim_is_refused_even_when_signed(tokens: TokenFactory) -> None:
    token = tokens.citizen("p-1", id_number=IDN)
    sealed = jwt.decode(token, options={"verify_signature": False})["pii"]
    kid, body = sealed.split(".")
    raw = bytearray(base64.urlsafe_b64decode(body + "=" * (-len(body) % 4)))
    raw[14] ^= 0x01  # one bit of the ciphertext
    altered = f"{kid}.{base64.urlsafe_b64encode(bytes(raw)).rstrip(b'=').decode()}"
    with pytest.raises(InvalidToken, match="does not open"):
        await tokens.verifier().verify(_resigned(tokens, token, pii=altered))


async def test_a_sealed_claim_moved_to_another_subject_is_refused(tokens: TokenFactory) -> None:
    """The subject is the seal's additional data: another person's sealed number cannot be borrowed."""
    victim = jwt.decode(tokens.citizen("victim", id_number=IDN), options={"verify_signature": False})
    with pytest.raises(InvalidToken, match="does not open"):
        await tokens.verifier().verify(_resigned(tokens, tokens.citizen("thief"), pii=victim["pii"]))


async def test_an_identity_number_in_clear_is_refused(tokens: TokenFactory) -> None:
    token = tokens.mint("p-1", extra_claims={"idn": IDN})
    with pytest.raises(InvalidToken, match="in clear"):
        await tokens.verifier().verify(token)


async def test_a_verifier_without_the_key_refuses_sealed_claims(tokens: TokenFactory) -> None:
    other = TokenFactory(claim_keys=ClaimKeys.generate())
    foreign_seal = jwt.decode(other.citizen("p-1"), options={"verify_signature": False})["pii"]
    with pytest.raises(InvalidToken, match="no claim key"):
        await tokens.verifier().verify(_resigned(tokens, tokens.citizen("p-1"), pii=foreign_seal))


async def test_keys_rotate_by_id(tokens: TokenFactory) -> None:
    """A new key seals; the old one, still listed, opens the tokens it sealed until they expire."""
    old = ClaimKeys.generate("old")
    new = ClaimKeys.generate("new")
    ring = ClaimKeys.parse(f"{new.spec()},{old.spec()}")
    assert ring.current == "new"
    assert ring.key_ids == {"new", "old"}
    before = TokenFactory(claim_keys=old)
    after = TokenFactory(claim_keys=ring, kid=before.kid)
    after._private_key = before._private_key  # one signing key: only the claim keys rotate
    verifier = after.verifier()
    assert (await verifier.verify(before.citizen("p-1", id_number=IDN))).id_number == IDN
    sealed = jwt.decode(after.citizen("p-2", id_number=IDN), options={"verify_signature": False})["pii"]
    assert sealed.startswith("new.")


def test_seal_and_open_round_trip_and_refuse_a_stranger() -> None:
    keys = ClaimKeys.generate("k1")
    sealed = keys.seal({"idn": IDN, "phn": None}, "acc-1")
    assert keys.open(sealed, "acc-1") == {"idn": IDN, "phn": None}
    assert keys.seal({"idn": IDN}, "acc-1") != keys.seal({"idn": IDN}, "acc-1")  # a fresh nonce each time
    with pytest.raises(SealError):
        keys.open(sealed, "acc-2")
    with pytest.raises(SealError):
        ClaimKeys.generate("k1").open(sealed, "acc-1")  # same id, another key


@pytest.mark.parametrize("spec", ["", "k1", "k1:not base64!", "k 1:" + "A" * 24, "k1:" + "A" * 8])
def test_bad_claim_keys_fail_when_the_settings_load(spec: str) -> None:
    with pytest.raises(ValidationError):
        AuthSettings(claim_keys=spec)  # type: ignore[arg-type]


def test_prod_needs_claim_keys() -> None:
    with pytest.raises(ValidationError, match="claim_keys"):
        ServiceSettings.model_validate({"TMS_ENV": "prod", "secret_key": "s", "auth": {}} | PROD_TRANSIT)
    ring = ClaimKeys.generate().spec()
    settings = ServiceSettings.model_validate(
        {"TMS_ENV": "prod", "secret_key": "s", "auth": {"claim_keys": ring}} | PROD_TRANSIT | PROD_KEYS
    )
    assert settings.auth.claim_key_ring() is not None
