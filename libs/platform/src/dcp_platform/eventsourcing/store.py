"""The event store: append with an expected version, load a stream, read in global order.

Appends never take a table lock: concurrency on one stream is settled by the unique
(stream_id, stream_version) constraint, and publication order by the outbox (see relay.py).
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from contextlib import asynccontextmanager
from typing import Any

import asyncpg
from prometheus_client import Counter
from sqlalchemy import text
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from dcp_platform import jsontext
from dcp_platform.eventsourcing.records import (
    ConcurrencyConflict,
    DuplicateEventId,
    NewEvent,
    RecordedEvent,
)
from dcp_platform.values import from_fields

__all__ = ["ConcurrencyConflict", "DuplicateEventId", "EventStore", "NewEvent", "Projector", "RecordedEvent"]

EVENTS_APPENDED = Counter(
    "dcp_events_appended_total", "Events appended to the service's event store", ["event_type"]
)


Projector = Callable[[AsyncConnection, Sequence[RecordedEvent]], Awaitable[None]]

_APPEND = text(
    """
    WITH current AS (
        SELECT coalesce(max(stream_version), 0) AS version FROM events WHERE stream_id = :stream_id
    ), inserted AS (
        INSERT INTO events (stream_id, stream_version, event_id, event_type, topic, payload, metadata)
        SELECT :stream_id, :expected + n.ord, (n.e->>'event_id')::uuid, n.e->>'event_type',
               n.e->>'topic', n.e->'payload', n.e->'metadata'
        FROM jsonb_array_elements(CAST(:batch AS jsonb)) WITH ORDINALITY AS n(e, ord), current
        WHERE current.version = :expected
        RETURNING position, stream_version, event_id, recorded_at
    ), queued AS (
        INSERT INTO outbox (position) SELECT position FROM inserted
    )
    SELECT position, stream_version, event_id, recorded_at FROM inserted ORDER BY stream_version
    """
)

_APPEND_DRIVER_SQL = (
    _APPEND.text.replace(":stream_id", "$1").replace(":expected", "$2").replace(":batch", "$3")
)


def _batch(events: Sequence[NewEvent]) -> list[dict[str, Any]]:
    return [
        {
            "event_id": str(e.event_id),
            "event_type": e.event_type,
            "topic": e.topic,
            "payload": dict(e.data),
            "metadata": {**e.envelope, "subject": e.subject},
        }
        for e in events
    ]


_APPEND_NEW_STREAMS = text(
    """
    WITH batch AS (
        SELECT * FROM jsonb_to_recordset(CAST(:batch AS jsonb)) AS b(
            ord int, stream_id text, stream_version int, event_id uuid, event_type text, topic text,
            payload jsonb, metadata jsonb)
    ), inserted AS (
        INSERT INTO events (stream_id, stream_version, event_id, event_type, topic, payload, metadata)
        SELECT stream_id, stream_version, event_id, event_type, topic, payload, metadata
        FROM batch ORDER BY ord
        RETURNING position
    ), queued AS (
        INSERT INTO outbox (position) SELECT position FROM inserted
    )
    SELECT count(*) FROM inserted
    """
)

_COLUMNS = "position, stream_id, stream_version, event_id, event_type, topic, payload, metadata, recorded_at"
# The f-strings only splice in the constant column list.
_LOAD = text(
    f"SELECT {_COLUMNS} FROM events WHERE stream_id = :stream_id AND stream_version > :after"  # noqa: S608
    " ORDER BY stream_version"
)
_LOAD_MANY = text(
    f"SELECT {_COLUMNS} FROM events WHERE stream_id = ANY(CAST(:ids AS text[]))"  # noqa: S608
    " ORDER BY stream_id, stream_version"
)
_READ_ALL = text(
    f"SELECT {_COLUMNS} FROM events WHERE position > :after ORDER BY position LIMIT :limit"  # noqa: S608
)
_EXISTING = text(
    "SELECT stream_id FROM events WHERE stream_id = ANY(CAST(:ids AS text[])) AND stream_version = 1"
)
_VERSION = text("SELECT coalesce(max(stream_version), 0) FROM events WHERE stream_id = :stream_id")


def _row_to_event(row: Any) -> RecordedEvent:
    return from_fields(RecordedEvent, row)


class EventStore:
    """Append-only store of a service's events in its own PostgreSQL database.

    Projectors registered with `add_projector` run inside the appending transaction, so a
    read model is never behind or ahead of the events it was built from.
    """

    def __init__(self, engine: AsyncEngine, *, on_commit: Callable[[], None] | None = None) -> None:
        self._engine = engine
        self._projectors: list[Projector] = []
        self._on_commit = on_commit

    @property
    def engine(self) -> AsyncEngine:
        return self._engine

    def add_projector(self, projector: Projector) -> None:
        self._projectors.append(projector)

    @asynccontextmanager
    async def transaction(self) -> AsyncIterator[AsyncConnection]:
        """One database transaction: what is appended and projected in it commits together."""
        async with self._engine.begin() as conn:
            yield conn
        if self._on_commit is not None:
            self._on_commit()

    def set_on_commit(self, callback: Callable[[], None]) -> None:
        """Called after each committed append that this store's own transaction made (wakes the relay)."""
        self._on_commit = callback

    async def append(
        self,
        stream_id: str,
        expected_version: int,
        events: Sequence[NewEvent],
        *,
        conn: AsyncConnection | None = None,
    ) -> list[RecordedEvent]:
        """Append `events` to the stream if it is still at `expected_version` (0 for a new stream).

        With `conn`, the append joins the caller's transaction (the caller commits); otherwise it
        commits on its own. Raises ConcurrencyConflict or DuplicateEventId.
        """
        if not events:
            return []
        if conn is not None:
            # A savepoint keeps the caller's transaction usable after a conflict.
            async with conn.begin_nested():
                return await self._append(conn, stream_id, expected_version, events)
        if self._projectors:
            async with self._engine.begin() as own:
                recorded = await self._append(own, stream_id, expected_version, events)
        else:
            recorded = await self._append_on_driver(stream_id, expected_version, events)
        if self._on_commit is not None:
            self._on_commit()
        return recorded

    async def _append_on_driver(
        self, stream_id: str, expected_version: int, events: Sequence[NewEvent]
    ) -> list[RecordedEvent]:
        """The same statement straight on the asyncpg connection: about twice the throughput of
        going through SQLAlchemy's execution layer (see benchmarks/bench_appends.py)."""
        batch = _batch(events)
        async with self._engine.connect() as conn:
            raw = await conn.get_raw_connection()
            driver: asyncpg.Connection = raw.driver_connection
            try:
                async with driver.transaction():
                    rows = await driver.fetch(
                        _APPEND_DRIVER_SQL, stream_id, expected_version, jsontext.dumps(batch)
                    )
            except asyncpg.UniqueViolationError as exc:
                if exc.constraint_name == "events_event_id_key":
                    raise DuplicateEventId(str(exc)) from exc
                raise ConcurrencyConflict(stream_id, expected_version) from exc
        return self._recorded(stream_id, rows, batch, len(events), expected_version)

    def _recorded(
        self,
        stream_id: str,
        rows: Sequence[Any],
        batch: list[dict[str, Any]],
        expected_count: int,
        expected_version: int,
    ) -> list[RecordedEvent]:
        if len(rows) != expected_count:
            raise ConcurrencyConflict(stream_id, expected_version)
        recorded = [
            RecordedEvent(
                position=row["position"],
                stream_id=stream_id,
                stream_version=row["stream_version"],
                event_id=row["event_id"],
                event_type=item["event_type"],
                topic=item["topic"],
                payload=item["payload"],
                metadata=item["metadata"],
                recorded_at=row["recorded_at"],
            )
            for row, item in zip(rows, batch, strict=True)
        ]
        for event in recorded:
            EVENTS_APPENDED.labels(event.event_type).inc()
        return recorded

    async def _append(
        self, conn: AsyncConnection, stream_id: str, expected_version: int, events: Sequence[NewEvent]
    ) -> list[RecordedEvent]:
        batch = _batch(events)
        try:
            result = await conn.execute(
                _APPEND,
                {"stream_id": stream_id, "expected": expected_version, "batch": jsontext.dumps(batch)},
            )
            rows = [row._mapping for row in result.all()]
        except IntegrityError as exc:
            if "events_event_id_key" in str(exc.orig):
                raise DuplicateEventId(str(exc.orig)) from exc
            raise ConcurrencyConflict(stream_id, expected_version) from exc
        recorded = self._recorded(stream_id, rows, batch, len(events), expected_version)
        for projector in self._projectors:
            await projector(conn, recorded)
        return recorded

    async def append_new_streams(
        self, streams: Sequence[tuple[str, Sequence[NewEvent]]], *, conn: AsyncConnection
    ) -> int:
        """Start many streams in one statement (bulk placement): each stream's events at versions 1..n.

        All or nothing: if any stream already exists (or an event id is stored), ConcurrencyConflict
        and nothing is written, and the caller falls back to `append` per stream. Projectors are not
        run: the caller writes its read models for the batch in the same transaction.
        """
        return await self.append_streams([(s, 0, events) for s, events in streams], conn=conn)

    async def append_streams(
        self, streams: Sequence[tuple[str, int, Sequence[NewEvent]]], *, conn: AsyncConnection
    ) -> int:
        """Append to many streams in one statement, each at its expected version (0 for a new one).

        All or nothing: if any stream moved on (or an event id is stored), ConcurrencyConflict and
        nothing is written; the caller falls back to `append` per stream. Projectors are not run.
        """
        batch: list[dict[str, Any]] = []
        for stream_id, expected, events in streams:
            for version, event in enumerate(events, start=expected + 1):
                batch.append(
                    {
                        "ord": len(batch),
                        "stream_id": stream_id,
                        "stream_version": version,
                        **_batch([event])[0],
                    }
                )
        if not batch:
            return 0
        try:
            async with conn.begin_nested():
                result = await conn.execute(_APPEND_NEW_STREAMS, {"batch": jsontext.dumps(batch)})
                count = int(result.scalar_one())
        except IntegrityError as exc:
            raise ConcurrencyConflict(str(streams[0][0]), streams[0][1]) from exc
        for item in batch:
            EVENTS_APPENDED.labels(item["event_type"]).inc()
        return count

    async def load_many(
        self, stream_ids: Sequence[str], *, conn: AsyncConnection | None = None
    ) -> dict[str, list[RecordedEvent]]:
        """The events of each of `stream_ids` that has any, in version order, in one query."""
        if not stream_ids:
            return {}
        params = {"ids": list(stream_ids)}
        if conn is not None:
            rows = (await conn.execute(_LOAD_MANY, params)).all()
        else:
            async with self._engine.connect() as own:
                rows = (await own.execute(_LOAD_MANY, params)).all()
        found: dict[str, list[RecordedEvent]] = {}
        for row in rows:
            found.setdefault(row.stream_id, []).append(_row_to_event(row))
        return found

    async def load(
        self, stream_id: str, *, after_version: int = 0, conn: AsyncConnection | None = None
    ) -> list[RecordedEvent]:
        """The stream's events in version order (those after `after_version`)."""
        params = {"stream_id": stream_id, "after": after_version}
        if conn is not None:
            return [_row_to_event(r) for r in (await conn.execute(_LOAD, params)).all()]
        async with self._engine.connect() as own:
            return [_row_to_event(r) for r in (await own.execute(_LOAD, params)).all()]

    async def existing(self, stream_ids: Sequence[str], *, conn: AsyncConnection | None = None) -> set[str]:
        """Which of `stream_ids` have events, in one statement."""
        if not stream_ids:
            return set()
        params = {"ids": list(stream_ids)}
        if conn is not None:
            return set((await conn.execute(_EXISTING, params)).scalars())
        async with self._engine.connect() as own:
            return set((await own.execute(_EXISTING, params)).scalars())

    async def version(self, stream_id: str, *, conn: AsyncConnection | None = None) -> int:
        if conn is not None:
            return int((await conn.execute(_VERSION, {"stream_id": stream_id})).scalar_one())
        async with self._engine.connect() as own:
            return int((await own.execute(_VERSION, {"stream_id": stream_id})).scalar_one())

    async def read_all(self, *, after_position: int = 0, limit: int = 1000) -> list[RecordedEvent]:
        """Committed events in insertion order; for replays and projections rebuilt from scratch."""
        async with self._engine.connect() as conn:
            rows = (await conn.execute(_READ_ALL, {"after": after_position, "limit": limit})).all()
        return [_row_to_event(r) for r in rows]
