"""The in-memory event store passes the same contract as the PostgreSQL one."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from typing import Any

import pytest

from dcp_platform.eventsourcing.memory import InMemoryEventStore, MemoryTransaction
from dcp_platform.eventsourcing.store import RecordedEvent
from dcp_platform.testing.store_contract import EventStoreContract


class TestInMemoryEventStore(EventStoreContract):
    @pytest.fixture
    def store(self) -> InMemoryEventStore:
        return InMemoryEventStore()

    @pytest.fixture
    def projected(self, store: InMemoryEventStore) -> Callable[[], Awaitable[list[Any]]]:
        async def project(tx: MemoryTransaction, events: Sequence[RecordedEvent]) -> None:
            tx.state["seen"] = [*tx.state.get("seen", []), *(e.event_id for e in events)]

        store.add_projector(project)

        async def seen() -> list[Any]:
            return list(store.committed_state.get("seen", []))

        return seen
