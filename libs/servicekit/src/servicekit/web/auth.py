"""Who is calling: access tokens verified locally by every service (the edge may pre-check, no service
trusts that it did).

Tokens are JWTs signed by the identity service (RS256 or EdDSA), public keys at its JWKS URL. Claims:
`iss`, `aud`, `sub`, `iat`, `exp`, `jti`, `kind` (person | unit | staff | system), `channel`
(online | counter), `roles` (list), `office` (office code or null), `sid` (the sign-in session,
identity's refresh-token family, or null; ADR 0082) and `pii`: sealed (`servicekit.sealed`, ADR 0082),
`idn` (whose records are the caller's own: a person's identity number, a unit's unified social credit
code (ADR 0012)) and `phn` (the registered phone, ADR 0047), or null when the token has neither. Nobody
holding a token reads them; every service opens them with the claim keys of its settings. `iat` may
carry milliseconds: a revocation is compared with it (ADR 0082). `access_token_claims` builds exactly
this set; identity and `servicekit.testing` both use it.

A token that verifies is still refused when identity revoked its session or account after issuing it
(`servicekit.web.revocation`, one Redis round trip per request, ADR 0082).

Times in tokens are real time, not the movable platform clock: moving the test clock must not make every
token expired or not yet valid.
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
import time
import uuid
from collections import OrderedDict
from collections.abc import Awaitable, Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Annotated, Any, Literal, Protocol

import httpx
import jwt
from fastapi import Depends, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from servicekit.masking import mask_id_number
from servicekit.sealed import ClaimKeys, SealError
from servicekit.vocabulary import AUDITOR
from servicekit.web.problems import Forbidden, Problem, Unauthenticated
from servicekit.web.revocation import Revocations, RevocationsUnavailable, TokenRevoked

log = logging.getLogger("servicekit.web.auth")

Channel = Literal["online", "counter"]
ALGORITHMS_BY_KTY = {"RSA": "RS256", "OKP": "EdDSA"}
SUPPORTED_ALGORITHMS = frozenset(ALGORITHMS_BY_KTY.values())


@dataclass(frozen=True, slots=True)
class Principal:
    """The verified caller of one request."""

    subject: str
    account_kind: str
    channel: Channel
    roles: frozenset[str]
    office: str | None = None
    id_number: str | None = field(default=None, repr=False)
    token_id: str | None = None
    expires_at: int = 0  # epoch seconds, real time
    # The phone the account registered with (claim `phn`; ADR 0047): where its SMS codes go (PP-07).
    phone: str | None = field(default=None, repr=False)
    issued_at: float = 0.0  # epoch seconds, real time, as precise as the token's `iat`
    session_id: str | None = None  # `sid`: the sign-in session (ADR 0082); None for client credentials

    def has_any(self, *roles: str) -> bool:
        return not self.roles.isdisjoint(roles)

    @property
    def is_staff(self) -> bool:
        return any(role.startswith("clerk.") for role in self.roles)

    def __repr__(self) -> str:
        idn = mask_id_number(self.id_number) if self.id_number else None
        return (
            f"Principal(subject={self.subject!r}, kind={self.account_kind!r}, channel={self.channel!r}, "
            f"roles={sorted(self.roles)!r}, office={self.office!r}, id_number={idn!r})"
        )

    @classmethod
    def from_claims(cls, claims: Mapping[str, Any]) -> Principal:
        """Raises `ValueError` when a claim has the wrong shape (the token is then refused)."""
        subject = claims.get("sub")
        kind = claims.get("kind")
        channel = claims.get("channel")
        roles = claims.get("roles", [])
        office = claims.get("office")
        idn = claims.get("idn")
        phone = claims.get("phn")
        if not isinstance(subject, str) or not subject:
            raise ValueError("sub must be a non-empty string")
        if not isinstance(kind, str) or not kind:
            raise ValueError("kind must be a non-empty string")
        if channel not in ("online", "counter"):
            raise ValueError("channel must be online or counter")
        if not isinstance(roles, list) or not all(isinstance(r, str) for r in roles):
            raise ValueError("roles must be a list of strings")
        if office is not None and not isinstance(office, str):
            raise ValueError("office must be a string or null")
        if idn is not None and not isinstance(idn, str):
            raise ValueError("idn must be a string or null")
        if phone is not None and not isinstance(phone, str):
            raise ValueError("phn must be a string or null")
        session_id = claims.get("sid")
        if session_id is not None and not isinstance(session_id, str):
            raise ValueError("sid must be a string or null")
        iat = claims.get("iat", 0)
        if not isinstance(iat, int | float) or isinstance(iat, bool):
            raise ValueError("iat must be a number")
        jti = claims.get("jti")
        exp = claims.get("exp", 0)
        return cls(
            subject=subject,
            account_kind=kind,
            channel=channel,
            roles=frozenset(roles),
            office=office,
            id_number=idn,
            token_id=jti if isinstance(jti, str) else None,
            expires_at=int(exp) if isinstance(exp, int | float) else 0,
            phone=phone,
            issued_at=float(iat),
            session_id=session_id,
        )


def access_token_claims(
    *,
    issuer: str,
    audience: str,
    subject: str,
    kind: str,
    channel: Channel,
    roles: Iterable[str],
    issued_at: float,
    expires_at: int,
    office: str | None = None,
    id_number: str | None = None,
    jti: str | None = None,
    phone: str | None = None,
    session_id: str | None = None,
    claim_keys: ClaimKeys | None = None,
) -> dict[str, Any]:
    """The claims of an access token, the one format identity issues and every service reads. An
    identity number or phone is sealed with `claim_keys` (required then), never written in clear."""
    sealed = None
    if id_number is not None or phone is not None:
        if claim_keys is None:
            raise ValueError("an identity number or phone in a token needs the claim keys (ADR 0082)")
        sealed = claim_keys.seal({"idn": id_number, "phn": phone}, subject)
    return {
        "iss": issuer,
        "aud": audience,
        "sub": subject,
        "iat": issued_at,
        "exp": expires_at,
        "jti": jti or uuid.uuid4().hex,
        "kind": kind,
        "channel": channel,
        "roles": sorted(set(roles)),
        "office": office,
        "sid": session_id,
        "pii": sealed,
    }


class TokenVerifier(Protocol):
    """What `current_principal` needs from `app.state.verifier` (tests may put a fake there)."""

    async def verify(self, token: str) -> Principal: ...


class InvalidToken(Exception):
    """The token is not acceptable; the message says why (for logs, not for the client)."""


class JwksUnavailable(Exception):
    """No key could be obtained to check the token: identity's JWKS endpoint did not answer."""


