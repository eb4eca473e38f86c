"""Personal data at rest (ADR 0095): fields sealed with SM4-GCM, exact-match lookups by an HMAC-SM3 blind
index, keys from the settings with rotation.

A sealed value is stored as text, `<kid>.<base64url(nonce ‖ ciphertext ‖ tag)>`: SM4 (GB/T 32907,
128-bit key) in GCM mode, a random 96-bit nonce per value, a 128-bit tag. The additional data names the
key id and the value's `table.column`, so a ciphertext copied into another column (or a row of another
table) does not open. The key id in the value is what makes rotation work: the ring's first key seals,
every key in it opens, and `python -m servicekit.reencrypt` rewrites old values under the current key.

A blind index is `<kid>.<hex HMAC-SM3(index key, table.column | normalised value)>` in a companion
column (`<column>_bidx`): equal values give equal digests, so `WHERE id_number_bidx IN (...)` finds a
row without the database ever seeing the number. Equality only: no LIKE, no ranges, no ordering.

Keys: `crypto.data_keys` and `crypto.index_keys` of a service's settings, `kid:base64key[,...]`, the
first current. Each process installs its ring once (`install`, done by `Runtime.open`); the column types
read it when they bind or load a value.
"""

from __future__ import annotations

import base64
import json
import os
import re
import secrets
from collections.abc import Callable, Iterable, Mapping
from pathlib import Path
from typing import Any

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes, hmac
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes
from sqlalchemy import Column, ColumnElement, String, Table, Text, type_coerce
from sqlalchemy.engine import Dialect
from sqlalchemy.types import TypeDecorator

KEY_BYTES = 16  # SM4's key size; also the HMAC-SM3 index keys'
NONCE_BYTES = 12
TAG_BYTES = 16
BLIND_SUFFIX = "_bidx"
BLIND_LENGTH = 100  # kid (≤ 64) + "." + 64 hex digits
_KID = re.compile(r"^[A-Za-z0-9_-]{1,64}$")


class CryptoError(ValueError):
    """A sealed value that does not open: unknown key, altered, or moved to another column."""


class KeyRing:
    """Keys by id, one of them current (seals, or computes new index digests); the others only open."""

    def __init__(self, keys: Mapping[str, bytes], current: str) -> None:
        if current not in keys:
            raise ValueError("the current key must be one of the keys")
        for kid, key in keys.items():
            if not _KID.match(kid) or len(key) != KEY_BYTES:
                raise ValueError(f"key {kid!r}: an id of [A-Za-z0-9_-] and {KEY_BYTES} bytes of key")
        self._keys = dict(keys)
        self.current = current

    @classmethod
    def parse(cls, spec: str) -> KeyRing:
        """`kid:base64key[,kid:base64key...]`, the first one current."""
        keys: dict[str, bytes] = {}
        for item in (part.strip() for part in spec.split(",") if part.strip()):
            kid, sep, encoded = item.partition(":")
            if not sep:
                raise ValueError("keys are written kid:base64key, comma-separated")
            try:
                keys[kid] = base64.b64decode(encoded, validate=True)
            except ValueError as exc:
                raise ValueError(f"key {kid!r} is not base64") from exc
        if not keys:
            raise ValueError("no key")
        return cls(keys, next(iter(keys)))

    @classmethod
    def generate(cls, kid: str | None = None) -> KeyRing:
        """A fresh random key (tests, a developer's machine); prod's come from its secret store."""
        kid = kid or "k" + secrets.token_hex(4)
        return cls({kid: os.urandom(KEY_BYTES)}, kid)

    def rotated(self, kid: str | None = None) -> KeyRing:
        """This ring with a new current key in front, the old ones kept for opening."""
        fresh = KeyRing.generate(kid)
        return KeyRing({fresh.current: fresh.key(fresh.current), **self._keys}, fresh.current)

    def without(self, kid: str) -> KeyRing:
        keys = {k: v for k, v in self._keys.items() if k != kid}
        return KeyRing(keys, self.current)

    @property
    def key_ids(self) -> frozenset[str]:
        return frozenset(self._keys)

    def key(self, kid: str) -> bytes:
        try:
            return self._keys[kid]
        except KeyError:
            raise CryptoError(f"no key {kid!r} in the ring") from None

    def items(self) -> Iterable[tuple[str, bytes]]:
        yield self.current, self._keys[self.current]
        yield from ((k, v) for k, v in self._keys.items() if k != self.current)

    def spec(self) -> str:
        return ",".join(f"{kid}:{base64.b64encode(key).decode()}" for kid, key in self.items())


