"""Settings: one pydantic-settings model per service, nested blocks for each server it talks to.

Every service subclasses `ServiceSettings` and gives it its own prefix, so that one environment can
hold the settings of every process: `TMS_PLATE_POOL__DATABASE__URL=...`. `TMS_ENV` is shared by all.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from enum import StrEnum
from typing import Any, ClassVar, Literal

from pydantic import BaseModel, Field, SecretStr, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from servicekit.crypto import DataKeys, KeyRing, dev_keys, test_keys
from servicekit.sealed import ClaimKeys
from servicekit.transit import Endpoints, require_tls, with_root_cert


class Environment(StrEnum):
    dev = "dev"
    test = "test"
    prod = "prod"


class DatabaseSettings(BaseModel):
    url: str = ""
    pool_size: int = 10
    max_overflow: int = 10
    # How long a request waits for the database before it answers 503 (ADR 0088), well under the edge's
    # 30 s read timeout: a pooled connection (a busy pool on a loaded machine), a new connection, and
    # unacknowledged bytes on an open one (libpq's tcp_user_timeout: a silent network, not a slow server).
    pool_timeout_s: float = 15.0
    connect_timeout_s: int = 5
    tcp_user_timeout_ms: int = 5_000
    echo: bool = False
    # The CA that signed the server's certificate (a path), added to the URL as `sslrootcert`; prod needs
    # it or the URL's own `sslrootcert`, with `sslmode=verify-full` (ADR 0094).
    ssl_root_cert: str = ""


class BrokerSettings(BaseModel):
    url: SecretStr = SecretStr("amqp://guest:guest@127.0.0.1:5672/")
    prefetch: int = 32
    publish_timeout_s: float = 5.0
    # How often a lost connection is tried again (aio-pika's default is 5 s: up to 5 s more of outage).
    reconnect_interval_s: float = 1.0
    # Consumers retry a transient failure this many times before the message goes to `<queue>.dlq`.
    max_attempts: int = 5
    retry_base_ms: int = 1000
    retry_max_ms: int = 60_000
    # The outbox relay (ADR 0099): rows claimed per batch, and batches in flight at once. A batch's confirms
    # come back after the quorum queues have written it, so one batch at a time left the relay waiting most
    # of the time; each batch in flight holds one database connection until its rows are marked.
    relay_batch_size: int = 500
    relay_batches_in_flight: int = 2


class RedisSettings(BaseModel):
    url: str = "redis://127.0.0.1:6379/0"
    # A Redis that went away answers 503 within these, not after the kernel's retransmissions (ADR 0088);
    # generous, as a slow answer on a loaded machine is not an absent Redis.
    connect_timeout_s: float = 5.0
    timeout_s: float = 15.0


class TelemetrySettings(BaseModel):
    # No endpoint, no export: spans are still made (the trace id goes in logs) but sent nowhere.
    otlp_endpoint: str | None = None
    log_level: str = "INFO"
    log_json: bool = True


class AuthSettings(BaseModel):
    # Where services fetch the identity service's public keys; verified locally, never trusted from the edge.
    jwks_url: str = "http://127.0.0.1:8010/api/v1/auth/jwks.json"
    issuer: str = "tms-identity"
    audience: str = "tms"
    leeway_s: int = 10
    # ADR 0082: the keys of the tokens' sealed claims (identity number, phone), the same in every service:
    # `kid:base64key[,kid:base64key...]`, the first one sealing. From the secrets; required in prod. Test
    # runs get one from the root conftest, `make run` from scripts/run_platform.py.
    claim_keys: SecretStr | None = None

    @field_validator("claim_keys")
    @classmethod
    def _claim_keys_parse(cls, value: SecretStr | None) -> SecretStr | None:
        if value is not None:
            ClaimKeys.parse(value.get_secret_value())  # a bad ring fails at start-up, not at a sign-in
        return value

    def claim_key_ring(self) -> ClaimKeys | None:
        return None if self.claim_keys is None else ClaimKeys.parse(self.claim_keys.get_secret_value())


class CryptoSettings(BaseModel):
    """ADR 0095: the service's keys for personal data at rest, `kid:base64key[,kid:base64key...]`, the
    first current, the others only read (until `python -m servicekit.reencrypt` has rewritten their
    values). From the secrets; required in prod. Tests get a ring per run from the root conftest; dev
    without them uses an untracked file made once (`servicekit.crypto.dev_keys`)."""

    data_keys: SecretStr | None = None  # SM4-GCM, seal and open fields
    index_keys: SecretStr | None = None  # HMAC-SM3, the blind indexes

    @field_validator("data_keys", "index_keys")
    @classmethod
    def _ring_parses(cls, value: SecretStr | None) -> SecretStr | None:
        if value is not None:
            KeyRing.parse(value.get_secret_value())  # a bad ring fails at start-up, not at a write
        return value


class DocumentSettings(BaseModel):
    """Where stored documents' bytes live (AR-01): the service's own database by default, or an
    S3-compatible store. Metadata, owner and case reference stay in the database either way."""

    backend: Literal["db", "s3"] = "db"
    max_bytes: int = 5 * 1024 * 1024
    s3_endpoint_url: str | None = None  # None: AWS itself; MinIO, Ceph or moto: their URL
    s3_bucket: str = ""
    s3_region: str = "cn-north-1"
    s3_access_key: SecretStr | None = None
    s3_secret_key: SecretStr | None = None


# Where the gateway reaches a service from unless settings say otherwise: this machine.
DEFAULT_GATEWAY_PEERS: tuple[str, ...] = ("127.0.0.0/8", "::1/128")

# The mark on every secret the repository carries (the settings' default, the k8s dev overlay's Secrets).
DEV_ONLY = "dev-only"


def _secrets_of(model: BaseModel, prefix: str = "") -> Iterator[tuple[str, str]]:
    """Every value in these settings that may hold a credential, by its dotted name: each `SecretStr`, and
    each URL (a server's password rides in it), through nested settings and mappings of them."""
    for name in type(model).model_fields:
        value = getattr(model, name)
        children: list[tuple[str | None, Any]] = (
            list(value.items()) if isinstance(value, dict) else [(None, value)]
        )
        for key, child in children:
            dotted = prefix + name + ("" if key is None else f".{key}")
            if isinstance(child, SecretStr):
                yield dotted, child.get_secret_value()
            elif isinstance(child, str) and (name == "url" or name.endswith("_url")):
                yield dotted, child
            elif isinstance(child, BaseModel):
                yield from _secrets_of(child, dotted + ".")


class ServiceSettings(BaseSettings):
    """Base of every service's settings. Subclasses set `service_name` and `model_config` prefix."""

    service_name: ClassVar[str] = "service"

    # hide_input_in_errors: a refused setting's error must not print the secrets beside it.
    model_config = SettingsConfigDict(
        env_nested_delimiter="__", extra="ignore", populate_by_name=True, hide_input_in_errors=True
    )

    env: Environment = Field(default=Environment.dev, validation_alias="TMS_ENV")
    office_code: str = "130100"  # the office this deployment serves by default (石家庄)
    database: DatabaseSettings = DatabaseSettings()
    broker: BrokerSettings = BrokerSettings()
    redis: RedisSettings = RedisSettings()
    telemetry: TelemetrySettings = TelemetrySettings()
    auth: AuthSettings = AuthSettings()
    documents: DocumentSettings = DocumentSettings()
    crypto: CryptoSettings = CryptoSettings()
    # Pepper for hashes of verification codes and idempotency keys; must be set in prod.
    secret_key: SecretStr = SecretStr("dev-only-not-a-secret")
    http_port: int = 8000
    # Requests an api process runs at once (servicekit.web.gate, ADR 0101); the others wait their turn in
    # arrival order for up to http_wait_s, then answer 503. None: as many as the database pool serves at
    # once (pool_size + max_overflow); 0: no limit. The wait stays under the edge's 30 s read timeout.
    http_max_active: int | None = None
    http_wait_s: float = 20.0
    # The worker answers GET /healthz here for a liveness probe; 0 (the default in dev) serves nothing.
    worker_health_port: int = 0
    # Where the gateway calls from: only these peers' X-Forwarded-For (the one address the edge decided)
    # is believed (ADR 0083). This machine by default; a cluster lists its pod network.
    gateway_peers: list[str] = Field(default_factory=lambda: list(DEFAULT_GATEWAY_PEERS))

    def max_active_requests(self) -> int:
        if self.http_max_active is not None:
            return self.http_max_active
        return self.database.pool_size + self.database.max_overflow

    def model_post_init(self, __context: Any) -> None:
        if not self.database.url:
            self.database.url = default_database_url(self.service_name, self.env)
        self.database.url = with_root_cert(self.database.url, self.database.ssl_root_cert)
        if self.env is Environment.prod:
            require_tls(
                Endpoints(
                    database_url=self.database.url,
                    broker_url=self.broker.url.get_secret_value(),
                    redis_url=self.redis.url,
                )
            )
        if self.env is Environment.prod and (committed := self._dev_only_secrets()):
            raise ValueError(
                f"{', '.join(committed)}: a dev-only value, committed to the repository; prod takes its "
                "secrets from its own store"
            )
        if self.env is Environment.prod and self.auth.claim_keys is None:
            raise ValueError("auth.claim_keys must be set in prod (ADR 0082)")
        if self.env is Environment.prod and (self.crypto.data_keys is None or self.crypto.index_keys is None):
            raise ValueError("crypto.data_keys and crypto.index_keys must be set in prod (ADR 0095)")

    def _dev_only_secrets(self) -> list[str]:
        """The secret settings (any `SecretStr` or URL, a subclass's too) holding a value marked
        `dev-only`, as every secret the repository carries is (the defaults, the k8s dev overlay's): such a
        value is public, whatever its strength. Base64 key material has no `-`, so the mark cannot occur
        in a real key by chance."""
        return [name for name, value in _secrets_of(self) if DEV_ONLY in value]

    def data_keys(self) -> DataKeys:
        """The keys of this service's sealed columns (ADR 0095)."""
        data, index = self.crypto.data_keys, self.crypto.index_keys
        if data is not None and index is not None:
            return DataKeys(KeyRing.parse(data.get_secret_value()), KeyRing.parse(index.get_secret_value()))
        if self.env is Environment.prod:
            raise ValueError("crypto.data_keys and crypto.index_keys must be set in prod (ADR 0095)")
        return test_keys() if self.env is Environment.test else dev_keys()

    @property
    def is_test_env(self) -> bool:
        """dev and test expose /api/v1/_test/* and the movable clock; prod never does."""
        return self.env is not Environment.prod

    @classmethod
    def env_prefix_for(cls, service_name: str) -> str:
        return "TMS_" + service_name.upper().replace("-", "_") + "__"


def database_name(service_name: str, env: Environment | str) -> str:
    """`plate-pool` → `plate_pool`; the test environment gets its own databases beside dev's demo data."""
    base = service_name.replace("-", "_")
    return f"{base}_test" if str(env) == "test" else base


def default_database_url(service_name: str, env: Environment | str) -> str:
    host = os.environ.get("TMS_PGHOST", "127.0.0.1")
    port = os.environ.get("TMS_PGPORT", "5432")
    role = service_name.replace("-", "_")
    return f"postgresql+psycopg://{role}@{host}:{port}/{database_name(service_name, env)}"


def settings_config(service_name: str) -> SettingsConfigDict:
    """The `model_config` a service's settings class uses: its own prefix, nested with `__`."""
    return SettingsConfigDict(
        env_prefix=ServiceSettings.env_prefix_for(service_name),
        env_nested_delimiter="__",
        extra="ignore",
        populate_by_name=True,  # `Settings(env="prod")` in code, `TMS_ENV=prod` in the environment
        hide_input_in_errors=True,
    )
