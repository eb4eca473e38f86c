"""Fixtures for servicekit's tests: real PostgreSQL, RabbitMQ and Redis on 127.0.0.1 (see the README).

Each test module gets names of its own (database tables are made per test, queues carry a random
suffix), so the tests can run beside a developer's `make run` without touching its data.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import AsyncIterator, Iterator

import psycopg
import pytest
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from redis.asyncio import Redis

from servicekit.settings import TelemetrySettings
from servicekit.telemetry import setup_telemetry, tracer_provider
from servicekit.testing import TokenFactory

PG_ADMIN = os.environ.get("TMS_TEST_PG_ADMIN", "postgresql://postgres@127.0.0.1:5432/postgres")
AMQP_URL = os.environ.get("TMS_TEST_AMQP_URL", "amqp://guest:guest@127.0.0.1:5672/tms-test")
REDIS_TEST_URL = os.environ.get("TMS_TEST_REDIS_URL", "redis://127.0.0.1:6379/14")


@pytest.fixture
def amqp_url() -> str:
    return AMQP_URL


@pytest.fixture
def redis_url() -> str:
    """The Redis database the `redis` fixture flushes, for apps under test to use."""
    return REDIS_TEST_URL


@pytest.fixture(scope="session")
def tokens() -> TokenFactory:
    """One RSA key for the session: key generation is the slow part of minting tokens."""
    return TokenFactory()


@pytest.fixture
def spans() -> Iterator[InMemorySpanExporter]:
    """The spans finished during one test (telemetry is set up for the process if it was not yet)."""
    setup_telemetry("servicekit-tests", TelemetrySettings())
    provider = tracer_provider()
    assert provider is not None
    exporter = InMemorySpanExporter()
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    yield exporter
    exporter.shutdown()  # the processor stays on the provider; a stopped exporter keeps nothing


@pytest.fixture
def unique() -> str:
    """A short random suffix for queue, exchange and key names that must not collide between tests."""
    return uuid.uuid4().hex[:10]


@pytest.fixture
async def redis() -> AsyncIterator[Redis]:
    client = Redis.from_url(REDIS_TEST_URL, decode_responses=False)
    await client.flushdb()
    yield client
    await client.flushdb()
    await client.aclose()


@pytest.fixture
def pg_database() -> Iterator[str]:
    """A fresh, empty database for one test; dropped afterwards. Returns its SQLAlchemy URL."""
    name = f"sk_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(PG_ADMIN, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    base = PG_ADMIN.rsplit("/", 1)[0]
    yield f"{base.replace('postgresql://', 'postgresql+psycopg://', 1)}/{name}"
    with psycopg.connect(PG_ADMIN, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
