"""Conversion of Python values to plain JSON values under the platform's rules (no floats, UTC times)."""

from __future__ import annotations

import enum
from collections.abc import Mapping, Sequence
from datetime import UTC, date, datetime
from typing import Any
from uuid import UUID

from dcp_events.errors import CanonicalEncodingError

JsonValue = None | bool | int | str | list["JsonValue"] | dict[str, "JsonValue"]

# Fixed precision so that one instant has exactly one textual form (the audit chain hashes the text):
# YYYY-MM-DDTHH:MM:SS.ffffffZ.


def format_utc(value: datetime) -> str:
    """RFC 3339 UTC text with microseconds and `Z`, e.g. 2026-11-29T08:00:00.000000Z."""
    if value.tzinfo is None or value.utcoffset() is None:
        raise CanonicalEncodingError(
            f"naive datetime {value.isoformat()} has no time zone; use UTC-aware times"
        )
    u = value.astimezone(UTC)
    # Not strftime: its %Y does not pad years before 1000 on every platform, and RFC 3339 needs 4 digits.
    return (
        f"{u.year:04d}-{u.month:02d}-{u.day:02d}T{u.hour:02d}:{u.minute:02d}:{u.second:02d}"
        f".{u.microsecond:06d}Z"
    )


class _NeedsPath(Exception):
    """The fast walk met something it must refuse: the precise walk finds where, for the message."""


def _fast(value: object) -> JsonValue:
    # Exact type checks for the shapes events are made of; everything else takes the precise walk.
    kind = type(value)
    if kind is str or kind is bool or value is None:
        return value  # type: ignore[return-value]
    if kind is int:
        return value  # type: ignore[return-value]
    if kind is dict:
        out: dict[str, JsonValue] = {}
        for key, item in value.items():  # type: ignore[attr-defined]
            if type(key) is not str:
                raise _NeedsPath
            out[key] = _fast(item)
        return out
    if kind is list:
        return [_fast(item) for item in value]  # type: ignore[attr-defined]
    if kind is float:
        raise _NeedsPath
    return _precise(value, "$")


def to_json_value(value: object, *, path: str = "$") -> JsonValue:
    """Plain JSON tree for `value`; refuses floats and anything without one canonical JSON form."""
    try:
        return _fast(value)
    except (_NeedsPath, CanonicalEncodingError):
        return _precise(value, path)


def _precise(value: object, path: str) -> JsonValue:
    if value is None or isinstance(value, bool | str):
        return value
    if isinstance(value, enum.Enum):
        return _precise(value.value, path)
    if isinstance(value, int):
        return int(value)
    if isinstance(value, float):
        raise CanonicalEncodingError(
            f"float {value!r} at {path}: floats are refused; use integers (money in minor units)"
        )
    if isinstance(value, datetime):
        return format_utc(value)
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, UUID):
        return str(value)
    if isinstance(value, Mapping):
        out: dict[str, JsonValue] = {}
        for key, item in value.items():
            if not isinstance(key, str):
                raise CanonicalEncodingError(f"object key {key!r} at {path} is not a string")
            out[key] = _precise(item, f"{path}.{key}")
        return out
    if isinstance(value, Sequence) and not isinstance(value, bytes | bytearray):
        return [_precise(item, f"{path}[{i}]") for i, item in enumerate(value)]
    model_dump = getattr(value, "model_dump", None)
    if callable(model_dump):  # a pydantic model
        dumped: Any = model_dump(mode="json")
        return _precise(dumped, path)
    raise CanonicalEncodingError(f"{type(value).__name__} at {path} has no canonical JSON form")
