"""Gateway settings, `TMS_GATEWAY__*` plus the shared `TMS_ENV`.

Not a `ServiceSettings`: the gateway owns no database, no broker and no secret, so it takes only the
blocks it uses (Redis for the test clock) and the upstream address overrides.
"""

from __future__ import annotations

from pydantic import Field
from pydantic_settings import BaseSettings

from gateway_service.routes import RouteTable, route_table
from servicekit.settings import Environment, RedisSettings, settings_config


class GatewaySettings(BaseSettings):
    model_config = settings_config("gateway")

    env: Environment = Field(default=Environment.dev, validation_alias="TMS_ENV")
    redis: RedisSettings = RedisSettings()
    # upstream name → "host:port[,host:port]", e.g. TMS_GATEWAY__UPSTREAMS__PLATE_POOL=plate-pool:8000
    upstreams: dict[str, str] = Field(default_factory=dict)
    # /readyz and /openapi.json must answer even when an upstream hangs, so every call is short.
    upstream_timeout_s: float = 2.0
    openapi_cache_s: float = 10.0
    # Forwarded /api/v1/_test/* calls may seed a population: give them time.
    test_forward_timeout_s: float = 120.0
    # Browser origins allowed by CORS besides localhost (which dev and test always allow).
    cors_origins: list[str] = Field(default_factory=list)

    @property
    def is_test_env(self) -> bool:
        """dev and test expose /api/v1/_test/*; prod never does."""
        return self.env is not Environment.prod

    def route_table(self) -> RouteTable:
        return route_table(self.upstreams)
