"""The CloudEvents envelope refuses what would make an event ambiguous or unreadable to other consumers."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import pytest
from pydantic import ValidationError

from dcp_events import CloudEvent, kafka_key, make_type, split_type
from dcp_events.envelope import ATTRIBUTE_NAME_PATTERN


def test_valid_envelope_has_defaults_and_keeps_time_in_utc(envelope_fields: dict[str, Any]) -> None:
    envelope_fields["time"] = datetime(2026, 11, 29, 9, 0, tzinfo=timezone(timedelta(hours=1)))
    event = CloudEvent(**envelope_fields)
    assert event.specversion == "1.0"
    assert event.datacontenttype == "application/json"
    assert event.time == datetime(2026, 11, 29, 8, 0, tzinfo=UTC)
    assert event.time.utcoffset() == timedelta(0)
    assert event.base_type == "collections.case.closed"
    assert event.version == 1


def test_naive_time_is_refused(envelope_fields: dict[str, Any]) -> None:
    envelope_fields["time"] = datetime(2026, 11, 29, 8, 0)  # noqa: DTZ001 - the point of the test
    with pytest.raises(ValidationError, match="timezone"):
        CloudEvent(**envelope_fields)


@pytest.mark.parametrize("value", ["2026-11-29T08:00:00", 1764403200])
def test_time_without_zone_or_as_number_is_refused(envelope_fields: dict[str, Any], value: object) -> None:
    envelope_fields["time"] = value
    with pytest.raises(ValidationError):
        CloudEvent(**envelope_fields)


@pytest.mark.parametrize(
    "traceparent",
    [
        "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7",  # no flags
        "00-4BF92F3577B34DA6A3CE929D0E0E4736-00f067aa0ba902b7-01",  # upper case
        "00-00000000000000000000000000000000-00f067aa0ba902b7-01",  # zero trace id
        "00-4bf92f3577b34da6a3ce929d0e0e4736-0000000000000000-01",  # zero parent id
        "ff-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",  # forbidden version
        "trace-me",
    ],
)
def test_bad_traceparent_is_refused(envelope_fields: dict[str, Any], traceparent: str) -> None:
    envelope_fields["traceparent"] = traceparent
    with pytest.raises(ValidationError, match="traceparent"):
        CloudEvent(**envelope_fields)


def test_every_attribute_name_is_a_valid_cloudevents_name() -> None:
    names = list(CloudEvent.model_fields)
    assert {
        "actor",
        "actorrole",
        "correlationid",
        "causationid",
        "sequence",
        "jurisdiction",
        "traceparent",
    } <= set(names)
    assert [n for n in names if not re.match(ATTRIBUTE_NAME_PATTERN, n)] == []


@pytest.mark.parametrize("name", ["actor_role", "correlationId", "tenant"])
def test_unknown_or_misspelt_extensions_are_refused(envelope_fields: dict[str, Any], name: str) -> None:
    envelope_fields[name] = "x"
    with pytest.raises(ValidationError, match="Extra inputs"):
        CloudEvent(**envelope_fields)


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("id", "not-a-uuid"),
        ("type", "CaseOpened"),
        ("type", "collections.case.opened"),  # no version
        ("type", "collections.case.opened.v0"),
        ("jurisdiction", "gb"),
        ("jurisdiction", "GBR"),
        ("actorrole", "debtor"),
        ("sequence", -1),
        ("sequence", "7"),
        ("subject", ""),
        ("specversion", "0.3"),
        ("dataschema", "not a uri"),
    ],
)
def test_invalid_attribute_values_are_refused(
    envelope_fields: dict[str, Any], field: str, value: object
) -> None:
    envelope_fields[field] = value
    with pytest.raises(ValidationError):
        CloudEvent(**envelope_fields)


def test_uuid_id_is_normalised_to_lowercase(envelope_fields: dict[str, Any]) -> None:
    envelope_fields["id"] = "0F8FAD5B-D9CB-469F-A165-70867728950E"
    assert CloudEvent(**envelope_fields).id == "0f8fad5b-d9cb-469f-a165-70867728950e"


def test_float_in_data_is_refused(envelope_fields: dict[str, Any]) -> None:
    envelope_fields["data"] = {"amount": 12.5}
    with pytest.raises(ValueError, match="float"):
        CloudEvent(**envelope_fields)


def test_envelope_is_frozen(envelope_fields: dict[str, Any]) -> None:
    event = CloudEvent(**envelope_fields)
    with pytest.raises(ValidationError):
        event.subject = "other"  # type: ignore[misc]


def test_kafka_key_is_the_case_id(envelope_fields: dict[str, Any]) -> None:
    assert kafka_key(CloudEvent(**envelope_fields)) == envelope_fields["subject"].encode()


def test_type_names_split_and_join() -> None:
    assert split_type("collections.case.hold_placed.v12") == ("collections.case.hold_placed", 12)
    assert make_type("collections.payment.received", 2) == "collections.payment.received.v2"
    for bad in ["collections.case.opened", "case.opened.v1", "Collections.case.opened.v1", "a.b.c.v01"]:
        with pytest.raises(ValueError, match="does not follow"):
            split_type(bad)
