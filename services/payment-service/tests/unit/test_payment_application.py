"""The payment service's use cases through its command bus and handler table, on the in-memory store
and books: the same handlers the routes, consumers and timers run, without the stack."""

from __future__ import annotations

import uuid
from datetime import date, timedelta

import pytest

from dcp_events import catalogue as ev
from dcp_events.catalogue.integration import case_id_for_account
from dcp_platform.application import UnknownCommand
from dcp_platform.clock import ManualClock
from dcp_platform.eventsourcing.consumer import Delivery
from dcp_platform.eventsourcing.store import ConcurrencyConflict
from dcp_platform.testing.handler_table import assert_every_command_has_a_handler
from payment_service.adapters.memory import InMemoryPaymentService
from payment_service.adapters.unit_of_work_contract import NOW, POLICY, TZ
from payment_service.api.deps import MAX_ATTEMPTS, PaymentApi
from payment_service.application import commands as c
from payment_service.application.consumers import PaymentConsumers
from payment_service.application.handlers import (
    COMMAND_HANDLERS,
    INSTALLMENT_DUE,
    PROMISE_DUE,
    SETTLEMENT_DUE,
)
from payment_service.application.ports import PaymentEnvironment
from payment_service.bootstrap import timer_handlers
from payment_service.domain.calendar import deadline
from payment_service.domain.errors import (
    CaseAlreadyClosed,
    CurrencyMismatch,
    PaymentAlreadyReversed,
    PaymentReferenceConflict,
    PaymentUnknown,
    ReceivedInTheFuture,
)
from payment_service.domain.ledger import CaseFacts


def gbp(minor: int) -> ev.Money:
    return ev.Money(amount_minor=minor, currency="GBP")


def facts(case_id: str, *, balance: int = 100_000) -> CaseFacts:
    return CaseFacts(case_id, "GBP", balance, TZ, "GB", closed=False)


@pytest.fixture
def service() -> InMemoryPaymentService:
    return InMemoryPaymentService(PaymentEnvironment(POLICY, ManualClock(NOW)))


@pytest.fixture
def consumers(service: InMemoryPaymentService) -> PaymentConsumers:
    return PaymentConsumers(service.bus)


def clock(service: InMemoryPaymentService) -> ManualClock:
    assert isinstance(service.env.clock, ManualClock)
    return service.env.clock


async def fire(service: InMemoryPaymentService, consumers: PaymentConsumers) -> list[tuple[str, str]]:
    """The timers due now, run by the consumers' timer handlers as the timer worker would."""
    return await service.fire_due_timers(timer_handlers(consumers))


async def event_types(service: InMemoryPaymentService, case_id: str) -> list[str]:
    return [e.event_type for e in await service.store.load(f"ledger-{case_id}")]


async def open_case(service: InMemoryPaymentService, case_id: str, *, balance: int = 100_000) -> None:
    await service.handle(c.RecordCaseOpened(facts(case_id, balance=balance)))


async def pay(
    service: InMemoryPaymentService, case_id: str, minor: int, reference: str | None = None
) -> c.PaymentOutcome:
    outcome = await service.handle(
        c.RecordPayment(case_id, gbp(minor), ev.PaymentMethod.CARD, reference or f"psp-{uuid.uuid4().hex}")
    )
    assert isinstance(outcome, c.PaymentOutcome)
    return outcome


# --- payments -----------------------------------------------------------------------------------


async def test_a_payment_is_recorded_once_per_external_reference(service: InMemoryPaymentService) -> None:
    await open_case(service, "case-1")
    first = await pay(service, "case-1", 2500, "psp-1")
    again = await pay(service, "case-1", 2500, "psp-1")
    assert first.created and not again.created
    assert again.payment_id == first.payment_id
    assert await event_types(service, "case-1") == [ev.PaymentReceived.type_name()]
    assert service.books.payments[first.payment_id]["status"] == "applied"

    with pytest.raises(PaymentReferenceConflict) as amount:
        await pay(service, "case-1", 2600, "psp-1")
    assert amount.value.existing_payment_id == first.payment_id
    await open_case(service, "case-2")
    with pytest.raises(PaymentReferenceConflict):
        await pay(service, "case-2", 2500, "psp-1")
    assert await event_types(service, "case-1") == [ev.PaymentReceived.type_name()]
    assert await event_types(service, "case-2") == []
    assert len(service.books.payments) == 1


