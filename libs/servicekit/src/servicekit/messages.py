"""The base of every message a service publishes: an event (`<service>.events`) or a command addressed
to one service (`<service>.commands`). Each service's `published.py` subclasses these; the type string is
the routing key and the CloudEvents `type`, so one name is used on the wire, in code and in the catalogue.
"""

from __future__ import annotations

import re
from typing import Any, ClassVar, Literal, Self

from pydantic import BaseModel, ConfigDict

TYPE_PATTERN = re.compile(
    r"^(?P<service>[a-z][a-z-]*)\.(?P<aggregate>[a-z][a-z_]*)\.(?P<name>[a-z][a-z_]*)\.v(?P<version>\d+)$"
)


def service_of(message_type: str) -> str:
    """`identity.person.phone_changed.v1` → `identity`."""
    match = TYPE_PATTERN.match(message_type)
    if match is None:
        raise ValueError(f"not a message type: {message_type!r}")
    return match["service"]


def events_exchange(service: str) -> str:
    return f"{service}.events"


def commands_exchange(service: str) -> str:
    return f"{service}.commands"


class Message(BaseModel):
    """Producers are strict (unknown fields refused); consumers read with their own tolerant models."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    message_type: ClassVar[str]
    kind: ClassVar[Literal["event", "command"]]
    summary: ClassVar[str] = ""

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        declared = cls.__dict__.get("message_type")
        if declared is not None and not TYPE_PATTERN.match(declared):
            raise TypeError(
                f"{cls.__name__}.message_type {declared!r} is not <service>.<aggregate>.<name>.v<N>"
            )

    @classmethod
    def exchange(cls) -> str:
        service = service_of(cls.message_type)
        return events_exchange(service) if cls.kind == "event" else commands_exchange(service)

    @classmethod
    def example(cls) -> Self:
        """A valid instance: documents the message in the catalogue and feeds the contract tests."""
        raise NotImplementedError(f"{cls.__name__} has no example")

    def subject(self) -> str | None:
        """The CloudEvents `subject`: the id of the thing the message is about, where there is one."""
        return None


class Event(Message):
    kind: ClassVar[Literal["event", "command"]] = "event"


class Command(Message):
    kind: ClassVar[Literal["event", "command"]] = "command"
