"""A partition batch of placements opens its cases together, and each case's events still name the
placement that caused them; updates between them apply in offset order; a refused placement fails
the batch (the consumer then applies it record by record and dead-letters only that one)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from case_service.adapters.memory import InMemoryCaseService
from case_service.adapters.unit_of_work_contract import placement
from case_service.application import commands as c
from case_service.application.consumers import CaseConsumers
from case_service.application.ports import CaseEnvironment
from case_service.domain.policy import CollectionPolicy
from dcp_events.catalogue import integration
from dcp_events.catalogue.base import CaseAmounts, Money
from dcp_events.catalogue.building import new_event
from dcp_platform.clock import ManualClock
from dcp_platform.eventsourcing.consumer import Delivery, PoisonMessage

NOW = datetime(2026, 11, 30, 10, 0, tzinfo=UTC)


@pytest.fixture
def service(policy: CollectionPolicy) -> InMemoryCaseService:
    return InMemoryCaseService(CaseEnvironment(policy, ManualClock(NOW)))


def delivery(
    payload: integration.AccountPlaced | integration.PlacementUpdated, case_id: str, n: int
) -> Delivery:
    event = new_event(
        payload,
        subject=case_id,
        source="/core-banking",
        actor=f"integrator-{n}",
        actorrole="integration",
        correlationid=f"file-row-{n}",
        time=NOW,
    )
    return Delivery("integration.placements", 0, n, case_id.encode(), b"", str(event.id), event)


def placed(p: c.Placement) -> integration.AccountPlaced:
    return integration.AccountPlaced(
        placement_id=f"plc-{p.account.account_reference}",
        debtor=p.debtor,
        account=p.account,
        amounts=p.amounts,
        due_since=p.due_since,
        days_past_due=(NOW.date() - p.due_since).days,
        jurisdiction=p.jurisdiction,
        risk_score=p.risk_score,
    )


async def test_a_batch_opens_every_case_caused_by_its_own_placement(service: InMemoryCaseService) -> None:
    placements = [placement(f"B-{n}") for n in range(4)]
    batch = [delivery(placed(p), p.case_id, n) for n, p in enumerate(placements)]
    # An update of the second case between the placements: it applies after that case opened.
    gbp = Money(amount_minor=80_000, currency="GBP")
    zero = Money(amount_minor=0, currency="GBP")
    update = integration.PlacementUpdated(
        placement_id="plc-B-1",
        account=placements[1].account,
        amounts=CaseAmounts(principal=gbp, interest=zero, fees=zero, total_balance=gbp),
    )
    batch.insert(2, delivery(update, placements[1].case_id, 99))
    batch.append(delivery(placed(placements[0]), placements[0].case_id, 100))  # a repeat opens nothing

    async with service.store.transaction() as tx:
        tx.state["case_books"] = service.books.copy()
        await CaseConsumers(service.bus).on_placements(tx, batch)

    causes = {d.event_id: d for d in batch}
    for n, p in enumerate(placements):
        events = await service.store.load(p.case_id)
        assert [e.event_type for e in events].count("collections.case.opened.v1") == 1
        opening = [e for e in events if e.event_type != "collections.case.balance_changed.v1"]
        for event in opening:
            cause = causes[event.metadata["causationid"]]
            assert cause.event.correlationid == f"file-row-{n}"
            assert event.metadata["actor"] == f"integrator-{n}"
    case = await service.repository.get(placements[1].case_id)
    assert case.balance == Money(amount_minor=80_000, currency="GBP")
    changed = [
        e for e in await service.store.load(placements[1].case_id) if "balance_changed" in e.event_type
    ]
    assert [e.metadata["causationid"] for e in changed] == [batch[2].event_id]


async def test_a_refused_placement_fails_the_batch(service: InMemoryCaseService) -> None:
    good, bad = placement("OK-1"), placement("LATE-1")
    future = integration.AccountPlaced(
        **{**placed(bad).model_dump(), "due_since": NOW.date() + timedelta(days=3)}
    )
    batch = [delivery(placed(good), good.case_id, 0), delivery(future, bad.case_id, 1)]
    with pytest.raises(PoisonMessage, match="offset 1 refused: due_since"):
        async with service.store.transaction() as tx:
            tx.state["case_books"] = service.books.copy()
            await CaseConsumers(service.bus).on_placements(tx, batch)
