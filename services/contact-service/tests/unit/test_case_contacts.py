"""The contact side of a case on the in-memory event store: what the gate decided is recorded once,
replays the same, and old event versions are upcast (no stack needed)."""

from __future__ import annotations

from datetime import UTC, date, datetime

import pytest

from contact_service.application.ports import contacts_repository
from contact_service.domain.contacts import CaseContacts
from dcp_events.catalogue.base import Money
from dcp_events.catalogue.cases import CaseClosed
from dcp_events.catalogue.contacts import (
    CeaseRequested,
    ContactAttempted,
    ContactAttemptedV1,
    ContactBlocked,
    PromiseMade,
)
from dcp_events.catalogue.enums import Channel, CloseReason, ContactOutcome, ContactParty
from dcp_platform.clock import ManualClock
from dcp_platform.eventsourcing.aggregate import UnknownAggregateEvent
from dcp_platform.eventsourcing.memory import InMemoryEventStore
from dcp_platform.eventsourcing.store import NewEvent

NOW = datetime(2026, 3, 2, 15, 0, tzinfo=UTC)


def attempted(
    attempt_id: str, outcome: ContactOutcome = ContactOutcome.RIGHT_PARTY_CONTACT
) -> ContactAttempted:
    return ContactAttempted(
        attempt_id=attempt_id,
        channel=Channel.PHONE,
        party=ContactParty.DEBTOR,
        agency_id=None,
        outcome=outcome,
        duration_seconds=60,
        recording_ref=None,
    )


def blocked(attempt_id: str) -> ContactBlocked:
    return ContactBlocked(
        attempt_id=attempt_id,
        channel=Channel.PHONE,
        party=ContactParty.DEBTOR,
        rule_id="US-REGF-TIME",
        citation="12 CFR 1006.6(b)(1)(i)",
        reason="before 08:00 local time",
        rule_pack_id="US-REGF",
        rule_pack_version="2026.1",
    )


@pytest.fixture
def store() -> InMemoryEventStore:
    return InMemoryEventStore()


async def test_attempts_promises_and_requests_are_recorded_and_replayed(store: InMemoryEventStore) -> None:
    repo = contacts_repository(store, ManualClock(NOW))
    contacts = CaseContacts.new("case-1")
    assert contacts.record_attempt(attempted("a-1"), NOW)
    assert contacts.record_attempt(blocked("a-2"), NOW)
    contacts.make_promise(
        PromiseMade(
            promise_id="p-1",
            amount=Money(amount_minor=5000, currency="USD"),
            due_on=date(2026, 3, 9),
            channel=Channel.PHONE,
        ),
        NOW,
    )
    contacts.record_request(CeaseRequested(request_id="r-1", received_via=Channel.LETTER), NOW)
    recorded = await repo.save(contacts, jurisdiction="US")
    assert [r.metadata["jurisdiction"] for r in recorded] == ["US"] * 4
    assert all(r.stream_id == "case-1" for r in recorded)

    loaded = await repo.get("case-1")
    assert loaded.version == 4
    assert loaded.attempts["a-1"].allowed and not loaded.attempts["a-2"].allowed
    assert loaded.attempts["a-2"].rule_id == "US-REGF-TIME"
    assert loaded.promises["p-1"].amount.amount_minor == 5000
    assert loaded.requests == ["collections.contact.cease_requested.v1"]
    assert loaded.last_contact_at == NOW


async def test_an_attempt_id_is_recorded_once_whatever_its_verdict(store: InMemoryEventStore) -> None:
    repo = contacts_repository(store, ManualClock(NOW))
    contacts = CaseContacts.new("case-2")
    assert contacts.record_attempt(blocked("a-1"), NOW)
    await repo.save(contacts)
    again = await repo.get("case-2")
    assert not again.record_attempt(attempted("a-1"), NOW)  # a retried request: nothing new
    assert again.pending == []


async def test_only_debtor_requests_are_recorded_as_requests() -> None:
    with pytest.raises(TypeError):
        CaseContacts.new("case-3").record_request(attempted("a-1"), NOW)


async def test_a_v1_attempt_is_upcast_on_replay(store: InMemoryEventStore) -> None:
    old = ContactAttemptedV1(
        attempt_id="a-old",
        channel=Channel.PHONE,
        party=ContactParty.DEBTOR,
        outcome=ContactOutcome.NO_ANSWER,
        duration_seconds=0,
    )
    await store.append("case-4", 0, [_stored(old)])
    loaded = await contacts_repository(store, ManualClock(NOW)).get("case-4")
    assert loaded.attempts["a-old"].allowed
    assert loaded.attempts["a-old"].outcome is ContactOutcome.NO_ANSWER


async def test_an_event_the_contact_stream_does_not_know_is_refused(store: InMemoryEventStore) -> None:
    closed = CaseClosed(reason=CloseReason.RECALLED, final_balance=Money(amount_minor=0, currency="USD"))
    await store.append("case-5", 0, [_stored(closed)])
    with pytest.raises(UnknownAggregateEvent):
        await contacts_repository(store, ManualClock(NOW)).get("case-5")


def _stored(payload: object) -> NewEvent:
    from dcp_events.catalogue.base import EventPayload

    assert isinstance(payload, EventPayload)
    return NewEvent(
        event_type=payload.type_name(),
        topic=type(payload).topic,
        subject="case",
        data=payload.model_dump(mode="json"),
        envelope={"time": NOW.isoformat()},
    )
