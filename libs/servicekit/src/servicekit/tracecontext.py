"""W3C trace context carried across every hop: HTTP request → outbox row → AMQP message → consumer."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from opentelemetry import context as otel_context
from opentelemetry import propagate


def current_trace_headers() -> dict[str, str]:
    """`traceparent` (and `tracestate`) of the current span, to store on an outbox row or a message."""
    carrier: dict[str, str] = {}
    propagate.inject(carrier)
    return carrier


def context_from(headers: Mapping[str, Any] | None) -> otel_context.Context:
    carrier = {k: str(v) for k, v in (headers or {}).items() if k in ("traceparent", "tracestate")}
    return propagate.extract(carrier)
