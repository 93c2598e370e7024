"""What the event store keeps and hands back, as plain values (no database imports, so domain
modules may use them): an event about to be appended, an event as stored, and the store's errors."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any
from uuid import UUID, uuid4


class ConcurrencyConflict(Exception):
    """Another writer appended to the stream since the caller read it."""

    def __init__(self, stream_id: str, expected_version: int) -> None:
        super().__init__(f"stream {stream_id!r} is no longer at version {expected_version}")
        self.stream_id = stream_id
        self.expected_version = expected_version


class DuplicateEventId(Exception):
    """An event with this id is already stored (a retried command, for example)."""


@dataclass(frozen=True)
class NewEvent:
    """An event about to be appended: its CloudEvents attributes apart from the ones the store assigns."""

    event_type: str
    topic: str
    subject: str
    data: Mapping[str, Any]
    envelope: Mapping[str, Any] = field(default_factory=dict)
    event_id: UUID = field(default_factory=uuid4)


@dataclass(frozen=True)
class RecordedEvent:
    """An event as stored: with its stream version and global position."""

    position: int
    stream_id: str
    stream_version: int
    event_id: UUID
    event_type: str
    topic: str
    payload: dict[str, Any]
    metadata: dict[str, Any]
    recorded_at: datetime

    @property
    def subject(self) -> str:
        return str(self.metadata.get("subject", self.stream_id))

    def cloudevent_attributes(self) -> dict[str, Any]:
        """The structured-mode CloudEvent of this record, as a plain mapping."""
        attributes: dict[str, Any] = {
            k: v for k, v in self.metadata.items() if v is not None and k != "subject"
        }
        attributes.update(
            specversion="1.0",
            id=str(self.event_id),
            type=self.event_type,
            subject=self.subject,
            sequence=self.stream_version,
            datacontenttype="application/json",
            data=self.payload,
        )
        return attributes
