"""Forged and unusable access tokens against every service, each called directly (every service verifies
tokens itself, servicekit.web.auth; none trusts the edge) and through the gateway: each attempt must be
answered 401 problem+json. The attacks: `alg: none`, HS256 keyed with identity's public key, expired,
not yet valid, claims altered after signing (roles added, another subject), a key id nobody published, a
look-alike signed with the attacker's own key, the wrong issuer, the wrong audience, and the token of an
account cancelled since it was issued."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import httpx
import jwt
import psycopg
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ed25519

from identity_service.service import SPEC as IDENTITY
from tests.e2e.stack import PASSWORD

from .conftest import Platform

# One cheap authenticated read a citizen may make, per service (a 200 with a good token).
PROBES = {
    "identity": "/api/v1/auth/whoami",
    "vehicle": "/api/v1/inspection-bookings",
    "license": "/api/v1/exams/bookings/mine",
    "plate-pool": "/api/v1/plate-selections/whoami",
    "violation": "/api/v1/payments/banks",
    "notify": "/api/v1/messages/unread-count",
}

pytestmark = pytest.mark.integration


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _segment(value: dict[str, Any]) -> str:
    return _b64(json.dumps(value, separators=(",", ":")).encode())


def _parts(token: str) -> tuple[dict[str, Any], dict[str, Any]]:
    header, payload, _ = token.split(".")
    return (
        json.loads(base64.urlsafe_b64decode(header + "==")),
        json.loads(base64.urlsafe_b64decode(payload + "==")),
    )


@dataclass(frozen=True)
class Keys:
    kid: str
    private: ed25519.Ed25519PrivateKey
    public_jwk: dict[str, Any]

    def sign(self, claims: dict[str, Any], *, kid: str | None = None) -> str:
        return jwt.encode(claims, self.private, algorithm="EdDSA", headers={"kid": kid or self.kid})


def _identity_keys() -> Keys:
    """identity's signing key as the test environment keeps it (its own database, ADR 0010): to make tokens
    that are well signed and wrong in one other way only."""
    url = IDENTITY.settings().database.url.replace("postgresql+psycopg://", "postgresql://")
    with psycopg.connect(url) as db:
        row = db.execute(
            "SELECT kid, private_pem, public_jwk FROM signing_keys WHERE retired_at IS NULL "
            "ORDER BY created_at DESC LIMIT 1"
        ).fetchone()
    assert row is not None, "identity has no signing key in its database"
    assert row[1], "identity's signing key is not in its database (a prod-like setting?)"
    private = serialization.load_pem_private_key(row[1].encode(), password=None)
    assert isinstance(private, ed25519.Ed25519PrivateKey)
    return Keys(row[0], private, row[2])


def _hs256(header: dict[str, Any], claims: dict[str, Any], secret: bytes) -> str:
    signing_input = f"{_segment(header)}.{_segment(claims)}"
    mac = hmac.new(secret, signing_input.encode(), hashlib.sha256).digest()
    return f"{signing_input}.{_b64(mac)}"


def _forgeries(real: str, keys: Keys) -> dict[str, str]:
    """Attack name → token, each made from the citizen's real token."""
    header, claims = _parts(real)
    now = int(time.time())
    public = keys.private.public_key()
    public_pem = public.public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    public_raw = public.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    payload = real.split(".")[1]

    def resigned(**changes: Any) -> str:
        return keys.sign({**claims, **changes})

    def altered(**changes: Any) -> str:
        # The real header and signature over a changed payload.
        head, _, signature = real.split(".")
        return f"{head}.{_segment({**claims, **changes})}.{signature}"

    hs_header = {**header, "alg": "HS256"}
    return {
        "alg_none": f"{_segment({**header, 'alg': 'none'})}.{payload}.",
        "alg_none_upper": f"{_segment({**header, 'alg': 'NONE'})}.{payload}.",
        "hs256_public_pem": _hs256(hs_header, claims, public_pem),
        "hs256_public_raw": _hs256(hs_header, claims, public_raw),
        "hs256_public_jwk": _hs256(hs_header, claims, json.dumps(keys.public_jwk).encode()),
        "expired": resigned(iat=now - 7200, exp=now - 3600),
        "not_yet_valid_iat": resigned(iat=now + 3600, exp=now + 7200),
        "not_yet_valid_nbf": resigned(nbf=now + 3600),
        "roles_added": altered(roles=[*claims["roles"], "clerk.admin", "system"]),
        "other_subject": altered(sub="00000000-0000-0000-0000-000000000001"),
        "signature_dropped": real.rsplit(".", 1)[0] + ".",
        "unknown_kid": keys.sign(claims, kid="ed-0000000000000000"),
        "attacker_key_real_kid": jwt.encode(
            claims, ed25519.Ed25519PrivateKey.generate(), algorithm="EdDSA", headers={"kid": keys.kid}
        ),
        "wrong_issuer": resigned(iss="https://issuer.example"),
        "wrong_audience": resigned(aud="another-audience"),
        "no_expiry": keys.sign({k: v for k, v in claims.items() if k != "exp"}),
    }


