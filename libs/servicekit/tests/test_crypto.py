"""ADR 0095: personal data at rest sealed with SM4-GCM, found by an HMAC-SM3 blind index, keys rotated."""

from __future__ import annotations

import base64
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import psycopg
import pytest
from sqlalchemy import Column, Integer, MetaData, Table, create_engine, insert, select, update

from servicekit import crypto
from servicekit.crypto import (
    CryptoError,
    DataKeys,
    KeyRing,
    blind_match,
    key_id,
    normalise_id_number,
    normalise_phone,
    sealed,
    with_blind,
)
from servicekit.settings import ServiceSettings
from servicekit.testing import PROD_TRANSIT

IDN = "13010219900307123X"
PHONE = "13800138000"


@pytest.fixture
def keys() -> Iterator[DataKeys]:
    before = crypto.installed()
    ring = DataKeys.generate("unit")
    crypto.install(ring)
    yield ring
    crypto.install(before)


def _flip(stored: str, at: int) -> str:
    kid, body = stored.split(".")
    raw = bytearray(base64.urlsafe_b64decode(body + "=" * (-len(body) % 4)))
    raw[at] ^= 0x01
    return f"{kid}.{base64.urlsafe_b64encode(bytes(raw)).rstrip(b'=').decode()}"


def test_a_sealed_value_opens_to_what_was_sealed_and_shows_nothing(keys: DataKeys) -> None:
    stored = keys.seal(IDN.encode(), "accounts.id_number")
    assert IDN not in stored
    assert IDN.lower() not in stored
    assert key_id(stored) == keys.data.current
    assert keys.open(stored, "accounts.id_number") == IDN.encode()
    # a fresh nonce each time: equal values do not give equal ciphertexts
    assert keys.seal(IDN.encode(), "accounts.id_number") != stored


def test_a_value_moved_to_another_column_does_not_open(keys: DataKeys) -> None:
    stored = keys.seal(IDN.encode(), "accounts.id_number")
    with pytest.raises(CryptoError, match="another column"):
        keys.open(stored, "accounts.phone")
    with pytest.raises(CryptoError):
        keys.open(stored, "registrations.id_number")


@pytest.mark.parametrize("at", [0, 11, 12, 20, -1])  # the nonce, the ciphertext, the tag
def test_an_altered_value_does_not_open(keys: DataKeys, at: int) -> None:
    stored = keys.seal(IDN.encode(), "accounts.id_number")
    with pytest.raises(CryptoError):
        keys.open(_flip(stored, at), "accounts.id_number")


def test_a_value_under_a_key_the_ring_lacks_does_not_open(keys: DataKeys) -> None:
    stored = DataKeys.generate("other").seal(b"x", "t.c")
    with pytest.raises(CryptoError, match="no key"):
        keys.open(stored, "t.c")


def test_rotation_the_new_key_seals_the_old_one_still_opens(keys: DataKeys) -> None:
    old = keys.seal(PHONE.encode(), "accounts.phone")
    rotated = DataKeys(keys.data.rotated("unit-d2"), keys.index)
    assert rotated.data.current == "unit-d2"
    new = rotated.seal(PHONE.encode(), "accounts.phone")
    assert key_id(new) == "unit-d2"
    assert rotated.open(old, "accounts.phone") == rotated.open(new, "accounts.phone") == PHONE.encode()
    # once the old key is dropped (after the re-encryption), what it sealed no longer opens
    with pytest.raises(CryptoError):
        DataKeys(rotated.data.without(keys.data.current), keys.index).open(old, "accounts.phone")


