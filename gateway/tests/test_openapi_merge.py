"""The merge rules of the public OpenAPI document, without servers."""

from __future__ import annotations

from typing import Any

from gateway_service.openapi import merge
from gateway_service.routes import route_table

VALIDATION_ERROR = {"type": "object", "properties": {"detail": {"type": "array"}}}


def doc(paths: dict[str, Any], schemas: dict[str, Any], **extra: Any) -> dict[str, Any]:
    return {
        "openapi": "3.1.0",
        "info": {"title": "x", "version": "1"},
        "paths": paths,
        "components": {"schemas": schemas},
        **extra,
    }


def op(ref: str, security: list[dict[str, list[str]]] | None = None) -> dict[str, Any]:
    operation: dict[str, Any] = {
        "responses": {"200": {"content": {"application/json": {"schema": {"$ref": ref}}}}}
    }
    if security is not None:
        operation["security"] = security
    return {"get": operation}


def test_paths_are_kept_only_where_the_route_table_sends_them() -> None:
    identity = doc(
        {
            "/api/v1/users/{user_id}": op("#/components/schemas/User"),
            "/api/v1/vehicles": op("#/components/schemas/User"),  # not identity's to publish
            "/healthz": {"get": {"responses": {}}},
            "/api/v1/_test/population": {"post": {"responses": {}}},
        },
        {"User": {"type": "object"}, "HTTPValidationError": VALIDATION_ERROR},
    )
    gateway_own = doc({"/api/v1/_test/clock": {"get": {"responses": {}}}, "/readyz": {"get": {}}}, {})
    merged = merge(route_table(), {"identity": identity, "gateway": gateway_own, "vehicle": None})
    assert list(merged["paths"]) == ["/api/v1/_test/clock", "/api/v1/users/{user_id}", "/readyz"]
    assert merged["paths"]["/api/v1/users/{user_id}"]["x-upstream"] == "identity"
    assert merged["paths"]["/api/v1/_test/clock"]["x-upstream"] == "gateway"
    assert merged["x-unavailable"] == ["vehicle"]


def test_equal_components_are_shared_and_clashing_ones_renamed_with_their_refs() -> None:
    identity = doc(
        {"/api/v1/users": op("#/components/schemas/Page", [{"bearer": []}])},
        {"Page": {"type": "object", "title": "users"}, "HTTPValidationError": VALIDATION_ERROR},
    )
    identity["components"]["securitySchemes"] = {"bearer": {"type": "http", "scheme": "bearer"}}
    vehicle = doc(
        {"/api/v1/vehicles": op("#/components/schemas/Page", [{"bearer": []}])},
        {
            "Page": {"type": "object", "title": "vehicles"},
            "Wrapper": {"properties": {"page": {"$ref": "#/components/schemas/Page"}}},
            "HTTPValidationError": VALIDATION_ERROR,
        },
    )
    vehicle["components"]["securitySchemes"] = {"bearer": {"type": "http", "scheme": "bearer", "x": 1}}
    merged = merge(route_table(), {"identity": identity, "vehicle": vehicle})

    schemas = merged["components"]["schemas"]
    assert set(schemas) == {"Page", "vehicle.Page", "Wrapper", "HTTPValidationError"}
    assert schemas["Page"]["title"] == "users"
    assert schemas["vehicle.Page"]["title"] == "vehicles"
    assert schemas["Wrapper"]["properties"]["page"]["$ref"] == "#/components/schemas/vehicle.Page"
    vehicles_get = merged["paths"]["/api/v1/vehicles"]["get"]
    ref = vehicles_get["responses"]["200"]["content"]["application/json"]["schema"]["$ref"]
    assert ref == "#/components/schemas/vehicle.Page"
    assert vehicles_get["security"] == [{"vehicle.bearer": []}]
    assert set(merged["components"]["securitySchemes"]) == {"bearer", "vehicle.bearer"}
    users_get = merged["paths"]["/api/v1/users"]["get"]
    assert users_get["security"] == [{"bearer": []}]
    assert merged["x-unavailable"] == []


def test_inputs_are_not_mutated_and_tags_are_merged() -> None:
    identity = doc(
        {"/api/v1/users": op("#/components/schemas/A")}, {"A": {"title": "1"}}, tags=[{"name": "u"}]
    )
    vehicle = doc(
        {"/api/v1/vehicles": op("#/components/schemas/A")}, {"A": {"title": "2"}}, tags=[{"name": "v"}]
    )
    merge(route_table(), {"identity": identity, "vehicle": vehicle})
    merged = merge(route_table(), {"identity": identity, "vehicle": vehicle})
    assert vehicle["components"]["schemas"] == {"A": {"title": "2"}}
    assert "x-upstream" not in vehicle["paths"]["/api/v1/vehicles"]
    assert [t["name"] for t in merged["tags"]] == ["u", "v"]
