"""Payments, promises, plans and settlements, published by payment-service on collections.payments."""

from __future__ import annotations

from enum import StrEnum
from typing import ClassVar

from pydantic import Field, StrictBool, StrictInt, model_validator

from dcp_events.catalogue.base import (
    Count,
    EventPayload,
    Id,
    IsoDate,
    Money,
    MoneyDelta,
    PayloadModel,
    Text,
    UtcDateTime,
)
from dcp_events.catalogue.enums import Channel, PaymentMethod, ReversalReason

TOPIC = "collections.payments"


def _positive(money: Money, name: str) -> None:
    if money.amount_minor == 0:
        raise ValueError(f"{name} must be more than zero")


class PaymentEvent(EventPayload):
    topic: ClassVar[str] = TOPIC


class PaymentReceived(PaymentEvent):
    event_type: ClassVar[str] = "collections.payment.received"
    version: ClassVar[int] = 1

    payment_id: Id
    amount: Money
    method: PaymentMethod
    external_reference: Id = Field(description="The payer's or bank's reference; the idempotency key.")
    received_at: UtcDateTime

    @model_validator(mode="after")
    def _positive_amount(self) -> PaymentReceived:
        _positive(self.amount, "amount")
        return self


class UnappliedReason(StrEnum):
    """Why a received payment is held instead of being applied to its case."""

    UNKNOWN_CASE = "unknown_case"
    CASE_CLOSED = "case_closed"
    CURRENCY_MISMATCH = "currency_mismatch"


class PaymentHeld(PaymentEvent):
    """A payment was received but cannot be applied yet (unknown or closed case): it is kept,
    visible as unapplied, and applied (`PaymentReceived`) when its case appears. No balance changes."""

    event_type: ClassVar[str] = "collections.payment.held"
    version: ClassVar[int] = 1

    payment_id: Id
    amount: Money
    method: PaymentMethod
    external_reference: Id = Field(description="The payer's or bank's reference; the idempotency key.")
    received_at: UtcDateTime
    reason: UnappliedReason

    @model_validator(mode="after")
    def _positive_amount(self) -> PaymentHeld:
        _positive(self.amount, "amount")
        return self


class PaymentReversed(PaymentEvent):
    event_type: ClassVar[str] = "collections.payment.reversed"
    version: ClassVar[int] = 1

    payment_id: Id
    amount: Money
    reason: ReversalReason
    external_reference: Id | None = None
    reversed_at: UtcDateTime
    applied: StrictBool = Field(
        default=True,
        description="False: the payment was still held unapplied, so the case balance does not change.",
    )


class PromiseKept(PaymentEvent):
    event_type: ClassVar[str] = "collections.payment.promise_kept"
    version: ClassVar[int] = 1

    promise_id: Id
    amount_promised: Money
    amount_paid: Money
    due_on: IsoDate
    payment_ids: list[Id] = Field(min_length=1)


class PromiseTracked(PaymentEvent):
    """payment-service watches a promise (from `PromiseMade`): payments received from `made_at`
    until `settles_at` (the due date plus grace, end of day in the debtor's time zone) count."""

    event_type: ClassVar[str] = "collections.payment.promise_tracked"
    version: ClassVar[int] = 1

    promise_id: Id
    amount_promised: Money
    due_on: IsoDate
    made_at: UtcDateTime
    settles_at: UtcDateTime


class PromiseBroken(PaymentEvent):
    event_type: ClassVar[str] = "collections.payment.promise_broken"
    version: ClassVar[int] = 1

    promise_id: Id
    amount_promised: Money
    amount_paid: Money
    due_on: IsoDate
    reversed_payment_id: Id | None = Field(
        default=None, description="Set when a reversal broke a promise that had been kept."
    )


class Installment(PayloadModel):
    number: StrictInt = Field(ge=1)
    due_on: IsoDate
    amount: Money


class StatementCategory(StrEnum):
    """The parts of an income and expenditure statement, after the UK Standard Financial Statement:
    what comes in; the fixed and the flexible costs of living; payments to priority creditors (rent or
    mortgage, council tax, energy, tax, fines: not paying them costs a home, a supply or liberty); and
    payments to the debtor's other (non-priority) creditors."""

    INCOME = "income"
    FIXED_COSTS = "fixed_costs"
    FLEXIBLE_COSTS = "flexible_costs"
    PRIORITY_DEBTS = "priority_debts"
    NON_PRIORITY_DEBTS = "non_priority_debts"