def test_the_blind_index_is_stable_normalised_and_keyed(keys: DataKeys) -> None:
    digest = keys.blind(normalise_id_number(IDN), "accounts.id_number")
    assert digest == keys.blind(normalise_id_number(IDN.lower()), "accounts.id_number")
    assert digest == keys.blind(normalise_id_number(" 13010219900307123x "), "accounts.id_number")
    assert IDN not in digest
    # another column, another digest: an equality in one table says nothing of another's
    assert digest != keys.blind(normalise_id_number(IDN), "registrations.id_number")
    # keyed: whoever lacks the index key cannot compute it from a guessed number
    assert digest != DataKeys.generate("other").blind(normalise_id_number(IDN), "accounts.id_number")
    # the index keys are not the data keys
    assert keys.index.key(keys.index.current) != keys.data.key(keys.data.current)


def test_an_index_rotation_still_finds_rows_digested_under_the_old_key(keys: DataKeys) -> None:
    old = keys.blind(PHONE, "accounts.phone")
    rotated = DataKeys(keys.data, keys.index.rotated("unit-i2"))
    assert old in rotated.blind_all(PHONE, "accounts.phone")
    assert key_id(rotated.blind(PHONE, "accounts.phone")) == "unit-i2"


def test_phones_are_normalised_before_the_index() -> None:
    assert {normalise_phone(p) for p in ("13800138000", "+86 138-0013-8000", "0086 13800138000")} == {PHONE}


def test_key_rings_parse_and_refuse_bad_ones() -> None:
    ring = KeyRing.generate("a")
    assert KeyRing.parse(ring.spec()).key("a") == ring.key("a")
    rotated = ring.rotated("b")
    assert KeyRing.parse(rotated.spec()).current == "b"
    for bad in ("", "a", "a:notbase64!", f"a:{base64.b64encode(b'short').decode()}"):
        with pytest.raises(ValueError, match="key"):
            KeyRing.parse(bad)


class _ProdSettings(ServiceSettings):
    service_name = "crypto-unit"


def test_prod_refuses_to_start_without_data_keys() -> None:
    ring = KeyRing.generate("c").spec()
    common: dict[str, Any] = {"TMS_ENV": "prod", "secret_key": "s", "auth": {"claim_keys": ring}}
    common |= PROD_TRANSIT
    with pytest.raises(ValueError, match=r"crypto\.data_keys"):
        _ProdSettings.model_validate(common)
    with pytest.raises(ValueError, match=r"crypto\.data_keys"):
        _ProdSettings.model_validate(common | {"crypto": {"data_keys": ring}})
    settings = _ProdSettings.model_validate(
        common | {"crypto": {"data_keys": ring, "index_keys": KeyRing.generate("i").spec()}}
    )
    assert settings.data_keys().data.current == "c"


DEV_SECRETS = Path(__file__).resolve().parents[3] / "deploy" / "k8s" / "overlays" / "dev" / "secrets"
# The settings a committed dev Secret sets that prod would otherwise accept as they are.
KEY_SETTINGS = {
    "SECRET_KEY": ("secret_key",),
    "AUTH__CLAIM_KEYS": ("auth", "claim_keys"),
    "CRYPTO__DATA_KEYS": ("crypto", "data_keys"),
    "CRYPTO__INDEX_KEYS": ("crypto", "index_keys"),
}


def _committed_keys() -> list[tuple[str, tuple[str, ...], str]]:
    found = []
    for env_file in sorted(DEV_SECRETS.glob("*.env")):
        for line in env_file.read_text(encoding="utf-8").splitlines():
            name, sep, value = line.partition("=")
            setting = next((path for tail, path in KEY_SETTINGS.items() if name.endswith("__" + tail)), None)
            if sep and setting is not None and not line.startswith("#"):
                found.append((f"{env_file.name}:{name}", setting, value))
    return found


