"""The base of every aggregate: state changes only by applying events, one mutator per event type.

A subclass marks its mutators with `@applies(EventType, ...)`; `__init_subclass__` collects them into
one table, and an event of a type with no mutator is refused (`UnknownAggregateEvent`), never
ignored. `from_history` upcasts every stored event to the catalogue's current version first, so an
aggregate only ever sees current event models.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, ClassVar, Generic, Self, TypeVar

from dcp_events.catalogue.base import EventPayload
from dcp_events.catalogue.registry import model_for
from dcp_events.upcasting import upcast
from dcp_platform.eventsourcing.records import RecordedEvent

E = TypeVar("E", bound=EventPayload)

Mutator = Callable[[Any, Any, datetime | None], None]


class UnknownAggregateEvent(TypeError):
    """An event reached an aggregate that has no mutator for its type."""


def applies(*event_types: type[EventPayload]) -> Callable[[Callable[..., None]], Callable[..., None]]:
    """Mark a method `(self, event, at)` as the mutator of `event_types` (`at`: when it happened, or
    None while a command records it on an aggregate that keeps no times)."""

    def mark(fn: Callable[..., None]) -> Callable[..., None]:
        fn._applies = (*getattr(fn, "_applies", ()), *event_types)  # type: ignore[attr-defined]
        return fn

    return mark


def decode(recorded: RecordedEvent) -> tuple[EventPayload, datetime | None]:
    """A stored event as its current catalogue model (upcast on the way) and the time it happened."""
    type_str, data = upcast(recorded.event_type, recorded.payload)
    payload = model_for(type_str).model_validate(data)
    raw_time = recorded.metadata.get("time")
    at = datetime.fromisoformat(raw_time) if isinstance(raw_time, str) else recorded.recorded_at
    return payload, at


@dataclass(kw_only=True)
class Aggregate(Generic[E]):
    """An event-sourced aggregate: its id, its version (events applied), and the events recorded by
    commands since it was loaded (`pull_changes`)."""

    stream_prefix: ClassVar[str] = ""
    """Stream ids are `stream_prefix + aggregate_id` (for example `ledger-` for the payment ledger)."""
    _mutators: ClassVar[dict[type[EventPayload], Mutator]] = {}

    version: int = 0
    _changes: list[E] = field(default_factory=list, repr=False, compare=False)

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        table: dict[type[EventPayload], Mutator] = {}
        for klass in reversed(cls.__mro__):
            for member in vars(klass).values():
                for event_type in getattr(member, "_applies", ()):
                    table[event_type] = member
        cls._mutators = table

    # --- identity -----------------------------------------------------------------------------

    @property
    def aggregate_id(self) -> str:
        raise NotImplementedError

    @classmethod
    def new(cls, aggregate_id: str) -> Self:
        """An aggregate with no history yet (subclasses with more required fields override this)."""
        raise NotImplementedError

    @classmethod
    def stream_id_for(cls, aggregate_id: str) -> str:
        return cls.stream_prefix + aggregate_id

    @property
    def stream_id(self) -> str:
        return self.stream_id_for(self.aggregate_id)

    @classmethod
    def handled_event_types(cls) -> frozenset[type[EventPayload]]:
        return frozenset(cls._mutators)

    # --- rebuilding ---------------------------------------------------------------------------

    @classmethod
    def from_events(cls, aggregate_id: str, events: Iterable[E | tuple[E, datetime | None]]) -> Self:
        """Replay events (current models, each optionally with the time it happened)."""
        aggregate = cls.new(aggregate_id)
        for item in events:
            event, at = item if isinstance(item, tuple) else (item, None)
            aggregate.apply(event, at)
            aggregate.version += 1
        aggregate._replayed()
        return aggregate

    @classmethod
    def from_history(cls, aggregate_id: str, history: Iterable[RecordedEvent]) -> Self:
        """Replay stored events, upcast to the catalogue's current versions."""
        return cls.from_events(aggregate_id, (decode(r) for r in history))  # type: ignore[misc]

    def _replayed(self) -> None:
        """Called once a replay is done (an aggregate may reset bookkeeping of what changed)."""

    # --- evolving -----------------------------------------------------------------------------

    def apply(self, event: E, at: datetime | None = None) -> None:
        mutator = self._mutators.get(type(event))
        if mutator is None:
            raise UnknownAggregateEvent(
                f"{type(self).__name__} has no mutator for {type(event).__name__}"
                f" ({event.type_name()}); refusing it rather than ignoring it"
            )
        mutator(self, event, at)

    def _record(self, event: E, at: datetime | None = None) -> None:
        """Apply a new event decided by a command and keep it for the next append."""
        self.apply(event, at)
        self._changes.append(event)

    @property
    def pending(self) -> list[E]:
        """The events recorded since the aggregate was loaded (not yet appended)."""
        return self._changes

    def pull_changes(self) -> list[E]:
        changes, self._changes = self._changes, []
        return changes