def _b64d(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def _b64e(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _aad(kid: str, context: str) -> bytes:
    return f"tms-data|{kid}|{context}".encode()


class DataKeys:
    """A service's data keys (seal and open fields) and index keys (blind index), kept apart so a leaked
    index key reveals equalities, never contents."""

    def __init__(self, data: KeyRing, index: KeyRing) -> None:
        self.data = data
        self.index = index

    @classmethod
    def generate(cls, prefix: str = "k") -> DataKeys:
        return cls(KeyRing.generate(f"{prefix}-d1"), KeyRing.generate(f"{prefix}-i1"))

    def seal(self, plain: bytes, context: str) -> str:
        kid = self.data.current
        nonce = os.urandom(NONCE_BYTES)
        encryptor = Cipher(algorithms.SM4(self.data.key(kid)), modes.GCM(nonce)).encryptor()
        encryptor.authenticate_additional_data(_aad(kid, context))
        body = encryptor.update(plain) + encryptor.finalize()
        return f"{kid}.{_b64e(nonce + body + encryptor.tag)}"

    def open(self, stored: str, context: str) -> bytes:
        kid, sep, body = stored.partition(".")
        if not sep:
            raise CryptoError(f"{context}: not a sealed value")
        key = self.data.key(kid)
        try:
            raw = _b64d(body)
        except ValueError as exc:
            raise CryptoError(f"{context}: sealed value is not base64url") from exc
        if len(raw) < NONCE_BYTES + TAG_BYTES:
            raise CryptoError(f"{context}: sealed value too short")
        nonce, sealed, tag = raw[:NONCE_BYTES], raw[NONCE_BYTES:-TAG_BYTES], raw[-TAG_BYTES:]
        decryptor = Cipher(algorithms.SM4(key), modes.GCM(nonce, tag)).decryptor()
        decryptor.authenticate_additional_data(_aad(kid, context))
        try:
            return decryptor.update(sealed) + decryptor.finalize()
        except InvalidTag as exc:
            raise CryptoError(
                f"{context}: sealed value does not open (altered, or another column's)"
            ) from exc

    def seal_value(self, value: Any, context: str, *, json_value: bool = False) -> str | None:
        """What a sealed column stores for `value` (None stays NULL)."""
        if value is None:
            return None
        return self.seal(_json_bytes(value) if json_value else str(value).encode(), context)

    def open_value(self, stored: str | None, context: str, *, json_value: bool = False) -> Any:
        if stored is None:
            return None
        plain = self.open(stored, context)
        return json.loads(plain) if json_value else plain.decode()

    def _digest(self, kid: str, key: bytes, normalised: str, context: str) -> str:
        mac = hmac.HMAC(key, hashes.SM3())
        mac.update(f"{context}|{normalised}".encode())
        return f"{kid}.{mac.finalize().hex()}"

    def blind(self, normalised: str, context: str) -> str:
        """The digest a new row stores, under the current index key."""
        kid = self.index.current
        return self._digest(kid, self.index.key(kid), normalised, context)

    def blind_all(self, normalised: str, context: str) -> list[str]:
        """The digests a lookup matches: one per index key, so rows written before a rotation are found."""
        return [self._digest(kid, key, normalised, context) for kid, key in self.index.items()]


def _json_bytes(value: Any) -> bytes:
    return json.dumps(value, separators=(",", ":"), sort_keys=True, ensure_ascii=False).encode()


def key_id(stored: str) -> str:
    """The key id a sealed value or a digest was made with."""
    return stored.partition(".")[0]


# One ring per process: a process serves one service (tests give every service the same ring).
_installed: DataKeys | None = None


def install(keys: DataKeys) -> None:
    global _installed
    _installed = keys


def installed() -> DataKeys:
    if _installed is None:
        raise RuntimeError("no data keys installed (servicekit.crypto.install; Runtime.open does it)")
    return _installed


_test_keys: DataKeys | None = None


def test_keys() -> DataKeys:
    """Test settings without keys (a test's own settings class): one ring for the process."""
    global _test_keys
    if _test_keys is None:
        _test_keys = _installed or DataKeys.generate("test")
    return _test_keys


def dev_keys(path: Path | None = None) -> DataKeys:
    """A developer machine's keys, made once into an untracked file (`var/dev-data-keys` or
    `$TMS_DEV_KEY_FILE`) and kept, so `make run`'s data stays readable from run to run."""
    path = path or Path(os.environ.get("TMS_DEV_KEY_FILE", "var/dev-data-keys"))
    if not path.exists():
        fresh = DataKeys.generate("dev")
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(f"data={fresh.data.spec()}\nindex={fresh.index.spec()}\n")
        path.chmod(0o600)
    lines = dict(line.split("=", 1) for line in path.read_text().split())
    return DataKeys(KeyRing.parse(lines["data"]), KeyRing.parse(lines["index"]))


# --- normalising before the blind index: the same number however it was typed --------------------------


def normalise_exact(value: str) -> str:
    return value


def normalise_id_number(value: str) -> str:
    """Identity numbers: the check digit's x in either case, no spaces."""
    return "".join(value.split()).upper()


def normalise_phone(value: str) -> str:
    """Phones: digits only, a +86 / 0086 country prefix dropped."""
    digits = "".join(ch for ch in value if ch.isdigit())
    for prefix in ("0086", "86"):
        if len(digits) == len(prefix) + 11 and digits.startswith(prefix):
            return digits[len(prefix) :]
    return digits


Normaliser = Callable[[str], str]


# --- column types ---------------------------------------------------------------------------------------


class SealedText(TypeDecorator[str]):
    """Text stored sealed; `context` is its `table.column` (bound into the ciphertext)."""

    impl = Text
    cache_ok = True

    def __init__(self, context: str) -> None:
        super().__init__()
        self.context = context

    def process_bind_param(self, value: str | None, dialect: Dialect) -> str | None:
        return None if value is None else installed().seal(value.encode(), self.context)

    def process_result_value(self, value: str | None, dialect: Dialect) -> str | None:
        return None if value is None else installed().open(value, self.context).decode()

    class comparator_factory(TypeDecorator.Comparator[str]):
        def operate(self, op: Any, *other: Any, **kwargs: Any) -> ColumnElement[Any]:
            _refuse_comparison(op)
            return super().operate(op, *other, **kwargs)


class SealedJSON(TypeDecorator[Any]):
    """A JSON value (canonical: sorted keys) stored sealed as text."""

    impl = Text
    cache_ok = True

    def __init__(self, context: str) -> None:
        super().__init__()
        self.context = context

    def process_bind_param(self, value: Any, dialect: Dialect) -> str | None:
        return installed().seal_value(value, self.context, json_value=True)

    def process_result_value(self, value: str | None, dialect: Dialect) -> Any:
        return installed().open_value(value, self.context, json_value=True)

    class comparator_factory(TypeDecorator.Comparator[Any]):
        def operate(self, op: Any, *other: Any, **kwargs: Any) -> ColumnElement[Any]:
            _refuse_comparison(op)
            return super().operate(op, *other, **kwargs)


def _refuse_comparison(op: Any) -> None:
    """A sealed column compared with a value would compare ciphertexts (a fresh nonce each time): it
    never matches, silently. Only IS [NOT] NULL means something; equality goes through `blind_match`."""
    if getattr(op, "__name__", "") not in ("is_", "is_not", "isnot"):
        raise TypeError("a sealed column cannot be compared in SQL: use blind_match on its blind index")


def sealed(
    table: str,
    name: str,
    *,
    json_value: bool = False,
    blind: Normaliser | None = None,
    nullable: bool = True,
    blind_primary_key: bool = False,
    default: Any = None,
) -> list[Column[Any]]:
    """A sealed column and, with `blind`, its blind-index companion `<name>_bidx` (indexed), for
    `Table(...)`. An insert fills the companion from the value itself; an update that changes the value
    passes its values through `with_blind` (or sets both). `blind_primary_key`: the companion is the
    table's key (one row per value)."""
    context = f"{table}.{name}"
    kind: TypeDecorator[Any] = SealedJSON(context) if json_value else SealedText(context)
    info: dict[str, Any] = {"sealed": context}
    if blind is not None:
        info["blind"] = blind
    columns: list[Column[Any]] = [Column(name, kind, nullable=nullable, info=info, default=default)]
    if blind is not None:
        columns.append(
            Column(
                name + BLIND_SUFFIX,
                String(BLIND_LENGTH),
                nullable=nullable,
                index=not blind_primary_key,
                primary_key=blind_primary_key,
                default=_blind_default(name, blind, context),
                info={"blind_of": name},
            )
        )
    return columns


def _blind_default(name: str, normalise: Normaliser, context: str) -> Callable[[Any], str | None]:
    def default(ctx: Any) -> str | None:
        value = ctx.get_current_parameters().get(name)
        return None if value is None else installed().blind(normalise(value), context)

    return default


def blind_of(column: Column[Any] | Any, value: str) -> str:
    """The digest `column`'s companion stores for `value` (current index key)."""
    normalise: Normaliser = column.info["blind"]
    return installed().blind(normalise(value), column.info["sealed"])


def blind_match(column: Column[Any] | Any, value: str) -> ColumnElement[bool]:
    """`WHERE <column> = value` for a sealed column, through its blind index (any index key of the ring)."""
    normalise: Normaliser | None = column.info.get("blind")
    if normalise is None:
        raise TypeError(f"{column} has no blind index")
    companion = column.table.c[column.name + BLIND_SUFFIX]
    return companion.in_(installed().blind_all(normalise(value), column.info["sealed"]))


def blind_in(column: Column[Any] | Any, values: Iterable[str]) -> ColumnElement[bool]:
    """`WHERE <column> IN (values)` for a sealed column, through its blind index."""
    normalise: Normaliser = column.info["blind"]
    keys = installed()
    companion = column.table.c[column.name + BLIND_SUFFIX]
    return companion.in_([d for v in values for d in keys.blind_all(normalise(v), column.info["sealed"])])


def with_blind(table: Table, values: Mapping[str, Any]) -> dict[str, Any]:
    """`values` for an UPDATE, with the blind-index companion of every indexed sealed column it sets."""
    out = dict(values)
    for name, value in values.items():
        column = table.c.get(name)
        if column is not None and "blind" in column.info:
            out[name + BLIND_SUFFIX] = None if value is None else blind_of(column, value)
    return out


def raw_columns(table: Table) -> list[ColumnElement[Any]]:
    """`table`'s columns for a SELECT that leaves sealed values as stored (open them with `open_row`):
    a reader that must go on past a value that does not open (the audit verify) catches it per row."""
    return [type_coerce(c, Text).label(c.name) if "sealed" in c.info else c for c in table.columns]


def open_row(table: Table, row: Mapping[str, Any]) -> dict[str, Any]:
    """A row read through `raw_columns`, its sealed values opened; raises `CryptoError`."""
    keys = installed()
    out = dict(row)
    for column in sealed_columns(table):
        out[column.name] = keys.open_value(
            row[column.name], column.info["sealed"], json_value=isinstance(column.type, SealedJSON)
        )
    return out


def sealed_columns(table: Table) -> list[Column[Any]]:
    return [c for c in table.columns if "sealed" in c.info]


def blind_columns(table: Table) -> list[Column[Any]]:
    return [c for c in table.columns if "blind_of" in c.info]
