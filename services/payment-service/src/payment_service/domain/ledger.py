"""The payment side of one case (`CaseLedger`): payments, reversals, promises, plans and settlements.

One event stream per case keeps every decision that needs the whole picture consistent: a payment
is allocated to the plan, counted toward promises and toward a settlement in the same step, and a
reversal can take back what it had kept. Decisions return catalogue events; `apply` evolves state.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from enum import StrEnum

from dcp_events.catalogue.base import EventPayload, Money
from dcp_events.catalogue.enums import Channel, PaymentMethod, ReversalReason
from dcp_events.catalogue.payments import (
    Installment,
    InstallmentMissed,
    PaymentHeld,
    PaymentPlanAgreed,
    PaymentPlanBroken,
    PaymentPlanCompleted,
    PaymentReceived,
    PaymentReversed,
    PromiseBroken,
    PromiseKept,
    PromiseTracked,
    SettlementAgreed,
    SettlementLapsed,
    SettlementPaid,
    UnappliedReason,
)
from payment_service.domain.allocation import Allocation, allocate
from payment_service.domain.calendar import deadline, local_date, term_in_months
from payment_service.domain.errors import (
    ActivePlanExists,
    ActiveSettlementExists,
    CaseAlreadyClosed,
    CaseUnknown,
    CurrencyMismatch,
    InvalidPaymentPlan,
    InvalidSettlement,
    PaymentAlreadyReversed,
    PaymentUnknown,
    SupervisorApprovalRequired,
)

UTC_ZONE = "UTC"


@dataclass(frozen=True)
class CaseFacts:
    """What the payment service knows of a case from case-service's events."""

    case_id: str
    currency: str
    balance_minor: int
    time_zone: str
    jurisdiction: str | None
    closed: bool


@dataclass(frozen=True)
class ArrangementPolicy:
    """The configurable rules for promises, plans and settlements."""

    promise_grace_days: int = 2
    installment_grace_days: int = 3
    settlement_grace_days: int = 0
    plan_max_term_months: int = 60
    plan_supervisor_term_months: int = 12
    plan_missed_installments_to_break: int = 2
    supervisor_discount_bps: int = 2000
    """Discounts above this (basis points of the balance) need a supervisor."""
    settlement_max_days: int = 180
    settlement_supervisor_days: int = 30


class PaymentStatus(StrEnum):
    APPLIED = "applied"
    UNAPPLIED = "unapplied"
    REVERSED = "reversed"


class ArrangementStatus(StrEnum):
    OPEN = "open"
    KEPT = "kept"
    BROKEN = "broken"
    ACTIVE = "active"
    COMPLETED = "completed"
    PAID = "paid"
    LAPSED = "lapsed"


@dataclass
class LedgerPayment:
    payment_id: str
    amount_minor: int
    currency: str
    method: PaymentMethod
    external_reference: str
    received_at: datetime
    status: PaymentStatus
    order: int
    unapplied_reason: UnappliedReason | None = None
    applied_at: datetime | None = None
    was_applied: bool = False
    reversed_at: datetime | None = None
    reversal_reason: ReversalReason | None = None

    @property
    def money(self) -> Money:
        return Money(amount_minor=self.amount_minor, currency=self.currency)


@dataclass
class TrackedPromise:
    promise_id: str
    amount_minor: int
    currency: str
    due_on: date
    made_at: datetime
    settles_at: datetime
    status: ArrangementStatus = ArrangementStatus.OPEN
    amount_paid_minor: int = 0
    settled_at: datetime | None = None


@dataclass
class PlanInstallment:
    number: int
    due_on: date
    amount_minor: int
    missed: bool = False


@dataclass
class Plan:
    plan_id: str
    currency: str
    total_minor: int
    installments: list[PlanInstallment]
    agreed_at: datetime
    channel: Channel | None = None
    collector_id: str | None = None
    status: ArrangementStatus = ArrangementStatus.ACTIVE
    ended_at: datetime | None = None

    @property
    def missed_count(self) -> int:
        return sum(1 for i in self.installments if i.missed)


@dataclass
class Settlement:
    settlement_id: str
    amount_minor: int
    currency: str
    balance_at_agreement_minor: int
    due_on: date
    agreed_at: datetime
    collector_id: str | None = None
    status: ArrangementStatus = ArrangementStatus.ACTIVE
    amount_paid_minor: int = 0
    ended_at: datetime | None = None


