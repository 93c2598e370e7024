"""Exceptions raised by the event library; consumers catch `EventError` to dead-letter a message."""

from __future__ import annotations

from typing import Any


class EventError(Exception):
    """Base of every error this library raises about an event or its data."""


class CanonicalEncodingError(EventError, ValueError):
    """A value cannot be written as canonical JSON (a float, a naive datetime, a non-string key...)."""


class EventDecodeError(EventError, ValueError):
    """Bytes are not a valid canonical CloudEvent (bad UTF-8, bad JSON, missing or invalid attributes)."""


class UnknownEventType(EventError, KeyError):
    """The `type` attribute names no event in the catalogue."""

    def __str__(self) -> str:  # KeyError would otherwise print the repr of its argument
        return str(self.args[0]) if self.args else "unknown event type"


class UpcastError(EventError):
    """An old event version cannot be brought to the current version."""


class EventDataError(EventError, ValueError):
    """The event's `data` does not match the catalogue model of its type."""


def describe_validation_error(exc: Any) -> str:
    """Where and what is wrong, never the offending values: they may be personal data (names,
    national ids) and the message ends up in logs and dead-letter headers."""
    parts = []
    for err in exc.errors():
        where = ".".join(str(p) for p in err["loc"]) or "event"
        what = "missing required attribute" if err["type"] == "missing" else err["msg"]
        parts.append(f"{where}: {what}")
    return "; ".join(parts)
