"""The pure checks behind the ledger's decisions: what makes a plan or a settlement acceptable, and
how large a discount an agreed amount gives. No state: each takes what it judges."""

from __future__ import annotations

import itertools
from collections.abc import Sequence
from datetime import date, datetime

from dcp_events.catalogue.base import Money
from payment_service.domain.calendar import local_date, term_in_months
from payment_service.domain.errors import (
    CurrencyMismatch,
    InvalidPaymentPlan,
    InvalidSettlement,
    SupervisorApprovalRequired,
)
from payment_service.domain.ledger.state import ArrangementPolicy, CaseFacts


def discount_bps(balance_minor: int, agreed_minor: int) -> int:
    """The discount an agreed amount gives on the balance, in basis points (rounded up)."""
    if balance_minor <= 0 or agreed_minor >= balance_minor:
        return 0
    return -((agreed_minor - balance_minor) * 10_000 // balance_minor)


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


def check_collector_plan_limits(
    total: Money,
    installments: Sequence[tuple[date, Money]],
    case: CaseFacts,
    now: datetime,
    policy: ArrangementPolicy,
) -> None:
    """A plan longer or more discounted than a collector may agree needs a supervisor."""
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


def check_collector_settlement_limits(
    amount: Money, days: int, case: CaseFacts, policy: ArrangementPolicy
) -> None:
    """A settlement more discounted, or due later, than a collector may agree needs a supervisor."""
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