class StatementFrequency(StrEnum):
    """How often an amount comes in or goes out; every line is also stated per month."""

    WEEKLY = "weekly"
    FORTNIGHTLY = "fortnightly"
    FOUR_WEEKLY = "four_weekly"
    MONTHLY = "monthly"
    QUARTERLY = "quarterly"
    ANNUALLY = "annually"


class StatementSource(StrEnum):
    """Where the figures come from: the debtor's word, a debt adviser's statement (an SFS or a CFS
    from a free advice agency), documents seen, a credit reference agency, or open banking data."""

    DEBTOR_STATED = "debtor_stated"
    DEBT_ADVISER = "debt_adviser"
    DOCUMENTS_VERIFIED = "documents_verified"
    CREDIT_REFERENCE_AGENCY = "credit_reference_agency"
    OPEN_BANKING = "open_banking"


class StatementEntry(PayloadModel):
    """One line of the statement: an item (salary, rent, council_tax, food...) of a category, its
    amount at its own frequency, and that amount per month (rounded to the minor unit). The lines are
    personal data (`line_item`): sealed in the published event, dropped from its redacted form."""

    category: StatementCategory
    line_item: Id
    amount: Money
    frequency: StatementFrequency
    monthly: Money


class Household(PayloadModel):
    adults: Count = Field(ge=1)
    children: Count = 0
    vehicles: Count = 0


class FinancialStatementRecorded(PaymentEvent):
    """An income and expenditure statement of the debtor, taken for this case. `monthly_surplus` is
    income less the costs of living and the priority debts (negative: a deficit); `monthly_available`
    is what is left of it after the payments to the other non-priority creditors: what a plan on this
    debt can ask each month without a supervisor. A newer statement supersedes the older ones."""

    event_type: ClassVar[str] = "collections.payment.financial_statement_recorded"
    version: ClassVar[int] = 1

    statement_id: Id
    statement_date: IsoDate = Field(description="The day the figures describe (the debtor's day).")
    source: StatementSource
    household: Household
    entries: list[StatementEntry] = Field(
        max_length=200, description="The lines (empty only in the redacted form of a sealed event)."
    )
    monthly_income: Money
    monthly_outgoings: Money = Field(description="Fixed and flexible costs and priority debts, monthly.")
    monthly_non_priority: Money = Field(description="Payments to the other non-priority creditors, monthly.")
    monthly_surplus: MoneyDelta
    monthly_available: MoneyDelta
    savings: Money | None = None
    recorded_by: Id

    @model_validator(mode="after")
    def _consistent(self) -> FinancialStatementRecorded:
        currency = self.monthly_income.currency
        amounts = [self.monthly_outgoings, self.monthly_non_priority]
        amounts += [self.savings] if self.savings else []
        for entry in self.entries:
            amounts += [entry.amount, entry.monthly]
        if any(m.currency != currency for m in amounts) or {
            self.monthly_surplus.currency,
            self.monthly_available.currency,
        } != {currency}:
            raise ValueError("a statement is in one currency")
        if not self.entries:
            return self  # the redacted form: the lines were sealed away, the totals stand

        def total(*categories: StatementCategory) -> int:
            return sum(e.monthly.amount_minor for e in self.entries if e.category in categories)

        essential = (
            StatementCategory.FIXED_COSTS,
            StatementCategory.FLEXIBLE_COSTS,
            StatementCategory.PRIORITY_DEBTS,
        )
        if (
            total(StatementCategory.INCOME) != self.monthly_income.amount_minor
            or total(*essential) != self.monthly_outgoings.amount_minor
            or total(StatementCategory.NON_PRIORITY_DEBTS) != self.monthly_non_priority.amount_minor
        ):
            raise ValueError("the monthly totals do not add up from the entries")
        surplus = self.monthly_income.amount_minor - self.monthly_outgoings.amount_minor
        if self.monthly_surplus.delta_minor != surplus or self.monthly_available.delta_minor != (
            surplus - self.monthly_non_priority.amount_minor
        ):
            raise ValueError("the surplus or the amount available does not follow from the totals")
        return self


