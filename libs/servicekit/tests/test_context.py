"""Client address behind the gateway, request ids, the audit role (no I/O)."""

from __future__ import annotations

import pytest

from servicekit.settings import DEFAULT_GATEWAY_PEERS
from servicekit.web.auth import Principal
from servicekit.web.context import (
    accept_or_new_request_id,
    parse_networks,
    primary_role,
    resolve_client_ip,
)

GATEWAY = parse_networks(DEFAULT_GATEWAY_PEERS)
CLUSTER = parse_networks(["10.0.0.0/8"])


@pytest.mark.parametrize(
    ("peer", "xff", "expected"),
    [
        ("127.0.0.1", "203.0.113.7", "203.0.113.7"),  # the gateway: the one address it decided
        ("::1", "2001:db8::1", "2001:db8::1"),
        # A list was not written by the gateway (it overwrites the header): the caller forged it.
        ("127.0.0.1", "6.6.6.6, 127.0.0.1", "127.0.0.1"),
        ("127.0.0.1", "6.6.6.6, 203.0.113.7", "127.0.0.1"),
        ("127.0.0.1", "garbage", "127.0.0.1"),
        ("127.0.0.1", None, "127.0.0.1"),
        ("10.0.3.4", "203.0.113.7", "10.0.3.4"),  # a private address is not the gateway unless configured
        ("203.0.113.7", "1.2.3.4", "203.0.113.7"),  # straight from the internet: the header is ignored
        (None, "203.0.113.7", None),
    ],
)
def test_client_ip_is_the_gateways_one_address(
    peer: str | None, xff: str | None, expected: str | None
) -> None:
    assert resolve_client_ip(peer, xff, GATEWAY) == expected


def test_client_ip_from_a_gateway_in_the_cluster() -> None:
    assert resolve_client_ip("10.0.3.4", "203.0.113.7", CLUSTER) == "203.0.113.7"
    assert resolve_client_ip("127.0.0.1", "203.0.113.7", CLUSTER) == "127.0.0.1"


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