async def test_a_payment_for_an_unknown_case_is_held_then_applied_when_the_case_opens(
    service: InMemoryPaymentService,
) -> None:
    held = await pay(service, "case-1", 4000)
    row = service.books.payments[held.payment_id]
    assert (row["status"], row["unapplied_reason"]) == ("unapplied", "unknown_case")
    assert await event_types(service, "case-1") == [ev.PaymentHeld.type_name()]

    await open_case(service, "case-1")

    row = service.books.payments[held.payment_id]
    assert (row["status"], row["unapplied_reason"], row["applied_at"]) == ("applied", None, NOW)
    assert await event_types(service, "case-1") == [
        ev.PaymentHeld.type_name(),
        ev.PaymentReceived.type_name(),
    ]
    assert (await service.ledger("case-1")).payments[held.payment_id].status == "applied"


async def test_a_payment_on_a_closed_case_is_applied_and_no_arrangement_is_agreed(
    service: InMemoryPaymentService,
) -> None:
    await open_case(service, "case-1")
    await service.handle(c.RecordCaseAssignment("case-1", "collector", "collector-1"))
    await service.handle(c.RecordCaseBalance("case-1", 60_000))
    assert service.books.case_facts["case-1"].balance_minor == 60_000
    assert service.books.assignees["case-1"] == ("collector", "collector-1")
    await service.handle(c.RecordCaseClosed("case-1", 0))
    assert service.books.case_facts["case-1"].closed

    paid = await pay(service, "case-1", 1000)
    assert service.books.payments[paid.payment_id]["status"] == "applied"
    with pytest.raises(CaseAlreadyClosed):
        await service.handle(c.AgreeSettlement("case-1", gbp(500), NOW.date(), by_supervisor=True))


async def test_a_payment_received_in_the_future_is_refused(service: InMemoryPaymentService) -> None:
    await open_case(service, "case-1")
    with pytest.raises(ReceivedInTheFuture):
        await service.handle(
            c.RecordPayment("case-1", gbp(100), ev.PaymentMethod.CARD, "psp-f", NOW + timedelta(minutes=6))
        )
    slightly_ahead = await service.handle(
        c.RecordPayment("case-1", gbp(100), ev.PaymentMethod.CARD, "psp-f", NOW + timedelta(minutes=4))
    )
    assert slightly_ahead.created  # provider clocks drift; the refused attempt left no claim


async def test_a_reversal_restores_the_payment_and_breaks_the_promise_it_kept(
    service: InMemoryPaymentService, consumers: PaymentConsumers
) -> None:
    await open_case(service, "case-1")
    due_on = NOW.date() + timedelta(days=3)
    await service.handle(c.TrackPromise("case-1", "prm-1", gbp(2500), due_on, NOW))
    payment = await pay(service, "case-1", 2500)
    clock(service).set(deadline(due_on, POLICY.promise_grace_days, TZ))
    assert await fire(service, consumers) == [(PROMISE_DUE, "prm-1")]
    assert service.books.promises["prm-1"]["status"] == "kept"

    await service.handle(c.ReversePayment(payment.payment_id, ev.ReversalReason.CHARGEBACK, "cb-1"))

    row = service.books.payments[payment.payment_id]
    assert (row["status"], row["reversal_reason"]) == ("reversed", "chargeback")
    assert service.books.promises["prm-1"]["status"] == "broken"
    assert (await event_types(service, "case-1"))[-2:] == [
        ev.PaymentReversed.type_name(),
        ev.PromiseBroken.type_name(),
    ]
    with pytest.raises(PaymentAlreadyReversed):
        await service.handle(c.ReversePayment(payment.payment_id, ev.ReversalReason.CHARGEBACK))
    with pytest.raises(PaymentUnknown):
        await service.handle(c.ReversePayment("no-such-payment", ev.ReversalReason.ERROR))


# --- promises, plans and settlements: agreed, then their timers fire ----------------------------


