"""Published contracts: a JSON Schema per event type and version, and one AsyncAPI 3.0 document.

python -m dcp_events.contracts generate [--dir contracts]   # write them
python -m dcp_events.contracts check    [--dir contracts]   # exit 1 if the committed ones are stale
"""

from __future__ import annotations

import argparse
import json
import sys
import uuid
from collections.abc import Sequence
from pathlib import Path
from typing import Any, Final

import yaml
from pydantic.json_schema import models_json_schema

from dcp_events.canonical import event_to_json
from dcp_events.catalogue.base import EventPayload
from dcp_events.catalogue.building import new_event
from dcp_events.catalogue.examples import EXAMPLE_CASE_ID, EXAMPLE_TIME, EXAMPLES
from dcp_events.catalogue.registry import CATALOGUE, DLQ_HEADERS, TOPICS, dlq_topic, schema_uri
from dcp_events.envelope import STRUCTURED_CONTENT_TYPE, ActorRole, CloudEvent

JSON_SCHEMA_DIALECT: Final = "https://json-schema.org/draft/2020-12/schema"
ENVELOPE_SCHEMA_FILE: Final = "cloudevent.json"
ASYNCAPI_FILE: Final = "asyncapi.yaml"
SCHEMAS_DIR: Final = "schemas"
CONTRACTS_VERSION: Final = "1.0.0"
KAFKA_BINDING_VERSION: Final = "0.5.0"

# Who writes each topic, and who reads it (each reader dead-letters what it cannot handle).
PRODUCERS: Final[dict[str, str]] = {
    "collections.cases": "case-service",
    "collections.contacts": "contact-service",
    "collections.payments": "payment-service",
    "collections.staff": "case-service",
    "collections.policies": "case-service",
    "integration.placements": "creditor-systems",
    "integration.payments": "core-banking",
    "integration.contacts": "agency-systems",
}
CONSUMERS: Final[dict[str, list[str]]] = {
    "collections.cases": ["audit-service", "contact-service", "payment-service"],
    "collections.contacts": ["audit-service", "case-service", "payment-service"],
    "collections.payments": ["audit-service", "case-service", "contact-service"],
    "collections.staff": ["audit-service", "contact-service"],
    "collections.policies": ["audit-service"],
    "integration.placements": ["audit-service", "case-service"],
    "integration.payments": ["audit-service", "payment-service"],
    "integration.contacts": ["audit-service", "contact-service"],
}
_ROLE_OF_PRODUCER: Final[dict[str, ActorRole]] = {
    "creditor-systems": ActorRole.INTEGRATION,
    "core-banking": ActorRole.INTEGRATION,
    "agency-systems": ActorRole.INTEGRATION,
}


def data_schema(type_str: str) -> dict[str, Any]:
    """JSON Schema (draft 2020-12) of the `data` of one event type and version."""
    model = CATALOGUE[type_str]
    schema = model.model_json_schema(mode="validation")
    return {"$schema": JSON_SCHEMA_DIALECT, "$id": schema_uri(type_str), **schema}


def envelope_schema() -> dict[str, Any]:
    """JSON Schema (draft 2020-12) of the CloudEvents envelope."""
    schema = CloudEvent.model_json_schema(mode="validation")
    return {
        "$schema": JSON_SCHEMA_DIALECT,
        "$id": schema_uri("cloudevent"),
        **schema,
    }


def example_event(type_str: str) -> CloudEvent:
    """The published example envelope of an event type (fixed id and time, so output is stable)."""
    payload = EXAMPLES[type_str]
    producer = PRODUCERS[payload.topic]
    return new_event(
        payload,
        subject=EXAMPLE_CASE_ID,
        source=f"/{producer}",
        actor="usr-alice" if producer.endswith("-service") else producer,
        actorrole=_ROLE_OF_PRODUCER.get(producer, ActorRole.COLLECTOR),
        correlationid="c0ffee00-0000-4000-8000-000000000001",
        sequence=1,
        jurisdiction="GB",
        traceparent="00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",
        time=EXAMPLE_TIME,
        id=uuid.uuid5(uuid.NAMESPACE_URL, schema_uri(type_str)),
    )


def _components_schemas() -> dict[str, Any]:
    models: list[tuple[type[Any], Any]] = [(CloudEvent, "validation")]
    models += [(CATALOGUE[t], "validation") for t in sorted(CATALOGUE)]
    _, top = models_json_schema(models, ref_template="#/components/schemas/{model}")
    defs: dict[str, Any] = top["$defs"]
    return {name: defs[name] for name in sorted(defs)}


