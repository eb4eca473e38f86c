"""PP-06 draws are served beside FastAPI's middleware stack (main.py): still in servicekit's request
middleware, so the span continues the caller's trace, is named by the route template and the request id is
echoed, exactly as through the stack."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

from servicekit.settings import TelemetrySettings
from servicekit.telemetry import setup_telemetry, tracer_provider

from .conftest import Platform

TRACE_ID = "4bf92f3577b34da6a3ce929d0e0e4736"
PARENT = "00f067aa0ba902b7"


@pytest.fixture
def spans() -> Iterator[InMemorySpanExporter]:
    setup_telemetry("plate-pool-tests", TelemetrySettings())
    provider = tracer_provider()
    assert provider is not None
    exporter = InMemorySpanExporter()
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    yield exporter
    exporter.shutdown()


async def test_pp06_a_draw_runs_in_a_server_span_continuing_the_callers_trace(
    platform: Platform, spans: InMemorySpanExporter
) -> None:
    p = platform
    await p.open_segment()
    who, sel = await p.start()
    headers = {**who.headers, "traceparent": f"00-{TRACE_ID}-{PARENT}-01", "X-Request-ID": "draw-trace-1"}
    r = await p.client.post(p.url(sel, "/random-draws"), headers=headers)
    assert r.status_code == 201
    assert r.headers["x-request-id"] == "draw-trace-1"
    [span] = [s for s in spans.get_finished_spans() if s.name.endswith("/random-draws")]
    assert span.name == "POST /api/v1/plate-selections/{selection_id}/random-draws"
    assert format(span.context.trace_id, "032x") == TRACE_ID
    assert span.parent is not None
    assert format(span.parent.span_id, "016x") == PARENT
    assert span.attributes is not None
    assert span.attributes["http.response.status_code"] == 201
    refused = await p.client.post(p.url(sel, "/random-draws"), headers={"X-Request-ID": "draw-trace-2"})
    assert refused.status_code == 401
    assert refused.headers["content-type"].startswith("application/problem+json")
    assert refused.json()["request_id"] == "draw-trace-2"