async def test_a_promise_is_kept_or_broken_when_its_timer_fires(
    service: InMemoryPaymentService, consumers: PaymentConsumers
) -> None:
    await open_case(service, "case-1")
    await open_case(service, "case-2")
    due_on = NOW.date() + timedelta(days=2)
    settles_at = deadline(due_on, POLICY.promise_grace_days, TZ)
    await service.handle(c.TrackPromise("case-1", "prm-kept", gbp(3000), due_on, NOW))
    await service.handle(c.TrackPromise("case-2", "prm-broken", gbp(3000), due_on, NOW))
    await service.handle(c.TrackPromise("case-2", "prm-broken", gbp(3000), due_on, NOW))  # redelivered
    assert service.books.timers[(PROMISE_DUE, "prm-kept")] == (settles_at, {"case_id": "case-1"})
    assert await event_types(service, "case-2") == [ev.PromiseTracked.type_name()]
    await pay(service, "case-1", 3000)
    await pay(service, "case-2", 1000)

    clock(service).set(settles_at - timedelta(seconds=1))
    assert await fire(service, consumers) == []
    clock(service).set(settles_at)
    assert sorted(await fire(service, consumers)) == [(PROMISE_DUE, "prm-broken"), (PROMISE_DUE, "prm-kept")]

    assert service.books.promises["prm-kept"]["status"] == "kept"
    broken = service.books.promises["prm-broken"]
    assert (broken["status"], broken["amount_paid_minor"]) == ("broken", 1000)
    assert (await event_types(service, "case-1"))[-1] == ev.PromiseKept.type_name()
    assert (await event_types(service, "case-2"))[-1] == ev.PromiseBroken.type_name()
    assert not service.books.timers


async def test_a_plan_is_agreed_and_broken_by_missed_installments(
    service: InMemoryPaymentService, consumers: PaymentConsumers
) -> None:
    await open_case(service, "case-1", balance=30_000)
    first = NOW.date() + timedelta(days=7)
    dues = [first, first + timedelta(days=30), first + timedelta(days=60)]
    plan_id = await service.handle(
        c.AgreePlan("case-1", gbp(30_000), [(d, gbp(10_000)) for d in dues], by_supervisor=False)
    )
    deadlines = [deadline(d, POLICY.installment_grace_days, TZ) for d in dues]
    for n, due_at in enumerate(deadlines, start=1):
        assert service.books.timers[(INSTALLMENT_DUE, f"{plan_id}#{n}")] == (
            due_at,
            {"case_id": "case-1", "plan_id": plan_id, "number": n},
        )
    assert service.books.plans[plan_id]["status"] == "active"
    await pay(service, "case-1", 10_000)  # the first installment, in time

    clock(service).set(deadlines[0])
    assert await fire(service, consumers) == [(INSTALLMENT_DUE, f"{plan_id}#1")]
    assert service.books.plans[plan_id]["missed_installments"] == 0
    clock(service).set(deadlines[1])
    await fire(service, consumers)
    plan = service.books.plans[plan_id]
    assert (plan["status"], plan["missed_installments"]) == ("active", 1)
    assert [i["status"] for i in plan["installments"]] == ["paid", "missed", "open"]
    clock(service).set(deadlines[2])
    await fire(service, consumers)

    plan = service.books.plans[plan_id]
    assert (plan["status"], plan["missed_installments"], plan["paid_minor"]) == ("broken", 2, 10_000)
    types = await event_types(service, "case-1")
    assert types[0] == ev.PaymentPlanAgreed.type_name()
    assert types[-3:] == [
        ev.InstallmentMissed.type_name(),
        ev.InstallmentMissed.type_name(),
        ev.PaymentPlanBroken.type_name(),
    ]


async def test_a_settlement_not_paid_in_time_lapses_when_its_timer_fires(
    service: InMemoryPaymentService, consumers: PaymentConsumers
) -> None:
    await open_case(service, "case-1")
    due_on = NOW.date() + timedelta(days=10)
    settlement_id = await service.handle(
        c.AgreeSettlement("case-1", gbp(80_000), due_on, by_supervisor=False)
    )
    settles_at = deadline(due_on, POLICY.settlement_grace_days, TZ)
    assert service.books.timers[(SETTLEMENT_DUE, settlement_id)] == (settles_at, {"case_id": "case-1"})
    await pay(service, "case-1", 10_000)

    clock(service).set(settles_at)
    assert await fire(service, consumers) == [(SETTLEMENT_DUE, settlement_id)]

    row = service.books.settlements[settlement_id]
    assert (row["status"], row["amount_paid_minor"]) == ("lapsed", 10_000)
    assert (await event_types(service, "case-1"))[-1] == ev.SettlementLapsed.type_name()


async def test_a_settlement_paid_in_full_in_time_cancels_its_timer(service: InMemoryPaymentService) -> None:
    await open_case(service, "case-1")
    settlement_id = await service.handle(
        c.AgreeSettlement("case-1", gbp(80_000), NOW.date() + timedelta(days=10), by_supervisor=False)
    )
    assert (await event_types(service, "case-1")) == [ev.SettlementAgreed.type_name()]
    await pay(service, "case-1", 80_000)
    assert service.books.settlements[settlement_id]["status"] == "paid"
    assert (await event_types(service, "case-1"))[-1] == ev.SettlementPaid.type_name()
    assert (SETTLEMENT_DUE, settlement_id) not in service.books.timers


