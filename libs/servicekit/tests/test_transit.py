"""In transit (ADR 0094): prod settings refuse plain or unverified connections; dev and test don't."""

from __future__ import annotations

from typing import Any

import pytest
from pydantic import ValidationError

from servicekit.sealed import ClaimKeys
from servicekit.settings import ServiceSettings
from servicekit.testing import PROD_KEYS, PROD_TRANSIT

PG_OK = "postgresql+psycopg://svc:pw@db.internal:5432/svc?sslmode=verify-full&sslrootcert=/etc/tms/pg-ca.pem"
AMQP_OK = "amqps://svc:pw@mq.internal:5671/tms"
REDIS_OK = "rediss://:pw@redis.internal:6380/0"


def _settings(
    env: str, database: str = PG_OK, broker: str = AMQP_OK, redis: str = REDIS_OK, **more: Any
) -> ServiceSettings:
    # By the alias and without the environment's sources, which hold this run's plain test URLs.
    return ServiceSettings.model_validate(
        {
            "TMS_ENV": env,
            "secret_key": "a-real-secret",
            "auth": {"claim_keys": ClaimKeys.generate().spec()},
            "database": {"url": database, **more},
            "broker": {"url": broker},
            "redis": {"url": redis},
        }
        | PROD_KEYS
    )


def _refusal(**urls: str) -> str:
    with pytest.raises(ValidationError) as refused:
        _settings("prod", **urls)
    return str(refused.value)


def test_prod_accepts_verified_tls_to_every_server() -> None:
    settings = _settings("prod")
    assert settings.database.url == PG_OK
    assert settings.broker.url.get_secret_value() == AMQP_OK
    assert settings.redis.url == REDIS_OK


def test_the_accepted_prod_blocks_tests_use_are_accepted() -> None:
    settings = ServiceSettings.model_validate(
        {"TMS_ENV": "prod", "secret_key": "s", "auth": {"claim_keys": ClaimKeys.generate().spec()}}
        | PROD_TRANSIT
        | PROD_KEYS
    )
    assert "sslmode=verify-full" in settings.database.url


@pytest.mark.parametrize(
    ("url", "problem"),
    [
        ("postgresql+psycopg://svc@db.internal:5432/svc", "sslmode=verify-full"),
        (
            "postgresql+psycopg://svc@db.internal:5432/svc?sslmode=require&sslrootcert=/ca.pem",
            "sslmode=verify-full",
        ),
        (
            "postgresql+psycopg://svc@db.internal:5432/svc?sslmode=verify-ca&sslrootcert=/ca.pem",
            "sslmode=verify-full",
        ),
        (
            "postgresql+psycopg://svc@db.internal:5432/svc?sslmode=prefer&sslrootcert=/ca.pem",
            "sslmode=verify-full",
        ),
        ("postgresql+psycopg://svc@db.internal:5432/svc?sslmode=verify-full", "root certificate"),
    ],
)
def test_prod_refuses_a_database_without_verify_full_and_a_root(url: str, problem: str) -> None:
    assert problem in _refusal(database=url)


def test_the_root_certificate_setting_goes_into_the_url() -> None:
    url = "postgresql+psycopg://svc@db.internal:5432/svc?sslmode=verify-full"
    settings = _settings("prod", database=url, ssl_root_cert="/etc/tms/pg ca.pem")
    assert settings.database.url == url + "&sslrootcert=/etc/tms/pg%20ca.pem"


@pytest.mark.parametrize(
    ("url", "problem"),
    [
        ("amqp://svc:pw@mq.internal:5672/tms", "amqps://"),
        ("amqps://svc:pw@mq.internal:5671/tms?no_verify_ssl=1", "verify the broker"),
        # A cluster's list (ADR 0098): one plain or unverified node is enough to refuse it.
        (f"{AMQP_OK},amqp://svc:pw@mq-1.internal:5672/tms", "amqps://"),
        (f"{AMQP_OK},amqps://svc:pw@mq-1.internal:5671/tms?no_verify_ssl=1", "verify the broker"),
    ],
)
def test_prod_refuses_a_plain_or_unverified_broker(url: str, problem: str) -> None:
    assert problem in _refusal(broker=url)


@pytest.mark.parametrize(
    ("url", "problem"),
    [
        ("redis://:pw@redis.internal:6379/0", "rediss://"),
        ("rediss://:pw@redis.internal:6380/0?ssl_cert_reqs=none", "ssl_cert_reqs=required"),
        ("rediss://:pw@redis.internal:6380/0?ssl_cert_reqs=optional", "ssl_cert_reqs=required"),
        ("rediss://:pw@redis.internal:6380/0?ssl_check_hostname=false", "server's name"),
    ],
)
def test_prod_refuses_a_plain_or_unverified_redis(url: str, problem: str) -> None:
    assert problem in _refusal(redis=url)


def test_every_plain_connection_is_named_at_once() -> None:
    message = _refusal(
        database="postgresql+psycopg://svc@db/svc", broker="amqp://g:g@mq/", redis="redis://redis:6379/0"
    )
    assert all(word in message for word in ("sslmode=verify-full", "amqps://", "rediss://"))


@pytest.mark.parametrize("env", ["dev", "test"])
def test_dev_and_test_keep_their_plain_local_servers(env: str) -> None:
    settings = _settings(
        env,
        database="postgresql+psycopg://svc@127.0.0.1/svc",
        broker="amqp://g:g@127.0.0.1/",
        redis="redis://127.0.0.1/0",
    )
    assert settings.database.url.startswith("postgresql+psycopg://svc@127.0.0.1")
