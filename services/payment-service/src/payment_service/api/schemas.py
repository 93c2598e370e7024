"""HTTP request and response bodies of the payment service."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import date, datetime
from typing import Annotated, Any, TypeVar

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, StrictInt, model_validator

from dcp_events.catalogue.base import MAX_MINOR, Currency
from dcp_events.catalogue.base import Money as EventMoney
from dcp_events.catalogue.enums import Channel, PaymentMethod, ReversalReason
from dcp_events.catalogue.payments import (
    Affordability,
    Household,
    StatementCategory,
    StatementEntry,
    StatementFrequency,
    StatementSource,
)
from payment_service.domain.calendar import Frequency, schedule_dates, split_amount
from payment_service.domain.errors import InvalidPaymentPlan

Reference = Annotated[str, Field(min_length=1, max_length=128)]


class Money(BaseModel):
    """An amount in minor units (cents, pence) and its ISO 4217 currency."""

    model_config = ConfigDict(extra="forbid")

    # the event model's bound, so what the API accepts the events accept (10^15 minor units)
    amount_minor: StrictInt = Field(gt=0, le=MAX_MINOR)
    currency: Currency

    def to_event(self) -> EventMoney:
        return EventMoney(amount_minor=self.amount_minor, currency=self.currency)


class MoneyOut(BaseModel):
    amount_minor: int
    currency: str


def _money(amount_minor: int, currency: str) -> MoneyOut:
    return MoneyOut(amount_minor=amount_minor, currency=currency)


OutT = TypeVar("OutT", bound=BaseModel)


def _from_row(out: type[OutT], row: Mapping[str, Any], **columns: Any) -> OutT:
    """A response model from its read-model row: the columns of the same names as they are; each
    money field named in `columns` from its minor-units column (a string) in the row's currency;
    any other value in `columns` as given."""
    currency = row["currency"]
    values = {
        name: _money(row[column], currency) if isinstance(column, str) else column
        for name, column in columns.items()
    }
    return out.model_validate({**row, **values})


class PaymentIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    case_id: Reference
    amount: Money
    method: PaymentMethod
    external_reference: Reference = Field(description="The payer's reference: the idempotency key.")
    received_at: AwareDatetime | None = Field(default=None, description="Default: now.")


class PaymentOut(BaseModel):
    payment_id: str
    case_id: str
    external_reference: str
    amount: MoneyOut
    method: str
    received_at: datetime
    status: str = Field(description="applied, unapplied or reversed.")
    unapplied_reason: str | None
    applied_at: datetime | None
    reversed_at: datetime | None
    reversal_reason: str | None

    @classmethod
    def from_row(cls, row: Mapping[str, Any]) -> PaymentOut:
        return _from_row(cls, row, amount="amount_minor")


class PaymentPage(BaseModel):
    items: list[PaymentOut]
    next_cursor: str | None = Field(description="Pass as `cursor` for the next page; null at the end.")


class ReversalIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    reason: ReversalReason
    reference: Reference | None = Field(default=None, description="The chargeback or return reference.")
    reversed_at: AwareDatetime | None = Field(default=None, description="Default: now.")


class PromiseOut(BaseModel):
    promise_id: str
    case_id: str
    amount: MoneyOut
    due_on: date
    made_at: datetime
    settles_at: datetime = Field(description="Due date plus grace, end of day in the debtor's time zone.")
    status: str = Field(description="open, kept or broken.")
    amount_paid: MoneyOut
    settled_at: datetime | None

    @classmethod
    def from_row(cls, row: Mapping[str, Any]) -> PromiseOut:
        return _from_row(cls, row, amount="amount_minor", amount_paid="amount_paid_minor")


class InstallmentIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    due_on: date
    amount: Money


class ScheduleIn(BaseModel):
    """A regular schedule: `count` installments from `first_due_on`; monthly ones keep the day of the
    month (the 31st falls on the last day of shorter months); the last carries the remainder."""

    model_config = ConfigDict(extra="forbid")

    first_due_on: date
    count: StrictInt = Field(ge=1, le=600)
    frequency: Frequency = Frequency.MONTHLY


class PlanIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    case_id: Reference
    total: Money = Field(description="The agreed amount; installments must add up to it.")
    installments: list[InstallmentIn] | None = Field(default=None, min_length=1, max_length=600)
    schedule: ScheduleIn | None = None
    channel: Channel | None = None

    @model_validator(mode="after")
    def _one_way(self) -> PlanIn:
        if (self.installments is None) == (self.schedule is None):
            raise ValueError("give either `installments` or `schedule`")
        return self

    def installment_list(self) -> list[tuple[date, EventMoney]]:
        if self.installments is not None:
            return [(i.due_on, i.amount.to_event()) for i in self.installments]
        assert self.schedule is not None
        dates = schedule_dates(self.schedule.first_due_on, self.schedule.count, self.schedule.frequency)
        try:
            amounts = split_amount(self.total.amount_minor, self.schedule.count)
        except ValueError as exc:
            raise InvalidPaymentPlan(
                f"the total cannot be split into {self.schedule.count} installments"
            ) from exc
        return [
            (d, EventMoney(amount_minor=a, currency=self.total.currency))
            for d, a in zip(dates, amounts, strict=True)
        ]


class InstallmentOut(BaseModel):
    number: int
    due_on: date
    amount: MoneyOut
    paid: MoneyOut
    status: str = Field(description="open, paid or missed.")
    deadline: datetime


class PlanOut(BaseModel):
    plan_id: str
    case_id: str
    total: MoneyOut
    paid: MoneyOut
    status: str = Field(description="active, completed or broken.")
    missed_installments: int
    installments: list[InstallmentOut]
    channel: str | None
    collector_id: str | None
    agreed_at: datetime
    ended_at: datetime | None
    affordability: Affordability | None = Field(
        default=None,
        description="The income and expenditure statement behind the plan (its date and source, what it "
        "leaves each month, the plan's largest month); null when none was current.",
    )

    @classmethod
    def from_row(cls, row: Mapping[str, Any]) -> PlanOut:
        currency = row["currency"]
        installments = [
            _from_row(InstallmentOut, {**i, "currency": currency}, amount="amount_minor", paid="paid_minor")
            for i in row["installments"]
        ]
        return _from_row(cls, row, total="total_minor", paid="paid_minor", installments=installments)


class SettlementIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    case_id: Reference
    amount: Money = Field(description="The discounted payoff amount.")
    due_on: date = Field(description="Paid in full by the end of this day (debtor's time zone): settled.")


class SettlementOut(BaseModel):
    settlement_id: str
    case_id: str
    amount: MoneyOut
    balance_at_agreement: MoneyOut
    amount_paid: MoneyOut
    due_on: date
    settles_at: datetime
    status: str = Field(description="active, paid or lapsed.")
    collector_id: str | None
    agreed_at: datetime
    ended_at: datetime | None
    affordability: Affordability | None = Field(
        default=None,
        description="The statement behind the settlement: what it supports by the deadline (the monthly "
        "amount available times the months to pay, plus savings); null when none was current.",
    )

    @classmethod
    def from_row(cls, row: Mapping[str, Any]) -> SettlementOut:
        return _from_row(
            cls,
            row,
            amount="amount_minor",
            balance_at_agreement="balance_at_agreement_minor",
            amount_paid="amount_paid_minor",
        )


# ---- income and expenditure -------------------------------------------------------------------------

Item = Annotated[str, Field(min_length=1, max_length=64, pattern=r"^[a-z][a-z0-9_]*$")]


class Amount(BaseModel):
    """An amount that may be zero (a line of a statement)."""

    model_config = ConfigDict(extra="forbid")

    amount_minor: StrictInt = Field(ge=0, le=MAX_MINOR)
    currency: Currency

    def to_event(self) -> EventMoney:
        return EventMoney(amount_minor=self.amount_minor, currency=self.currency)


class StatementLineIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    category: StatementCategory
    line_item: Item = Field(description="What it is: salary, universal_credit, rent, council_tax, food, ...")
    amount: Amount
    frequency: StatementFrequency = StatementFrequency.MONTHLY


class FinancialStatementIn(BaseModel):
    """The debtor's income and expenditure (the Standard Financial Statement's parts)."""

    model_config = ConfigDict(extra="forbid")

    statement_date: date = Field(description="The day the figures describe; not after today.")
    source: StatementSource
    household: Household
    lines: list[StatementLineIn] = Field(min_length=1, max_length=200)
    savings: Amount | None = Field(default=None, description="Savings the debtor could draw on.")


class FinancialStatementOut(BaseModel):
    statement_id: str
    case_id: str
    statement_date: date
    source: StatementSource
    household: Household
    entries: list[StatementEntry]
    monthly_income: MoneyOut
    monthly_outgoings: MoneyOut = Field(description="Fixed and flexible costs and priority debts.")
    monthly_non_priority: MoneyOut = Field(description="Payments to the debtor's other creditors.")
    monthly_surplus: MoneyOut = Field(description="Income less outgoings (negative: a deficit).")
    monthly_available: MoneyOut = Field(
        description="The surplus less the other creditors' payments: what a plan here may ask a month."
    )
    savings: MoneyOut
    recorded_by: str
    recorded_at: datetime
    current: bool = Field(description="Still judging arrangements (recent enough, and the newest).")

    @classmethod
    def from_row(cls, row: Mapping[str, Any], *, current: bool) -> FinancialStatementOut:
        return _from_row(
            cls,
            row,
            monthly_income="monthly_income_minor",
            monthly_outgoings="monthly_outgoings_minor",
            monthly_non_priority="monthly_non_priority_minor",
            monthly_surplus="monthly_surplus_minor",
            monthly_available="monthly_available_minor",
            savings="savings_minor",
            current=current,
        )