def _targets(platform: Platform) -> list[tuple[str, str, str]]:
    """(where, base URL, path): every service directly, and each again through the edge."""
    direct = [(f"{name} direct", platform.stack.apis[name], path) for name, path in PROBES.items()]
    edge = [(f"{name} via gateway", platform.edge, path) for name, path in PROBES.items()]
    return direct + edge


def _refused(r: httpx.Response) -> bool:
    return r.status_code == 401 and r.headers.get("content-type", "").startswith("application/problem+json")


def _attack(platform: Platform, tokens: dict[str, str]) -> tuple[int, list[tuple[int, str]]]:
    """Send every token to every target: (attempts, (status, what) of each not refused with 401
    problem+json)."""
    attempts, failures = 0, []
    with httpx.Client(timeout=30, trust_env=False) as client:
        for where, base, path in _targets(platform):
            for attack, token in tokens.items():
                r = client.get(base + path, headers={"Authorization": f"Bearer {token}"})
                attempts += 1
                if not _refused(r):
                    ctype = r.headers.get("content-type")
                    failures.append((r.status_code, f"{attack} → {where} {path}: {r.status_code} {ctype}"))
    return attempts, failures


# The part's figures, summed over this module's tests; each test writes them as they stand.
FIGURES: dict[str, int] = {"jwt_attempts": 0, "jwt_accepted": 0}
Record = Callable[[str, dict[str, Any]], Any]


def _count(record: Record, attempts: int, failures: list[tuple[int, str]]) -> list[str]:
    """Adds to the figures and records them; the failures' descriptions. "Accepted": any answer but 401
    (a 200, or a 403 that means the token was believed); a 401 in another shape than problem+json fails
    the test without counting."""
    FIGURES["jwt_attempts"] += attempts
    FIGURES["jwt_accepted"] += sum(1 for status, _ in failures if status != 401)
    record("jwt", dict(FIGURES))
    return [what for _, what in failures]


def test_the_real_token_is_accepted_everywhere(platform: Platform) -> None:
    """The baseline: the same probes answer 200 to the citizen's real token, so a 401 below is the
    verifier refusing the forgery, not the probe being wrong."""
    headers = platform.headers("citizen")
    with httpx.Client(timeout=30, trust_env=False) as client:
        for where, base, path in _targets(platform):
            r = client.get(base + path, headers=headers)
            assert r.status_code == 200, f"{where} {path}: {r.status_code} {r.text[:200]}"


def test_forged_tokens_are_refused_by_every_service(platform: Platform, record_figures: Record) -> None:
    tokens = _forgeries(platform.token("citizen"), _identity_keys())
    failures = _count(record_figures, *_attack(platform, tokens))
    assert not failures, "tokens not refused with 401 problem+json:\n" + "\n".join(failures)


def test_a_cancelled_accounts_token_is_refused(platform: Platform, record_figures: Record) -> None:
    """ID-16: once the account is cancelled (through the API), its still unexpired token opens nothing."""
    username = platform.new_citizen()
    r = platform.sign_in(username)
    assert r.status_code == 200, r.text
    token = r.json()["access_token"]
    headers = {"Authorization": f"Bearer {token}"}
    with platform.client() as gw:
        # Used once first, so that a verifier's cache of good tokens is part of what is tested.
        assert gw.get(PROBES["identity"], headers=headers).status_code == 200
        cancelled = gw.post("/api/v1/users/me/cancellation", json={"password": PASSWORD}, headers=headers)
        assert cancelled.status_code == 204, cancelled.text
    failures = _count(record_figures, *_attack(platform, {"cancelled_account": token}))
    assert not failures, "a cancelled account's token still works:\n" + "\n".join(failures)