# --- transactions, consumers and the table ------------------------------------------------------


async def test_a_failed_command_commits_nothing(service: InMemoryPaymentService) -> None:
    await open_case(service, "case-1")
    euros = ev.Money(amount_minor=2500, currency="EUR")
    with pytest.raises(CurrencyMismatch):
        # The reference is claimed before the ledger refuses the currency: the claim rolls back too.
        await service.handle(c.RecordPayment("case-1", euros, ev.PaymentMethod.CARD, "psp-1"))
    assert service.books.references == {}
    assert service.books.payments == {}
    assert await event_types(service, "case-1") == []
    assert (await pay(service, "case-1", 2500, "psp-1")).created


async def test_a_posted_payment_in_another_currency_is_held_not_refused(
    service: InMemoryPaymentService, consumers: PaymentConsumers
) -> None:
    account = ev.Account(creditor_id="acme", account_reference="acc-1", product="loan")
    case_id = case_id_for_account(account.creditor_id, account.account_reference)
    await open_case(service, case_id)

    def delivery(currency: str) -> Delivery:
        posted = ev.PaymentPosted(
            posting_id=f"post-{currency}",
            account=account,
            amount=ev.Money(amount_minor=2500, currency=currency),
            method=ev.PaymentMethod.BANK_TRANSFER,
            external_reference=f"core-{currency}",
            posted_at=NOW,
            value_date=date(2027, 1, 10),
        )
        event = ev.new_event(
            posted,
            subject=case_id,
            source="/core-banking",
            actor="core-banking",
            actorrole="service",
            correlationid="corr-1",
            time=NOW,
        )
        return Delivery("integration.payments", 0, 0, None, b"", event.id, event)

    async with service.store.transaction() as tx:
        await consumers.on_payment_posted(tx, delivery("EUR"))
    [held] = service.books.payments.values()
    assert (held["status"], held["unapplied_reason"]) == ("unapplied", "currency_mismatch")

    async with service.store.transaction() as tx:
        await consumers.on_payment_posted(tx, delivery("GBP"))
    applied = [row for row in service.books.payments.values() if row["external_reference"] == "core-GBP"]
    assert [(row["status"], row["method"]) for row in applied] == [("applied", "bank_transfer")]


async def test_an_http_command_is_run_again_when_another_writer_of_the_case_got_there_first(
    service: InMemoryPaymentService,
) -> None:
    await open_case(service, "case-1")

    class RacedBus:
        """The service's bus, losing the race for the ledger's next version `losses` times."""

        losses = 2

        async def handle(self, command: object, *, tx: object = None) -> object:
            if self.losses:
                self.losses -= 1
                raise ConcurrencyConflict("ledger-case-1", 0)
            return await service.bus.handle(command, tx=tx)

    bus = RacedBus()
    api = PaymentApi(bus, service.env, engine=None)  # type: ignore[arg-type]
    outcome = await api.handle(c.RecordPayment("case-1", gbp(2500), ev.PaymentMethod.CARD, "psp-1"))
    assert outcome.created
    assert await event_types(service, "case-1") == [ev.PaymentReceived.type_name()]

    bus.losses = MAX_ATTEMPTS
    with pytest.raises(ConcurrencyConflict):
        await api.handle(c.RecordPayment("case-1", gbp(100), ev.PaymentMethod.CARD, "psp-2"))
    assert await event_types(service, "case-1") == [ev.PaymentReceived.type_name()]


async def test_a_command_without_a_handler_is_refused(service: InMemoryPaymentService) -> None:
    with pytest.raises(UnknownCommand):
        await service.handle(object())


def test_every_command_has_a_handler() -> None:
    assert_every_command_has_a_handler(c, COMMAND_HANDLERS, not_commands={c.PaymentOutcome})


async def test_a_reopened_case_takes_arrangements_again(service: InMemoryPaymentService) -> None:
    await open_case(service, "case-1")
    await service.handle(c.RecordCaseClosed("case-1", 0))
    await service.handle(c.RecordCaseReopened("case-1"))
    assert not service.books.case_facts["case-1"].closed
    await service.handle(
        c.RecordCaseEvents([c.RecordCaseClosed("case-1", 0), c.RecordCaseReopened("case-1")])
    )
    assert not service.books.case_facts["case-1"].closed
