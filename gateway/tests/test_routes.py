"""The route table against api.md, and address overrides."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from gateway_service.routes import PUBLIC_PREFIXES, TEST_FORWARDS, parse_servers, route_table
from gateway_service.settings import GatewaySettings

# api.md, "Paths": resource → service. Copied here so the test runs anywhere; when the spec file is
# present too, `test_table_matches_api_md_text` checks that this copy is still the spec.
API_MD_ROUTES = {
    "/api/v1/auth": "identity",
    "/api/v1/users": "identity",
    "/api/v1/units": "identity",
    "/api/v1/counter/registrations": "identity",
    "/api/v1/vehicles": "vehicle",
    "/api/v1/vehicle-applications": "vehicle",
    "/api/v1/inspection-": "vehicle",
    "/api/v1/temp-plates": "vehicle",
    "/api/v1/licences": "license",
    "/api/v1/licence-applications": "license",
    "/api/v1/exams": "license",
    "/api/v1/medical-certificates": "license",
    "/api/v1/plate-selections": "plate-pool",
    "/api/v1/plate-segments": "plate-pool",
    "/api/v1/violations": "violation",
    "/api/v1/payments": "violation",
    "/api/v1/messages": "notify",
}
# Platform-wide resources beyond api.md's list: the office calendar (WD-01, docs/adr/0004-office-calendar.md).
# The auditor's view of each service's audit trail (AU-01, docs/adr/0090-audit-retention-and-auditor.md).
BEYOND_API_MD = {
    "/api/v1/workdays": "identity",
    **{
        f"/api/v1/audit/{name}": name
        for name in ("identity", "vehicle", "license", "plate-pool", "violation", "notify")
    },
}
REPO = Path(__file__).resolve().parents[2]
API_MD_CANDIDATES = (REPO / "docs" / "api.md", Path("/work/shared/spec/api.md"))


def test_every_api_md_prefix_routes_to_its_service() -> None:
    assert dict(PUBLIC_PREFIXES) == API_MD_ROUTES | BEYOND_API_MD
    table = route_table()
    for prefix, service in (API_MD_ROUTES | BEYOND_API_MD).items():
        probe = prefix + "stations" if prefix.endswith("-") else prefix + "/some/id"
        up = table.upstream_for(probe)
        assert up is not None
        assert up.name == service, probe
        if not prefix.endswith("-"):
            assert table.upstream_for(prefix) is up  # the collection itself


def test_table_matches_api_md_text() -> None:
    spec = next((p for p in API_MD_CANDIDATES if p.exists()), None)
    if spec is None:
        pytest.skip("api.md is not on this machine (looked in docs/ and /work/shared/spec/)")
    found: dict[str, str] = {}
    for line in spec.read_text(encoding="utf-8").splitlines():
        if "→" not in line or "/api/v1/" not in line:
            continue
        paths, service = line.rsplit("→", 1)
        for path in re.findall(r"`(/api/v1/[^`]+)`", paths):
            found[path.removesuffix("/*").removesuffix("*")] = service.strip()
    assert found == API_MD_ROUTES


@pytest.mark.parametrize(
    ("path", "expected"),
    [
        ("/api/v1/usersx", None),
        ("/api/v1/user", None),
        ("/api/v1/inspection", None),
        ("/api/v1/inspection-reports/7", "vehicle"),
        ("/api/v1/counter/registrations/1", "identity"),
        ("/api/v1/counter", None),
        ("/api/v1/_test/clock", None),
        ("/api/v1/licence-applications/9/approve", "license"),
        ("/api/v1/licences", "license"),
    ],
)
def test_boundaries(path: str, expected: str | None) -> None:
    up = route_table().upstream_for(path)
    assert (up.name if up else None) == expected


def test_topology_defaults() -> None:
    table = route_table()
    assert [u.name for u in table.upstreams.values()] == [
        "identity",
        "vehicle",
        "license",
        "plate-pool",
        "violation",
        "notify",
    ]
    ports = {u.name: [s.port for s in u.servers] for u in table.upstreams.values()}
    assert ports == {
        "identity": [8010],
        "vehicle": [8020],
        "license": [8030],
        "plate-pool": [8040, 8041],
        "violation": [8050],
        "notify": [8060],
    }
    assert table.gateway.servers[0].address == "127.0.0.1:8001"
    assert table.edge_port == 8000
    assert [label for label, _ in table.upstreams["plate-pool"].labelled()] == [
        "plate-pool#8040",
        "plate-pool#8041",
    ]
    for _, (upstream, _methods) in TEST_FORWARDS.items():
        assert upstream in table.upstreams


def test_overrides_from_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TMS_GATEWAY__UPSTREAMS__PLATE_POOL", "plate-pool-0:8000, plate-pool-1:8000")
    monkeypatch.setenv("TMS_GATEWAY__UPSTREAMS__IDENTITY", "identity.tms.svc:8000")
    table = GatewaySettings().route_table()
    assert [s.address for s in table.upstreams["plate-pool"].servers] == [
        "plate-pool-0:8000",
        "plate-pool-1:8000",
    ]
    assert [label for label, _ in table.upstreams["plate-pool"].labelled()] == [
        "plate-pool#plate-pool-0:8000",
        "plate-pool#plate-pool-1:8000",
    ]
    assert table.upstreams["identity"].servers[0].base_url == "http://identity.tms.svc:8000"
    assert table.upstreams["vehicle"].servers[0].address == "127.0.0.1:8020"


def test_bad_overrides_are_refused() -> None:
    with pytest.raises(ValueError, match="unknown upstreams"):
        route_table({"billing": "x:1"})
    with pytest.raises(ValueError, match="host:port"):
        parse_servers("identity")
    assert parse_servers("[::1]:8010")[0].host == "::1"
