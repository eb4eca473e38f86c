"""CloudEvents 1.0 in AMQP binary mode: the event's data is the message body (JSON) and its attributes
travel as `cloudEvents:*` application properties, so a consumer in any language can read them without
knowing this code. W3C `traceparent`/`tracestate` travel beside them.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import aio_pika

CE_PREFIX = "cloudEvents:"
ATTEMPT_HEADER = "x-tms-attempt"
ERROR_HEADER = "x-tms-error"


@dataclass(frozen=True)
class Envelope:
    id: uuid.UUID
    type: str
    source: str
    time: datetime
    subject: str | None
    data: dict[str, Any]
    trace_headers: dict[str, str]
    attempt: int = 1

    def to_amqp(self, extra_headers: Mapping[str, Any] | None = None) -> aio_pika.Message:
        headers: dict[str, Any] = {
            f"{CE_PREFIX}specversion": "1.0",
            f"{CE_PREFIX}id": str(self.id),
            f"{CE_PREFIX}type": self.type,
            f"{CE_PREFIX}source": self.source,
            f"{CE_PREFIX}time": self.time.isoformat(),
            ATTEMPT_HEADER: self.attempt,
            **self.trace_headers,
        }
        if self.subject is not None:
            headers[f"{CE_PREFIX}subject"] = self.subject
        if extra_headers:
            headers.update(extra_headers)
        return aio_pika.Message(
            body=json.dumps(self.data, ensure_ascii=False, separators=(",", ":")).encode(),
            content_type="application/json",
            content_encoding="utf-8",
            message_id=str(self.id),
            type=self.type,
            timestamp=self.time,
            delivery_mode=aio_pika.DeliveryMode.PERSISTENT,
            headers=headers,
        )


class EnvelopeError(ValueError):
    """A message that is not a CloudEvent we can read: poison, it goes to the dead-letter queue."""


def _text(value: Any) -> str:
    return value.decode() if isinstance(value, bytes) else str(value)


def from_amqp(message: aio_pika.abc.AbstractIncomingMessage) -> Envelope:
    headers = message.headers or {}
    try:
        if _text(headers[f"{CE_PREFIX}specversion"]) != "1.0":
            raise EnvelopeError("unsupported CloudEvents specversion")
        data = json.loads(message.body)
        if not isinstance(data, dict):
            raise EnvelopeError("event data must be a JSON object")
        subject = headers.get(f"{CE_PREFIX}subject")
        return Envelope(
            id=uuid.UUID(_text(headers[f"{CE_PREFIX}id"])),
            type=_text(headers[f"{CE_PREFIX}type"]),
            source=_text(headers[f"{CE_PREFIX}source"]),
            time=datetime.fromisoformat(_text(headers[f"{CE_PREFIX}time"])),
            subject=None if subject is None else _text(subject),
            data=data,
            trace_headers={k: _text(headers[k]) for k in ("traceparent", "tracestate") if k in headers},
            attempt=int(_text(headers.get(ATTEMPT_HEADER, 1))),
        )
    except EnvelopeError:
        raise
    except (KeyError, ValueError, TypeError, UnicodeDecodeError) as exc:
        raise EnvelopeError(f"not a readable CloudEvent: {exc!r}") from exc
