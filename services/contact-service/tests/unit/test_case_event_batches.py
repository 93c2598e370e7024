"""A consumed batch of case events folds to the same case rows as the events folded one by one."""

from __future__ import annotations

import dataclasses
from datetime import UTC, datetime, timedelta
from typing import Any

from contact_service.adapters.memory import InMemoryContactService
from contact_service.adapters.unit_of_work_contract import case_opened
from contact_service.application import commands as c
from contact_service.application.ports import CaseRow, ContactEnvironment
from contact_service.domain.profile import profile_after, profile_erased, profile_of
from dcp_compliance import apply_payload
from dcp_events.catalogue.cases import (
    CaseAssigned,
    CaseBalanceChanged,
    CaseClosed,
    CaseOpened,
    CaseReopened,
    CaseStrategyAssigned,
    ErasureCompleted,
)
from dcp_events.catalogue.examples import EXAMPLES
from dcp_platform.clock import ManualClock

START = datetime(2026, 6, 10, 16, 0, tzinfo=UTC)


def case_events() -> list[c.FoldCaseEvent]:
    """Two cases opened, then every catalogued case event on each, interleaved, and events of a case
    never opened here; a repeated opening of the first case last."""
    examples = [
        p for p in EXAMPLES.values() if type(p).topic == "collections.cases" and not isinstance(p, CaseOpened)
    ]
    first, second = case_opened("case-a", "US"), case_opened("case-b", "GB", debtor_id="debtor-b")
    events = [c.FoldCaseEvent("case-a", first, START), c.FoldCaseEvent("case-b", second, START)]
    for n, payload in enumerate(examples):
        at = START + timedelta(minutes=n)
        events += [
            c.FoldCaseEvent("case-a", payload, at),
            c.FoldCaseEvent("case-unknown", payload, at),
            c.FoldCaseEvent("case-b", payload, at),
        ]
    return [*events, c.FoldCaseEvent("case-a", case_opened("case-a", "GB", debtor_id="someone-else"), START)]


async def test_a_batch_folds_as_the_events_one_by_one() -> None:
    events = case_events()
    assert len({type(e.payload) for e in events}) > 8  # the catalogue's case events, not a handful
    together = InMemoryContactService(ContactEnvironment(ManualClock(START)))
    one_by_one = InMemoryContactService(ContactEnvironment(ManualClock(START)))

    await together.handle(c.FoldCaseEvents(events))
    for event in events:
        await one_by_one.handle(event)

    assert together.books.cases == one_by_one.books.cases
    assert set(together.books.cases) == {"case-a", "case-b"}
    for case_id in ("case-a", "case-b"):
        assert together.books.cases[case_id] == expected(case_id, events)


def expected(case_id: str, events: list[c.FoldCaseEvent]) -> CaseRow:
    """The row the events of `case_id` make, worked out here field by field from the events."""
    mine = [e for e in events if e.case_id == case_id]
    opened = mine[0].payload
    assert isinstance(opened, CaseOpened)
    facts = apply_payload(None, opened, case_id, mine[0].at)
    assert facts is not None
    row = CaseRow(
        case_id=case_id,
        debtor_id=opened.debtor.debtor_id,
        jurisdiction=opened.jurisdiction,
        status="open",
        assignee_kind=None,
        assignee_id=None,
        currency=opened.amounts.total_balance.currency,
        balance_minor=opened.amounts.total_balance.amount_minor,
        risk_score=opened.risk_score,
        strategy_assigned_at=None,
        treatment=[],
        facts=facts,
        creditor_id=opened.account.creditor_id,
        profile=profile_of(opened, mine[0].at),  # what letters say (its fold: test_channels.py)
    )
    for event in mine[1:]:
        p = event.payload
        if isinstance(p, CaseOpened):
            continue
        change: dict[str, Any] = {"facts": apply_payload(row.facts, p, case_id, event.at) or row.facts}
        if isinstance(p, CaseAssigned):
            change.update(assignee_kind=p.assignee.kind.value, assignee_id=p.assignee.id)
        elif isinstance(p, CaseClosed):
            change.update(status="closed", balance_minor=p.final_balance.amount_minor)
        elif isinstance(p, CaseReopened):
            change.update(status="open")
        elif isinstance(p, CaseBalanceChanged):
            change.update(balance_minor=p.balance_after.amount_minor, profile=profile_after(row.profile, p))
        elif isinstance(p, ErasureCompleted):
            change.update(profile=profile_erased(row.profile))
        elif isinstance(p, CaseStrategyAssigned):
            change.update(
                strategy_assigned_at=event.at,
                treatment=[s.model_dump(mode="json") for s in p.treatment or []],
                profile={**row.profile, "worklist_order": p.worklist_order or "policy", "segment": p.segment},
            )
        row = dataclasses.replace(row, **change)
    return row


async def test_a_batch_split_across_two_folds_ends_in_the_same_rows() -> None:
    events = case_events()
    split = InMemoryContactService(ContactEnvironment(ManualClock(START)))
    whole = InMemoryContactService(ContactEnvironment(ManualClock(START)))
    await split.handle(c.FoldCaseEvents(events[:7]))
    await split.handle(c.FoldCaseEvents(events[7:]))
    await whole.handle(c.FoldCaseEvents(events))
    assert split.books.cases == whole.books.cases
