from typing import Any, ClassVar

from servicekit.settings import Environment, ServiceSettings, settings_config
from servicekit.transit import PlainConnectionRefused, redis_problems


class PlatePoolSettings(ServiceSettings):
    service_name: ClassVar[str] = "plate-pool"
    model_config = settings_config("plate-pool")

    http_port: int = 8040
    # Prefix of every hot-state key in Redis (hot.py); a test or a bench may use its own.
    hot_prefix: str = "pp"
    # Where the hot state lives (ADR 0097): empty for the service's Redis (`redis.url`), else its own URL;
    # `redis+cluster://host:port` for a Redis Cluster (any node as the seed). Verification codes, rate
    # limits and the dev/test clock stay on the service's Redis either way.
    hot_redis_url: str = ""
    # How long a replica trusts its cached office settings and segment list (seconds).
    cache_ttl_s: float = 10.0
    # PP-10 admission queue (hot.py, lua/admission.lua): a queued draw tells position p to ask again after
    # p / queue_line_asks_per_s seconds, at least queue_retry_after_s and at most queue_retry_after_max_s
    # (a long line asks at a pace the replicas can serve, not every 2 s each); a place not asked for
    # within queue_keep_place_s past that is given up.
    queue_keep_place_s: float = 20.0
    queue_retry_after_s: int = 2
    queue_retry_after_max_s: int = 30
    queue_line_asks_per_s: float = 25.0

    def model_post_init(self, __context: Any) -> None:
        super().model_post_init(__context)
        # The hot store is held to the service Redis's rule in prod: TLS, the certificate verified.
        if self.env is Environment.prod and self.hot_redis_url:
            problems = redis_problems(self.hot_redis_url.replace("rediss+cluster://", "rediss://", 1))
            if problems:
                raise PlainConnectionRefused([p.replace("redis.url", "hot_redis_url") for p in problems])
