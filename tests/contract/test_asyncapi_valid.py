"""Every service's AsyncAPI document is valid AsyncAPI 3.0, as the event catalogue viewer at /api/docs/
and other police systems' tooling read it. The schema is the one the AsyncAPI project publishes
(@asyncapi/specs, installed with the web apps' packages by `make web`)."""

from __future__ import annotations

import json
import os
from pathlib import Path

import jsonschema
import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]
SCHEMA = ROOT / "web" / "node_modules" / "@asyncapi" / "specs" / "schemas" / "3.0.0-without-$id.json"
DOCUMENTS = sorted(ROOT.glob("services/*/contracts/asyncapi.yaml"))


@pytest.fixture(scope="module")
def validator() -> jsonschema.Draft7Validator:
    if not SCHEMA.exists():
        if os.environ.get("CI"):
            pytest.fail("the AsyncAPI schema is missing: make web installs it")
        pytest.skip("web/node_modules is not installed (make web)")
    return jsonschema.Draft7Validator(json.loads(SCHEMA.read_text(encoding="utf-8")))


@pytest.mark.parametrize("document", DOCUMENTS, ids=[p.parts[-3] for p in DOCUMENTS])
def test_ev01_asyncapi_document_is_valid_asyncapi_3(
    validator: jsonschema.Draft7Validator, document: Path
) -> None:
    errors = [
        f"{list(e.absolute_path)}: {e.message[:200]}"
        for e in validator.iter_errors(yaml.safe_load(document.read_text()))
    ]
    assert errors == []
