"""In transit (GB/T 39786 level 3, channel): prod settings refuse a plain or unverified connection.

Checked when a service's settings load in prod (`ServiceSettings.model_post_init`), so a process with a
plain URL never starts rather than talking in clear; dev and test are unchanged (ADR 0094):

- PostgreSQL: `sslmode=verify-full` (encrypted, the server's certificate checked against a root and its
  name against the host) and a root certificate, `sslrootcert` in the URL or `database.ssl_root_cert`.
- RabbitMQ: `amqps://` with peer verification (aiormq verifies unless `no_verify_ssl` is set).
- Redis: `rediss://` with the certificate required (redis-py's default; `ssl_cert_reqs=none|optional`
  and `ssl_check_hostname=false` are refused).
"""

from __future__ import annotations

from dataclasses import dataclass
from urllib.parse import parse_qs, quote, urlsplit

FALSE_WORDS = frozenset({"0", "false", "f", "n", "no", "off"})


class PlainConnectionRefused(ValueError):
    """Prod settings name a connection without TLS or without verifying the server."""

    def __init__(self, problems: list[str]) -> None:
        self.problems = problems
        super().__init__("prod refuses plain connections (ADR 0094): " + "; ".join(problems))


@dataclass(frozen=True)
class Endpoints:
    """The URLs one process connects to (the database's with its setting's root certificate added)."""

    database_url: str
    broker_url: str
    redis_url: str


def _query(url: str) -> dict[str, str]:
    return {k.lower(): v[-1] for k, v in parse_qs(urlsplit(url).query, keep_blank_values=True).items()}


def database_problems(url: str) -> list[str]:
    query = _query(url)
    problems = []
    if query.get("sslmode") != "verify-full":
        problems.append("database.url must have sslmode=verify-full")
    if not query.get("sslrootcert"):
        problems.append("database.url needs a root certificate (sslrootcert= or database.ssl_root_cert)")
    return problems


def broker_problems(url: str) -> list[str]:
    """Every node of a cluster's list (comma-separated, ADR 0098) is held to the same rule."""
    nodes = [part.strip() for part in url.split(",") if part.strip()] or [url]
    if any(urlsplit(node).scheme != "amqps" for node in nodes):
        return ["broker.url must be amqps://"]
    if any(_query(node).get("no_verify_ssl", "0") != "0" for node in nodes):
        return ["broker.url must verify the broker's certificate (no no_verify_ssl)"]
    return []


def redis_problems(url: str) -> list[str]:
    if urlsplit(url).scheme != "rediss":
        return ["redis.url must be rediss://"]
    query = _query(url)
    problems = []
    if query.get("ssl_cert_reqs", "required").lower() != "required":
        problems.append("redis.url must require the server's certificate (ssl_cert_reqs=required)")
    if query.get("ssl_check_hostname", "true").lower() in FALSE_WORDS:
        problems.append("redis.url must check the server's name (no ssl_check_hostname=false)")
    return problems


def require_tls(endpoints: Endpoints) -> None:
    """Raise `PlainConnectionRefused` naming every plain or unverified connection (all at once)."""
    problems = (
        database_problems(endpoints.database_url)
        + broker_problems(endpoints.broker_url)
        + redis_problems(endpoints.redis_url)
    )
    if problems:
        raise PlainConnectionRefused(problems)


def with_root_cert(database_url: str, root_cert: str) -> str:
    """The URL with `sslrootcert` added from the setting, so every connection (the engine, psycopg's own
    LISTEN and bootstrap connections, the migration) uses the same root; a URL's own value wins."""
    if not root_cert or "sslrootcert" in _query(database_url):
        return database_url
    separator = "&" if urlsplit(database_url).query else "?"
    return f"{database_url}{separator}sslrootcert={quote(root_cert, safe='/')}"
