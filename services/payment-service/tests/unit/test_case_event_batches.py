"""A consumed batch of case events records what the events one by one would: the case facts and
assignees, and the payments held for a case opened in the batch applied, caused by that opening."""

from __future__ import annotations

import uuid
from dataclasses import replace

from dcp_events import catalogue as ev
from dcp_events.catalogue.building import new_event
from dcp_events.catalogue.cases import CaseAssigned, CaseBalanceChanged, CaseClosed, CaseOpened
from dcp_events.catalogue.debtor import Account, Debtor
from dcp_events.catalogue.enums import AssigneeKind, BalanceChangeReason, CloseReason
from dcp_platform.clock import ManualClock
from dcp_platform.eventsourcing.consumer import Delivery
from payment_service.adapters.memory import InMemoryPaymentService
from payment_service.adapters.unit_of_work_contract import NOW, POLICY, TZ
from payment_service.application import commands as c
from payment_service.application.consumers import PaymentConsumers
from payment_service.application.ports import PaymentEnvironment


def gbp(minor: int) -> ev.Money:
    return ev.Money(amount_minor=minor, currency="GBP")


def opened(case_id: str, balance: int) -> CaseOpened:
    return CaseOpened(
        account=Account(creditor_id="bank", account_reference=case_id, product="loan"),
        debtor=Debtor(
            debtor_id=f"d-{case_id}",
            full_name="Ada",
            language="en",
            time_zone=TZ,
            time_zone_source="declared",
        ),
        amounts=ev.CaseAmounts(
            principal=gbp(balance), interest=gbp(0), fees=gbp(0), total_balance=gbp(balance)
        ),
        due_since=NOW.date(),
        days_past_due=30,
        jurisdiction="GB",
        risk_score=None,
        placement_id=None,
    )


def delivery(case_id: str, payload: ev.EventPayload, n: int) -> Delivery:
    event = new_event(
        payload,
        subject=case_id,
        source="/case-service",
        actor=f"actor-{n}",
        actorrole="service",
        correlationid=f"corr-{n}",
        time=NOW,
    )
    return Delivery("collections.cases", 0, n, case_id.encode(), b"", str(event.id), event)


def batch() -> list[Delivery]:
    events: list[tuple[str, ev.EventPayload]] = [
        ("case-a", opened("case-a", 10_000)),
        ("case-b", opened("case-b", 20_000)),
        ("case-a", CaseAssigned(assignee=ev.Assignee(kind=AssigneeKind.COLLECTOR, id="col-1"), reason="r")),
        ("case-unknown", CaseAssigned(assignee=ev.Assignee(kind=AssigneeKind.TEAM, id="t"), reason="r")),
        (
            "case-a",
            CaseBalanceChanged(
                reason=BalanceChangeReason.PAYMENT,
                change=ev.MoneyDelta(delta_minor=-4_000, currency="GBP"),
                balance_after=gbp(6_000),
            ),
        ),
        ("case-b", CaseClosed(reason=CloseReason.PAID_IN_FULL, final_balance=gbp(0))),
        ("case-unknown", CaseClosed(reason=CloseReason.PAID_IN_FULL, final_balance=gbp(0))),
        ("case-a", opened("case-a", 10_000)),  # a repeated opening replaces the facts, keeps the assignee
    ]
    return [delivery(case_id, payload, n) for n, (case_id, payload) in enumerate(events)]


async def held_payment(service: InMemoryPaymentService, case_id: str) -> str:
    outcome = await service.handle(
        c.RecordPayment(case_id, gbp(1_500), ev.PaymentMethod.CARD, f"psp-{uuid.uuid4().hex}")
    )
    return str(outcome.payment_id)


async def test_a_batch_records_what_the_events_one_by_one_record() -> None:
    together = InMemoryPaymentService(PaymentEnvironment(POLICY, ManualClock(NOW)))
    one_by_one = InMemoryPaymentService(PaymentEnvironment(POLICY, ManualClock(NOW)))
    payments = [await held_payment(s, "case-b") for s in (together, one_by_one)]

    deliveries = batch()
    async with together.store.transaction() as tx:
        tx.state.update({k: v for k, v in together.store.committed_state.items()})
        await PaymentConsumers(together.bus).on_case_events(tx, deliveries)
    for d in deliveries:
        await PaymentConsumers(one_by_one.bus).on_case_event(None, d)

    assert together.books.case_facts == one_by_one.books.case_facts
    assert together.books.assignees == one_by_one.books.assignees
    assert together.books.case_facts["case-a"] == replace(
        together.books.case_facts["case-a"], balance_minor=10_000, closed=False
    )
    assert together.books.case_facts["case-b"].closed
    assert together.books.assignees == {"case-a": ("collector", "col-1")}
    assert "case-unknown" not in together.books.case_facts
    # The payment held for case-b was applied when case-b opened, caused by that opening.
    for service, payment_id in zip((together, one_by_one), payments, strict=True):
        assert service.books.payments[payment_id]["status"] == "applied"
    received = [e for e in await together.store.load("ledger-case-b") if "received" in e.event_type]
    assert [e.metadata["causationid"] for e in received] == [deliveries[1].event_id]
    assert received[0].metadata["correlationid"] == "corr-1"
