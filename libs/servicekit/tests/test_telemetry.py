"""Logs are JSON lines with every personal value masked; spans are made and carry the trace context."""

from __future__ import annotations

import json
import logging

import pytest
from opentelemetry.sdk.metrics import MeterProvider
from opentelemetry.sdk.metrics.export import InMemoryMetricReader
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import format_trace_id

from servicekit import telemetry
from servicekit.settings import TelemetrySettings
from servicekit.telemetry import REQUEST_ID, get_tracer, metrics_unread, setup_telemetry, tracer_provider
from servicekit.tracecontext import context_from, current_trace_headers

IDN = "130102199003071233"
PHONE = "13812345678"


@pytest.fixture(autouse=True)
def _telemetry() -> None:
    setup_telemetry("telemetry-test", TelemetrySettings())


def _lines(out: str) -> list[dict[str, object]]:
    return [json.loads(line) for line in out.splitlines() if line.startswith("{")]


def test_log_lines_are_json_with_phone_and_id_number_masked(capsys: pytest.CaptureFixture[str]) -> None:
    log = logging.getLogger("demo.logger")
    log.info(
        "person %s changed phone to %s",
        IDN,
        PHONE,
        extra={"phone": PHONE, "id_number": IDN, "sms_code": "123456", "note": f"old {PHONE}", "n": 3},
    )
    out = capsys.readouterr().out
    assert IDN not in out
    assert PHONE not in out
    assert "123456" not in out
    (line,) = [entry for entry in _lines(out) if entry["logger"] == "demo.logger"]
    assert line["message"] == "person 1301**********1233 changed phone to 138****5678"
    assert line["level"] == "INFO"
    assert line["service"] == "telemetry-test"
    assert line["phone"] == "138****5678"
    assert line["id_number"] == "1301**********1233"
    assert line["sms_code"] == "******"
    assert line["note"] == "old 138****5678"
    assert line["n"] == 3
    assert isinstance(line["time"], str)
    assert line["time"].endswith("+08:00")


def test_exception_text_is_masked(capsys: pytest.CaptureFixture[str]) -> None:
    try:
        raise ValueError(f"bad phone {PHONE}")
    except ValueError:
        logging.getLogger("demo.logger").exception("failed")
    out = capsys.readouterr().out
    assert PHONE not in out
    (line,) = [entry for entry in _lines(out) if entry["logger"] == "demo.logger"]
    assert line["error_type"] == "ValueError"
    assert "bad phone 138****5678" in str(line["exception"])


def test_log_lines_carry_trace_and_request_ids(capsys: pytest.CaptureFixture[str]) -> None:
    token = REQUEST_ID.set("req-1")
    try:
        with get_tracer("test").start_as_current_span("work") as span:
            logging.getLogger("demo.logger").warning("inside")
            trace_id = format_trace_id(span.get_span_context().trace_id)
    finally:
        REQUEST_ID.reset(token)
    (line,) = [entry for entry in _lines(capsys.readouterr().out) if entry["logger"] == "demo.logger"]
    assert line["trace_id"] == trace_id
    assert line["request_id"] == "req-1"
    assert isinstance(line["span_id"], str)
    assert len(line["span_id"]) == 16


def test_setup_is_idempotent() -> None:
    provider = tracer_provider()
    setup_telemetry("telemetry-test", TelemetrySettings())
    assert tracer_provider() is provider
    assert isinstance(provider, TracerProvider)
    ours = [h for h in logging.getLogger().handlers if type(h).__name__ == "_StdoutHandler"]
    assert len(ours) == 1


def test_spans_are_made_and_continue_an_incoming_trace(spans: InMemorySpanExporter) -> None:
    parent = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"
    with get_tracer("test").start_as_current_span("handle", context=context_from({"traceparent": parent})):
        headers = current_trace_headers()
    (span,) = [s for s in spans.get_finished_spans() if s.name == "handle"]
    assert format_trace_id(span.context.trace_id) == "4bf92f3577b34da6a3ce929d0e0e4736"
    assert span.parent is not None
    assert span.parent.span_id == 0x00F067AA0BA902B7
    assert headers["traceparent"].startswith("00-4bf92f3577b34da6a3ce929d0e0e4736-")
    assert span.resource.attributes["service.name"]


def test_metrics_are_unread_only_when_the_provider_has_no_reader(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(telemetry._state, "meter_provider", MeterProvider(metric_readers=[]))
    assert metrics_unread()
    reader = InMemoryMetricReader()
    monkeypatch.setattr(telemetry._state, "meter_provider", MeterProvider(metric_readers=[reader]))
    assert not metrics_unread()
    monkeypatch.setattr(telemetry._state, "meter_provider", None)
    assert not metrics_unread()
