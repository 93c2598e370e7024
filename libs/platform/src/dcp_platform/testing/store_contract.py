"""The event store and repository contract: one abstract suite every store implementation passes.

The pattern of the eventsourcing library's recorder test cases: `EventStoreContract` is not
collected itself; each store adapter subclasses it in a `Test...` class and provides the `store`
fixture (and `read_model`, a way to see what a projector wrote). The PostgreSQL store runs it in
`libs/platform/tests/integration`, the in-memory store in `libs/platform/tests/unit`, so the fast
application tests of the services run on a store that behaves like the real one.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Self
from uuid import uuid4

import pytest

from dcp_events.catalogue.contacts import ChannelOptedOut, ContactAttempted, ContactAttemptedV1
from dcp_events.catalogue.enums import Channel, ContactOutcome, ContactParty
from dcp_platform.clock import ManualClock
from dcp_platform.context import bind_context
from dcp_platform.eventsourcing.aggregate import Aggregate, UnknownAggregateEvent, applies
from dcp_platform.eventsourcing.repository import AggregateNotFound, Repository
from dcp_platform.eventsourcing.store import (
    ConcurrencyConflict,
    DuplicateEventId,
    NewEvent,
)

NOW = datetime(2026, 3, 2, 10, 0, tzinfo=UTC)


@dataclass(kw_only=True)
class ContactLedger(Aggregate[Any]):
    """A small aggregate of catalogue events, for the contract only."""

    stream_prefix = "contract-"
    ledger_id: str
    attempts: list[str] = field(default_factory=list)
    outcomes: dict[str, ContactOutcome] = field(default_factory=dict)
    recordings: dict[str, str | None] = field(default_factory=dict)
    opted_out: set[Channel] = field(default_factory=set)
    times: list[datetime | None] = field(default_factory=list)

    @property
    def aggregate_id(self) -> str:
        return self.ledger_id

    @classmethod
    def new(cls, aggregate_id: str) -> Self:
        return cls(ledger_id=aggregate_id)

    def attempt(self, attempt_id: str, outcome: ContactOutcome = ContactOutcome.NO_ANSWER) -> None:
        self._record(
            ContactAttempted(
                attempt_id=attempt_id,
                channel=Channel.PHONE,
                party=ContactParty.DEBTOR,
                agency_id=None,
                outcome=outcome,
                duration_seconds=0,
                recording_ref=None,
            ),
            NOW,
        )

    def opt_out(self, channel: Channel) -> None:
        self._record(ChannelOptedOut(channel=channel, received_via=Channel.PHONE), NOW)

    @applies(ContactAttempted)
    def _attempted(self, event: ContactAttempted, at: datetime | None) -> None:
        self.attempts.append(event.attempt_id)
        self.outcomes[event.attempt_id] = event.outcome
        self.recordings[event.attempt_id] = event.recording_ref
        self.times.append(at)

    @applies(ChannelOptedOut)
    def _opted_out(self, event: ChannelOptedOut, at: datetime | None) -> None:
        self.opted_out.add(event.channel)
        self.times.append(at)


def new_event(stream: str, payload: Any = None) -> NewEvent:
    payload = payload or ChannelOptedOut(channel=Channel.SMS, received_via=Channel.PHONE)
    return NewEvent(
        event_type=payload.type_name(),
        topic=type(payload).topic,
        subject=stream,
        data=payload.model_dump(mode="json"),
        envelope={"time": NOW.isoformat(), "source": "/contract"},
    )


def stream() -> str:
    return f"s-{uuid4().hex[:12]}"


class EventStoreContract:
    """Subclass with a `store` fixture (an empty store) and a `projected` fixture: it registers a
    projector on the store that writes the ids of the events it projects into the store's own
    transaction, and is an async function returning the ids whose transaction committed."""

    # --- the store ---------------------------------------------------------------------------

    async def test_a_new_stream_starts_at_version_zero(self, store: Any) -> None:
        s = stream()
        assert await store.version(s) == 0
        assert await store.load(s) == []

    async def test_appends_number_the_events_from_the_expected_version(self, store: Any) -> None:
        s = stream()
        first = await store.append(s, 0, [new_event(s), new_event(s)])
        assert [e.stream_version for e in first] == [1, 2]
        more = await store.append(s, 2, [new_event(s)])
        assert [e.stream_version for e in more] == [3]
        loaded = await store.load(s)
        assert [e.event_id for e in loaded] == [e.event_id for e in (*first, *more)]
        assert [e.stream_version for e in await store.load(s, after_version=1)] == [2, 3]
        assert await store.version(s) == 3

    async def test_which_of_many_streams_exist_in_one_call(self, store: Any) -> None:
        a, b, never = stream(), stream(), stream()
        await store.append(a, 0, [new_event(a)])
        await store.append(b, 0, [new_event(b), new_event(b)])
        assert await store.existing([a, never, b]) == {a, b}
        assert await store.existing([]) == set()
        async with store.transaction() as tx:
            await store.append(never, 0, [new_event(never)], conn=tx)
            assert await store.existing([never], conn=tx) == {never}  # the transaction's own appends

    async def test_many_streams_load_and_append_in_one_call_all_or_nothing(self, store: Any) -> None:
        a, b, c = stream(), stream(), stream()
        await store.append(a, 0, [new_event(a)])
        await store.append(b, 0, [new_event(b), new_event(b)])
        async with store.transaction() as tx:
            assert (
                await store.append_streams(
                    [(a, 1, [new_event(a)]), (b, 2, [new_event(b)]), (c, 0, [new_event(c)])], conn=tx
                )
                == 3
            )
        loaded = await store.load_many([a, b, c, stream()])
        assert {s: [e.stream_version for e in events] for s, events in loaded.items()} == {
            a: [1, 2],
            b: [1, 2, 3],
            c: [1],
        }
        with pytest.raises(ConcurrencyConflict):
            async with store.transaction() as tx:
                await store.append_streams([(c, 1, [new_event(c)]), (a, 1, [new_event(a)])], conn=tx)
        assert await store.version(c) == 1  # a stale stream refused the whole statement
        assert await store.load_many([]) == {}

    async def test_positions_grow_in_append_order(self, store: Any) -> None:
        a, b = stream(), stream()
        one = await store.append(a, 0, [new_event(a)])
        two = await store.append(b, 0, [new_event(b)])
        assert two[0].position > one[0].position
        after = await store.read_all(after_position=one[0].position - 1)
        assert [e.event_id for e in after][:2] == [one[0].event_id, two[0].event_id]

    async def test_a_stale_expected_version_is_a_conflict_and_writes_nothing(self, store: Any) -> None:
        s = stream()
        await store.append(s, 0, [new_event(s)])
        with pytest.raises(ConcurrencyConflict):
            await store.append(s, 0, [new_event(s), new_event(s)])
        with pytest.raises(ConcurrencyConflict):
            await store.append(s, 5, [new_event(s)])
        assert await store.version(s) == 1

    async def test_an_event_id_is_stored_once(self, store: Any) -> None:
        a, b = stream(), stream()
        event = new_event(a)
        await store.append(a, 0, [event])
        with pytest.raises(DuplicateEventId):
            await store.append(b, 0, [event])
        assert await store.version(b) == 0

    async def test_the_stored_event_keeps_type_payload_and_envelope(self, store: Any) -> None:
        s = stream()
        event = new_event(s)
        [recorded] = await store.append(s, 0, [event])
        [loaded] = await store.load(s)
        for got in (recorded, loaded):
            assert got.event_type == "collections.contact.channel_opted_out.v1"
            assert got.topic == "collections.contacts"
            assert got.payload == dict(event.data)
            assert got.metadata["source"] == "/contract"
            assert got.subject == s

    async def test_a_transaction_commits_all_its_appends_or_none(self, store: Any) -> None:
        a, b = stream(), stream()
        async with store.transaction() as tx:
            await store.append(a, 0, [new_event(a)], conn=tx)
            await store.append(b, 0, [new_event(b)], conn=tx)
            assert await store.version(a, conn=tx) == 1  # the transaction sees its own appends
        assert (await store.version(a), await store.version(b)) == (1, 1)

        c = stream()
        with pytest.raises(RuntimeError):
            async with store.transaction() as tx:
                await store.append(c, 0, [new_event(c)], conn=tx)
                raise RuntimeError("the command failed after appending")
        assert await store.version(c) == 0

    async def test_a_conflict_inside_a_transaction_leaves_it_usable(self, store: Any) -> None:
        a, b = stream(), stream()
        await store.append(a, 0, [new_event(a)])
        async with store.transaction() as tx:
            with pytest.raises(ConcurrencyConflict):
                await store.append(a, 0, [new_event(a)], conn=tx)
            await store.append(b, 0, [new_event(b)], conn=tx)
        assert (await store.version(a), await store.version(b)) == (1, 1)

    async def test_projectors_run_in_the_appending_transaction(self, store: Any, projected: Any) -> None:
        a, c = stream(), stream()
        [event] = await store.append(a, 0, [new_event(a)])
        assert await projected() == [event.event_id]
        with pytest.raises(RuntimeError):
            async with store.transaction() as tx:
                await store.append(c, 0, [new_event(c)], conn=tx)
                raise RuntimeError("rolled back")
        assert await projected() == [event.event_id]  # the rolled-back append projected nothing

    async def test_new_streams_in_bulk_are_all_or_nothing(self, store: Any) -> None:
        a, b, existing = stream(), stream(), stream()
        await store.append(existing, 0, [new_event(existing)])
        async with store.transaction() as tx:
            count = await store.append_new_streams(
                [(a, [new_event(a), new_event(a)]), (b, [new_event(b)])], conn=tx
            )
        assert count == 3
        assert (await store.version(a), await store.version(b)) == (2, 1)
        c = stream()
        async with store.transaction() as tx:
            with pytest.raises(ConcurrencyConflict):
                await store.append_new_streams(
                    [(c, [new_event(c)]), (existing, [new_event(existing)])], conn=tx
                )
        assert await store.version(c) == 0

    async def test_concurrent_writers_of_one_stream_one_wins(self, store: Any) -> None:
        s = stream()
        await store.append(s, 0, [new_event(s)])
        results = await asyncio.gather(
            *(store.append(s, 1, [new_event(s)]) for _ in range(4)), return_exceptions=True
        )
        assert sum(1 for r in results if isinstance(r, list)) == 1
        assert all(isinstance(r, list | ConcurrencyConflict) for r in results)
        assert await store.version(s) == 2

    # --- the repository over the store ------------------------------------------------------

    def repository(self, store: Any) -> Repository[ContactLedger]:
        return Repository(store, ContactLedger, source="/contract", clock=ManualClock(NOW))

    async def test_the_repository_saves_and_rebuilds_an_aggregate(self, store: Any) -> None:
        repo = self.repository(store)
        ledger = ContactLedger.new(uuid4().hex)
        ledger.attempt("a-1", ContactOutcome.RIGHT_PARTY_CONTACT)
        ledger.opt_out(Channel.SMS)
        with bind_context(actor_id="col-7", actor_role="collector", correlation_id="corr-1"):
            recorded = await repo.save(ledger)
        assert ledger.version == 2 and ledger.pending == []
        assert recorded[0].stream_id == f"contract-{ledger.ledger_id}"
        assert recorded[0].metadata["actor"] == "col-7"
        assert recorded[0].metadata["correlationid"] == "corr-1"
        assert recorded[0].metadata["source"] == "/contract"

        loaded = await repo.get(ledger.ledger_id)
        assert loaded.version == 2
        assert loaded.attempts == ["a-1"]
        assert loaded.outcomes == {"a-1": ContactOutcome.RIGHT_PARTY_CONTACT}
        assert loaded.opted_out == {Channel.SMS}
        assert loaded.times == [NOW, NOW]  # each event replays with the time it happened
        assert await repo.exists(ledger.ledger_id)
        assert await repo.existing([ledger.ledger_id, "nobody"]) == {ledger.ledger_id}

    async def test_an_unknown_aggregate_is_not_found(self, store: Any) -> None:
        repo = self.repository(store)
        assert await repo.find("nobody") is None
        assert not await repo.exists("nobody")
        with pytest.raises(AggregateNotFound):
            await repo.get("nobody")

    async def test_saving_a_stale_aggregate_is_a_conflict(self, store: Any) -> None:
        repo = self.repository(store)
        ledger = ContactLedger.new(uuid4().hex)
        ledger.attempt("a-1")
        await repo.save(ledger)
        first, second = await repo.get(ledger.ledger_id), await repo.get(ledger.ledger_id)
        first.attempt("a-2")
        await repo.save(first)
        second.attempt("a-3")
        with pytest.raises(ConcurrencyConflict):
            await repo.save(second)
        assert second.pending != []  # nothing lost: a retry on a fresh load can record it again
        assert (await repo.get(ledger.ledger_id)).attempts == ["a-1", "a-2"]

    async def test_old_event_versions_are_upcast_on_replay(self, store: Any) -> None:
        repo = self.repository(store)
        ledger_id = uuid4().hex
        old = ContactAttemptedV1(
            attempt_id="a-old",
            channel=Channel.PHONE,
            party=ContactParty.DEBTOR,
            outcome=ContactOutcome.NO_ANSWER,
            duration_seconds=0,
        )
        await store.append(ContactLedger.stream_id_for(ledger_id), 0, [new_event(ledger_id, old)])
        loaded = await repo.get(ledger_id)
        assert loaded.attempts == ["a-old"]
        assert loaded.recordings == {"a-old": None}  # the v2 field the upcaster added

    async def test_an_event_the_aggregate_does_not_handle_is_refused(self, store: Any) -> None:
        from dcp_events.catalogue.contacts import CeaseRequested

        repo = self.repository(store)
        ledger_id = uuid4().hex
        unknown = CeaseRequested(request_id="r-1", received_via=Channel.LETTER)
        await store.append(ContactLedger.stream_id_for(ledger_id), 0, [new_event(ledger_id, unknown)])
        with pytest.raises(UnknownAggregateEvent):
            await repo.get(ledger_id)
