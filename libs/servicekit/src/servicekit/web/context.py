"""Facts about the request being served: its id, the client's address, and the audit actor."""

from __future__ import annotations

import ipaddress
import re
import uuid
from collections.abc import Iterable, Sequence
from typing import Annotated

from fastapi import Depends, Request
from starlette.requests import HTTPConnection

from servicekit.uow import Actor
from servicekit.web.auth import CurrentPrincipal, Principal

REQUEST_ID_HEADER = "x-request-id"
_SAFE_REQUEST_ID = re.compile(r"^[A-Za-z0-9._:-]{1,128}$")

IPNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network

# Peers whose X-Forwarded-For is believed: the gateway reaches services only over loopback or the
# cluster's private network, and no service is exposed to the internet directly.
DEFAULT_TRUSTED_PROXIES: tuple[str, ...] = (
    "127.0.0.0/8",
    "::1/128",
    "10.0.0.0/8",
    "172.16.0.0/12",
    "192.168.0.0/16",
    "fc00::/7",
)

# The role an audit row names when a principal holds several: the most powerful one.
_ROLE_PRECEDENCE = (
    "system",
    "clerk.admin",
    "clerk.archive",
    "clerk.review",
    "clerk.intake",
    "hospital",
    "dealer",
    "unit",
    "citizen",
)


def parse_networks(cidrs: Iterable[str]) -> tuple[IPNetwork, ...]:
    return tuple(ipaddress.ip_network(c, strict=False) for c in cidrs)


def accept_or_new_request_id(incoming: str | None) -> str:
    """Keep a caller's (the gateway's) request id when it is sane; otherwise make one."""
    if incoming and _SAFE_REQUEST_ID.match(incoming):
        return incoming
    return uuid.uuid4().hex


def request_id(conn: HTTPConnection) -> str:
    """The id the middleware gave this request (or a fresh one outside the middleware, e.g. in tests)."""
    rid = getattr(conn.state, "request_id", None)
    if isinstance(rid, str):
        return rid
    rid = accept_or_new_request_id(conn.headers.get(REQUEST_ID_HEADER))
    conn.state.request_id = rid
    return rid


def _is_trusted(address: str, trusted: Sequence[IPNetwork]) -> bool:
    try:
        ip = ipaddress.ip_address(address)
    except ValueError:
        return False
    return any(ip in net for net in trusted)


def resolve_client_ip(
    peer: str | None, forwarded_for: str | None, trusted: Sequence[IPNetwork]
) -> str | None:
    """The client's address: the peer, unless the peer is a trusted proxy (the gateway), in which case
    X-Forwarded-For is walked from the right, skipping trusted hops, to the first address not ours.

    When the gateway forwards one address (it should set, not append), that is its first hop. Walking from
    the right instead of taking the leftmost entry keeps a client from choosing its own address by
    sending an X-Forwarded-For of its own.
    """
    if peer is None or not forwarded_for or not _is_trusted(peer, trusted):
        return peer
    hops = [h.strip() for h in forwarded_for.split(",") if h.strip()]
    for hop in reversed(hops):
        try:
            ipaddress.ip_address(hop)
        except ValueError:
            break  # garbage in the header: trust nothing further left
        if not _is_trusted(hop, trusted):
            return hop
    # Every hop is internal (a call from inside the cluster): the first hop is the origin.
    first = hops[0] if hops else None
    return first if first and _is_valid_ip(first) else peer


def _is_valid_ip(value: str) -> bool:
    try:
        ipaddress.ip_address(value)
    except ValueError:
        return False
    return True


def client_ip(conn: HTTPConnection) -> str | None:
    cached = getattr(conn.state, "client_ip", None)
    if isinstance(cached, str):
        return cached
    trusted: Sequence[IPNetwork] = getattr(conn.app.state, "trusted_proxies", None) or parse_networks(
        DEFAULT_TRUSTED_PROXIES
    )
    peer = conn.client.host if conn.client else None
    ip = resolve_client_ip(peer, conn.headers.get("x-forwarded-for"), trusted)
    if ip is not None:
        conn.state.client_ip = ip
    return ip


def primary_role(principal: Principal) -> str:
    for role in _ROLE_PRECEDENCE:
        if role in principal.roles:
            return role
    return min(principal.roles) if principal.roles else principal.account_kind


def actor_from(conn: HTTPConnection, principal: Principal | None, *, role: str | None = None) -> Actor:
    """The audit actor (AU-01) of this request: who, acting as which role, from where, in which request.

    `role` names the role the endpoint admitted the caller under, where it knows; otherwise the most
    powerful role the principal holds. Without a principal (login, registration) the actor is anonymous.
    """
    ip = client_ip(conn)
    rid = request_id(conn)
    if principal is None:
        return Actor(id="anonymous", role=role or "anonymous", source_ip=ip, request_id=rid)
    return Actor(id=principal.subject, role=role or primary_role(principal), source_ip=ip, request_id=rid)


async def current_actor(request: Request, principal: CurrentPrincipal) -> Actor:
    """Dependency: the audit actor of an authenticated request."""
    return actor_from(request, principal)


CurrentActor = Annotated[Actor, Depends(current_actor)]
