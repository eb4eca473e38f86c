"""Facts about the request being served: its id, the client's address, and the audit actor."""

from __future__ import annotations

import ipaddress
import re
import uuid
from collections.abc import Iterable, Sequence
from typing import Annotated

from fastapi import Depends, Request
from starlette.requests import HTTPConnection

from servicekit.settings import DEFAULT_GATEWAY_PEERS
from servicekit.uow import Actor
from servicekit.web.auth import CurrentPrincipal, Principal

REQUEST_ID_HEADER = "x-request-id"
_SAFE_REQUEST_ID = re.compile(r"^[A-Za-z0-9._:-]{1,128}$")

IPNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network

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


def _is_from(address: str, networks: Sequence[IPNetwork]) -> bool:
    try:
        ip = ipaddress.ip_address(address)
    except ValueError:
        return False
    return any(ip in net for net in networks)


def resolve_client_ip(
    peer: str | None, forwarded_for: str | None, gateway_peers: Sequence[IPNetwork]
) -> str | None:
    """The client's address: the one the gateway decided, when the request comes from the gateway;
    otherwise the peer.

    The edge decides the address once (behind the load balancers it trusts) and overwrites
    X-Forwarded-For with exactly that address (ADR 0083). So the header is believed only from the
    gateway's addresses, and only as one address: a list, or anything else, was not written by the
    gateway, and walking it would let a caller choose an address of its own.
    """
    if peer is None or not forwarded_for or not _is_from(peer, gateway_peers):
        return peer
    decided = forwarded_for.strip()
    try:
        return str(ipaddress.ip_address(decided))
    except ValueError:
        return peer


def client_ip(conn: HTTPConnection) -> str | None:
    cached = getattr(conn.state, "client_ip", None)
    if isinstance(cached, str):
        return cached
    gateway_peers: Sequence[IPNetwork] = getattr(conn.app.state, "gateway_peers", None) or parse_networks(
        DEFAULT_GATEWAY_PEERS
    )
    peer = conn.client.host if conn.client else None
    ip = resolve_client_ip(peer, conn.headers.get("x-forwarded-for"), gateway_peers)
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
