"""The request middleware's cheap span when no span processor would ever see it: same trace context."""

from __future__ import annotations

from opentelemetry import propagate
from opentelemetry.context import Context
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import TraceFlags
from opentelemetry.trace.propagation.tracecontext import TraceContextTextMapPropagator

from servicekit.web.app import _unexported_span

TRACE_ID = "4bf92f3577b34da6a3ce929d0e0e4736"


def _parent(flags: str) -> Context:
    carrier = {"traceparent": f"00-{TRACE_ID}-00f067aa0ba902b7-{flags}"}
    return TraceContextTextMapPropagator().extract(carrier)


def test_without_processors_the_span_continues_the_callers_trace_and_sampling_decision() -> None:
    provider = TracerProvider()
    sampled = _unexported_span(provider, _parent("01"), "POST")
    assert sampled is not None
    assert not sampled.is_recording()
    ctx = sampled.get_span_context()
    assert format(ctx.trace_id, "032x") == TRACE_ID
    assert ctx.span_id != 0x00F067AA0BA902B7
    assert ctx.trace_flags == TraceFlags.SAMPLED
    assert not ctx.is_remote
    unsampled = _unexported_span(provider, _parent("00"), "POST")
    assert unsampled is not None
    assert unsampled.get_span_context().trace_flags == TraceFlags.DEFAULT


def test_without_a_caller_a_new_sampled_trace_starts() -> None:
    provider = TracerProvider()
    span = _unexported_span(provider, propagate.extract({}), "GET")
    assert span is not None
    ctx = span.get_span_context()
    assert ctx.is_valid
    assert ctx.trace_flags == TraceFlags.SAMPLED


def test_with_a_processor_the_span_is_a_real_one() -> None:
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(InMemorySpanExporter()))
    assert _unexported_span(provider, propagate.extract({}), "GET") is None
