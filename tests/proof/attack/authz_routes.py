"""The operations the authorization matrix covers, read from the code rather than listed by hand: every
route of every service app (servicekit builds them) that the gateway's route table sends to that service,
with the roles its dependencies admit (`require_roles`, found by walking the route's dependant tree) and
whether it needs a token at all (`current_principal` somewhere in that tree)."""

from __future__ import annotations

import importlib
import re
import uuid
from dataclasses import dataclass
from datetime import date
from functools import cache
from typing import Any

from fastapi import FastAPI
from fastapi.dependencies.models import Dependant
from fastapi.routing import iter_route_contexts

from gateway_service.routes import TEST_PREFIX, route_table
from servicekit.web.auth import current_principal, roles_required_by

PARAM = re.compile(r"\{([^}:]+)(?::[^}]*)?\}")


@dataclass(frozen=True)
class Operation:
    service: str
    method: str
    path: str  # the template, `/api/v1/plate-selections/{selection_id}`
    authenticated: bool  # a token is needed (`current_principal` in the dependant tree)
    # Every `require_roles` on the way: a caller passes when it holds one role of each set.
    role_sets: tuple[frozenset[str], ...]
    param_types: tuple[tuple[str, Any], ...]  # path parameter → its annotation (str, uuid.UUID, int...)
    has_body: bool

    @property
    def name(self) -> str:
        return f"{self.method} {self.path}"

    @property
    def params(self) -> tuple[str, ...]:
        return tuple(PARAM.findall(self.path))

    def admits(self, roles: frozenset[str]) -> bool:
        """Whether a caller holding `roles` passes the route's role checks (not its object-level ones)."""
        return all(not wanted.isdisjoint(roles) for wanted in self.role_sets)

    def record_keys(self) -> tuple[str, ...]:
        """One key per path parameter naming the record it picks: the template up to that parameter
        (`/api/v1/vehicle-applications/{application_id}`), so that two resources' `application_id`s stay
        apart."""
        keys = []
        for match in PARAM.finditer(self.path):
            keys.append(self.path[: match.end()])
        return tuple(keys)


def _walk(dependant: Dependant) -> tuple[bool, list[frozenset[str]]]:
    authenticated, role_sets = False, []
    for sub in dependant.dependencies:
        if sub.call is current_principal:
            authenticated = True
        roles = roles_required_by(sub.call) if sub.call is not None else None
        if roles is not None:
            role_sets.append(roles)
        sub_auth, sub_roles = _walk(sub)
        authenticated = authenticated or sub_auth
        role_sets.extend(sub_roles)
    return authenticated, role_sets


def _app(package: str) -> FastAPI:
    app: FastAPI = importlib.import_module(f"{package}.main").create_app()
    return app


@cache
def operations() -> tuple[Operation, ...]:
    """Every public operation behind the gateway, in a stable order."""
    table = route_table()
    found: list[Operation] = []
    for name, upstream in table.upstreams.items():
        for route in iter_route_contexts(_app(upstream.package).routes):
            dependant = getattr(route, "dependant", None)
            path = route.path
            if dependant is None or path is None or path.startswith(TEST_PREFIX):
                continue
            served_by = table.upstream_for(path)
            if served_by is None or served_by.name != name:
                continue  # not reachable through the gateway (probes, another service's prefix)
            authenticated, role_sets = _walk(dependant)
            params = tuple((p.name, p.field_info.annotation) for p in dependant.path_params)
            for method in sorted(route.methods or ()):
                found.append(
                    Operation(
                        service=name,
                        method=method,
                        path=path,
                        authenticated=authenticated,
                        role_sets=tuple(dict.fromkeys(role_sets)),
                        param_types=params,
                        has_body=dependant.body_params != [],
                    )
                )
    return tuple(sorted(found, key=lambda op: (op.service, op.path, op.method)))


def placeholder(annotation: Any) -> str:
    """A well-formed value for a path parameter no record fills: the route's own checks answer it."""
    if annotation is uuid.UUID:
        return str(uuid.uuid4())
    if annotation is int:
        return "2027"
    if annotation is date:
        return "2027-01-04"
    return uuid.uuid4().hex[:12]
