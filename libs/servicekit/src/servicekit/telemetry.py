"""Traces, metrics and logs, set up once per process by its composition root.

- Traces and metrics: OpenTelemetry SDK providers; exported over OTLP/HTTP only when
  `telemetry.otlp_endpoint` is set. Without it spans are still made, so trace ids reach the logs and the
  outbox rows, but nothing is sent anywhere.
- Propagation: W3C trace context (`traceparent`/`tracestate`) on every hop.
- Logs: stdlib `logging`, one JSON object per line on stdout (time, level, logger, message, service,
  trace_id, span_id, request_id, plus the record's `extra` fields). Every message and field passes
  through `servicekit.masking`: identity numbers, phones, addresses and codes never appear in clear.
"""

from __future__ import annotations

import json
import logging
import sys
from collections.abc import Mapping
from contextvars import ContextVar
from datetime import UTC, date, datetime
from decimal import Decimal
from enum import Enum
from typing import Any
from uuid import UUID

from opentelemetry import metrics, propagate, trace
from opentelemetry.sdk.metrics import MeterProvider
from opentelemetry.sdk.metrics.export import MetricExporter, MetricReader, PeriodicExportingMetricReader
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor, SpanExporter
from opentelemetry.trace.propagation.tracecontext import TraceContextTextMapPropagator

from servicekit.clock import SHANGHAI
from servicekit.masking import mask_fields, mask_text
from servicekit.settings import TelemetrySettings

# The request being served, set by the web middleware, so every log line of a request can be found by it.
REQUEST_ID: ContextVar[str | None] = ContextVar("servicekit_request_id", default=None)

# Attributes every LogRecord has; whatever else is on a record came in through `extra=`.
_RECORD_ATTRS = frozenset(logging.LogRecord("", 0, "", 0, "", None, None).__dict__) | {
    "message",
    "asctime",
    "taskName",
}
# Values we generate ourselves: never personal data, and a hex trace id can look like a phone number.
_UNMASKED = frozenset({"trace_id", "span_id", "request_id", "time", "level", "logger", "service"})


class _State:
    service_name: str | None = None
    tracer_provider: TracerProvider | None = None
    meter_provider: MeterProvider | None = None
    handler: logging.Handler | None = None


_state = _State()


def _signal_endpoint(base: str, signal: str) -> str:
    """The OTLP/HTTP exporters take the full URL; settings hold the collector's base URL."""
    base = base.rstrip("/")
    suffix = f"/v1/{signal}"
    return base if base.endswith(suffix) else base + suffix


def _span_exporter(endpoint: str) -> SpanExporter:
    # Imported here: the exporter pulls in protobuf, which processes without a collector never need.
    from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter

    return OTLPSpanExporter(endpoint=_signal_endpoint(endpoint, "traces"))


def _metric_exporter(endpoint: str) -> MetricExporter:
    from opentelemetry.exporter.otlp.proto.http.metric_exporter import OTLPMetricExporter

    return OTLPMetricExporter(endpoint=_signal_endpoint(endpoint, "metrics"))


def setup_telemetry(service_name: str, settings: TelemetrySettings) -> None:
    """Install tracing, metrics, propagation and masked logging for this process. Safe to call again.

    OpenTelemetry allows its global providers to be set only once per process, so a second call keeps the
    providers and only re-applies the logging settings (tests start many apps in one process).
    """
    if _state.tracer_provider is None:
        resource = Resource.create({"service.name": service_name})
        endpoint = settings.otlp_endpoint
        # A provider already installed (an auto-instrumentation agent, a test) is adopted as it is: the
        # global can be set only once, and adding our exporter to it could export every span twice.
        current_tracer = trace.get_tracer_provider()
        if isinstance(current_tracer, TracerProvider):
            _state.tracer_provider = current_tracer
        else:
            tracer_provider = TracerProvider(resource=resource)
            if endpoint:
                tracer_provider.add_span_processor(BatchSpanProcessor(_span_exporter(endpoint)))
            trace.set_tracer_provider(tracer_provider)
            _state.tracer_provider = tracer_provider
        current_meter = metrics.get_meter_provider()
        if isinstance(current_meter, MeterProvider):
            _state.meter_provider = current_meter
        else:
            readers: list[MetricReader] = (
                [PeriodicExportingMetricReader(_metric_exporter(endpoint))] if endpoint else []
            )
            meter_provider = MeterProvider(resource=resource, metric_readers=readers)
            metrics.set_meter_provider(meter_provider)
            _state.meter_provider = meter_provider
        propagate.set_global_textmap(TraceContextTextMapPropagator())
    _state.service_name = service_name
    configure_logging(service_name, level=settings.log_level, json_lines=settings.log_json)