def _message(type_str: str, model: type[EventPayload]) -> dict[str, Any]:
    doc = (model.__doc__ or "").strip().splitlines()
    return {
        "name": type_str,
        "title": f"{model.__name__} v{model.version}",
        "summary": doc[0] if doc else f"{model.__name__} event.",
        "contentType": STRUCTURED_CONTENT_TYPE,
        "headers": {
            "type": "object",
            "properties": {"content-type": {"type": "string", "const": STRUCTURED_CONTENT_TYPE}},
        },
        "payload": {
            "allOf": [
                {"$ref": "#/components/schemas/CloudEvent"},
                {
                    "type": "object",
                    "required": ["type", "data"],
                    "properties": {
                        "type": {"const": type_str},
                        "dataschema": {"const": schema_uri(type_str)},
                        "data": {"$ref": f"#/components/schemas/{model.__name__}"},
                    },
                },
            ]
        },
        "bindings": {
            "kafka": {
                "key": {"type": "string", "description": "The case id (the CloudEvent `subject`)."},
                "bindingVersion": KAFKA_BINDING_VERSION,
            }
        },
        "examples": [{"name": "example", "payload": event_to_json(example_event(type_str))}],
    }


def _dead_letter_message() -> dict[str, Any]:
    headers = {
        "dlq.error": "Why the consumer could not process the record (exception type and message).",
        "dlq.original.topic": "Topic the record was read from.",
        "dlq.original.partition": "Partition it was read from (decimal).",
        "dlq.original.offset": "Offset it was read at (decimal).",
        "dlq.consumer": "The consumer (service and group) that gave up on it.",
    }
    assert sorted(headers) == sorted(DLQ_HEADERS)
    return {
        "name": "dead-letter",
        "title": "Dead letter",
        "summary": "A record a consumer could not parse or handle, with the error in headers.",
        "description": "Key and value are the original record's, byte for byte (the value may not even be "
        "valid JSON); the original headers are kept and the dlq.* headers added.",
        "headers": {
            "type": "object",
            "required": sorted(headers),
            "properties": {
                name: {"type": "string", "description": text} for name, text in sorted(headers.items())
            },
        },
        "payload": {"description": "The original record value, unchanged."},
        "bindings": {
            "kafka": {
                "key": {"type": "string", "description": "The original record key (the case id)."},
                "bindingVersion": KAFKA_BINDING_VERSION,
            }
        },
    }


def asyncapi_document() -> dict[str, Any]:
    """The AsyncAPI 3.0.0 document describing every topic, message and operation."""
    channels: dict[str, Any] = {}
    operations: dict[str, Any] = {}
    messages: dict[str, Any] = {t: _message(t, CATALOGUE[t]) for t in sorted(CATALOGUE)}
    messages["dead-letter"] = _dead_letter_message()
    for topic in sorted(TOPICS):
        types = sorted(t for t, m in CATALOGUE.items() if m.topic == topic)
        channels[topic] = {
            "address": topic,
            "title": topic,
            "description": f"Events keyed by case id; written by {PRODUCERS[topic]}.",
            "messages": {t: {"$ref": f"#/components/messages/{t}"} for t in types},
        }
        dlq = dlq_topic(topic)
        channels[dlq] = {
            "address": dlq,
            "title": dlq,
            "description": f"Dead letters of {topic}.",
            "messages": {"dead-letter": {"$ref": "#/components/messages/dead-letter"}},
        }
        refs = [{"$ref": f"#/channels/{topic}/messages/{t}"} for t in types]
        operations[f"{PRODUCERS[topic]}.send.{topic}"] = {
            "action": "send",
            "channel": {"$ref": f"#/channels/{topic}"},
            "messages": refs,
        }
        for consumer in CONSUMERS[topic]:
            operations[f"{consumer}.receive.{topic}"] = {
                "action": "receive",
                "channel": {"$ref": f"#/channels/{topic}"},
                "messages": refs,
            }
            operations[f"{consumer}.send.{dlq}"] = {
                "action": "send",
                "channel": {"$ref": f"#/channels/{dlq}"},
                "messages": [{"$ref": f"#/channels/{dlq}/messages/dead-letter"}],
            }
    return {
        "asyncapi": "3.0.0",
        "info": {
            "title": "Debt collection platform events",
            "version": CONTRACTS_VERSION,
            "description": (
                "Every Kafka topic of the platform. Each record value is a CloudEvents 1.0 event in "
                "structured JSON mode (content type application/cloudevents+json); the record key is the "
                "case id (the event's `subject`), so the events of one case keep their order. The `type` "
                "attribute is <domain>.<entity>.<verb>.v<N>; `data` follows the JSON Schema named by "
                "`dataschema`. Money is an integer in minor units plus an ISO 4217 code; times are UTC. "
                "Consumers upcast old versions."
            ),
        },
        "defaultContentType": STRUCTURED_CONTENT_TYPE,
        "servers": {
            "local": {
                "host": "127.0.0.1:19092",
                "protocol": "kafka",
                "description": "The local development broker (dcp-stack).",
            }
        },
        "channels": dict(sorted(channels.items())),
        "operations": dict(sorted(operations.items())),
        "components": {"schemas": _components_schemas(), "messages": dict(sorted(messages.items()))},
    }