def test_prod_refuses_the_dev_only_secrets_the_repository_carries() -> None:
    committed = _committed_keys()
    assert len(committed) == 6 * len(KEY_SETTINGS), [where for where, _, _ in committed]  # each service's
    ring = KeyRing.generate("c").spec()
    good: dict[str, Any] = {
        "TMS_ENV": "prod",
        "secret_key": "a-real-secret",
        "auth": {"claim_keys": ring},
        "crypto": {"data_keys": ring, "index_keys": ring},
    } | PROD_TRANSIT
    assert _ProdSettings.model_validate(good).env.value == "prod"
    for where, path, value in committed:
        config = {k: dict(v) if isinstance(v, dict) else v for k, v in good.items()}
        if len(path) == 1:
            config[path[0]] = value
        else:
            config[path[0]][path[1]] = value
        with pytest.raises(ValueError, match=rf"{'.'.join(path)}: a dev-only value") as refused:
            _ProdSettings.model_validate(config)
        assert value not in str(refused.value), f"{where}: the refusal must not print the secret"
    # The settings' own default secret key is one of them.
    with pytest.raises(ValueError, match="secret_key: a dev-only value"):
        _ProdSettings.model_validate({k: v for k, v in good.items() if k != "secret_key"})
    # So are the overlay's server passwords, which ride in the URLs, even over verified TLS.
    url = PROD_TRANSIT["database"]["url"].replace("svc@", "svc:dev-only-db-password@")
    with pytest.raises(ValueError, match=r"database\.url: a dev-only value") as refused:
        _ProdSettings.model_validate(good | {"database": {"url": url}})
    assert "dev-only-db-password" not in str(refused.value)


# --- the column types against PostgreSQL --------------------------------------------------------------


def _people(metadata: MetaData) -> Table:
    return Table(
        "people",
        metadata,
        Column("id", Integer, primary_key=True),
        *sealed("people", "id_number", blind=normalise_id_number),
        *sealed("people", "phone", blind=normalise_phone),
        *sealed("people", "address"),
        *sealed("people", "extra", json_value=True),
    )


@pytest.mark.integration
def test_sealed_columns_store_ciphertext_and_are_found_by_their_blind_index(
    keys: DataKeys, pg_database: str
) -> None:
    metadata = MetaData()
    people = _people(metadata)
    engine = create_engine(pg_database)
    metadata.create_all(engine)
    with engine.begin() as conn:
        conn.execute(
            insert(people),
            [
                {
                    "id": 1,
                    "id_number": IDN,
                    "phone": PHONE,
                    "address": "石家庄市长安区",
                    "extra": {"n": "张三"},
                },
                {
                    "id": 2,
                    "id_number": "130102199003071233",
                    "phone": "13900139000",
                    "address": None,
                    "extra": None,
                },
            ],
        )
        found = conn.execute(select(people).where(blind_match(people.c.id_number, IDN.lower()))).one()
        assert (found.id, found.id_number, found.phone, found.address, found.extra) == (
            1,
            IDN,
            PHONE,
            "石家庄市长安区",
            {"n": "张三"},
        )
        assert conn.execute(
            select(people.c.id).where(blind_match(people.c.phone, "+86 13900139000"))
        ).all() == [(2,)]
        # an update that changes a looked-up value updates its index with it
        conn.execute(
            update(people).where(people.c.id == 2).values(with_blind(people, {"phone": "13700137000"}))
        )
        assert conn.execute(select(people.c.id).where(blind_match(people.c.phone, "13700137000"))).all() == [
            (2,)
        ]
        assert conn.execute(select(people.c.id).where(blind_match(people.c.phone, "13900139000"))).all() == []
    engine.dispose()
    # what the database holds, read without the keys
    with psycopg.connect(pg_database.replace("+psycopg", "")) as raw:
        rows = raw.execute("SELECT * FROM people").fetchall()
    dumped = repr(rows)
    for clear in (IDN, IDN.lower(), PHONE, "13700137000", "石家庄", "张三"):
        assert clear not in dumped


def test_a_sealed_column_refuses_a_comparison_that_could_never_match(keys: DataKeys) -> None:
    people = _people(MetaData())
    with pytest.raises(TypeError, match="blind_match"):
        _ = people.c.id_number == IDN
    with pytest.raises(TypeError, match="blind index"):
        blind_match(people.c.address, "x")
    assert str(people.c.address.is_(None)) == "people.address IS NULL"