def discount_bps(balance_minor: int, agreed_minor: int) -> int:
    """The discount an agreed amount gives on the balance, in basis points (rounded up)."""
    if balance_minor <= 0 or agreed_minor >= balance_minor:
        return 0
    return -((agreed_minor - balance_minor) * 10_000 // balance_minor)


@dataclass
class CaseLedger:
    """The payment-side aggregate of one case, rebuilt from its events."""

    case_id: str
    version: int = 0
    payments: dict[str, LedgerPayment] = field(default_factory=dict)
    promises: dict[str, TrackedPromise] = field(default_factory=dict)
    plans: dict[str, Plan] = field(default_factory=dict)
    settlements: dict[str, Settlement] = field(default_factory=dict)
    pending: list[EventPayload] = field(default_factory=list)
    touched: set[tuple[str, str]] = field(default_factory=set)

    @classmethod
    def replay(cls, case_id: str, history: Iterable[tuple[EventPayload, datetime]]) -> CaseLedger:
        ledger = cls(case_id)
        for event, at in history:
            ledger.apply(event, at)
            ledger.version += 1
        ledger.touched.clear()
        return ledger

    # ---- queries -------------------------------------------------------------------------------

    @property
    def active_plan(self) -> Plan | None:
        return next((p for p in self.plans.values() if p.status is ArrangementStatus.ACTIVE), None)

    @property
    def active_settlement(self) -> Settlement | None:
        return next((s for s in self.settlements.values() if s.status is ArrangementStatus.ACTIVE), None)

    def counted_payments(
        self, currency: str, start: datetime, end: datetime | None = None
    ) -> list[LedgerPayment]:
        """Applied, unreversed payments in `currency` received in [start, end), oldest first."""
        chosen = [
            p
            for p in self.payments.values()
            if p.status is PaymentStatus.APPLIED
            and p.currency == currency
            and p.received_at >= start
            and (end is None or p.received_at < end)
        ]
        return sorted(chosen, key=lambda p: (p.received_at, p.order))

    def allocation(self, plan: Plan) -> Allocation:
        payments = self.counted_payments(plan.currency, plan.agreed_at)
        return allocate(
            [i.amount_minor for i in plan.installments], [(p.payment_id, p.amount_minor) for p in payments]
        )

    def settlement_paid_minor(self, settlement: Settlement, settles_at: datetime) -> tuple[int, list[str]]:
        payments = self.counted_payments(settlement.currency, settlement.agreed_at, settles_at)
        return sum(p.amount_minor for p in payments), [p.payment_id for p in payments]

    # ---- decisions: payments -------------------------------------------------------------------

    def receive_payment(
        self,
        *,
        payment_id: str,
        amount: Money,
        method: PaymentMethod,
        external_reference: str,
        received_at: datetime,
        case: CaseFacts | None,
        now: datetime,
        policy: ArrangementPolicy,
    ) -> list[EventPayload]:
        """Apply a payment to the case, or hold it unapplied when the case is unknown or closed.

        A currency other than the case's is refused (CurrencyMismatch)."""
        if payment_id in self.payments:
            return []
        start = len(self.pending)
        if case is not None and not case.closed and amount.currency != case.currency:
            raise CurrencyMismatch(amount.currency, case.currency)
        if case is None or case.closed:
            reason = UnappliedReason.UNKNOWN_CASE if case is None else UnappliedReason.CASE_CLOSED
            self._record(
                PaymentHeld(
                    payment_id=payment_id,
                    amount=amount,
                    method=method,
                    external_reference=external_reference,
                    received_at=received_at,
                    reason=reason,
                ),
                now,
            )
        else:
            self._record(
                PaymentReceived(
                    payment_id=payment_id,
                    amount=amount,
                    method=method,
                    external_reference=external_reference,
                    received_at=received_at,
                ),
                now,
            )
            self._after_payment(case, now, policy)
        return self.pending[start:]

    def apply_held_payments(
        self, case: CaseFacts, now: datetime, policy: ArrangementPolicy
    ) -> list[EventPayload]:
        """The case has appeared: apply the payments held for it (a currency mismatch stays held)."""
        start = len(self.pending)
        held = sorted(
            (
                p
                for p in self.payments.values()
                if p.status is PaymentStatus.UNAPPLIED and p.unapplied_reason is UnappliedReason.UNKNOWN_CASE
            ),
            key=lambda p: (p.received_at, p.order),
        )
        applied_any = False
        for p in held:
            common = {
                "payment_id": p.payment_id,
                "amount": p.money,
                "method": p.method,
                "external_reference": p.external_reference,
                "received_at": p.received_at,
            }
            if case.closed:
                self._record(PaymentHeld(**common, reason=UnappliedReason.CASE_CLOSED), now)
            elif p.currency != case.currency:
                self._record(PaymentHeld(**common, reason=UnappliedReason.CURRENCY_MISMATCH), now)
            else:
                self._record(PaymentReceived(**common), now)
                applied_any = True
        if applied_any:
            self._after_payment(case, now, policy)
        return self.pending[start:]

    def reverse_payment(
        self,
        *,
        payment_id: str,
        reason: ReversalReason,
        reversal_reference: str | None,
        reversed_at: datetime,
        case: CaseFacts | None,
        now: datetime,
        policy: ArrangementPolicy,
    ) -> list[EventPayload]:
        """Reverse a payment (chargeback, returned payment): the balance is restored, and what it
        had kept (a promise, an installment whose deadline passed) is broken."""
        payment = self.payments.get(payment_id)
        if payment is None:
            raise PaymentUnknown(f"no payment {payment_id} on case {self.case_id}")
        if payment.status is PaymentStatus.REVERSED:
            raise PaymentAlreadyReversed(f"payment {payment_id} was already reversed")
        start = len(self.pending)
        was_applied = payment.status is PaymentStatus.APPLIED
        self._record(
            PaymentReversed(
                payment_id=payment_id,
                amount=payment.money,
                reason=reason,
                external_reference=reversal_reference,
                reversed_at=reversed_at,
                applied=was_applied,
            ),
            now,
        )
        if not was_applied:
            return self.pending[start:]
        for promise in list(self.promises.values()):
            if promise.status is not ArrangementStatus.KEPT or promise.currency != payment.currency:
                continue
            if not promise.made_at <= payment.received_at < promise.settles_at:
                continue
            paid = self._promise_paid(promise)
            if paid < promise.amount_minor:
                self._record(
                    PromiseBroken(
                        promise_id=promise.promise_id,
                        amount_promised=Money(amount_minor=promise.amount_minor, currency=promise.currency),
                        amount_paid=Money(amount_minor=paid, currency=promise.currency),
                        due_on=promise.due_on,
                        reversed_payment_id=payment_id,
                    ),
                    now,
                )
        plan = self.active_plan
        if plan is not None and payment.received_at >= plan.agreed_at:
            time_zone = case.time_zone if case is not None else UTC_ZONE
            allocation = self.allocation(plan)
            for installment in plan.installments:
                due = deadline(installment.due_on, policy.installment_grace_days, time_zone)
                paid = allocation.paid[installment.number - 1]
                if not installment.missed and due <= now and paid < installment.amount_minor:
                    self._miss(plan, installment, paid, now, reversed_payment_id=payment_id)
            self._break_if_too_many_missed(plan, now, policy)
        return self.pending[start:]

    def _after_payment(self, case: CaseFacts, now: datetime, policy: ArrangementPolicy) -> None:
        settlement = self.active_settlement
        if settlement is not None:
            settles_at = deadline(settlement.due_on, policy.settlement_grace_days, case.time_zone)
            paid, payment_ids = self.settlement_paid_minor(settlement, settles_at)
            if paid >= settlement.amount_minor and payment_ids:
                self._record(
                    SettlementPaid(
                        settlement_id=settlement.settlement_id,
                        settlement_amount=Money(
                            amount_minor=settlement.amount_minor, currency=settlement.currency
                        ),
                        amount_paid=Money(amount_minor=paid, currency=settlement.currency),
                        balance_at_agreement=Money(
                            amount_minor=settlement.balance_at_agreement_minor, currency=settlement.currency
                        ),
                        due_on=settlement.due_on,
                        payment_ids=payment_ids,
                    ),
                    now,
                )
        plan = self.active_plan
        if plan is not None:
            allocation = self.allocation(plan)
            if allocation.total_paid >= plan.total_minor:
                self._record(
                    PaymentPlanCompleted(
                        plan_id=plan.plan_id,
                        total_paid=Money(amount_minor=allocation.total_paid, currency=plan.currency),
                    ),
                    now,
                )

    # ---- decisions: promises -------------------------------------------------------------------

    def track_promise(
        self,
        *,
        promise_id: str,
        amount: Money,
        due_on: date,
        made_at: datetime,
        case: CaseFacts | None,
        now: datetime,
        policy: ArrangementPolicy,
    ) -> list[EventPayload]:
        """Start watching a promise made during a contact (idempotent per promise id)."""
        if promise_id in self.promises:
            return []
        time_zone = case.time_zone if case is not None else UTC_ZONE
        start = len(self.pending)
        self._record(
            PromiseTracked(
                promise_id=promise_id,
                amount_promised=amount,
                due_on=due_on,
                made_at=made_at,
                settles_at=deadline(due_on, policy.promise_grace_days, time_zone),
            ),
            now,
        )
        return self.pending[start:]

    def settle_promise(self, promise_id: str, now: datetime) -> list[EventPayload]:
        """At the promise's due date plus grace: kept when the promised amount was paid, else broken."""
        promise = self.promises.get(promise_id)
        if promise is None or promise.status is not ArrangementStatus.OPEN or now < promise.settles_at:
            return []
        start = len(self.pending)
        payments = self.counted_payments(promise.currency, promise.made_at, promise.settles_at)
        paid = sum(p.amount_minor for p in payments)
        promised = Money(amount_minor=promise.amount_minor, currency=promise.currency)
        paid_money = Money(amount_minor=paid, currency=promise.currency)
        if paid >= promise.amount_minor and payments:
            self._record(
                PromiseKept(
                    promise_id=promise_id,
                    amount_promised=promised,
                    amount_paid=paid_money,
                    due_on=promise.due_on,
                    payment_ids=[p.payment_id for p in payments],
                ),
                now,
            )
        else:
            self._record(
                PromiseBroken(
                    promise_id=promise_id,
                    amount_promised=promised,
                    amount_paid=paid_money,
                    due_on=promise.due_on,
                ),
                now,
            )
        return self.pending[start:]

    def _promise_paid(self, promise: TrackedPromise) -> int:
        return sum(
            p.amount_minor
            for p in self.counted_payments(promise.currency, promise.made_at, promise.settles_at)
        )

    # ---- decisions: plans ----------------------------------------------------------------------

    def agree_plan(
        self,
        *,
        plan_id: str,
        total: Money,
        installments: Sequence[tuple[date, Money]],
        case: CaseFacts | None,
        now: datetime,
        policy: ArrangementPolicy,
        by_supervisor: bool,
        channel: Channel | None = None,
        collector_id: str | None = None,
    ) -> list[EventPayload]:
        """Agree a repayment plan: validated, and above the collector's limits only by a supervisor."""
        case = self._open_case(case)
        if self.active_plan is not None:
            raise ActivePlanExists(f"case {self.case_id} already has active plan {self.active_plan.plan_id}")
        validate_plan(total, installments, case, now, policy)
        if not by_supervisor:
            term = term_in_months(local_date(now, case.time_zone), installments[-1][0])
            discount = discount_bps(case.balance_minor, total.amount_minor)
            if term > policy.plan_supervisor_term_months:
                raise SupervisorApprovalRequired(
                    f"a {term}-month plan is above the {policy.plan_supervisor_term_months}-month limit "
                    "a collector may agree; a supervisor must agree it"
                )
            if discount > policy.supervisor_discount_bps:
                raise SupervisorApprovalRequired(
                    f"a discount of {discount / 100:.2f}% is above the "
                    f"{policy.supervisor_discount_bps / 100:.2f}% a collector may agree; "
                    "a supervisor must agree it"
                )
        start = len(self.pending)
        self._record(
            PaymentPlanAgreed(
                plan_id=plan_id,
                total=total,
                installments=[
                    Installment(number=n, due_on=due_on, amount=amount)
                    for n, (due_on, amount) in enumerate(installments, start=1)
                ],
                channel=channel,
                collector_id=collector_id,
            ),
            now,
        )
        return self.pending[start:]

    def installment_due(
        self, plan_id: str, number: int, now: datetime, time_zone: str, policy: ArrangementPolicy
    ) -> list[EventPayload]:
        """At an installment's due date plus grace: missed when not fully paid; too many misses
        break the plan."""
        plan = self.plans.get(plan_id)
        if (
            plan is None
            or plan.status is not ArrangementStatus.ACTIVE
            or not 1 <= number <= len(plan.installments)
        ):
            return []
        installment = plan.installments[number - 1]
        if installment.missed or now < deadline(installment.due_on, policy.installment_grace_days, time_zone):
            return []
        paid = self.allocation(plan).paid[number - 1]
        if paid >= installment.amount_minor:
            return []
        start = len(self.pending)
        self._miss(plan, installment, paid, now)
        self._break_if_too_many_missed(plan, now, policy)
        return self.pending[start:]

    def _miss(
        self,
        plan: Plan,
        installment: PlanInstallment,
        paid: int,
        now: datetime,
        reversed_payment_id: str | None = None,
    ) -> None:
        self._record(
            InstallmentMissed(
                plan_id=plan.plan_id,
                installment_number=installment.number,
                due_on=installment.due_on,
                amount_due=Money(amount_minor=installment.amount_minor, currency=plan.currency),
                amount_paid=Money(amount_minor=paid, currency=plan.currency),
                reversed_payment_id=reversed_payment_id,
            ),
            now,
        )

    def _break_if_too_many_missed(self, plan: Plan, now: datetime, policy: ArrangementPolicy) -> None:
        if (
            plan.status is ArrangementStatus.ACTIVE
            and plan.missed_count >= policy.plan_missed_installments_to_break
        ):
            self._record(
                PaymentPlanBroken(
                    plan_id=plan.plan_id,
                    missed_installments=plan.missed_count,
                    reason=f"{plan.missed_count} installments missed "
                    f"(the plan breaks at {policy.plan_missed_installments_to_break})",
                ),
                now,
            )

    # ---- decisions: settlements ----------------------------------------------------------------

    def agree_settlement(
        self,
        *,
        settlement_id: str,
        amount: Money,
        due_on: date,
        case: CaseFacts | None,
        now: datetime,
        policy: ArrangementPolicy,
        by_supervisor: bool,
        collector_id: str | None = None,
    ) -> list[EventPayload]:
        """Agree a discounted payoff with a deadline; paid in time it settles the case."""
        case = self._open_case(case)
        if self.active_settlement is not None:
            raise ActiveSettlementExists(
                f"case {self.case_id} already has open settlement {self.active_settlement.settlement_id}"
            )
        days = validate_settlement(amount, due_on, case, now, policy)
        if not by_supervisor:
            discount = discount_bps(case.balance_minor, amount.amount_minor)
            if discount > policy.supervisor_discount_bps:
                raise SupervisorApprovalRequired(
                    f"a settlement discount of {discount / 100:.2f}% is above the "
                    f"{policy.supervisor_discount_bps / 100:.2f}% a collector may agree; "
                    "a supervisor must agree it"
                )
            if days > policy.settlement_supervisor_days:
                raise SupervisorApprovalRequired(
                    f"a settlement due in {days} days is beyond the {policy.settlement_supervisor_days} days "
                    "a collector may give; a supervisor must agree it"
                )
        start = len(self.pending)
        self._record(
            SettlementAgreed(
                settlement_id=settlement_id,
                settlement_amount=amount,
                balance_at_agreement=Money(amount_minor=case.balance_minor, currency=case.currency),
                due_on=due_on,
                collector_id=collector_id,
            ),
            now,
        )
        return self.pending[start:]

    def settlement_due(
        self, settlement_id: str, now: datetime, time_zone: str, policy: ArrangementPolicy
    ) -> list[EventPayload]:
        """At the settlement deadline: lapsed when it was not paid in full in time."""
        settlement = self.settlements.get(settlement_id)
        if settlement is None or settlement.status is not ArrangementStatus.ACTIVE:
            return []
        settles_at = deadline(settlement.due_on, policy.settlement_grace_days, time_zone)
        if now < settles_at:
            return []
        paid, _ = self.settlement_paid_minor(settlement, settles_at)
        start = len(self.pending)
        self._record(
            SettlementLapsed(
                settlement_id=settlement_id,
                due_on=settlement.due_on,
                amount_paid=Money(amount_minor=paid, currency=settlement.currency),
                reason=f"{paid} of {settlement.amount_minor} {settlement.currency} minor units paid "
                "by the deadline",
            ),
            now,
        )
        return self.pending[start:]

    def _open_case(self, case: CaseFacts | None) -> CaseFacts:
        if case is None:
            raise CaseUnknown(f"case {self.case_id} is not known to the payment service")
        if case.closed:
            raise CaseAlreadyClosed(f"case {self.case_id} is closed")
        return case

    # ---- evolution -----------------------------------------------------------------------------

    def _record(self, event: EventPayload, at: datetime) -> None:
        self.apply(event, at)
        self.pending.append(event)

    def apply(self, event: EventPayload, at: datetime) -> None:
        """Evolve the state by one event that happened at `at`."""
        if isinstance(event, PaymentHeld):
            existing = self.payments.get(event.payment_id)
            order = existing.order if existing is not None else len(self.payments)
            self.payments[event.payment_id] = LedgerPayment(
                payment_id=event.payment_id,
                amount_minor=event.amount.amount_minor,
                currency=event.amount.currency,
                method=event.method,
                external_reference=event.external_reference,
                received_at=event.received_at,
                status=PaymentStatus.UNAPPLIED,
                order=order,
                unapplied_reason=event.reason,
            )
            self.touched.add(("payment", event.payment_id))
        elif isinstance(event, PaymentReceived):
            existing = self.payments.get(event.payment_id)
            order = existing.order if existing is not None else len(self.payments)
            self.payments[event.payment_id] = LedgerPayment(
                payment_id=event.payment_id,
                amount_minor=event.amount.amount_minor,
                currency=event.amount.currency,
                method=event.method,
                external_reference=event.external_reference,
                received_at=event.received_at,
                status=PaymentStatus.APPLIED,
                order=order,
                applied_at=at,
                was_applied=True,
            )
            self._touch_money()
            self.touched.add(("payment", event.payment_id))
        elif isinstance(event, PaymentReversed):
            payment = self.payments[event.payment_id]
            payment.status = PaymentStatus.REVERSED
            payment.reversed_at = event.reversed_at
            payment.reversal_reason = event.reason
            self.touched.add(("payment", event.payment_id))
            if event.applied:
                # A completed plan the reversal leaves underpaid is active again (unless another is).
                for plan in self.plans.values():
                    if (
                        plan.status is ArrangementStatus.COMPLETED
                        and self.active_plan is None
                        and self.allocation(plan).total_paid < plan.total_minor
                    ):
                        plan.status = ArrangementStatus.ACTIVE
                        plan.ended_at = None
                self._touch_money()
        elif isinstance(event, PromiseTracked):
            self.promises[event.promise_id] = TrackedPromise(
                promise_id=event.promise_id,
                amount_minor=event.amount_promised.amount_minor,
                currency=event.amount_promised.currency,
                due_on=event.due_on,
                made_at=event.made_at,
                settles_at=event.settles_at,
            )
            self.touched.add(("promise", event.promise_id))
        elif isinstance(event, PromiseKept | PromiseBroken):
            promise = self.promises[event.promise_id]
            promise.status = (
                ArrangementStatus.KEPT if isinstance(event, PromiseKept) else ArrangementStatus.BROKEN
            )
            promise.amount_paid_minor = event.amount_paid.amount_minor
            promise.settled_at = at
            self.touched.add(("promise", event.promise_id))
        elif isinstance(event, PaymentPlanAgreed):
            self.plans[event.plan_id] = Plan(
                plan_id=event.plan_id,
                currency=event.total.currency,
                total_minor=event.total.amount_minor,
                installments=[
                    PlanInstallment(number=i.number, due_on=i.due_on, amount_minor=i.amount.amount_minor)
                    for i in event.installments
                ],
                agreed_at=at,
                channel=event.channel,
                collector_id=event.collector_id,
            )
            self.touched.add(("plan", event.plan_id))
        elif isinstance(event, InstallmentMissed):
            self.plans[event.plan_id].installments[event.installment_number - 1].missed = True
            self.touched.add(("plan", event.plan_id))
        elif isinstance(event, PaymentPlanCompleted | PaymentPlanBroken):
            plan = self.plans[event.plan_id]
            plan.status = (
                ArrangementStatus.COMPLETED
                if isinstance(event, PaymentPlanCompleted)
                else ArrangementStatus.BROKEN
            )
            plan.ended_at = at
            self.touched.add(("plan", event.plan_id))
        elif isinstance(event, SettlementAgreed):
            self.settlements[event.settlement_id] = Settlement(
                settlement_id=event.settlement_id,
                amount_minor=event.settlement_amount.amount_minor,
                currency=event.settlement_amount.currency,
                balance_at_agreement_minor=event.balance_at_agreement.amount_minor,
                due_on=event.due_on,
                agreed_at=at,
                collector_id=event.collector_id,
            )
            self.touched.add(("settlement", event.settlement_id))
        elif isinstance(event, SettlementPaid | SettlementLapsed):
            settlement = self.settlements[event.settlement_id]
            settlement.status = (
                ArrangementStatus.PAID if isinstance(event, SettlementPaid) else ArrangementStatus.LAPSED
            )
            settlement.amount_paid_minor = event.amount_paid.amount_minor
            settlement.ended_at = at
            self.touched.add(("settlement", event.settlement_id))

    def _touch_money(self) -> None:
        # Allocation and amounts paid are derived from the payments: their read models change too.
        for plan in self.plans.values():
            if plan.status is not ArrangementStatus.BROKEN:
                self.touched.add(("plan", plan.plan_id))
        for settlement in self.settlements.values():
            if settlement.status is ArrangementStatus.ACTIVE:
                self.touched.add(("settlement", settlement.settlement_id))


def validate_plan(
    total: Money,
    installments: Sequence[tuple[date, Money]],
    case: CaseFacts,
    now: datetime,
    policy: ArrangementPolicy,
) -> None:
    """The plan rules: one currency (the case's), positive amounts adding up to the agreed total,
    increasing due dates none of them in the past (the debtor's today), a term within the maximum,
    and no more than the balance."""
    if total.currency != case.currency:
        raise CurrencyMismatch(total.currency, case.currency)
    if not installments:
        raise InvalidPaymentPlan("a plan has at least one installment")
    for number, (_, amount) in enumerate(installments, start=1):
        if amount.currency != case.currency:
            raise CurrencyMismatch(amount.currency, case.currency)
        if amount.amount_minor <= 0:
            raise InvalidPaymentPlan(f"installment {number} must be more than zero")
    if total.amount_minor <= 0:
        raise InvalidPaymentPlan("the agreed amount must be more than zero")
    installments_sum = sum(amount.amount_minor for _, amount in installments)
    if installments_sum != total.amount_minor:
        raise InvalidPaymentPlan(
            f"the installments add up to {installments_sum}, not the agreed {total.amount_minor} minor units"
        )
    today = local_date(now, case.time_zone)
    dates = [due_on for due_on, _ in installments]
    if dates[0] < today:
        raise InvalidPaymentPlan(f"installment 1 is due on {dates[0]}, before today ({today})")
    if any(a >= b for a, b in itertools.pairwise(dates)):
        raise InvalidPaymentPlan("installment due dates must increase")
    term = term_in_months(today, dates[-1])
    if term > policy.plan_max_term_months:
        raise InvalidPaymentPlan(
            f"the plan runs {term} months; the maximum term is {policy.plan_max_term_months} months"
        )
    if total.amount_minor > case.balance_minor:
        raise InvalidPaymentPlan(
            f"the agreed amount {total.amount_minor} is more than the balance {case.balance_minor}"
        )


def validate_settlement(
    amount: Money, due_on: date, case: CaseFacts, now: datetime, policy: ArrangementPolicy
) -> int:
    """The settlement rules; returns the days the debtor has to pay."""
    if amount.currency != case.currency:
        raise CurrencyMismatch(amount.currency, case.currency)
    if amount.amount_minor <= 0:
        raise InvalidSettlement("the settlement amount must be more than zero")
    if case.balance_minor <= 0:
        raise InvalidSettlement("the case has no balance to settle")
    if amount.amount_minor > case.balance_minor:
        raise InvalidSettlement(
            f"the settlement amount {amount.amount_minor} is more than the balance {case.balance_minor}"
        )
    today = local_date(now, case.time_zone)
    if due_on < today:
        raise InvalidSettlement(f"the settlement is due on {due_on}, before today ({today})")
    days = (due_on - today).days
    if days > policy.settlement_max_days:
        raise InvalidSettlement(
            f"the settlement is due in {days} days; the longest allowed is {policy.settlement_max_days}"
        )
    return days