class _NoAliasDumper(yaml.SafeDumper):
    def ignore_aliases(self, data: Any) -> bool:
        return True


def _json_text(obj: Any) -> str:
    return json.dumps(obj, indent=2, sort_keys=True, ensure_ascii=False) + "\n"


def render_contracts() -> dict[str, str]:
    """Every contract file, relative path -> text, freshly generated from the models."""
    files = {f"{SCHEMAS_DIR}/{t}.json": _json_text(data_schema(t)) for t in sorted(CATALOGUE)}
    files[f"{SCHEMAS_DIR}/{ENVELOPE_SCHEMA_FILE}"] = _json_text(envelope_schema())
    files[ASYNCAPI_FILE] = yaml.dump(
        asyncapi_document(), Dumper=_NoAliasDumper, sort_keys=False, allow_unicode=True, width=110
    )
    return dict(sorted(files.items()))


def read_contracts(directory: Path) -> dict[str, str]:
    """The committed contract files under `directory` (the AsyncAPI document and schemas/*.json)."""
    files: dict[str, str] = {}
    if (directory / ASYNCAPI_FILE).is_file():
        files[ASYNCAPI_FILE] = (directory / ASYNCAPI_FILE).read_text(encoding="utf-8")
    for path in sorted((directory / SCHEMAS_DIR).glob("*.json")):
        files[f"{SCHEMAS_DIR}/{path.name}"] = path.read_text(encoding="utf-8")
    return files


def stale_contracts(expected: dict[str, str], committed: dict[str, str]) -> list[str]:
    """What differs between the generated and the committed files, one line each (empty: up to date)."""
    problems = [f"missing: {p}" for p in sorted(expected) if p not in committed]
    problems += [f"outdated: {p}" for p in sorted(expected) if p in committed and committed[p] != expected[p]]
    problems += [f"no longer generated: {p}" for p in sorted(committed) if p not in expected]
    return problems


def write_contracts(directory: Path) -> list[str]:
    """Write the contracts under `directory`, removing schema files no model produces; returns changes."""
    expected = render_contracts()
    changes = stale_contracts(expected, read_contracts(directory))
    (directory / SCHEMAS_DIR).mkdir(parents=True, exist_ok=True)
    for rel, text in expected.items():
        (directory / rel).write_text(text, encoding="utf-8")
    for line in changes:
        if line.startswith("no longer generated: "):
            (directory / line.removeprefix("no longer generated: ")).unlink()
    return changes


def default_directory() -> Path:
    """The repository's contracts/ directory, found from the working directory or this file."""
    for start in (Path.cwd(), Path(__file__).resolve()):
        for folder in (start, *start.parents):
            if (folder / "libs" / "events" / "pyproject.toml").is_file():
                return folder / "contracts"
    return Path.cwd() / "contracts"


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m dcp_events.contracts", description="Generate or check the event contracts."
    )
    parser.add_argument("command", choices=["generate", "check"])
    parser.add_argument(
        "--dir", type=Path, default=None, help="contracts directory (default: <repo>/contracts)"
    )
    args = parser.parse_args(argv)
    directory: Path = args.dir or default_directory()
    if args.command == "generate":
        changes = write_contracts(directory)
        print(f"contracts in {directory}: {len(changes)} file(s) changed")
        for line in changes:
            print(f"  {line}")
        return 0
    problems = stale_contracts(render_contracts(), read_contracts(directory))
    if problems:
        print(f"contracts in {directory} are stale; run `make contracts-generate`:", file=sys.stderr)
        for line in problems:
            print(f"  {line}", file=sys.stderr)
        return 1
    print(f"contracts in {directory} are up to date")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
