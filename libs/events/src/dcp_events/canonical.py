"""Canonical JSON bytes of events and values: the audit hash chain depends on their byte stability.

Rules: object keys sorted (by code point), no insignificant whitespace, UTF-8 without ASCII escaping,
integers only (floats refused), times as RFC 3339 UTC with microseconds and `Z`, UUIDs lowercase,
absent envelope attributes left out (never written as null).
"""

from __future__ import annotations

import json
from typing import Any, NoReturn

import orjson
from pydantic import ValidationError

from dcp_events.envelope import PARSED_STRICT_JSON, CloudEvent
from dcp_events.errors import CanonicalEncodingError, EventDecodeError, describe_validation_error
from dcp_events.jsonvalue import JsonValue, to_json_value

__all__ = ["CanonicalEncodingError", "EventDecodeError", "decode_event", "encode_event", "to_canonical_bytes"]


def _dump(value: JsonValue) -> bytes:
    # orjson writes the same bytes as the reference encoder below for every JSON tree within its
    # range (keys sorted by code point, which is UTF-8 byte order; compact; UTF-8; the same escapes:
    # tests/test_canonical_codec.py), at a fraction of the cost. Beyond it (an integer past 64 bits,
    # a lone surrogate) the reference encoder writes the value or says what is wrong with it.
    try:
        return orjson.dumps(value, option=orjson.OPT_SORT_KEYS)
    except (TypeError, ValueError):
        return reference_dump(value)


def reference_dump(value: JsonValue) -> bytes:
    """The canonical bytes by the standard library's encoder: the definition `_dump` must match."""
    text = json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False, allow_nan=False)
    try:
        return text.encode("utf-8")
    except UnicodeEncodeError as exc:
        raise CanonicalEncodingError(f"string is not valid Unicode (lone surrogate?): {exc}") from None


def to_canonical_bytes(obj: object) -> bytes:
    """Canonical JSON bytes of a JSON-like value (dict, list, str, int, bool, None, datetime, UUID...)."""
    return _dump(to_json_value(obj))


def event_to_json(event: CloudEvent) -> dict[str, JsonValue]:
    """The structured-mode JSON object of `event` (attributes plus `data`)."""
    obj = event.attributes()
    obj["data"] = to_json_value(event.data, path="data")
    return obj


def encode_event(event: CloudEvent) -> bytes:
    """Canonical structured-mode bytes of `event` (the Kafka record value)."""
    return _dump(event_to_json(event))


def _refuse_float(text: str) -> NoReturn:
    raise EventDecodeError(f"float {text} refused: numbers in events are integers")


def _refuse_constant(text: str) -> NoReturn:
    raise EventDecodeError(f"{text} is not JSON")


def _unique_keys(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    # Duplicate keys make a document mean different things to different parsers.
    obj = dict(pairs)
    if len(obj) != len(pairs):
        seen: set[str] = set()
        for key, _ in pairs:
            if key in seen:
                raise EventDecodeError(f"duplicate key {key!r}")
            seen.add(key)
    return obj


def loads_strict(raw: bytes) -> Any:
    """Parse UTF-8 JSON, refusing floats, NaN/Infinity and duplicate keys; errors are `EventDecodeError`."""
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise EventDecodeError(f"event is not UTF-8: {exc}") from None
    try:
        return json.loads(
            text,
            parse_float=_refuse_float,
            parse_constant=_refuse_constant,
            object_pairs_hook=_unique_keys,
        )
    except json.JSONDecodeError as exc:
        raise EventDecodeError(f"event is not JSON: {exc}") from None


def decode_event(raw: bytes) -> CloudEvent:
    """Parse structured-mode bytes into a `CloudEvent`; raises `EventDecodeError` saying what is wrong."""
    if not isinstance(raw, bytes | bytearray | memoryview):
        raise EventDecodeError(f"expected bytes, got {type(raw).__name__}")
    obj = loads_strict(bytes(raw))
    if not isinstance(obj, dict):
        raise EventDecodeError(f"a CloudEvent is a JSON object, got {type(obj).__name__}")
    # The model defaults specversion for producers; on the wire CloudEvents requires it.
    if "specversion" not in obj:
        raise EventDecodeError("invalid CloudEvent: specversion: missing required attribute")
    try:
        return CloudEvent.model_validate(obj, context={PARSED_STRICT_JSON: True})
    except ValidationError as exc:
        raise EventDecodeError(f"invalid CloudEvent: {describe_validation_error(exc)}") from None
