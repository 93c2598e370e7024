"""Appends the first events of many new cases in one statement (bulk import).

A work-around inside the service: the platform's `EventStore.append` takes one stream per call
(three round trips with its savepoint), which made imports round-trip bound. This writes the same
`events` and `outbox` rows the store writes, for streams that must not exist yet; if any of them
does (a concurrent placement), the statement fails as a whole and the caller falls back to the
per-stream `EventStore.append`. Wanted in the platform: `EventStore.append_new_streams()`.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncConnection

from dcp_platform.eventsourcing.store import EVENTS_APPENDED, NewEvent

_BULK_APPEND = text(
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


async def append_new_streams(conn: AsyncConnection, streams: Sequence[tuple[str, Sequence[NewEvent]]]) -> int:
    """Append each stream's events at versions 1..n; raises IntegrityError if any stream exists."""
    batch: list[dict[str, Any]] = []
    for stream_id, events in streams:
        for version, event in enumerate(events, start=1):
            batch.append(
                {
                    "ord": len(batch),
                    "stream_id": stream_id,
                    "stream_version": version,
                    "event_id": str(event.event_id),
                    "event_type": event.event_type,
                    "topic": event.topic,
                    "payload": dict(event.data),
                    "metadata": {**event.envelope, "subject": event.subject},
                }
            )
    if not batch:
        return 0
    async with conn.begin_nested():
        count = int((await conn.execute(_BULK_APPEND, {"batch": json.dumps(batch)})).scalar_one())
    for item in batch:
        EVENTS_APPENDED.labels(item["event_type"]).inc()
    return count
