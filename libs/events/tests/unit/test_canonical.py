"""Canonical bytes are stable: the audit hash chain hashes them, so one event has exactly one encoding."""

from __future__ import annotations

import json
import uuid
from datetime import UTC, date, datetime, timedelta, timezone
from typing import Any

import pytest

from dcp_events import (
    CanonicalEncodingError,
    CloudEvent,
    EventDecodeError,
    decode_event,
    encode_event,
    to_canonical_bytes,
)


def test_keys_sorted_compact_utf8() -> None:
    raw = to_canonical_bytes({"b": [1, {"z": None, "a": True}], "a": "Zoë 张伟 — ✓", "é": 0})
    assert raw == '{"a":"Zoë 张伟 — ✓","b":[1,{"a":true,"z":null}],"é":0}'.encode()


def test_times_uuids_dates_have_one_form() -> None:
    plus_one = timezone(timedelta(hours=1))
    value = {
        "t1": datetime(2026, 11, 29, 9, 0, tzinfo=plus_one),
        "t2": datetime(2026, 11, 29, 8, 0, 0, 5, tzinfo=UTC),
        "u": uuid.UUID("0F8FAD5B-D9CB-469F-A165-70867728950E"),
        "d": date(2026, 2, 3),
    }
    assert json.loads(to_canonical_bytes(value)) == {
        "t1": "2026-11-29T08:00:00.000000Z",
        "t2": "2026-11-29T08:00:00.000005Z",
        "u": "0f8fad5b-d9cb-469f-a165-70867728950e",
        "d": "2026-02-03",
    }


def test_large_integers_stay_exact_integers() -> None:
    big = 2**70 + 1
    raw = to_canonical_bytes({"n": big, "neg": -(2**64)})
    assert raw == f'{{"n":{big},"neg":{-(2**64)}}}'.encode()


@pytest.mark.parametrize("value", [1.5, {"a": [0.0]}, {"money": {"amount": 10.0}}, float("nan")])
def test_floats_are_refused(value: object) -> None:
    with pytest.raises(CanonicalEncodingError, match="float"):
        to_canonical_bytes(value)


@pytest.mark.parametrize(
    "value",
    [
        datetime(2026, 1, 1),  # noqa: DTZ001 - naive on purpose
        {1: "non-string key"},
        b"bytes",
        {"s": "\ud800"},  # lone surrogate
        object(),
    ],
)
def test_values_without_canonical_form_are_refused(value: object) -> None:
    with pytest.raises(CanonicalEncodingError):
        to_canonical_bytes(value)


def _event(envelope_fields: dict[str, Any], **data: Any) -> CloudEvent:
    return CloudEvent(**{**envelope_fields, "data": data})


def test_event_round_trip_both_ways(envelope_fields: dict[str, Any]) -> None:
    event = _event(
        envelope_fields,
        name="Ólafur Þórsson 王小明",
        amounts=[2**63, -1, 0],
        nested={"deep": {"deeper": [{"k": "v", "n": None}, True]}},
        at="2026-11-29T08:00:00.000000Z",
    )
    raw = encode_event(event)
    assert decode_event(raw) == event
    assert encode_event(decode_event(raw)) == raw
    assert "王小明".encode() in raw  # not \u-escaped


def test_encoding_is_canonical_and_omits_absent_attributes(envelope_fields: dict[str, Any]) -> None:
    envelope_fields.update(causationid=None, traceparent=None, sequence=None)
    raw = encode_event(_event(envelope_fields, b=1, a=2))
    text = raw.decode()
    assert " " not in text.replace("usr-alice", "")
    assert "causationid" not in text and "traceparent" not in text and "null" not in text
    obj = json.loads(raw)
    assert list(obj) == sorted(obj)
    assert obj["time"] == "2026-11-29T08:00:00.000000Z"
    assert raw == to_canonical_bytes(obj)


def test_same_event_from_different_inputs_encodes_identically(envelope_fields: dict[str, Any]) -> None:
    a = CloudEvent(**envelope_fields)
    b = CloudEvent(
        **{
            **envelope_fields,
            "id": envelope_fields["id"].upper(),
            "time": "2026-11-29T09:00:00+01:00",
            "data": dict(reversed(list(envelope_fields["data"].items()))),
        }
    )
    assert encode_event(a) == encode_event(b)


@pytest.mark.parametrize(
    ("raw", "message"),
    [
        (b"\xff\xfe", "not UTF-8"),
        (b"{not json", "not JSON"),
        (b"[1,2]", "JSON object"),
        (b'{"a":1.5}', "float"),
        (b'{"a":NaN}', "not JSON"),
        (b'{"a":1,"a":2}', "duplicate key"),
    ],
)
def test_decode_refuses_malformed_bytes(raw: bytes, message: str) -> None:
    with pytest.raises(EventDecodeError, match=message):
        decode_event(raw)


@pytest.mark.parametrize(
    "attribute", ["specversion", "id", "source", "type", "time", "subject", "data", "actor"]
)
def test_decode_names_the_missing_attribute(envelope_fields: dict[str, Any], attribute: str) -> None:
    obj = json.loads(encode_event(CloudEvent(**envelope_fields)))
    del obj[attribute]
    with pytest.raises(EventDecodeError, match=rf"{attribute}: missing required attribute"):
        decode_event(to_canonical_bytes(obj))


def test_decode_refuses_naive_time_on_the_wire(envelope_fields: dict[str, Any]) -> None:
    obj = json.loads(encode_event(CloudEvent(**envelope_fields)))
    obj["time"] = "2026-11-29T08:00:00"
    with pytest.raises(EventDecodeError, match="time"):
        decode_event(to_canonical_bytes(obj))


def test_times_before_year_1000_keep_four_digit_years_and_round_trip() -> None:
    from datetime import UTC, datetime

    from dcp_events.jsonvalue import format_utc

    early = datetime(362, 12, 18, 10, 4, 4, tzinfo=UTC)
    assert format_utc(early) == "0362-12-18T10:04:04.000000Z"
    assert datetime.fromisoformat(format_utc(early)) == early