@dataclass(frozen=True, slots=True)
class _Key:
    key: Any  # a `cryptography` public key object
    algorithm: str


class JwksVerifier:
    """Verifies access tokens against identity's JWKS.

    Keys are fetched at first use and cached by `kid`; an unknown `kid` (identity rotated its key) makes
    one refetch, at most once per `refetch_interval_s`, so that tokens with made-up kids cannot turn the
    verifier into a flood of requests against identity. Already verified tokens are kept in a small LRU
    (keyed by the token's SHA-256, until their `exp`): the plate-pool hot path sees the same token on every
    request and a signature check costs far more than a dict lookup.

    With `jwks_url=None` the verifier uses only the keys given (`jwks=`) and never fetches (tests).
    `claim_keys` open the sealed claims (ADR 0082); without them a token that has some is refused.
    """

    def __init__(
        self,
        jwks_url: str | None,
        issuer: str,
        audience: str,
        leeway_s: float = 10,
        http_client: httpx.AsyncClient | None = None,
        *,
        jwks: Mapping[str, Any] | None = None,
        refetch_interval_s: float = 30.0,
        cache_size: int = 10_000,
        fetch_timeout_s: float = 5.0,
        monotonic: Callable[[], float] = time.monotonic,
        claim_keys: ClaimKeys | None = None,
    ) -> None:
        self.jwks_url = jwks_url
        self._claim_keys = claim_keys
        self._monotonic = monotonic  # injectable, so tests move time instead of sleeping
        self.issuer = issuer
        self.audience = audience
        self.leeway_s = leeway_s
        self._client = http_client
        self._owns_client = False
        self._keys: dict[str, _Key] = {}
        self._refetch_interval_s = refetch_interval_s
        self._fetch_timeout_s = fetch_timeout_s
        self._last_fetch_attempt: float | None = None
        self._fetch_lock = asyncio.Lock()
        self._cache: OrderedDict[bytes, Principal] = OrderedDict()
        self._cache_size = cache_size
        if jwks is not None:
            self.load_jwks(jwks)

    @property
    def key_ids(self) -> frozenset[str]:
        return frozenset(self._keys)

    def load_jwks(self, jwks: Mapping[str, Any]) -> None:
        """Replace the known keys by those of a JWKS document; keys of unsupported types are skipped."""
        keys: dict[str, _Key] = {}
        for jwk in jwks.get("keys", []):
            if not isinstance(jwk, Mapping):
                continue
            kid, kty = jwk.get("kid"), jwk.get("kty")
            algorithm = ALGORITHMS_BY_KTY.get(str(kty))
            if not isinstance(kid, str) or algorithm is None or jwk.get("use", "sig") != "sig":
                continue
            if jwk.get("alg", algorithm) != algorithm:
                continue
            try:
                keys[kid] = _Key(jwt.PyJWK(dict(jwk), algorithm).key, algorithm)
            except jwt.PyJWTError as exc:
                log.warning("skipping unusable JWK", extra={"kid": kid, "error": str(exc)})
        self._keys = keys

    async def _fetch(self) -> None:
        assert self.jwks_url is not None
        if self._client is None:
            self._client = httpx.AsyncClient(timeout=self._fetch_timeout_s)
            self._owns_client = True
        response = await self._client.get(self.jwks_url, timeout=self._fetch_timeout_s)
        response.raise_for_status()
        self.load_jwks(response.json())

    async def _key_for(self, kid: str) -> _Key:
        key = self._keys.get(kid)
        if key is not None:
            return key
        if self.jwks_url is None:
            raise InvalidToken(f"unknown kid {kid!r}")
        async with self._fetch_lock:
            key = self._keys.get(kid)  # another request may have fetched while we waited
            if key is not None:
                return key
            now = self._monotonic()
            # Without any key a retry comes sooner: identity may simply have started after us.
            interval = self._refetch_interval_s if self._keys else min(1.0, self._refetch_interval_s)
            if self._last_fetch_attempt is None or now - self._last_fetch_attempt >= interval:
                self._last_fetch_attempt = now
                try:
                    await self._fetch()
                except (httpx.HTTPError, ValueError) as exc:
                    log.warning("JWKS fetch failed", extra={"url": self.jwks_url, "error": repr(exc)})
                    if not self._keys:
                        raise JwksUnavailable("identity's keys could not be fetched") from exc
            elif not self._keys:
                raise JwksUnavailable("identity's keys are not available yet")
        key = self._keys.get(kid)
        if key is None:
            raise InvalidToken(f"unknown kid {kid!r}")
        return key

    async def verify(self, token: str) -> Principal:
        """The principal of a valid token; raises `InvalidToken` (or `JwksUnavailable`)."""
        digest = hashlib.sha256(token.encode()).digest()
        cached = self._cache.get(digest)
        if cached is not None:
            if time.time() < cached.expires_at + self.leeway_s:
                self._cache.move_to_end(digest)
                return cached
            del self._cache[digest]
            raise InvalidToken("token expired")
        try:
            header = jwt.get_unverified_header(token)
        except jwt.PyJWTError as exc:
            raise InvalidToken(f"malformed token: {exc}") from exc
        kid, alg = header.get("kid"), header.get("alg")
        if not isinstance(kid, str) or alg not in SUPPORTED_ALGORITHMS:
            raise InvalidToken(f"unsupported token header (alg={alg!r})")
        key = await self._key_for(kid)
        if alg != key.algorithm:  # the key decides the algorithm, never the token (alg confusion)
            raise InvalidToken(f"alg {alg!r} does not match key {kid!r}")
        try:
            claims = jwt.decode(
                token,
                key.key,
                algorithms=[key.algorithm],
                audience=self.audience,
                issuer=self.issuer,
                leeway=self.leeway_s,
                options={"require": ["iss", "aud", "sub", "iat", "exp"]},
            )
            principal = Principal.from_claims(self._opened(claims))
        except jwt.ExpiredSignatureError as exc:
            raise InvalidToken("token expired") from exc
        except (jwt.PyJWTError, ValueError) as exc:  # SealError is a ValueError
            raise InvalidToken(f"invalid token: {exc}") from exc
        self._cache[digest] = principal
        if len(self._cache) > self._cache_size:
            self._cache.popitem(last=False)
        return principal

    def _opened(self, claims: dict[str, Any]) -> dict[str, Any]:
        """The claims with `idn` and `phn` from the sealed `pii`; raises `ValueError` for a token that
        carries them in clear (identity never issues one) or sealed with a key we lack."""
        if "idn" in claims or "phn" in claims:
            raise ValueError("identity number or phone in clear")
        sealed = claims.get("pii")
        if sealed is None:
            return claims
        if not isinstance(sealed, str):
            raise ValueError("pii must be a string or null")
        if self._claim_keys is None:
            raise SealError("no claim keys to open pii")
        values = self._claim_keys.open(sealed, str(claims.get("sub")))
        return {**claims, "idn": values.get("idn"), "phn": values.get("phn")}

    async def aclose(self) -> None:
        if self._owns_client and self._client is not None:
            await self._client.aclose()
        self._client = None
        self._owns_client = False


