"""Contracts between services, read from every service's SPEC: what one side sends, the other reads."""

from __future__ import annotations

from collections import Counter
from pathlib import Path

import jsonschema
import pytest

from servicekit import asyncapi
from servicekit.messages import TYPE_PATTERN, Message, service_of
from servicekit.service import SERVICE_NAMES, ServiceSpec, load_spec

REPO = Path(__file__).resolve().parents[2]
SPECS = [load_spec(name) for name in SERVICE_NAMES]
PUBLISHED = [(spec, message) for spec in SPECS for message in spec.published]
PRODUCERS: dict[str, list[ServiceSpec]] = {}
for _spec, _message in PUBLISHED:
    PRODUCERS.setdefault(_message.message_type, []).append(_spec)
CONSUMED = [
    (spec, subscription, message_type, model)
    for spec in SPECS
    for subscription in spec.subscriptions
    for message_type, model in subscription.handles.items()
]
SENT = [(spec, command) for spec in SPECS for command in spec.sends]


def test_there_are_messages_to_check() -> None:
    """Guards the parametrised tests below against passing by having nothing to check."""
    assert PUBLISHED, "no service publishes anything"
    assert CONSUMED or SENT, "no message crosses between services"


@pytest.mark.parametrize(("spec", "message"), PUBLISHED, ids=[m.message_type for _, m in PUBLISHED])
def test_published_example_validates_against_its_schema(spec: ServiceSpec, message: type[Message]) -> None:
    example = message.example().model_dump(mode="json")
    jsonschema.validate(example, message.model_json_schema())
    assert message.model_validate(example) == message.example()


@pytest.mark.parametrize(("spec", "message"), PUBLISHED, ids=[m.message_type for _, m in PUBLISHED])
def test_ev01_message_type_is_versioned_and_named_after_its_owner(
    spec: ServiceSpec, message: type[Message]
) -> None:
    assert TYPE_PATTERN.match(message.message_type)
    assert service_of(message.message_type) == spec.name
    assert message.exchange() == f"{spec.name}.{'events' if message.kind == 'event' else 'commands'}"


def test_every_message_type_has_exactly_one_owner() -> None:
    owners = Counter(message.message_type for _, message in PUBLISHED)
    assert [t for t, n in owners.items() if n > 1] == []


@pytest.mark.parametrize(
    ("spec", "subscription", "message_type", "model"),
    CONSUMED,
    ids=[f"{spec.name}.{sub.name}<-{mt}" for spec, sub, mt, _ in CONSUMED],
)
def test_consumer_reads_the_producer_example(spec, subscription, message_type, model) -> None:  # type: ignore[no-untyped-def]
    producers = PRODUCERS.get(message_type, [])
    assert len(producers) == 1, (
        f"{message_type} consumed by {spec.name} is published by {len(producers)} services"
    )
    producer_message = next(m for m in producers[0].published if m.message_type == message_type)
    if subscription.kind == "command":
        assert producers[0].name == spec.name, (
            "a command queue takes only commands addressed to its own service"
        )
    else:
        assert producer_message.kind == "event", f"{message_type} is a command; bind it with kind='command'"
    model.model_validate(producer_message.example().model_dump(mode="json"))


@pytest.mark.parametrize(("spec", "command"), SENT, ids=[f"{s.name}->{c.message_type}" for s, c in SENT])
def test_sent_command_matches_its_receivers_schema(spec: ServiceSpec, command: type[Message]) -> None:
    owners = PRODUCERS.get(command.message_type, [])
    assert len(owners) == 1, f"{spec.name} sends {command.message_type}, which {len(owners)} services own"
    owner_model = next(m for m in owners[0].published if m.message_type == command.message_type)
    assert owner_model.kind == "command"
    receivers = [c for c in CONSUMED if c[2] == command.message_type]
    assert len(receivers) == 1, f"{command.message_type} must have exactly one receiving queue"
    sent = command.example().model_dump(mode="json")
    jsonschema.validate(sent, owner_model.model_json_schema())
    receivers[0][3].model_validate(sent)


def test_ev01_committed_catalogue_and_asyncapi_documents_equal_what_the_code_generates() -> None:
    """EV-01: the one machine-readable catalogue other police systems read is what the code publishes."""
    stale = [
        str(path.relative_to(REPO))
        for path, content in asyncapi.generated_files(REPO).items()
        if not path.exists() or path.read_text(encoding="utf-8") != content
    ]
    assert stale == [], f"run `make contracts`: {stale}"
