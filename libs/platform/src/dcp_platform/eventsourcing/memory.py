"""An event store in memory, for fast application tests: the same contract as the PostgreSQL store.

It passes the event store contract suite (`dcp_platform.testing.contracts`) that the PostgreSQL
`EventStore` passes: versioned appends with conflicts, unique event ids, transactions that commit
or roll back as a whole, and projectors run inside the appending transaction.
"""

from __future__ import annotations

import dataclasses
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any
from uuid import UUID

from dcp_platform.eventsourcing.records import (
    ConcurrencyConflict,
    DuplicateEventId,
    NewEvent,
    RecordedEvent,
)

MemoryProjector = Callable[["MemoryTransaction", Sequence[RecordedEvent]], Awaitable[None]]


@dataclass
class MemoryTransaction:
    """What one transaction appended, visible to itself and to nobody else until it commits."""

    store: InMemoryEventStore
    staged: list[RecordedEvent] = field(default_factory=list)
    state: dict[str, Any] = field(default_factory=dict)
    """Scratch space for in-memory read models that want to commit with the transaction."""

    def stream(self, stream_id: str) -> list[RecordedEvent]:
        return [
            *self.store._streams.get(stream_id, []),
            *(e for e in self.staged if e.stream_id == stream_id),
        ]

    def event_ids(self) -> set[UUID]:
        return self.store._event_ids | {e.event_id for e in self.staged}


class InMemoryEventStore:
    """Streams in a dict; positions from a counter; one asyncio task at a time per transaction."""

    def __init__(self, *, on_commit: Callable[[], None] | None = None) -> None:
        self._streams: dict[str, list[RecordedEvent]] = {}
        self._event_ids: set[UUID] = set()
        self._all: list[RecordedEvent] = []
        self._position = 0
        self._projectors: list[MemoryProjector] = []
        self._on_commit = on_commit
        self.committed_state: dict[str, Any] = {}

    def add_projector(self, projector: MemoryProjector) -> None:
        self._projectors.append(projector)

    def redact(self, stream_id: str, transform: Callable[[dict[str, Any]], dict[str, Any] | None]) -> None:
        """Rewrite the stored payloads of a stream (personal data erased): `transform` gives the new
        payload, or None to keep it. The PostgreSQL store's events table is updated the same way."""
        stream = self._streams.get(stream_id, [])
        for i, event in enumerate(stream):
            new = transform(dict(event.payload))
            if new is not None:
                redacted = dataclasses.replace(event, payload=new)
                stream[i] = redacted
                self._all = [redacted if e.position == event.position else e for e in self._all]

    def set_on_commit(self, callback: Callable[[], None]) -> None:
        self._on_commit = callback

    @asynccontextmanager
    async def transaction(self) -> AsyncIterator[MemoryTransaction]:
        tx = MemoryTransaction(self, state=dict(self.committed_state))
        yield tx
        self._commit(tx)

    def _commit(self, tx: MemoryTransaction) -> None:
        # Another transaction may have committed the same stream versions meanwhile: the unique
        # (stream, version) rule of the PostgreSQL table, checked at commit.
        for event in tx.staged:
            if len(self._streams.get(event.stream_id, [])) >= event.stream_version:
                raise ConcurrencyConflict(event.stream_id, event.stream_version - 1)
            if event.event_id in self._event_ids:
                raise DuplicateEventId(str(event.event_id))
        for event in tx.staged:
            self._streams.setdefault(event.stream_id, []).append(event)
            self._event_ids.add(event.event_id)
            self._all.append(event)
        self.committed_state = tx.state
        if tx.staged and self._on_commit is not None:
            self._on_commit()

    async def append(
        self,
        stream_id: str,
        expected_version: int,
        events: Sequence[NewEvent],
        *,
        conn: MemoryTransaction | None = None,
    ) -> list[RecordedEvent]:
        if not events:
            return []
        if conn is None:
            async with self.transaction() as own:
                return await self.append(stream_id, expected_version, events, conn=own)
        if len(conn.stream(stream_id)) != expected_version:
            raise ConcurrencyConflict(stream_id, expected_version)
        known = conn.event_ids()
        if any(e.event_id in known for e in events) or len({e.event_id for e in events}) != len(events):
            raise DuplicateEventId(f"an event id of this append is already stored in {stream_id!r}")
        recorded = [
            self._recorded(stream_id, expected_version + n, event) for n, event in enumerate(events, start=1)
        ]
        staged_before = len(conn.staged)
        conn.staged.extend(recorded)
        try:
            for projector in self._projectors:
                await projector(conn, recorded)
        except BaseException:
            del conn.staged[staged_before:]  # the savepoint of the PostgreSQL store
            raise
        return recorded

    def _recorded(self, stream_id: str, version: int, event: NewEvent) -> RecordedEvent:
        self._position += 1
        return RecordedEvent(
            position=self._position,
            stream_id=stream_id,
            stream_version=version,
            event_id=event.event_id,
            event_type=event.event_type,
            topic=event.topic,
            payload=dict(event.data),
            metadata={**event.envelope, "subject": event.subject},
            recorded_at=datetime.now(UTC),
        )

    async def append_new_streams(
        self, streams: Sequence[tuple[str, Sequence[NewEvent]]], *, conn: MemoryTransaction
    ) -> int:
        """All streams new, or ConcurrencyConflict and nothing staged; projectors are not run."""
        return await self.append_streams([(s, 0, events) for s, events in streams], conn=conn)

    async def append_streams(
        self, streams: Sequence[tuple[str, int, Sequence[NewEvent]]], *, conn: MemoryTransaction
    ) -> int:
        """Every stream still at its expected version, or ConcurrencyConflict and nothing staged."""
        known = conn.event_ids()
        for stream_id, expected, events in streams:
            if len(conn.stream(stream_id)) != expected or any(e.event_id in known for e in events):
                raise ConcurrencyConflict(stream_id, expected)
        count = 0
        for stream_id, expected, events in streams:
            for version, event in enumerate(events, start=expected + 1):
                conn.staged.append(self._recorded(stream_id, version, event))
                count += 1
        return count

    async def load_many(
        self, stream_ids: Sequence[str], *, conn: MemoryTransaction | None = None
    ) -> dict[str, list[RecordedEvent]]:
        found = {s: await self.load(s, conn=conn) for s in stream_ids}
        return {s: events for s, events in found.items() if events}

    async def load(
        self, stream_id: str, *, after_version: int = 0, conn: MemoryTransaction | None = None
    ) -> list[RecordedEvent]:
        events = conn.stream(stream_id) if conn is not None else self._streams.get(stream_id, [])
        return [e for e in events if e.stream_version > after_version]

    async def existing(self, stream_ids: Sequence[str], *, conn: MemoryTransaction | None = None) -> set[str]:
        return {s for s in stream_ids if await self.version(s, conn=conn) > 0}

    async def version(self, stream_id: str, *, conn: MemoryTransaction | None = None) -> int:
        return len(conn.stream(stream_id) if conn is not None else self._streams.get(stream_id, []))

    async def read_all(self, *, after_position: int = 0, limit: int = 1000) -> list[RecordedEvent]:
        return sorted((e for e in self._all if e.position > after_position), key=lambda e: e.position)[:limit]