_bearer = HTTPBearer(auto_error=False, description="Access token from POST /api/v1/auth/login")


def verifier_of(request: Request) -> TokenVerifier:
    verifier: TokenVerifier | None = getattr(request.app.state, "verifier", None)
    if verifier is None:
        raise RuntimeError("app.state.verifier is not set (create_service_app sets it at start-up)")
    return verifier


def revocations_of(request: Request) -> Revocations:
    revocations: Revocations | None = getattr(request.app.state, "revocations", None)
    if revocations is None:
        raise RuntimeError("app.state.revocations is not set (create_service_app sets it at start-up)")
    return revocations


def _auth_unavailable() -> Problem:
    # Not the caller's fault: a 503 they may retry, rather than a 401 that would log them out.
    return Problem(
        503, "AUTH_UNAVAILABLE", "tokens cannot be checked right now", headers={"Retry-After": "5"}
    )


async def current_principal(
    request: Request,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
) -> Principal:
    """The caller, or 401 UNAUTHENTICATED with `WWW-Authenticate: Bearer`."""
    if credentials is None or not credentials.credentials:
        raise Unauthenticated()
    try:
        principal = await verifier_of(request).verify(credentials.credentials)
    except InvalidToken as exc:
        log.info("token refused", extra={"reason": str(exc)})
        detail = (
            "the access token has expired" if str(exc) == "token expired" else "the access token is invalid"
        )
        raise Unauthenticated(detail, invalid_token=True) from exc
    except JwksUnavailable as exc:
        raise _auth_unavailable() from exc
    try:
        await revocations_of(request).check(principal.subject, principal.issued_at, principal.session_id)
    except TokenRevoked as exc:
        log.info("token refused", extra={"reason": str(exc)})
        raise Unauthenticated("the access token has been revoked", invalid_token=True) from exc
    except RevocationsUnavailable as exc:  # a 503 AUTH_UNAVAILABLE: fail closed (ADR 0082)
        log.warning("revocations cannot be read", extra={"error": exc.reason})
        raise
    request.state.principal = principal  # the access log names the subject
    if AUDITOR in principal.roles:
        route = request.scope.get("route")
        if not auditor_may(request.method, getattr(route, "path", "")):
            raise Forbidden("the auditor role reads the audit trail and nothing else")
    return principal


