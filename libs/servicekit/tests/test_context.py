"""Client address behind the gateway, request ids, the audit role (no I/O)."""

from __future__ import annotations

import pytest

from servicekit.web.auth import Principal
from servicekit.web.context import (
    DEFAULT_TRUSTED_PROXIES,
    accept_or_new_request_id,
    parse_networks,
    primary_role,
    resolve_client_ip,
)

TRUSTED = parse_networks(DEFAULT_TRUSTED_PROXIES)


@pytest.mark.parametrize(
    ("peer", "xff", "expected"),
    [
        ("10.0.3.4", "203.0.113.7", "203.0.113.7"),  # through the gateway: its first hop
        ("10.0.3.4", "203.0.113.7, 10.0.0.9", "203.0.113.7"),  # a load balancer in front of the gateway
        ("10.0.3.4", "6.6.6.6, 203.0.113.7", "203.0.113.7"),  # a client's own XFF entry is not believed
        ("203.0.113.7", "1.2.3.4", "203.0.113.7"),  # straight from the internet: the header is ignored
        ("10.0.3.4", None, "10.0.3.4"),
        ("10.0.3.4", "10.0.0.8", "10.0.0.8"),  # all internal: the origin inside the cluster
        ("10.0.3.4", "garbage", "10.0.3.4"),
        ("::1", "2001:db8::1", "2001:db8::1"),
        (None, "203.0.113.7", None),
    ],
)
def test_client_ip(peer: str | None, xff: str | None, expected: str | None) -> None:
    assert resolve_client_ip(peer, xff, TRUSTED) == expected


def test_request_id_is_kept_when_sane() -> None:
    assert accept_or_new_request_id("gw-1.2:3") == "gw-1.2:3"
    assert len(accept_or_new_request_id("x" * 200)) == 32
    assert len(accept_or_new_request_id(None)) == 32


def test_audit_role_is_the_most_powerful_one() -> None:
    def principal(*roles: str) -> Principal:
        return Principal(subject="s", account_kind="staff", channel="counter", roles=frozenset(roles))

    assert primary_role(principal("clerk.intake", "clerk.admin")) == "clerk.admin"
    assert primary_role(principal("citizen")) == "citizen"
    assert primary_role(principal("custom.b", "custom.a")) == "custom.a"
    assert primary_role(principal()) == "staff"
