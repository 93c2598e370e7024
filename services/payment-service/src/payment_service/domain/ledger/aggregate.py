"""The payment side of one case (`CaseLedger`): payments, reversals, promises, plans and settlements.

One event stream per case (`ledger-<case id>`) keeps every decision that needs the whole picture
consistent: a payment is allocated to the plan, counted toward promises and toward a settlement in
the same step, and a reversal can take back what it had kept. The decisions here record catalogue
events (`_record`); the mutators of `CaseLedgerState` evolve the state from them.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date, datetime
from typing import Self

from dcp_events.catalogue import payments as events
from dcp_events.catalogue.base import Money, MoneyDelta
from dcp_events.catalogue.enums import Channel, PaymentMethod, ReversalReason
from payment_service.domain import affordability
from payment_service.domain.calendar import deadline, local_date
from payment_service.domain.errors import (
    ActivePlanExists,
    ActiveSettlementExists,
    CaseAlreadyClosed,
    CaseUnknown,
    CurrencyMismatch,
    InvalidFinancialStatement,
    PaymentAlreadyReversed,
    PaymentUnknown,
    SupervisorApprovalRequired,
)
from payment_service.domain.ledger import state
from payment_service.domain.ledger.evolve import CaseLedgerState
from payment_service.domain.ledger.rules import (
    check_collector_plan_limits,
    check_collector_settlement_limits,
    validate_plan,
    validate_settlement,
)


class CaseLedger(CaseLedgerState):
    """The payment-side aggregate of one case, rebuilt from its events (`from_events`,
    `from_history`); each decision returns the events it recorded, which stay `pending` until
    appended."""

    stream_prefix = "ledger-"

    @property
    def aggregate_id(self) -> str:
        return self.case_id

    @classmethod
    def new(cls, aggregate_id: str) -> Self:
        return cls(aggregate_id)

    # ---- decisions: payments -------------------------------------------------------------------

    def receive_payment(
        self,
        *,
        payment_id: str,
        amount: Money,
        method: PaymentMethod,
        external_reference: str,
        received_at: datetime,
        case: state.CaseFacts | None,
        now: datetime,
        policy: state.ArrangementPolicy,
        hold_foreign_currency: bool = False,
    ) -> list[events.PaymentEvent]:
        """Apply a payment to the case, or hold it unapplied while the case is unknown. A payment on a
        closed case is applied too: case-service books it (a credit due back on a case closed as paid,
        a recovery on a written-off one).

        A currency other than the case's is refused (CurrencyMismatch), or held unapplied with
        `hold_foreign_currency` (a payment the bank reports happened)."""
        if payment_id in self.payments:
            return []
        start = len(self.pending)
        foreign = case is not None and amount.currency != case.currency
        if foreign and not hold_foreign_currency:
            assert case is not None
            raise CurrencyMismatch(amount.currency, case.currency)
        if case is None or foreign:
            self._record(
                events.PaymentHeld(
                    payment_id=payment_id,
                    amount=amount,
                    method=method,
                    external_reference=external_reference,
                    received_at=received_at,
                    reason=(
                        events.UnappliedReason.UNKNOWN_CASE
                        if case is None
                        else events.UnappliedReason.CURRENCY_MISMATCH
                    ),
                ),
                now,
            )
        else:
            self._record(
                events.PaymentReceived(
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
        self, case: state.CaseFacts, now: datetime, policy: state.ArrangementPolicy
    ) -> list[events.PaymentEvent]:
        """The case has appeared: apply the payments held for it (a currency mismatch stays held)."""
        start = len(self.pending)
        held = sorted(
            (
                p
                for p in self.payments.values()
                if p.status is state.PaymentStatus.UNAPPLIED
                and p.unapplied_reason is events.UnappliedReason.UNKNOWN_CASE
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
            if p.currency != case.currency:
                self._record(
                    events.PaymentHeld(**common, reason=events.UnappliedReason.CURRENCY_MISMATCH), now
                )
            else:
                self._record(events.PaymentReceived(**common), now)
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
        case: state.CaseFacts | None,
        now: datetime,
        policy: state.ArrangementPolicy,
    ) -> list[events.PaymentEvent]:
        """Reverse a payment (chargeback, returned payment): the balance is restored, and what it
        had kept (a promise, an installment whose deadline passed) is broken."""
        payment = self.payments.get(payment_id)
        if payment is None:
            raise PaymentUnknown(f"no payment {payment_id} on case {self.case_id}")
        if payment.status is state.PaymentStatus.REVERSED:
            raise PaymentAlreadyReversed(f"payment {payment_id} was already reversed")
        start = len(self.pending)
        was_applied = payment.status is state.PaymentStatus.APPLIED
        self._record(
            events.PaymentReversed(
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
            if promise.status is not state.ArrangementStatus.KEPT or promise.currency != payment.currency:
                continue
            if not promise.made_at <= payment.received_at < promise.settles_at:
                continue
            paid = self._promise_paid(promise)
            if paid < promise.amount_minor:
                self._record(
                    events.PromiseBroken(
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
            time_zone = case.time_zone if case is not None else state.UTC_ZONE
            allocation = self.allocation(plan)
            for installment in plan.installments:
                due = deadline(installment.due_on, policy.installment_grace_days, time_zone)
                paid = allocation.paid[installment.number - 1]
                if not installment.missed and due <= now and paid < installment.amount_minor:
                    self._miss(plan, installment, paid, now, reversed_payment_id=payment_id)
            self._break_if_too_many_missed(plan, now, policy)
        return self.pending[start:]

    def _after_payment(self, case: state.CaseFacts, now: datetime, policy: state.ArrangementPolicy) -> None:
        settlement = self.active_settlement
        if settlement is not None:
            settles_at = deadline(settlement.due_on, policy.settlement_grace_days, case.time_zone)
            paid, payment_ids = self.settlement_paid_minor(settlement, settles_at)
            if paid >= settlement.amount_minor and payment_ids:
                self._record(
                    events.SettlementPaid(
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
                    events.PaymentPlanCompleted(
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
        case: state.CaseFacts | None,
        now: datetime,
        policy: state.ArrangementPolicy,
    ) -> list[events.PaymentEvent]:
        """Start watching a promise made during a contact (idempotent per promise id)."""
        if promise_id in self.promises:
            return []
        time_zone = case.time_zone if case is not None else state.UTC_ZONE
        start = len(self.pending)
        self._record(
            events.PromiseTracked(
                promise_id=promise_id,
                amount_promised=amount,
                due_on=due_on,
                made_at=made_at,
                settles_at=deadline(due_on, policy.promise_grace_days, time_zone),
            ),
            now,
        )
        return self.pending[start:]

    def settle_promise(self, promise_id: str, now: datetime) -> list[events.PaymentEvent]:
        """At the promise's due date plus grace: kept when the promised amount was paid, else broken."""
        promise = self.promises.get(promise_id)
        if promise is None or promise.status is not state.ArrangementStatus.OPEN or now < promise.settles_at:
            return []
        start = len(self.pending)
        payments = self.counted_payments(promise.currency, promise.made_at, promise.settles_at)
        paid = sum(p.amount_minor for p in payments)
        promised = Money(amount_minor=promise.amount_minor, currency=promise.currency)
        paid_money = Money(amount_minor=paid, currency=promise.currency)
        if paid >= promise.amount_minor and payments:
            self._record(
                events.PromiseKept(
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
                events.PromiseBroken(
                    promise_id=promise_id,
                    amount_promised=promised,
                    amount_paid=paid_money,
                    due_on=promise.due_on,
                ),
                now,
            )
        return self.pending[start:]

    def _promise_paid(self, promise: state.TrackedPromise) -> int:
        return sum(
            p.amount_minor
            for p in self.counted_payments(promise.currency, promise.made_at, promise.settles_at)
        )

    # ---- decisions: plans ----------------------------------------------------------------------

    # ---- decisions: income and expenditure ------------------------------------------------------

    def record_financial_statement(
        self,
        *,
        statement_id: str,
        statement_date: date,
        source: events.StatementSource,
        household: events.Household,
        lines: Sequence[tuple[events.StatementCategory, str, Money, events.StatementFrequency]],
        savings: Money | None,
        recorded_by: str,
        case: state.CaseFacts | None,
        now: datetime,
    ) -> list[events.PaymentEvent]:
        """Record the debtor's income and expenditure: every line in the case's currency, dated no later
        than the debtor's today (no income at all is a statement too: it supports nothing). It judges
        the plans and settlements agreed after it while it is current."""
        case = self._open_case(case)
        for _, _, amount, _ in lines:
            if amount.currency != case.currency:
                raise CurrencyMismatch(amount.currency, case.currency)
        if savings is not None and savings.currency != case.currency:
            raise CurrencyMismatch(savings.currency, case.currency)
        today = local_date(now, case.time_zone)
        if statement_date > today:
            raise InvalidFinancialStatement(f"the statement is dated {statement_date}, after today ({today})")
        entries = [affordability.entry(category, item, amount, f) for category, item, amount, f in lines]
        totals = affordability.figures(entries)
        currency = case.currency
        start = len(self.pending)
        self._record(
            events.FinancialStatementRecorded(
                statement_id=statement_id,
                statement_date=statement_date,
                source=source,
                household=household,
                entries=entries,
                monthly_income=Money(amount_minor=totals.income, currency=currency),
                monthly_outgoings=Money(amount_minor=totals.outgoings, currency=currency),
                monthly_non_priority=Money(amount_minor=totals.non_priority, currency=currency),
                monthly_surplus=MoneyDelta(delta_minor=totals.surplus, currency=currency),
                monthly_available=MoneyDelta(delta_minor=totals.available, currency=currency),
                savings=savings,
                recorded_by=recorded_by,
            ),
            now,
        )
        return self.pending[start:]

    def current_statement(
        self, today: date, policy: state.ArrangementPolicy
    ) -> affordability.CurrentStatement | None:
        """The newest statement (by its date, then as recorded) still current on the debtor's `today`."""
        current = [
            s
            for s in self.statements.values()
            if affordability.is_current(s.statement_date, today, policy.statement_valid_months)
        ]
        if not current:
            return None
        newest = max(current, key=lambda s: (s.statement_date, s.order))
        return affordability.CurrentStatement(
            statement_id=newest.statement_id,
            statement_date=newest.statement_date,
            source=newest.source,
            currency=newest.currency,
            available_minor=newest.available_minor,
            savings_minor=newest.savings_minor,
        )

    def _statement_for(
        self,
        case: state.CaseFacts,
        today: date,
        policy: state.ArrangementPolicy,
        by_supervisor: bool,
        what: str,
    ) -> affordability.CurrentStatement | None:
        statement = self.current_statement(today, policy)
        if statement is not None and statement.currency != case.currency:
            statement = None  # a statement taken in another currency judges nothing here
        if statement is None and not by_supervisor and case.jurisdiction in policy.statement_required_in:
            raise SupervisorApprovalRequired(
                f"in {case.jurisdiction} a collector agrees a {what} only with a current income and "
                f"expenditure statement (none in the last {policy.statement_valid_months} months); "
                "record one (POST /cases/{case_id}/financial-statements) or a supervisor must agree it"
            )
        return statement

    @staticmethod
    def _require_affordable(judged: events.Affordability | None, by_supervisor: bool, what: str) -> None:
        if judged is None or judged.within or by_supervisor:
            return
        raise SupervisorApprovalRequired(
            f"the {what} asks {judged.asked.amount_minor} {judged.asked.currency} minor units; the income "
            f"and expenditure statement of {judged.statement_date} supports "
            f"{judged.supported.amount_minor}: a supervisor must agree it"
        )

    # ---- decisions: arrangements ----------------------------------------------------------------

    def agree_plan(
        self,
        *,
        plan_id: str,
        total: Money,
        installments: Sequence[tuple[date, Money]],
        case: state.CaseFacts | None,
        now: datetime,
        policy: state.ArrangementPolicy,
        by_supervisor: bool,
        channel: Channel | None = None,
        collector_id: str | None = None,
    ) -> list[events.PaymentEvent]:
        """Agree a repayment plan: validated, and above the collector's limits only by a supervisor."""
        case = self._open_case(case)
        if self.active_plan is not None:
            raise ActivePlanExists(f"case {self.case_id} already has active plan {self.active_plan.plan_id}")
        validate_plan(total, installments, case, now, policy)
        if not by_supervisor:
            check_collector_plan_limits(total, installments, case, now, policy)
        today = local_date(now, case.time_zone)
        statement = self._statement_for(case, today, policy, by_supervisor, "plan")
        judged = statement.for_plan(installments, by_supervisor) if statement else None
        self._require_affordable(judged, by_supervisor, "plan")
        start = len(self.pending)
        self._record(
            events.PaymentPlanAgreed(
                plan_id=plan_id,
                total=total,
                installments=[
                    events.Installment(number=n, due_on=due_on, amount=amount)
                    for n, (due_on, amount) in enumerate(installments, start=1)
                ],
                channel=channel,
                collector_id=collector_id,
                affordability=judged,
            ),
            now,
        )
        return self.pending[start:]

    def installment_due(
        self, plan_id: str, number: int, now: datetime, time_zone: str, policy: state.ArrangementPolicy
    ) -> list[events.PaymentEvent]:
        """At an installment's due date plus grace: missed when not fully paid; too many misses
        break the plan."""
        plan = self.plans.get(plan_id)
        if (
            plan is None
            or plan.status is not state.ArrangementStatus.ACTIVE
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
        plan: state.Plan,
        installment: state.PlanInstallment,
        paid: int,
        now: datetime,
        reversed_payment_id: str | None = None,
    ) -> None:
        self._record(
            events.InstallmentMissed(
                plan_id=plan.plan_id,
                installment_number=installment.number,
                due_on=installment.due_on,
                amount_due=Money(amount_minor=installment.amount_minor, currency=plan.currency),
                amount_paid=Money(amount_minor=paid, currency=plan.currency),
                reversed_payment_id=reversed_payment_id,
            ),
            now,
        )

    def _break_if_too_many_missed(
        self, plan: state.Plan, now: datetime, policy: state.ArrangementPolicy
    ) -> None:
        if (
            plan.status is state.ArrangementStatus.ACTIVE
            and plan.missed_count >= policy.plan_missed_installments_to_break
        ):
            self._record(
                events.PaymentPlanBroken(
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
        case: state.CaseFacts | None,
        now: datetime,
        policy: state.ArrangementPolicy,
        by_supervisor: bool,
        collector_id: str | None = None,
    ) -> list[events.PaymentEvent]:
        """Agree a discounted payoff with a deadline; paid in time it settles the case."""
        case = self._open_case(case)
        if self.active_settlement is not None:
            raise ActiveSettlementExists(
                f"case {self.case_id} already has open settlement {self.active_settlement.settlement_id}"
            )
        days = validate_settlement(amount, due_on, case, now, policy)
        if not by_supervisor:
            check_collector_settlement_limits(amount, days, case, policy)
        today = local_date(now, case.time_zone)
        statement = self._statement_for(case, today, policy, by_supervisor, "settlement")
        judged = statement.for_settlement(amount, today, due_on, by_supervisor) if statement else None
        self._require_affordable(judged, by_supervisor, "settlement")
        start = len(self.pending)
        self._record(
            events.SettlementAgreed(
                settlement_id=settlement_id,
                settlement_amount=amount,
                balance_at_agreement=Money(amount_minor=case.balance_minor, currency=case.currency),
                due_on=due_on,
                collector_id=collector_id,
                affordability=judged,
            ),
            now,
        )
        return self.pending[start:]

    def settlement_due(
        self, settlement_id: str, now: datetime, time_zone: str, policy: state.ArrangementPolicy
    ) -> list[events.PaymentEvent]:
        """At the settlement deadline: lapsed when it was not paid in full in time."""
        settlement = self.settlements.get(settlement_id)
        if settlement is None or settlement.status is not state.ArrangementStatus.ACTIVE:
            return []
        settles_at = deadline(settlement.due_on, policy.settlement_grace_days, time_zone)
        if now < settles_at:
            return []
        paid, _ = self.settlement_paid_minor(settlement, settles_at)
        start = len(self.pending)
        self._record(
            events.SettlementLapsed(
                settlement_id=settlement_id,
                due_on=settlement.due_on,
                amount_paid=Money(amount_minor=paid, currency=settlement.currency),
                reason=f"{paid} of {settlement.amount_minor} {settlement.currency} minor units paid "
                "by the deadline",
            ),
            now,
        )
        return self.pending[start:]

    def _open_case(self, case: state.CaseFacts | None) -> state.CaseFacts:
        if case is None:
            raise CaseUnknown(f"case {self.case_id} is not known to the payment service")
        if case.closed:
            raise CaseAlreadyClosed(f"case {self.case_id} is closed")
        return case
