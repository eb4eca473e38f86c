"""Write the merged OpenAPI document to a file, built in-process from every service's app: no server runs.

    python -m gateway_service.openapi_snapshot --out web/packages/api/openapi.json [--check]

The web apps generate their TypeScript types from this file (openapi-typescript), so a change to any
service's API shows up as a diff here and as a type error in the apps. `--check` exits 1 when the file is
not what the code would write (the lint target runs it). The snapshot is taken as prod serves it: the
`/api/v1/_test/*` paths of dev and test are left out.
"""

from __future__ import annotations

import argparse
import importlib
import json
import os
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from gateway_service.openapi import Doc, merge
from gateway_service.routes import GATEWAY, TEST_PREFIX, load_topology, route_table


def _app_openapi(factory: str) -> Doc:
    module, _, name = factory.partition(":")
    app: Any = getattr(importlib.import_module(module), name)()
    doc: Doc = app.openapi()
    return doc


def snapshot() -> Doc:
    table = route_table()
    docs: dict[str, Doc | None] = {}
    for service in load_topology()["services"]:
        docs[service["name"]] = _app_openapi(f"{service['package']}.main:create_app")
    docs[GATEWAY] = _app_openapi("gateway_service.app:create_app")
    merged = merge(table, docs)
    merged["paths"] = {p: item for p, item in merged["paths"].items() if not p.startswith(TEST_PREFIX)}
    return merged


def render(doc: Doc) -> str:
    return json.dumps(doc, ensure_ascii=False, indent=1, sort_keys=True) + "\n"


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m gateway_service.openapi_snapshot")
    parser.add_argument("--out", type=Path, required=True)
    parser.add_argument("--check", action="store_true", help="exit 1 when --out is not current")
    args = parser.parse_args(argv)
    # The document must not depend on where it is generated: dev settings, no _test routes.
    os.environ.setdefault("TMS_ENV", "dev")
    text = render(snapshot())
    out: Path = args.out
    if args.check:
        if not out.exists() or out.read_text(encoding="utf-8") != text:
            print(f"{out} is stale: run `make web-openapi`", file=sys.stderr)
            return 1
        print(f"{out} is current", file=sys.stderr)
        return 0
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(text, encoding="utf-8")
    print(f"wrote {out}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
