"""Property-based fuzzing of every operation of the merged API (web/packages/api/openapi.json, the
snapshot of the gateway's /api/v1/openapi.json) through the edge, with schemathesis: anonymous (no
token, or the junk one generated), and with a citizen's, an enterprise's and a clerk's real tokens
(identity's login). Valid and invalid requests both.

A response must not be a 5xx, and must conform to the document: its status is one the operation documents,
its content type is one documented for that status, its body validates against that status's schema,
its documented headers are there (ADR 0085). The test-only endpoints (/api/v1/_test/*, dev and test
only, never routed in prod) are left out.

`make test` sends CI_EXAMPLES cases per operation and identity; `make proof-attack` PROOF_EXAMPLES (100),
fewer only where an operation has fewer distinct requests to make.
"""

from __future__ import annotations

import json
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import hypothesis
import pytest
import requests
import schemathesis
from hypothesis import HealthCheck, Phase
from hypothesis import strategies as st
from schemathesis import GenerationMode
from schemathesis.checks import not_a_server_error
from schemathesis.core.failures import Failure, FailureGroup, ServerError
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_headers_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from gateway_service.routes import TEST_PREFIX

from .conftest import Platform

OPENAPI = Path(__file__).resolve().parents[3] / "web" / "packages" / "api" / "openapi.json"
IDENTITIES = ("anonymous", "citizen", "unit", "clerk")
CI_EXAMPLES = 2  # per operation and identity: 8 per operation, the suite's share under 4 minutes
PROOF_EXAMPLES = 100
CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_schema_conformance,
    response_headers_conformance,
]
Record = Callable[[str, dict[str, Any]], Any]
# Line-delimited JSON uploads (licence imports, violation intake batches) are declared as binary strings:
# sent as the bytes generated.
schemathesis.serializer.alias("application/x-ndjson", "application/octet-stream")

pytestmark = pytest.mark.integration


@dataclass
class Findings:
    """What the fuzzing found: requests sent, 5xx answers and responses that break the document, each
    kept as (operation, identity, what) with how many times it happened."""

    operations: set[str] = field(default_factory=set)
    examples: int = 0
    errors_5xx: int = 0
    schema_violations: int = 0
    seen: Counter[tuple[str, str, str]] = field(default_factory=Counter)

    def add(self, operation: str, identity: str, failures: list[Failure], response: Any) -> None:
        status = response.status_code
        self.examples += 1
        if any(isinstance(f, ServerError) for f in failures) or status >= 500:
            self.errors_5xx += 1
            self.seen[(operation, identity, f"{status} server error")] += 1
        # A 5xx is its own finding, not also a violation of the document (no operation documents 500).
        others = [] if status >= 500 else [f for f in failures if not isinstance(f, ServerError)]
        if others:
            self.schema_violations += 1
        for failure in others:
            self.seen[(operation, identity, f"{type(failure).__name__} ({status}): {failure.title}")] += 1

    def figures(self) -> dict[str, int]:
        return {
            "errors_5xx": self.errors_5xx,
            "schema_violations": self.schema_violations,
            "operations": len(self.operations),
            "examples": self.examples,
        }

    @staticmethod
    def lines(found: Counter[tuple[str, str, str]]) -> list[str]:
        return [f"{n:>5} × {op} as {who}: {what}" for (op, who, what), n in sorted(found.items())]


def label_of(case: schemathesis.Case) -> str:
    return f"{case.operation.method.upper()} {case.operation.path}"


def _schema() -> schemathesis.BaseSchema:
    """The merged document as the gateway serves it (its committed snapshot, which `make lint` keeps equal
    to what the services declare), without the test-only paths."""
    document = json.loads(OPENAPI.read_text(encoding="utf-8"))
    document["paths"] = {p: ops for p, ops in document["paths"].items() if not p.startswith(TEST_PREFIX)}
    return schemathesis.openapi.from_dict(document)


def _fuzz(platform: Platform, examples: int, progress: Callable[[Findings], None] | None = None) -> Findings:
    """Every operation as every identity; `progress` sees the findings after each operation."""
    findings = Findings()
    session = requests.Session()
    session.trust_env = False
    for result in _schema().get_all_operations():
        operation = result.ok()
        label = f"{operation.method.upper()} {operation.path}"
        findings.operations.add(label)
        strategy = st.one_of(
            operation.as_strategy(GenerationMode.POSITIVE), operation.as_strategy(GenerationMode.NEGATIVE)
        )
        for identity in IDENTITIES:
            headers = {} if identity == "anonymous" else platform.headers(identity)

            def send(case: schemathesis.Case, headers: dict[str, str] = headers, who: str = identity) -> None:
                # The signed-in identities' own token replaces whatever Authorization was generated; the
                # anonymous keep the generated one (none, or junk).
                case.headers = {**(case.headers or {}), **headers}
                response = case.call(base_url=platform.edge, session=session, timeout=30)
                failures: list[Failure] = []
                try:
                    case.validate_response(response, checks=CHECKS, headers=headers)
                except FailureGroup as group:
                    failures = list(group.exceptions)
                except Failure as failure:
                    failures = [failure]
                findings.add(label_of(case), who, failures, response)

            _examples(strategy, examples, send)
        if progress is not None:
            progress(findings)
    return findings


def _examples(strategy: st.SearchStrategy[Any], examples: int, send: Callable[[Any], None]) -> None:
    """`send` each of up to `examples` cases Hypothesis draws from `strategy` (fewer when the operation
    has fewer distinct requests)."""

    @hypothesis.settings(
        max_examples=examples,
        deadline=None,
        database=None,
        phases=[Phase.generate],
        suppress_health_check=list(HealthCheck),
        verbosity=hypothesis.Verbosity.quiet,
    )
    @hypothesis.given(case=strategy)
    def run(case: Any) -> None:
        send(case)

    run()


def _run(platform: Platform, record_figures: Record, examples: int) -> None:
    started = time.monotonic()

    def record(findings: Findings) -> Path:
        # After every operation, so a long proof stopped early still tells how far it got.
        figures = {**findings.figures(), "fuzz_s": round(time.monotonic() - started, 1)}
        path = Path(record_figures("fuzz", figures))
        path.with_name("fuzz-findings.txt").write_text(
            "\n".join(findings.lines(findings.seen)) + "\n", encoding="utf-8"
        )
        return path

    findings = _fuzz(platform, examples, record)
    path = record(findings)
    assert findings.examples >= len(findings.operations) * len(IDENTITIES)
    failing = findings.lines(findings.seen)
    assert not failing, (
        f"{findings.errors_5xx} 5xx and {findings.schema_violations} responses the document does not "
        f"describe in {findings.examples} requests, listed in {path.parent}/fuzz-findings.txt:\n"
        + "\n".join(failing[:80])
    )


@pytest.mark.timeout(900)  # 30 s to 2 minutes on two cores; the suite's 5 minutes fail it under load
def test_fuzzing_every_operation_finds_no_5xx_and_no_undocumented_response(
    platform: Platform, record_figures: Record, request: pytest.FixtureRequest
) -> None:
    if request.config.getoption("--proof"):
        pytest.skip("the proof sends PROOF_EXAMPLES per operation (test_fuzzing_at_length)")
    _run(platform, record_figures, CI_EXAMPLES)


@pytest.mark.proof
@pytest.mark.timeout(4 * 3600)  # 15 minutes on two idle cores, over an hour under load
def test_fuzzing_at_length(platform: Platform, record_figures: Record) -> None:
    _run(platform, record_figures, PROOF_EXAMPLES)