class Affordability(PayloadModel):
    """The income and expenditure behind a plan or a settlement: the statement (its date and source),
    what it leaves each month, what the arrangement asks, and whether that is within it. Absent on an
    arrangement made without a current statement."""

    statement_id: Id
    statement_date: IsoDate
    statement_source: StatementSource
    monthly_available: MoneyDelta
    supported: Money = Field(
        description="What the statement supports: per month for a plan; in all, by the deadline, for a "
        "settlement."
    )
    asked: Money = Field(
        description="What the arrangement asks: its largest calendar month for a plan; the amount for a "
        "settlement."
    )
    within: StrictBool
    approved_by_supervisor: StrictBool = False


class PaymentPlanAgreed(PaymentEvent):
    event_type: ClassVar[str] = "collections.payment.plan_agreed"
    version: ClassVar[int] = 1

    plan_id: Id
    total: Money
    installments: list[Installment] = Field(min_length=1)
    channel: Channel | None = None
    collector_id: Id | None = None
    affordability: Affordability | None = None

    @model_validator(mode="after")
    def _consistent(self) -> PaymentPlanAgreed:
        if [i.number for i in self.installments] != list(range(1, len(self.installments) + 1)):
            raise ValueError("installments must be numbered 1, 2, 3... in order")
        if any(a.due_on >= b.due_on for a, b in zip(self.installments, self.installments[1:], strict=False)):
            raise ValueError("installment due dates must increase")
        if any(i.amount.currency != self.total.currency for i in self.installments):
            raise ValueError("installments and total are in different currencies")
        if sum(i.amount.amount_minor for i in self.installments) != self.total.amount_minor:
            raise ValueError("installments do not add up to the total")
        return self


class InstallmentMissed(PaymentEvent):
    event_type: ClassVar[str] = "collections.payment.installment_missed"
    version: ClassVar[int] = 1

    plan_id: Id
    installment_number: StrictInt = Field(ge=1)
    due_on: IsoDate
    amount_due: Money
    amount_paid: Money
    reversed_payment_id: Id | None = Field(
        default=None, description="Set when a reversal unpaid an installment whose deadline had passed."
    )


class PaymentPlanCompleted(PaymentEvent):
    event_type: ClassVar[str] = "collections.payment.plan_completed"
    version: ClassVar[int] = 1

    plan_id: Id
    total_paid: Money


class PaymentPlanBroken(PaymentEvent):
    event_type: ClassVar[str] = "collections.payment.plan_broken"
    version: ClassVar[int] = 1

    plan_id: Id
    missed_installments: Count
    reason: Text


class SettlementAgreed(PaymentEvent):
    event_type: ClassVar[str] = "collections.payment.settlement_agreed"
    version: ClassVar[int] = 1

    settlement_id: Id
    settlement_amount: Money
    balance_at_agreement: Money
    due_on: IsoDate
    collector_id: Id | None = None
    affordability: Affordability | None = None

    @model_validator(mode="after")
    def _a_discount(self) -> SettlementAgreed:
        if self.settlement_amount.currency != self.balance_at_agreement.currency:
            raise ValueError("settlement and balance are in different currencies")
        if self.settlement_amount.amount_minor > self.balance_at_agreement.amount_minor:
            raise ValueError("a settlement cannot exceed the balance")
        _positive(self.settlement_amount, "settlement_amount")
        return self


class SettlementPaid(PaymentEvent):
    """The settlement amount was paid in time: the case closes as settled, the rest is waived."""

    event_type: ClassVar[str] = "collections.payment.settlement_paid"
    version: ClassVar[int] = 1

    settlement_id: Id
    settlement_amount: Money
    amount_paid: Money
    balance_at_agreement: Money
    due_on: IsoDate
    payment_ids: list[Id] = Field(min_length=1)


class SettlementLapsed(PaymentEvent):
    event_type: ClassVar[str] = "collections.payment.settlement_lapsed"
    version: ClassVar[int] = 1

    settlement_id: Id
    due_on: IsoDate
    amount_paid: Money
    reason: Text | None = None
