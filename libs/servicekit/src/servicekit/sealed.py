"""Sealed claims (ADR 0082): what an access token says about a person that nobody holding the token may
read (the identity number `idn`, the phone `phn`) travels encrypted in one claim, `pii`.

SM4-GCM (GB/T 32907 with GCM, the cipher issue 15 brings for data at rest), a 128-bit key shared by
identity (which seals) and every service (which opens), from the settings: `auth.claim_keys`, written
`kid:base64key[,kid:base64key...]`. The first key seals; every key listed opens, so a key rotates by
putting the new one first and dropping the old one once the last token it sealed has expired (15 min).

`pii` = `<kid>.<base64url(nonce ‖ ciphertext ‖ tag)>`; the additional data binds it to the key id and
the token's subject, so a sealed claim moved into another subject's token does not open. The token's
signature already covers the claim: a tampered one fails there first, and here when re-signed by a key
that verifies (tests).
"""

from __future__ import annotations

import base64
import json
import os
import re
import secrets
from collections.abc import Mapping
from typing import Any

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes

KEY_BYTES = 16  # SM4's key size
NONCE_BYTES = 12
TAG_BYTES = 16
_KID = re.compile(r"^[A-Za-z0-9_-]{1,64}$")


class SealError(ValueError):
    """A sealed claim that does not open: unknown key, altered, or moved to another subject."""


def _b64d(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def _b64e(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


class ClaimKeys:
    """The key ring of sealed claims: the sealing key first, then the keys that only open."""

    def __init__(self, keys: Mapping[str, bytes], current: str) -> None:
        if current not in keys:
            raise ValueError("the sealing key must be one of the keys")
        for kid, key in keys.items():
            if not _KID.match(kid) or len(key) != KEY_BYTES:
                raise ValueError(f"claim key {kid!r}: an id of [A-Za-z0-9_-] and {KEY_BYTES} bytes of key")
        self._keys = dict(keys)
        self.current = current

    @classmethod
    def parse(cls, spec: str) -> ClaimKeys:
        """`kid:base64key[,kid:base64key...]`, the first one sealing."""
        keys: dict[str, bytes] = {}
        for item in (part.strip() for part in spec.split(",")):
            kid, sep, encoded = item.partition(":")
            if not sep:
                raise ValueError("claim keys are written kid:base64key, comma-separated")
            try:
                keys[kid] = base64.b64decode(encoded, validate=True)
            except ValueError as exc:
                raise ValueError(f"claim key {kid!r} is not base64") from exc
        if not keys:
            raise ValueError("no claim key")
        return cls(keys, next(iter(keys)))

    @classmethod
    def generate(cls, kid: str | None = None) -> ClaimKeys:
        """A fresh random key (tests, a dev run): never for prod, whose keys come from its secret store."""
        kid = kid or "k" + secrets.token_hex(4)
        return cls({kid: os.urandom(KEY_BYTES)}, kid)

    @property
    def key_ids(self) -> frozenset[str]:
        return frozenset(self._keys)

    def spec(self) -> str:
        """The settings' form of this ring (for test and dev launchers to hand to every process)."""
        ordered = [self.current, *(kid for kid in self._keys if kid != self.current)]
        return ",".join(f"{kid}:{base64.b64encode(self._keys[kid]).decode()}" for kid in ordered)

    def seal(self, values: Mapping[str, Any], subject: str) -> str:
        nonce = os.urandom(NONCE_BYTES)
        encryptor = Cipher(algorithms.SM4(self._keys[self.current]), modes.GCM(nonce)).encryptor()
        encryptor.authenticate_additional_data(_aad(self.current, subject))
        plain = json.dumps(dict(values), separators=(",", ":")).encode()
        sealed = encryptor.update(plain) + encryptor.finalize()
        return f"{self.current}.{_b64e(nonce + sealed + encryptor.tag)}"

    def open(self, sealed: str, subject: str) -> dict[str, Any]:
        """The values sealed for `subject`; raises `SealError` otherwise."""
        kid, sep, body = sealed.partition(".")
        key = self._keys.get(kid)
        if not sep or key is None:
            raise SealError(f"no claim key {kid!r}")
        try:
            raw = _b64d(body)
        except ValueError as exc:
            raise SealError("sealed claim is not base64url") from exc
        if len(raw) < NONCE_BYTES + TAG_BYTES:
            raise SealError("sealed claim too short")
        nonce, sealed_bytes, tag = raw[:NONCE_BYTES], raw[NONCE_BYTES:-TAG_BYTES], raw[-TAG_BYTES:]
        decryptor = Cipher(algorithms.SM4(key), modes.GCM(nonce, tag)).decryptor()
        decryptor.authenticate_additional_data(_aad(kid, subject))
        try:
            plain = decryptor.update(sealed_bytes) + decryptor.finalize()
        except InvalidTag as exc:
            raise SealError("sealed claim does not open (altered, or another subject's)") from exc
        values = json.loads(plain)
        if not isinstance(values, dict):
            raise SealError("sealed claim is not an object")
        return values


def _aad(kid: str, subject: str) -> bytes:
    return f"tms-pii|{kid}|{subject}".encode()
