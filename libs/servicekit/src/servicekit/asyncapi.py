"""AsyncAPI 3.0 documents generated from the code: each service's `contracts/asyncapi.yaml` (what it
sends and receives) and their merge under `docs/events/`, the one catalogue other police systems read.

`python -m servicekit.asyncapi` writes them; `--check` fails when a committed file differs from the code.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import yaml
from pydantic import BaseModel

from servicekit.envelope import CE_PREFIX
from servicekit.messages import Message, commands_exchange, events_exchange, service_of
from servicekit.service import SERVICE_NAMES, ServiceSpec, load_spec

Doc = dict[str, Any]


def _key(message_type: str) -> str:
    return message_type.replace(".", "_").replace("-", "_")


def _schema(model: type[BaseModel], schemas: Doc) -> Doc:
    schema = model.model_json_schema(ref_template="#/components/schemas/{model}")
    for name, definition in schema.pop("$defs", {}).items():
        schemas[name] = definition
    return schema


def _cloudevents_headers() -> Doc:
    required = ["specversion", "id", "type", "source", "time"]
    properties: Doc = {f"{CE_PREFIX}{name}": {"type": "string"} for name in [*required, "subject"]}
    properties["traceparent"] = {"type": "string", "description": "W3C trace context"}
    return {
        "type": "object",
        "description": "CloudEvents 1.0 attributes in AMQP binary mode; the body is the event's data.",
        "properties": properties,
        "required": [f"{CE_PREFIX}{name}" for name in required],
    }


def _exchange_binding(message_type: str, kind: str) -> Doc:
    service = service_of(message_type)
    name = events_exchange(service) if kind == "event" else commands_exchange(service)
    return {
        "amqp": {
            "is": "routingKey",
            "exchange": {
                "name": name,
                "type": "topic" if kind == "event" else "direct",
                "durable": True,
                "autoDelete": False,
                "vhost": "/",
            },
            "bindingVersion": "0.3.0",
        }
    }


def _message_component(message: type[Message], schemas: Doc) -> Doc:
    return {
        "name": message.message_type,
        "title": message.__name__,
        "summary": message.summary or (message.__doc__ or "").strip().split("\n")[0],
        "contentType": "application/json",
        "headers": {"$ref": "#/components/schemas/CloudEventsHeaders"},
        "payload": _schema(message, schemas),
        "examples": [{"name": "example", "payload": message.example().model_dump(mode="json")}],
        "x-kind": message.kind,
    }


def _base(title: str, description: str) -> Doc:
    return {
        "asyncapi": "3.0.0",
        "info": {"title": title, "version": "1.0.0", "description": description},
        "defaultContentType": "application/json",
        "servers": {"rabbitmq": {"host": "rabbitmq:5672", "protocol": "amqp", "protocolVersion": "0-9-1"}},
        "channels": {},
        "operations": {},
        "components": {"messages": {}, "schemas": {"CloudEventsHeaders": _cloudevents_headers()}},
    }


def _add_channel(doc: Doc, message_type: str, kind: str) -> Doc:
    key = _key(message_type)
    channel = doc["channels"].setdefault(
        key,
        {
            "address": message_type,
            "messages": {key: {"$ref": f"#/components/messages/{key}"}},
            "bindings": _exchange_binding(message_type, kind),
        },
    )
    return {"$ref": f"#/channels/{key}"} if channel else {}


def service_document(spec: ServiceSpec, producers: dict[str, type[Message]]) -> Doc:
    """What `spec` sends (its own messages) and receives (each subscription's queue)."""
    doc = _base(
        f"{spec.name} messages", spec.summary or f"Messages the {spec.name} service sends and receives."
    )
    components = doc["components"]
    for message in spec.published:
        key = _key(message.message_type)
        components["messages"][key] = _message_component(message, components["schemas"])
        channel = _add_channel(doc, message.message_type, message.kind)
        action = "send" if message.kind == "event" else "receive"
        doc["operations"][f"{action}_{key}"] = {
            "action": action,
            "channel": channel,
            "summary": f"{spec.name} {'publishes' if action == 'send' else 'takes'} {message.message_type}",
            "messages": [{"$ref": f"#/channels/{key}/messages/{key}"}],
        }
    for subscription in spec.subscriptions:
        if subscription.kind == "command":
            continue  # a service's own commands are documented above as `receive`
        queue = subscription.queue(spec.name).main
        for message_type in subscription.handles:
            key = _key(message_type)
            producer = producers.get(message_type)
            if producer is not None:
                components["messages"][key] = _message_component(producer, components["schemas"])
            channel = _add_channel(doc, message_type, "event")
            doc["operations"][f"receive_{key}_{_key(subscription.name)}"] = {
                "action": "receive",
                "channel": channel,
                "summary": subscription.summary or f"{queue} handles {message_type}",
                "messages": [{"$ref": f"#/channels/{key}/messages/{key}"}],
                # AsyncAPI 3's AMQP operation binding has no queue (it belongs to a channel bound as one);
                # the consumer's durable queue is told as an extension so the document stays valid.
                "bindings": {"amqp": {"ack": True, "bindingVersion": "0.3.0"}},
                "x-amqp-queue": {"name": queue, "durable": True},
            }
    for sent in spec.sends:
        # The receiver owns a command's schema; the sender's local model documents it when alone.
        owner_model = producers.get(sent.message_type, sent)
        key = _key(sent.message_type)
        components["messages"][key] = _message_component(owner_model, components["schemas"])
        channel = _add_channel(doc, sent.message_type, "command")
        doc["operations"][f"send_{key}"] = {
            "action": "send",
            "channel": channel,
            "summary": f"{spec.name} sends the command {sent.message_type}",
            "messages": [{"$ref": f"#/channels/{key}/messages/{key}"}],
        }
    return doc


def catalogue(specs: Iterable[ServiceSpec]) -> tuple[Doc, str]:
    """The merged document and a Markdown index: every message type, who sends it, who consumes it."""
    specs = list(specs)
    producers = {m.message_type: m for spec in specs for m in spec.published}
    owners = {m.message_type: spec.name for spec in specs for m in spec.published}
    consumers: dict[str, list[str]] = {}
    for spec in specs:
        for subscription in spec.subscriptions:
            for message_type in subscription.handles:
                consumers.setdefault(message_type, []).append(subscription.queue(spec.name).main)
    doc = _base(
        "Traffic-safety services platform: event catalogue",
        "Every event and command of the platform, generated from the services' code. Events are CloudEvents "
        "1.0 in AMQP binary mode on the topic exchange `<service>.events`; commands on `<service>.commands`.",
    )
    for spec in specs:
        part = service_document(spec, producers)
        for section in ("channels", "operations"):
            doc[section].update(part[section])
        for section in ("messages", "schemas"):
            doc["components"][section].update(part["components"][section])
    lines = [
        "# Event catalogue",
        "",
        "Generated by `make contracts` from the code; `catalogue.yaml` beside this file is the AsyncAPI 3.0",
        "document. Do not edit by hand.",
        "",
        "| type | kind | producer | consumed by (queue) | summary |",
        "|---|---|---|---|---|",
    ]
    for message_type in sorted(producers):
        message = producers[message_type]
        summary = message.summary or (message.__doc__ or "").strip().split("\n")[0]
        queues = ", ".join(f"`{q}`" for q in sorted(consumers.get(message_type, []))) or "-"
        lines.append(f"| `{message_type}` | {message.kind} | {owners[message_type]} | {queues} | {summary} |")
    return doc, "\n".join(lines) + "\n"


def dump(doc: Doc) -> str:
    return str(yaml.safe_dump(doc, allow_unicode=True, sort_keys=False, width=110))


def generated_files(repo: Path, names: Iterable[str] = SERVICE_NAMES) -> dict[Path, str]:
    specs = [load_spec(name) for name in names]
    producers = {m.message_type: m for spec in specs for m in spec.published}
    files = {
        spec.root / "contracts" / "asyncapi.yaml": dump(service_document(spec, producers)) for spec in specs
    }
    merged, index = catalogue(specs)
    files[repo / "docs" / "events" / "catalogue.yaml"] = dump(merged)
    files[repo / "docs" / "events" / "README.md"] = index
    return files


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--repo", type=Path, default=Path.cwd())
    parser.add_argument("--check", action="store_true", help="fail if a committed file differs")
    args = parser.parse_args(argv)
    stale = []
    for path, content in generated_files(args.repo.resolve()).items():
        if args.check:
            if not path.exists() or path.read_text(encoding="utf-8") != content:
                stale.append(path)
        else:
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(content, encoding="utf-8")
            print(f"wrote {path}")
    if stale:
        print("out of date (run `make contracts`):", *stale, sep="\n  ", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