# ADR 0090: a token holding the auditor role reaches the audit trail (`servicekit.web.audit`) and, besides
# it, only its own sign-in and account (who it is, its password) — whatever other roles it holds. Enforced
# here, where every authenticated route passes, so a route that forgets a role check still refuses it.
AUDITOR_PATH_PREFIXES = ("/api/v1/audit/", "/api/v1/auth/")
AUDITOR_OWN_ACCOUNT = frozenset({("GET", "/api/v1/users/me"), ("PUT", "/api/v1/users/me/password")})


def auditor_may(method: str, path_template: str) -> bool:
    """Whether the auditor may call the route `method path_template` at all."""
    return path_template.startswith(AUDITOR_PATH_PREFIXES) or (method, path_template) in AUDITOR_OWN_ACCOUNT


CurrentPrincipal = Annotated[Principal, Depends(current_principal)]


def require_roles(*roles: str) -> Callable[[Principal], Awaitable[Principal]]:
    """A dependency admitting a caller who holds any one of `roles`; others get 403 FORBIDDEN."""
    if not roles:
        raise ValueError("require_roles needs at least one role")
    wanted = frozenset(roles)

    async def dependency(principal: CurrentPrincipal) -> Principal:
        if principal.roles.isdisjoint(wanted):
            raise Forbidden(f"requires one of the roles: {', '.join(sorted(wanted))}")
        return principal

    dependency.required_roles = wanted  # type: ignore[attr-defined]
    return dependency


def roles_required_by(dependency: Callable[..., Any]) -> frozenset[str] | None:
    """The roles a `require_roles` dependency admits, None for any other callable: the authorization
    matrix (tests/proof/attack/test_authz.py) reads each route's roles from its dependencies through this,
    so that it cannot drift from the code."""
    roles = getattr(dependency, "required_roles", None)
    return roles if isinstance(roles, frozenset) else None
