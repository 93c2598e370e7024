"""Income and expenditure: a statement's lines stated per month, what it leaves, and what a plan or a
settlement asks of it. Pure functions over values; the ledger decides with them.

The shape is the UK Standard Financial Statement's (income; fixed and flexible costs; priority and
non-priority debts), which fits a US or a Chinese lender's affordability check as well: what matters
is what is left each month after the costs of living and the debts that come first (CONC 7.3.4R:
forbearance and due consideration; the Consumer Duty's fair value).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date
from fractions import Fraction
from typing import Any

from dcp_events.catalogue.base import Money, MoneyDelta
from dcp_events.catalogue.payments import (
    Affordability,
    StatementCategory,
    StatementEntry,
    StatementFrequency,
    StatementSource,
)

PER_MONTH: dict[StatementFrequency, Fraction] = {
    StatementFrequency.WEEKLY: Fraction(52, 12),
    StatementFrequency.FORTNIGHTLY: Fraction(26, 12),
    StatementFrequency.FOUR_WEEKLY: Fraction(13, 12),
    StatementFrequency.MONTHLY: Fraction(1),
    StatementFrequency.QUARTERLY: Fraction(1, 3),
    StatementFrequency.ANNUALLY: Fraction(1, 12),
}
"""How many times an amount of each frequency falls in an average month (a year is 52 weeks)."""

ESSENTIAL = frozenset(
    {StatementCategory.FIXED_COSTS, StatementCategory.FLEXIBLE_COSTS, StatementCategory.PRIORITY_DEBTS}
)


def monthly_minor(amount_minor: int, frequency: StatementFrequency) -> int:
    """An amount at its frequency, per month, rounded half up to the minor unit."""
    exact = amount_minor * PER_MONTH[frequency]
    return int(exact + Fraction(1, 2)) if exact.denominator != 1 else int(exact)


@dataclass(frozen=True)
class StatementFigures:
    """The monthly totals of a statement (minor units of its currency)."""

    income: int
    outgoings: int
    non_priority: int

    @property
    def surplus(self) -> int:
        return self.income - self.outgoings

    @property
    def available(self) -> int:
        return self.surplus - self.non_priority


def entry(
    category: StatementCategory, item: str, amount: Money, frequency: StatementFrequency
) -> StatementEntry:
    return StatementEntry(
        category=category,
        line_item=item,
        amount=amount,
        frequency=frequency,
        monthly=Money(amount_minor=monthly_minor(amount.amount_minor, frequency), currency=amount.currency),
    )


def figures(entries: Sequence[StatementEntry]) -> StatementFigures:
    def total(categories: frozenset[StatementCategory]) -> int:
        return sum(e.monthly.amount_minor for e in entries if e.category in categories)

    return StatementFigures(
        income=total(frozenset({StatementCategory.INCOME})),
        outgoings=total(ESSENTIAL),
        non_priority=total(frozenset({StatementCategory.NON_PRIORITY_DEBTS})),
    )


def months_between(earlier: date, later: date) -> int:
    """Whole calendar months from `earlier` to `later` (a day-of-month not yet reached does not count)."""
    months = (later.year - earlier.year) * 12 + later.month - earlier.month
    return months - 1 if later.day < earlier.day else months


def is_current(statement_date: date, today: date, valid_months: int) -> bool:
    """A statement describes the debtor's situation for `valid_months` months after its date."""
    return statement_date <= today and months_between(statement_date, today) < valid_months


def largest_month(installments: Sequence[tuple[date, Money]]) -> int:
    """The most a schedule asks in one calendar month (a weekly plan asks four or five times in one)."""
    by_month: dict[tuple[int, int], int] = {}
    for due_on, amount in installments:
        key = (due_on.year, due_on.month)
        by_month[key] = by_month.get(key, 0) + amount.amount_minor
    return max(by_month.values(), default=0)


def months_to_pay(today: date, due_on: date) -> int:
    """The months of income a debtor has to find a lump sum due on `due_on` (at least one)."""
    days = (due_on - today).days
    whole = days * 12 // 365
    return max(1, whole + (1 if days * 12 % 365 else 0))


@dataclass(frozen=True)
class CurrentStatement:
    """What an arrangement is judged by: the newest statement still current."""

    statement_id: str
    statement_date: date
    source: StatementSource
    currency: str
    available_minor: int
    savings_minor: int

    def judge(self, supported_minor: int, asked_minor: int, by_supervisor: bool) -> Affordability:
        return Affordability(
            statement_id=self.statement_id,
            statement_date=self.statement_date,
            statement_source=self.source,
            monthly_available=MoneyDelta(delta_minor=self.available_minor, currency=self.currency),
            supported=Money(amount_minor=max(0, supported_minor), currency=self.currency),
            asked=Money(amount_minor=asked_minor, currency=self.currency),
            within=asked_minor <= max(0, supported_minor),
            approved_by_supervisor=by_supervisor and asked_minor > max(0, supported_minor),
        )

    def for_plan(self, installments: Sequence[tuple[date, Money]], by_supervisor: bool) -> Affordability:
        return self.judge(self.available_minor, largest_month(installments), by_supervisor)

    def for_settlement(self, amount: Money, today: date, due_on: date, by_supervisor: bool) -> Affordability:
        supported = max(0, self.available_minor) * months_to_pay(today, due_on) + self.savings_minor
        return self.judge(supported, amount.amount_minor, by_supervisor)


def erased_statement(payload: dict[str, Any]) -> dict[str, Any] | None:
    """A stored `FinancialStatementRecorded` without its lines (None: not one, or erased already): the
    redacted form every consumer sees once the case's data key is destroyed."""
    if "statement_id" in payload and "monthly_available" in payload and payload.get("entries"):
        return {**payload, "entries": []}
    return None
