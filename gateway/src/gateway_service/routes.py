"""The one route table: which upstream serves which public path, and where each upstream listens.

Addresses come from `topology.json` (shared with scripts/procfile.py and scripts/bootstrap_infra.py);
each can be overridden per upstream, e.g. in Kubernetes `TMS_GATEWAY__UPSTREAMS__PLATE_POOL=plate-pool:8000`
(see `GatewaySettings`). Path prefixes are the resource names of api.md and live here, in code, because
only the gateway needs them. nginx.conf and the gateway app are both generated from this module.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from functools import cache
from importlib import resources
from typing import Any

from servicekit.service import SERVICE_NAMES

API = "/api/v1"
TEST_PREFIX = f"{API}/_test/"
OPENAPI_PATH = f"{API}/openapi.json"
# Paths the gateway app (not nginx, not a service) answers. nginx answers /healthz itself.
GATEWAY_PATHS = ("/readyz", OPENAPI_PATH)
GATEWAY = "gateway"  # the name of the gateway app's upstream in nginx and in overrides

# resource prefix → upstream, exactly as api.md lists them. A prefix ending in "-" matches any path that
# starts with it (`/api/v1/inspection-stations`, `/api/v1/inspection-reports/...`); any other prefix
# matches itself and what lies below it, never a longer sibling (`/api/v1/users` but not `/api/v1/usersx`).
PUBLIC_PREFIXES: tuple[tuple[str, str], ...] = (
    (f"{API}/auth", "identity"),
    (f"{API}/users", "identity"),
    (f"{API}/units", "identity"),
    (f"{API}/counter/registrations", "identity"),
    (f"{API}/workdays", "identity"),  # the office calendar (WD-01, ADR 0004)
    (f"{API}/vehicles", "vehicle"),
    (f"{API}/vehicle-applications", "vehicle"),
    (f"{API}/inspection-", "vehicle"),
    (f"{API}/temp-plates", "vehicle"),
    (f"{API}/licences", "license"),
    (f"{API}/licence-applications", "license"),
    (f"{API}/exams", "license"),
    (f"{API}/medical-certificates", "license"),
    (f"{API}/plate-selections", "plate-pool"),
    (f"{API}/plate-segments", "plate-pool"),
    (f"{API}/violations", "violation"),
    (f"{API}/payments", "violation"),
    (f"{API}/messages", "notify"),
    # The auditor's view of each service's own audit trail (AU-01, ADR 0090), served by that service.
    *((f"{API}/audit/{name}", name) for name in SERVICE_NAMES),
)

# dev/test only: the gateway app forwards these to the service that owns the data (same method, path,
# query and body): path → (upstream, methods).
TEST_FORWARDS: dict[str, tuple[str, tuple[str, ...]]] = {
    f"{TEST_PREFIX}sms": ("notify", ("GET",)),
    f"{TEST_PREFIX}population": ("identity", ("POST",)),
    # the local bank's checkout (an online order's pay_url) and its statement for the reconciliation
    f"{TEST_PREFIX}bank-checkout": ("violation", ("GET", "POST")),
    f"{TEST_PREFIX}bank-statement": ("violation", ("POST",)),
}


@dataclass(frozen=True)
class Server:
    host: str
    port: int

    @property
    def address(self) -> str:
        return f"{self.host}:{self.port}"

    @property
    def base_url(self) -> str:
        return f"http://{self.address}"


@dataclass(frozen=True)
class Upstream:
    name: str  # "plate-pool"
    servers: tuple[Server, ...]
    package: str = ""  # "plate_pool_service"; empty for the gateway app

    @property
    def nginx_name(self) -> str:
        """nginx upstream names: `plate_pool` (hyphens are legal there but read like arithmetic)."""
        return self.name.replace("-", "_")

    def labelled(self) -> list[tuple[str, Server]]:
        """One label per server for reports: `identity`, or `plate-pool#8041` when there are replicas."""
        if len(self.servers) == 1:
            return [(self.name, self.servers[0])]
        ports_unique = len({s.port for s in self.servers}) == len(self.servers)
        return [(f"{self.name}#{s.port if ports_unique else s.address}", s) for s in self.servers]


@dataclass(frozen=True)
class Route:
    prefix: str
    upstream: str

    @property
    def open_ended(self) -> bool:
        return self.prefix.endswith("-")

    def matches(self, path: str) -> bool:
        if self.open_ended:
            return path.startswith(self.prefix)
        return path == self.prefix or path.startswith(self.prefix + "/")


@dataclass(frozen=True)
class RouteTable:
    upstreams: dict[str, Upstream]  # services only, in topology order
    routes: tuple[Route, ...]
    gateway: Upstream
    edge_port: int

    def upstream_for(self, path: str) -> Upstream | None:
        """The service that serves a public path (the longest matching prefix wins), or None."""
        best: Route | None = None
        for route in self.routes:
            if route.matches(path) and (best is None or len(route.prefix) > len(best.prefix)):
                best = route
        return self.upstreams[best.upstream] if best else None

    def routes_of(self, upstream: str) -> list[Route]:
        return [r for r in self.routes if r.upstream == upstream]


@cache
def load_topology() -> dict[str, Any]:
    text = resources.files("gateway_service").joinpath("topology.json").read_text(encoding="utf-8")
    data: dict[str, Any] = json.loads(text)
    return data


def parse_servers(spec: str) -> tuple[Server, ...]:
    """`"plate-pool-0:8000,plate-pool-1:8000"` → servers. A bare host keeps no port, so one is required."""
    servers: list[Server] = []
    for item in (part.strip() for part in spec.split(",")):
        if not item:
            continue
        host, sep, port = item.rpartition(":")
        if not sep or not host or not port.isdigit():
            raise ValueError(f"upstream address {item!r} is not host:port")
        servers.append(Server(host.strip("[]"), int(port)))
    if not servers:
        raise ValueError(f"no upstream address in {spec!r}")
    return tuple(servers)


def normalise_name(name: str) -> str:
    """Environment keys arrive as `plate_pool` or `PLATE_POOL`; upstream names are `plate-pool`."""
    return name.strip().lower().replace("_", "-")


def route_table(overrides: Mapping[str, str] | None = None) -> RouteTable:
    """The table, with `overrides` (upstream name → "host:port[,host:port...]") replacing addresses."""
    topo = load_topology()
    host: str = topo["host"]
    wanted = {normalise_name(k): v for k, v in (overrides or {}).items()}
    known = {s["name"] for s in topo["services"]} | {GATEWAY}
    unknown = set(wanted) - known
    if unknown:
        raise ValueError(f"overrides for unknown upstreams {sorted(unknown)}; known: {sorted(known)}")

    def servers(name: str, ports: list[int]) -> tuple[Server, ...]:
        return parse_servers(wanted[name]) if name in wanted else tuple(Server(host, p) for p in ports)

    upstreams = {
        s["name"]: Upstream(s["name"], servers(s["name"], s["ports"]), s["package"]) for s in topo["services"]
    }
    gateway = Upstream(GATEWAY, servers(GATEWAY, [topo["gateway"]["port"]]), topo["gateway"]["package"])
    routes = tuple(Route(prefix, name) for prefix, name in PUBLIC_PREFIXES)
    missing = {r.upstream for r in routes} - set(upstreams)
    if missing:
        raise ValueError(f"routes name upstreams absent from topology.json: {sorted(missing)}")
    return RouteTable(
        upstreams=upstreams, routes=routes, gateway=gateway, edge_port=int(topo["edge"]["port"])
    )
