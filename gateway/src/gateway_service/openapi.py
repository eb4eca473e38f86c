"""Merge the services' OpenAPI documents into the one public document at /api/v1/openapi.json.

Pure functions (no I/O), so the merge rules are unit-tested without servers:
- a service contributes only the paths the route table actually sends to it (its /healthz, /readyz and
  any path it serves but nginx does not route stay out of the public document);
- components with the same name and the same definition are shared (every FastAPI service has
  `HTTPValidationError`); a clash with a different definition is renamed `<service>.<Name>` and every
  reference to it inside that service's document follows;
- each path item says which upstream serves it in `x-upstream`; services that did not answer are listed
  in `x-unavailable`, so a client sees a partial document for what it is.
"""

from __future__ import annotations

import copy
from collections.abc import Callable, Mapping
from typing import Any

from gateway_service.routes import GATEWAY, GATEWAY_PATHS, TEST_PREFIX, RouteTable

Doc = dict[str, Any]
COMPONENT_KINDS = (
    "schemas",
    "responses",
    "parameters",
    "examples",
    "requestBodies",
    "headers",
    "securitySchemes",
    "links",
    "callbacks",
    "pathItems",
)
HTTP_METHODS = ("get", "put", "post", "delete", "options", "head", "patch", "trace")


def _rewrite_strings(node: Any, replace: Callable[[str], str]) -> Any:
    if isinstance(node, dict):
        return {k: _rewrite_strings(v, replace) for k, v in node.items()}
    if isinstance(node, list):
        return [_rewrite_strings(v, replace) for v in node]
    if isinstance(node, str):
        return replace(node)
    return node


def _rename_components(doc: Doc, renames: Mapping[tuple[str, str], str]) -> Doc:
    """Apply component renames to one document: the definitions, every `$ref` (and discriminator mapping,
    which holds the same strings), and security requirements, which name schemes without a `$ref`."""
    if not renames:
        return doc
    refs = {
        f"#/components/{kind}/{old}": f"#/components/{kind}/{new}" for (kind, old), new in renames.items()
    }
    out: Doc = _rewrite_strings(doc, lambda s: refs.get(s, s))
    components = out.get("components", {})
    for (kind, old), new in renames.items():
        components[kind][new] = components[kind].pop(old)
    schemes = {old: new for (kind, old), new in renames.items() if kind == "securitySchemes"}
    if schemes:

        def rename_requirements(requirements: list[dict[str, Any]]) -> list[dict[str, Any]]:
            return [{schemes.get(k, k): v for k, v in req.items()} for req in requirements]

        if "security" in out:
            out["security"] = rename_requirements(out["security"])
        for item in out.get("paths", {}).values():
            for method in HTTP_METHODS:
                op = item.get(method)
                if isinstance(op, dict) and "security" in op:
                    op["security"] = rename_requirements(op["security"])
    return out


def _served_by(table: RouteTable, source: str, path: str) -> bool:
    if source == GATEWAY:
        return path in GATEWAY_PATHS or path.startswith(TEST_PREFIX)
    upstream = table.upstream_for(path)
    return upstream is not None and upstream.name == source


def merge(
    table: RouteTable,
    docs: Mapping[str, Doc | None],
    *,
    title: str = "Traffic safety services platform (122) API",
    version: str = "1",
) -> Doc:
    """`docs`: source name (an upstream, or `gateway` for the gateway app's own) → its document, or None
    when it did not answer. Sources are merged in the order given; the first definition of a name wins."""
    merged: Doc = {
        "openapi": "3.1.0",
        "info": {"title": title, "version": version},
        "servers": [{"url": "/"}],
        "paths": {},
        "components": {},
    }
    tags: dict[str, Any] = {}
    unavailable: list[str] = []
    for source, original in docs.items():
        if original is None:
            unavailable.append(source)
            continue
        doc = copy.deepcopy(original)
        comps: dict[str, dict[str, Any]] = doc.get("components") or {}
        renames: dict[tuple[str, str], str] = {}
        for kind in COMPONENT_KINDS:
            have = merged["components"].get(kind, {})
            for name, definition in (comps.get(kind) or {}).items():
                if name in have and have[name] != definition:
                    renames[(kind, name)] = f"{source}.{name}"
        doc = _rename_components(doc, renames)
        for kind, defs in (doc.get("components") or {}).items():
            merged["components"].setdefault(kind, {})
            for name, definition in defs.items():
                merged["components"][kind].setdefault(name, definition)
        for path, item in (doc.get("paths") or {}).items():
            if _served_by(table, source, path) and path not in merged["paths"]:
                merged["paths"][path] = {**item, "x-upstream": source}
        for tag in doc.get("tags") or []:
            tags.setdefault(tag["name"], tag)
    merged["paths"] = dict(sorted(merged["paths"].items()))
    if tags:
        merged["tags"] = list(tags.values())
    if not merged["components"]:
        del merged["components"]
    merged["x-unavailable"] = unavailable
    return merged
