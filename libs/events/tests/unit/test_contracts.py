"""The published contracts match the models, and every schema accepts real payloads and refuses bad ones."""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

import jsonschema
import pytest
import yaml

from dcp_events import CATALOGUE, TOPICS, dlq_topic, encode_event
from dcp_events.catalogue import DLQ_HEADERS
from dcp_events.catalogue.examples import EXAMPLES
from dcp_events.contracts import example_event, main, read_contracts, render_contracts, stale_contracts

CONTRACTS = Path(__file__).resolve().parents[4] / "contracts"


@pytest.fixture(scope="module")
def committed() -> dict[str, str]:
    return read_contracts(CONTRACTS)


@pytest.fixture(scope="module")
def rendered() -> dict[str, str]:
    return render_contracts()


def test_committed_contracts_are_not_stale(committed: dict[str, str], rendered: dict[str, str]) -> None:
    assert stale_contracts(rendered, committed) == []
    assert main(["check", "--dir", str(CONTRACTS)]) == 0


def test_staleness_is_detected(committed: dict[str, str], rendered: dict[str, str]) -> None:
    edited = dict(committed)
    edited["schemas/collections.case.opened.v1.json"] += " "
    del edited["asyncapi.yaml"]
    edited["schemas/collections.case.vanished.v1.json"] = "{}"
    assert stale_contracts(rendered, edited) == [
        "missing: asyncapi.yaml",
        "outdated: schemas/collections.case.opened.v1.json",
        "no longer generated: schemas/collections.case.vanished.v1.json",
    ]


def test_generation_is_deterministic(rendered: dict[str, str]) -> None:
    assert render_contracts() == rendered


def _schema(committed: dict[str, str], name: str) -> dict[str, Any]:
    schema: dict[str, Any] = json.loads(committed[f"schemas/{name}.json"])
    jsonschema.Draft202012Validator.check_schema(schema)
    assert schema["$schema"] == "https://json-schema.org/draft/2020-12/schema"
    return schema


@pytest.mark.parametrize("type_str", sorted(CATALOGUE))
def test_every_data_schema_validates_its_sample_and_refuses_bad_data(
    committed: dict[str, str], type_str: str
) -> None:
    validator = jsonschema.Draft202012Validator(_schema(committed, type_str))
    sample = EXAMPLES[type_str].model_dump(mode="json")
    validator.validate(sample)
    with pytest.raises(jsonschema.ValidationError):
        validator.validate({**sample, "unexpected": 1})
    for required in validator.schema.get("required", []):
        without = {k: v for k, v in sample.items() if k != required}
        with pytest.raises(jsonschema.ValidationError):
            validator.validate(without)


def test_money_schema_refuses_fractions_negatives_and_unknown_currency(committed: dict[str, str]) -> None:
    validator = jsonschema.Draft202012Validator(_schema(committed, "collections.payment.received.v1"))
    sample = EXAMPLES["collections.payment.received.v1"].model_dump(mode="json")
    for amount in [{"amount_minor": 10.5, "currency": "GBP"}, {"amount_minor": -1, "currency": "GBP"},
                   {"amount_minor": 1, "currency": "XYZ"}]:  # fmt: skip
        with pytest.raises(jsonschema.ValidationError):
            validator.validate({**sample, "amount": amount})


@pytest.mark.parametrize("type_str", sorted(CATALOGUE))
def test_envelope_schema_validates_every_example_event(committed: dict[str, str], type_str: str) -> None:
    validator = jsonschema.Draft202012Validator(
        _schema(committed, "cloudevent"), format_checker=jsonschema.Draft202012Validator.FORMAT_CHECKER
    )
    wire = json.loads(encode_event(example_event(type_str)))
    validator.validate(wire)
    broken = copy.deepcopy(wire)
    broken["traceparent"] = "nope"
    with pytest.raises(jsonschema.ValidationError):
        validator.validate(broken)


def test_asyncapi_describes_every_topic_message_and_dlq(committed: dict[str, str]) -> None:
    doc = yaml.safe_load(committed["asyncapi.yaml"])
    assert doc["asyncapi"] == "3.0.0"
    for topic in TOPICS:
        assert doc["channels"][topic]["address"] == topic
        dlq = doc["channels"][dlq_topic(topic)]
        assert dlq["address"] == dlq_topic(topic)
    on_channels = {t for topic in TOPICS for t in doc["channels"][topic]["messages"]}
    assert on_channels == set(CATALOGUE)
    for type_str in CATALOGUE:
        message = doc["components"]["messages"][type_str]
        assert message["bindings"]["kafka"]["key"]["type"] == "string"
        data_ref = message["payload"]["allOf"][1]["properties"]["data"]["$ref"]
        assert data_ref == f"#/components/schemas/{CATALOGUE[type_str].__name__}"
    headers = doc["components"]["messages"]["dead-letter"]["headers"]
    assert sorted(headers["required"]) == sorted(DLQ_HEADERS)
    actions = {(op["action"], op["channel"]["$ref"]) for op in doc["operations"].values()}
    assert ("send", "#/channels/collections.cases") in actions
    assert ("receive", "#/channels/collections.payments") in actions
    assert ("send", "#/channels/integration.payments.dlq") in actions


def test_asyncapi_examples_validate_against_their_message_schema(committed: dict[str, str]) -> None:
    doc = yaml.safe_load(committed["asyncapi.yaml"])
    for type_str, message in doc["components"]["messages"].items():
        if type_str == "dead-letter":
            continue
        # Resolve the document-local refs by embedding the components into the schema.
        schema = {"components": doc["components"], **message["payload"]}
        jsonschema.Draft7Validator(schema).validate(message["examples"][0]["payload"])