def configure_logging(service_name: str, *, level: str = "INFO", json_lines: bool = True) -> None:
    """Route all logging through one masked handler on stdout (replacing ours if already installed)."""
    root = logging.getLogger()
    if _state.handler is not None:
        root.removeHandler(_state.handler)
    handler = _StdoutHandler()
    handler.setFormatter(JsonFormatter(service_name) if json_lines else MaskingFormatter(service_name))
    root.addHandler(handler)
    root.setLevel(level.upper())
    _state.handler = handler
    # uvicorn installs its own unmasked handlers before our lifespan runs: send its messages through ours,
    # and silence its access log, since the web middleware writes a masked one with the request id.
    for name in ("uvicorn", "uvicorn.error"):
        server_logger = logging.getLogger(name)
        server_logger.handlers.clear()
        server_logger.propagate = True
    access = logging.getLogger("uvicorn.access")
    access.handlers.clear()
    access.propagate = False
    access.disabled = True


def flush_telemetry(timeout_ms: int = 5000) -> None:
    """Export what is buffered (at shutdown). Providers are not shut down: a test may start another app."""
    if _state.tracer_provider is not None:
        _state.tracer_provider.force_flush(timeout_ms)
    if _state.meter_provider is not None:
        _state.meter_provider.force_flush(timeout_ms)


def get_tracer(name: str) -> trace.Tracer:
    return trace.get_tracer(name)


def get_meter(name: str) -> metrics.Meter:
    return metrics.get_meter(name)


def tracer_provider() -> TracerProvider | None:
    """The SDK provider `setup_telemetry` installed (tests add an in-memory exporter to it)."""
    return _state.tracer_provider


def metrics_unread() -> bool:
    """True when the SDK meter provider has no metric reader (no `otlp_endpoint`): a measurement recorded
    would reach no one, so the hot path need not make it. The SDK takes readers only when the provider is
    made; anything unknown (not set up, other SDK internals) counts as read."""
    provider = _state.meter_provider
    if provider is None:
        return False
    readers = getattr(provider, "_metric_readers", None)
    return isinstance(readers, list | tuple) and not readers


class _StdoutHandler(logging.StreamHandler):  # type: ignore[type-arg]
    """Writes to whatever `sys.stdout` is at the moment of writing (pytest swaps it per test)."""

    def emit(self, record: logging.LogRecord) -> None:
        self.stream = sys.stdout
        super().emit(record)


def _jsonable(value: Any) -> Any:
    """Plain JSON types, so that masking sees every value as the text that will be written."""
    if value is None or isinstance(value, bool | int | float | str):
        return value
    if isinstance(value, Mapping):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple | set | frozenset):
        return [_jsonable(v) for v in value]
    if isinstance(value, datetime | date):
        return value.isoformat()
    if isinstance(value, Enum):
        return _jsonable(value.value)
    if isinstance(value, UUID | Decimal):
        return str(value)
    if isinstance(value, bytes):
        return value.decode("utf-8", "replace")
    return str(value)


def _trace_ids() -> tuple[str | None, str | None]:
    ctx = trace.get_current_span().get_span_context()
    if not ctx.is_valid:
        return None, None
    return format(ctx.trace_id, "032x"), format(ctx.span_id, "016x")


def log_fields(record: logging.LogRecord, service: str) -> dict[str, Any]:
    """The masked fields of one log line, in the order they are written."""
    trace_id, span_id = _trace_ids()
    fields: dict[str, Any] = {
        "time": datetime.fromtimestamp(record.created, UTC)
        .astimezone(SHANGHAI)
        .isoformat(timespec="milliseconds"),
        "level": record.levelname,
        "logger": record.name,
        "message": mask_text(record.getMessage()),
        "service": service,
    }
    if trace_id is not None:
        fields["trace_id"] = trace_id
        fields["span_id"] = span_id
    request_id = REQUEST_ID.get()
    if request_id is not None:
        fields["request_id"] = request_id
    extra = {k: v for k, v in record.__dict__.items() if k not in _RECORD_ATTRS and k not in _UNMASKED}
    if extra:
        fields.update(mask_fields(_jsonable(extra)))
    if record.exc_info and record.exc_info[0] is not None:
        fields["error_type"] = record.exc_info[0].__name__
        fields["exception"] = mask_text(logging.Formatter().formatException(record.exc_info))
    elif record.exc_text:
        fields["exception"] = mask_text(record.exc_text)
    if record.stack_info:
        fields["stack"] = mask_text(record.stack_info)
    return fields


class JsonFormatter(logging.Formatter):
    """One JSON object per line; see `log_fields`."""

    def __init__(self, service: str) -> None:
        super().__init__()
        self.service = service

    def format(self, record: logging.LogRecord) -> str:
        return json.dumps(log_fields(record, self.service), ensure_ascii=False, default=str)


class MaskingFormatter(logging.Formatter):
    """Human-readable lines for local runs (`log_json: false`), masked the same way."""

    def __init__(self, service: str) -> None:
        super().__init__()
        self.service = service

    def format(self, record: logging.LogRecord) -> str:
        fields = log_fields(record, self.service)
        head = (
            f"{fields.pop('time')} {fields.pop('level'):<7} {fields.pop('logger')}: {fields.pop('message')}"
        )
        exception = fields.pop("exception", None)
        fields.pop("service")
        rest = " ".join(f"{k}={v}" for k, v in fields.items())
        line = f"{head} {rest}" if rest else head
        return f"{line}\n{exception}" if exception else line
