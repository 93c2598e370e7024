"""The event-sourced repository: load an aggregate from its stream, save what its commands recorded.

One class over either event store (`EventStore` on PostgreSQL, `InMemoryEventStore` for fast tests);
both pass the same contract suite, so the application code above them cannot tell which it runs on.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from contextlib import AbstractAsyncContextManager
from typing import Any, Generic, Protocol, TypeVar

from dcp_events.catalogue.base import EventPayload
from dcp_platform.clock import Clock
from dcp_platform.errors import DomainError, ErrorKind
from dcp_platform.eventsourcing.aggregate import Aggregate
from dcp_platform.eventsourcing.events import event_for
from dcp_platform.eventsourcing.records import NewEvent, RecordedEvent

A = TypeVar("A", bound=Aggregate[Any])
Tx = Any
"""A transaction of the store: an `AsyncConnection` on PostgreSQL, a `MemoryTransaction` in memory."""


Projection = Callable[[Tx, A, Sequence[EventPayload], Sequence[RecordedEvent]], Awaitable[None]]
"""A read model kept from an aggregate's saves: `(tx, aggregate, changes, recorded)`, run in the
saving transaction, so the read model commits with the events or not at all."""


class AggregateNotFound(DomainError, LookupError):
    """No stream for this aggregate id."""

    code = "not-found"
    title = "Not found"
    kind = ErrorKind.NOT_FOUND

    def __init__(self, kind: str, aggregate_id: str) -> None:
        super().__init__(f"no {kind} {aggregate_id}")
        self.aggregate_id = aggregate_id


class EventStorePort(Protocol):
    """What the repository needs of a store (both stores implement it)."""

    def transaction(self) -> AbstractAsyncContextManager[Any]: ...

    async def append(
        self, stream_id: str, expected_version: int, events: Sequence[NewEvent], *, conn: Any = None
    ) -> list[RecordedEvent]: ...

    async def load(
        self, stream_id: str, *, after_version: int = 0, conn: Any = None
    ) -> list[RecordedEvent]: ...

    async def version(self, stream_id: str, *, conn: Any = None) -> int: ...

    async def existing(self, stream_ids: Sequence[str], *, conn: Any = None) -> set[str]: ...

    async def load_many(
        self, stream_ids: Sequence[str], *, conn: Any = None
    ) -> dict[str, list[RecordedEvent]]: ...

    async def append_streams(
        self, streams: Sequence[tuple[str, int, Sequence[NewEvent]]], *, conn: Any
    ) -> int: ...


class Repository(Generic[A]):
    """Aggregates of one type in an event store.

    `save` stamps each recorded event with the execution context's actor, correlation and trace
    (`event_for`), the service's clock and source, and the aggregate's jurisdiction, and appends them
    at the version the aggregate was loaded at: a concurrent writer makes it raise
    `ConcurrencyConflict`, never overwrite.
    """

    def __init__(
        self,
        store: EventStorePort,
        aggregate: type[A],
        *,
        source: str,
        clock: Clock,
        jurisdiction: Callable[[A], str | None] = lambda _a: None,
        subject: Callable[[A], str] | None = None,
    ) -> None:
        self.store = store
        self.aggregate = aggregate
        self.source = source
        self.clock = clock
        self._jurisdiction = jurisdiction
        self._subject = subject or (lambda a: a.aggregate_id)
        self._projections: list[Projection[A]] = []

    def add_projection(self, projection: Projection[A]) -> None:
        """Keep a read model from every save (in the saving transaction)."""
        self._projections.append(projection)

    def transaction(self) -> AbstractAsyncContextManager[Tx]:
        return self.store.transaction()

    async def find(self, aggregate_id: str, tx: Tx = None) -> A | None:
        history = await self.store.load(self.aggregate.stream_id_for(aggregate_id), conn=tx)
        if not history:
            return None
        return self.aggregate.from_history(aggregate_id, history)

    async def get(self, aggregate_id: str, tx: Tx = None) -> A:
        found = await self.find(aggregate_id, tx)
        if found is None:
            raise AggregateNotFound(self.aggregate.__name__, aggregate_id)
        return found

    async def exists(self, aggregate_id: str, tx: Tx = None) -> bool:
        return (await self.store.version(self.aggregate.stream_id_for(aggregate_id), conn=tx)) > 0

    async def find_many(self, aggregate_ids: Sequence[str], tx: Tx = None) -> dict[str, A]:
        """The aggregates of `aggregate_ids` that exist, by id, loaded in one query."""
        streams = {self.aggregate.stream_id_for(i): i for i in aggregate_ids}
        histories = await self.store.load_many(list(streams), conn=tx)
        return {streams[s]: self.aggregate.from_history(streams[s], h) for s, h in histories.items()}

    async def append_together(self, aggregates: Sequence[A], tx: Tx) -> list[tuple[A, list[EventPayload]]]:
        """Append what each of `aggregates` recorded in one statement (all or none: ConcurrencyConflict
        when any of them moved on, the caller then saves them one by one). The projections are not
        run: the caller writes the read models of what it returns, `(aggregate, changes)`, itself."""
        pending = [a for a in aggregates if a.pending]
        streams = [(a.stream_id, a.version, self.new_events(a, a.pending)) for a in pending]
        await self.store.append_streams(streams, conn=tx)
        saved = []
        for aggregate in pending:
            changes = aggregate.pull_changes()
            aggregate.version += len(changes)
            saved.append((aggregate, changes))
        return saved

    async def existing(self, aggregate_ids: Sequence[str], tx: Tx = None) -> set[str]:
        """Which of `aggregate_ids` have a stream, in one query."""
        streams = {self.aggregate.stream_id_for(i): i for i in aggregate_ids}
        return {streams[s] for s in await self.store.existing(list(streams), conn=tx)}

    def new_events(
        self, aggregate: A, changes: Sequence[EventPayload], jurisdiction: str | None = None
    ) -> list[NewEvent]:
        subject = self._subject(aggregate)
        jurisdiction = jurisdiction or self._jurisdiction(aggregate)
        return [
            event_for(c, subject=subject, source=self.source, clock=self.clock, jurisdiction=jurisdiction)
            for c in changes
        ]

    async def append_entry(
        self, stream_id: str, subject: str, payloads: Sequence[EventPayload], tx: Tx = None
    ) -> None:
        """Append events of something this service keeps outside its aggregates (a directory entry:
        the latest state is a table, the changes are events) at the stream's current version, stamped
        as `save` stamps them; a concurrent append to the same stream raises `ConcurrencyConflict`."""
        version = await self.store.version(stream_id, conn=tx)
        events = [event_for(p, subject=subject, source=self.source, clock=self.clock) for p in payloads]
        await self.store.append(stream_id, version, events, conn=tx)

    async def save(
        self, aggregate: A, tx: Tx = None, *, jurisdiction: str | None = None
    ) -> list[RecordedEvent]:
        """Append the aggregate's recorded events, then run the projections; its version moves past
        them. `jurisdiction` stamps the events when the aggregate itself does not know it."""
        if not aggregate.pending:
            return []
        if tx is None and self._projections:
            async with self.store.transaction() as own:
                return await self.save(aggregate, own, jurisdiction=jurisdiction)
        changes = aggregate.pull_changes()
        try:
            recorded = await self.store.append(
                aggregate.stream_id,
                aggregate.version,
                self.new_events(aggregate, changes, jurisdiction),
                conn=tx,
            )
        except BaseException:
            aggregate._changes[:0] = changes  # still pending: the caller may retry on a fresh load
            raise
        aggregate.version += len(recorded)
        for projection in self._projections:
            await projection(tx, aggregate, changes, recorded)
        return recorded
