"""The case ledger as an event-sourced aggregate: rebuilt from its stream, one mutator per payment
event type, and an event it has no mutator for refused rather than ignored."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from dcp_events.catalogue import Money, PaymentMethod, PaymentReceived
from dcp_events.catalogue.cases import CaseClosed
from dcp_events.catalogue.enums import CloseReason
from dcp_events.catalogue.payments import PaymentEvent
from dcp_events.catalogue.registry import CURRENT
from dcp_platform.clock import ManualClock
from dcp_platform.eventsourcing.aggregate import UnknownAggregateEvent
from dcp_platform.eventsourcing.memory import InMemoryEventStore
from dcp_platform.eventsourcing.records import NewEvent
from dcp_platform.eventsourcing.store import ConcurrencyConflict
from payment_service.adapters import ledgers
from payment_service.domain.ledger import (
    ArrangementPolicy,
    CaseFacts,
    CaseLedger,
    PaymentStatus,
)

NOW = datetime(2027, 1, 10, 12, 0, tzinfo=UTC)
POLICY = ArrangementPolicy()
CASE = CaseFacts("case-1", "GBP", 100_000, "Europe/London", "GB", closed=False)


def gbp(minor: int) -> Money:
    return Money(amount_minor=minor, currency="GBP")


def pay(ledger: CaseLedger, pid: str, minor: int, at: datetime) -> None:
    ledger.receive_payment(
        payment_id=pid,
        amount=gbp(minor),
        method=PaymentMethod.CARD,
        external_reference=f"ref-{pid}",
        received_at=at,
        case=CASE,
        now=at,
        policy=POLICY,
    )


def case_closed() -> CaseClosed:
    return CaseClosed(reason=CloseReason.PAID_IN_FULL, final_balance=gbp(0))


def test_every_payment_event_type_of_the_catalogue_has_a_mutator() -> None:
    payment_events = {m for m in CURRENT.values() if issubclass(m, PaymentEvent)}
    assert payment_events
    assert CaseLedger.handled_event_types() == payment_events


def test_an_event_type_the_ledger_has_no_mutator_for_is_refused() -> None:
    ledger = CaseLedger("case-1")
    with pytest.raises(UnknownAggregateEvent):
        ledger.apply(case_closed(), NOW)
    with pytest.raises(UnknownAggregateEvent):
        CaseLedger.from_events("case-1", [(case_closed(), NOW)])


async def test_a_stored_event_the_ledger_has_no_mutator_for_is_refused_on_load() -> None:
    store = InMemoryEventStore()
    foreign = case_closed()
    await store.append(
        ledgers.stream_id("case-1"),
        0,
        [
            NewEvent(
                event_type=foreign.type_name(),
                topic=type(foreign).topic,
                subject="case-1",
                data=foreign.model_dump(mode="json"),
                envelope={"time": NOW.isoformat()},
            )
        ],
    )
    async with store.transaction() as tx:
        with pytest.raises(UnknownAggregateEvent):
            await ledgers.load(store, tx, "case-1")


def test_a_ledger_event_replayed_without_its_time_is_refused() -> None:
    event = PaymentReceived(
        payment_id="p1",
        amount=gbp(5000),
        method=PaymentMethod.CARD,
        external_reference="ref-p1",
        received_at=NOW,
    )
    with pytest.raises(ValueError, match="without the time it happened"):
        CaseLedger.from_events("case-1", [event])


def test_the_ledger_stream_is_named_for_the_case() -> None:
    assert CaseLedger.stream_prefix == "ledger-"
    assert CaseLedger("case-1").stream_id == "ledger-case-1" == ledgers.stream_id("case-1")


async def test_a_saved_ledger_loads_back_with_the_times_its_events_were_stored_at() -> None:
    store = InMemoryEventStore()
    clock = ManualClock(NOW)
    ledger = CaseLedger("case-1")
    pay(ledger, "p1", 5000, NOW)
    decided = list(ledger.pending)
    async with store.transaction() as tx:
        recorded = await ledgers.append(store, tx, ledger, clock, CASE.jurisdiction)
    assert [r.stream_version for r in recorded] == [1]
    assert ledger.pending == [] and ledger.version == 1
    assert datetime.fromisoformat(recorded[0].metadata["time"]) == NOW

    clock.advance(timedelta(hours=1))
    async with store.transaction() as tx:
        loaded = await ledgers.load(store, tx, "case-1")
    assert loaded.version == 1
    assert loaded.pending == []
    assert loaded.touched == set()  # a replay writes no read model
    assert loaded.payments["p1"].status is PaymentStatus.APPLIED
    assert loaded.payments["p1"].applied_at == NOW  # the event's time, not the loader's
    assert loaded.payments == CaseLedger.from_events("case-1", [(e, NOW) for e in decided]).payments

    pay(loaded, "p2", 2000, NOW + timedelta(hours=1))
    assert loaded.touched == {("payment", "p2")}
    async with store.transaction() as tx:
        more = await ledgers.append(store, tx, loaded, clock, CASE.jurisdiction)
    assert [r.stream_version for r in more] == [2]
    assert loaded.version == 2


async def test_an_append_after_another_writer_is_a_conflict_and_keeps_the_events_pending() -> None:
    store = InMemoryEventStore()
    clock = ManualClock(NOW)
    first, second = CaseLedger("case-1"), CaseLedger("case-1")
    pay(first, "p1", 5000, NOW)
    pay(second, "p2", 2000, NOW)
    async with store.transaction() as tx:
        await ledgers.append(store, tx, first, clock, None)
    with pytest.raises(ConcurrencyConflict):
        async with store.transaction() as tx:
            await ledgers.append(store, tx, second, clock, None)
    assert [type(e) for e in second.pending] == [PaymentReceived]
    assert second.version == 0
