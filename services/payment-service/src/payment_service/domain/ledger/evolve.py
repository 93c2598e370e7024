"""How a case ledger's state evolves: one mutator per payment event type (`@applies`), and the
queries over that state which both the mutators and the decisions read.

`touched` names the read-model rows (payment, promise, plan, settlement) the events applied since
the last save changed; a replay leaves it empty, so only what a command decides is written.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from dcp_events.catalogue import payments as events
from dcp_platform.eventsourcing.aggregate import Aggregate, applies
from payment_service.domain.allocation import Allocation, allocate
from payment_service.domain.ledger import state


def _when(event: events.PaymentEvent, at: datetime | None) -> datetime:
    # The ledger dates what it keeps (applied, agreed, ended); an event without its time is a bug.
    if at is None:
        raise ValueError(f"{event.type_name()} reached the case ledger without the time it happened")
    return at


@dataclass
class CaseLedgerState(Aggregate[events.PaymentEvent]):
    """A case ledger as its events leave it: no decisions here, only state, queries and mutators."""

    case_id: str
    payments: dict[str, state.LedgerPayment] = field(default_factory=dict)
    promises: dict[str, state.TrackedPromise] = field(default_factory=dict)
    plans: dict[str, state.Plan] = field(default_factory=dict)
    settlements: dict[str, state.Settlement] = field(default_factory=dict)
    statements: dict[str, state.FinancialStatement] = field(default_factory=dict)
    touched: set[tuple[str, str]] = field(default_factory=set)

    def _replayed(self) -> None:
        self.touched.clear()

    # ---- queries -------------------------------------------------------------------------------

    @property
    def active_plan(self) -> state.Plan | None:
        return next((p for p in self.plans.values() if p.status is state.ArrangementStatus.ACTIVE), None)

    @property
    def active_settlement(self) -> state.Settlement | None:
        return next(
            (s for s in self.settlements.values() if s.status is state.ArrangementStatus.ACTIVE), None
        )

    def counted_payments(
        self, currency: str, start: datetime, end: datetime | None = None
    ) -> list[state.LedgerPayment]:
        """Applied, unreversed payments in `currency` received in [start, end), oldest first."""
        chosen = [
            p
            for p in self.payments.values()
            if p.status is state.PaymentStatus.APPLIED
            and p.currency == currency
            and p.received_at >= start
            and (end is None or p.received_at < end)
        ]
        return sorted(chosen, key=lambda p: (p.received_at, p.order))

    def allocation(self, plan: state.Plan) -> Allocation:
        payments = self.counted_payments(plan.currency, plan.agreed_at)
        return allocate(
            [i.amount_minor for i in plan.installments], [(p.payment_id, p.amount_minor) for p in payments]
        )

    def settlement_paid_minor(
        self, settlement: state.Settlement, settles_at: datetime
    ) -> tuple[int, list[str]]:
        payments = self.counted_payments(settlement.currency, settlement.agreed_at, settles_at)
        return sum(p.amount_minor for p in payments), [p.payment_id for p in payments]

    # ---- mutators: payments --------------------------------------------------------------------

    def _order_of(self, payment_id: str) -> int:
        # A held payment applied later keeps the place it arrived in.
        existing = self.payments.get(payment_id)
        return existing.order if existing is not None else len(self.payments)

    @applies(events.PaymentHeld)
    def _payment_held(self, event: events.PaymentHeld, at: datetime | None) -> None:
        self.payments[event.payment_id] = state.LedgerPayment(
            payment_id=event.payment_id,
            amount_minor=event.amount.amount_minor,
            currency=event.amount.currency,
            method=event.method,
            external_reference=event.external_reference,
            received_at=event.received_at,
            status=state.PaymentStatus.UNAPPLIED,
            order=self._order_of(event.payment_id),
            unapplied_reason=event.reason,
        )
        self.touched.add(("payment", event.payment_id))

    @applies(events.PaymentReceived)
    def _payment_received(self, event: events.PaymentReceived, at: datetime | None) -> None:
        self.payments[event.payment_id] = state.LedgerPayment(
            payment_id=event.payment_id,
            amount_minor=event.amount.amount_minor,
            currency=event.amount.currency,
            method=event.method,
            external_reference=event.external_reference,
            received_at=event.received_at,
            status=state.PaymentStatus.APPLIED,
            order=self._order_of(event.payment_id),
            applied_at=_when(event, at),
            was_applied=True,
        )
        self._touch_money()
        self.touched.add(("payment", event.payment_id))

    @applies(events.PaymentReversed)
    def _payment_reversed(self, event: events.PaymentReversed, at: datetime | None) -> None:
        payment = self.payments[event.payment_id]
        payment.status = state.PaymentStatus.REVERSED
        payment.reversed_at = event.reversed_at
        payment.reversal_reason = event.reason
        self.touched.add(("payment", event.payment_id))
        if event.applied:
            # A completed plan the reversal leaves underpaid is active again (unless another is).
            for plan in self.plans.values():
                if (
                    plan.status is state.ArrangementStatus.COMPLETED
                    and self.active_plan is None
                    and self.allocation(plan).total_paid < plan.total_minor
                ):
                    plan.status = state.ArrangementStatus.ACTIVE
                    plan.ended_at = None
            self._touch_money()

    def _touch_money(self) -> None:
        # Allocation and amounts paid are derived from the payments: their read models change too.
        for plan in self.plans.values():
            if plan.status is not state.ArrangementStatus.BROKEN:
                self.touched.add(("plan", plan.plan_id))
        for settlement in self.settlements.values():
            if settlement.status is state.ArrangementStatus.ACTIVE:
                self.touched.add(("settlement", settlement.settlement_id))

    # ---- mutators: promises --------------------------------------------------------------------

    @applies(events.PromiseTracked)
    def _promise_tracked(self, event: events.PromiseTracked, at: datetime | None) -> None:
        self.promises[event.promise_id] = state.TrackedPromise(
            promise_id=event.promise_id,
            amount_minor=event.amount_promised.amount_minor,
            currency=event.amount_promised.currency,
            due_on=event.due_on,
            made_at=event.made_at,
            settles_at=event.settles_at,
        )
        self.touched.add(("promise", event.promise_id))

    @applies(events.PromiseKept, events.PromiseBroken)
    def _promise_settled(self, event: events.PromiseKept | events.PromiseBroken, at: datetime | None) -> None:
        promise = self.promises[event.promise_id]
        promise.status = (
            state.ArrangementStatus.KEPT
            if isinstance(event, events.PromiseKept)
            else state.ArrangementStatus.BROKEN
        )
        promise.amount_paid_minor = event.amount_paid.amount_minor
        promise.settled_at = _when(event, at)
        self.touched.add(("promise", event.promise_id))

    # ---- mutators: plans -----------------------------------------------------------------------

    @applies(events.FinancialStatementRecorded)
    def _statement_recorded(self, event: events.FinancialStatementRecorded, at: datetime | None) -> None:
        self.statements[event.statement_id] = state.FinancialStatement(
            statement_id=event.statement_id,
            statement_date=event.statement_date,
            source=event.source,
            currency=event.monthly_income.currency,
            entries=list(event.entries),
            adults=event.household.adults,
            children=event.household.children,
            vehicles=event.household.vehicles,
            income_minor=event.monthly_income.amount_minor,
            outgoings_minor=event.monthly_outgoings.amount_minor,
            non_priority_minor=event.monthly_non_priority.amount_minor,
            surplus_minor=event.monthly_surplus.delta_minor,
            available_minor=event.monthly_available.delta_minor,
            savings_minor=event.savings.amount_minor if event.savings else 0,
            recorded_by=event.recorded_by,
            recorded_at=_when(event, at),
            order=len(self.statements),
        )
        self.touched.add(("statement", event.statement_id))

    @applies(events.PaymentPlanAgreed)
    def _plan_agreed(self, event: events.PaymentPlanAgreed, at: datetime | None) -> None:
        self.plans[event.plan_id] = state.Plan(
            plan_id=event.plan_id,
            currency=event.total.currency,
            total_minor=event.total.amount_minor,
            installments=[
                state.PlanInstallment(number=i.number, due_on=i.due_on, amount_minor=i.amount.amount_minor)
                for i in event.installments
            ],
            agreed_at=_when(event, at),
            channel=event.channel,
            collector_id=event.collector_id,
            affordability=event.affordability,
        )
        self.touched.add(("plan", event.plan_id))

    @applies(events.InstallmentMissed)
    def _installment_missed(self, event: events.InstallmentMissed, at: datetime | None) -> None:
        self.plans[event.plan_id].installments[event.installment_number - 1].missed = True
        self.touched.add(("plan", event.plan_id))

    @applies(events.PaymentPlanCompleted, events.PaymentPlanBroken)
    def _plan_ended(
        self, event: events.PaymentPlanCompleted | events.PaymentPlanBroken, at: datetime | None
    ) -> None:
        plan = self.plans[event.plan_id]
        completed = isinstance(event, events.PaymentPlanCompleted)
        plan.status = state.ArrangementStatus.COMPLETED if completed else state.ArrangementStatus.BROKEN
        plan.ended_at = _when(event, at)
        self.touched.add(("plan", event.plan_id))

    # ---- mutators: settlements -----------------------------------------------------------------

    @applies(events.SettlementAgreed)
    def _settlement_agreed(self, event: events.SettlementAgreed, at: datetime | None) -> None:
        self.settlements[event.settlement_id] = state.Settlement(
            settlement_id=event.settlement_id,
            amount_minor=event.settlement_amount.amount_minor,
            currency=event.settlement_amount.currency,
            balance_at_agreement_minor=event.balance_at_agreement.amount_minor,
            due_on=event.due_on,
            agreed_at=_when(event, at),
            collector_id=event.collector_id,
            affordability=event.affordability,
        )
        self.touched.add(("settlement", event.settlement_id))

    @applies(events.SettlementPaid, events.SettlementLapsed)
    def _settlement_ended(
        self, event: events.SettlementPaid | events.SettlementLapsed, at: datetime | None
    ) -> None:
        settlement = self.settlements[event.settlement_id]
        paid = isinstance(event, events.SettlementPaid)
        settlement.status = state.ArrangementStatus.PAID if paid else state.ArrangementStatus.LAPSED
        settlement.amount_paid_minor = event.amount_paid.amount_minor
        settlement.ended_at = _when(event, at)
        self.touched.add(("settlement", event.settlement_id))
