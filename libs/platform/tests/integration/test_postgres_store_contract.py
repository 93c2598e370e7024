"""The PostgreSQL event store passes the store and repository contract (the in-memory store passes
the same suite in tests/unit)."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from typing import Any

import pytest
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncConnection

from dcp_platform.eventsourcing.store import EventStore, RecordedEvent
from dcp_platform.testing.store_contract import EventStoreContract

pytestmark = pytest.mark.integration

_SEEN = text("INSERT INTO contract_seen (event_id) SELECT unnest(CAST(:ids AS uuid[]))")


class TestPostgresEventStore(EventStoreContract):
    @pytest.fixture
    def store(self, database: Any) -> EventStore:
        return EventStore(database.engine)

    @pytest.fixture
    async def projected(self, store: EventStore) -> Callable[[], Awaitable[list[Any]]]:
        async with store.engine.begin() as conn:
            await conn.execute(text("CREATE TABLE contract_seen (n bigserial, event_id uuid)"))

        async def project(conn: AsyncConnection, events: Sequence[RecordedEvent]) -> None:
            await conn.execute(_SEEN, {"ids": [str(e.event_id) for e in events]})

        store.add_projector(project)

        async def seen() -> list[Any]:
            async with store.engine.connect() as conn:
                return [
                    r.event_id
                    for r in await conn.execute(text("SELECT event_id FROM contract_seen ORDER BY n"))
                ]

        return seen
