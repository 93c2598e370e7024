"""Income and expenditure: a statement's monthly figures, and the plans and settlements it supports."""

from __future__ import annotations

import dataclasses
from datetime import UTC, date, datetime

import pytest
from hypothesis import given
from hypothesis import strategies as st

from dcp_events import catalogue as ev
from dcp_events.catalogue.payments import StatementCategory as Cat
from dcp_events.catalogue.payments import StatementFrequency as Freq
from payment_service.domain import affordability
from payment_service.domain.errors import (
    CurrencyMismatch,
    InvalidFinancialStatement,
    SupervisorApprovalRequired,
)
from payment_service.domain.ledger import ArrangementPolicy, CaseFacts, CaseLedger

NOW = datetime(2027, 1, 10, 12, 0, tzinfo=UTC)
POLICY = ArrangementPolicy(plan_supervisor_term_months=12, statement_valid_months=6)
CASE = CaseFacts("case-1", "GBP", 90_000, "Europe/London", "GB", closed=False)


def gbp(minor: int) -> ev.Money:
    return ev.Money(amount_minor=minor, currency="GBP")


# 1 800.00 a month in; rent 950.00, food 90.00 a week (390.00 a month), council tax arrears 50.00;
# 110.00 a month to another card: a surplus of 410.00, of which 300.00 is available for this debt.
LINES = [
    (Cat.INCOME, "salary", gbp(180_000), Freq.MONTHLY),
    (Cat.FIXED_COSTS, "rent", gbp(95_000), Freq.MONTHLY),
    (Cat.FLEXIBLE_COSTS, "food_and_housekeeping", gbp(9_000), Freq.WEEKLY),
    (Cat.PRIORITY_DEBTS, "council_tax_arrears", gbp(5_000), Freq.MONTHLY),
    (Cat.NON_PRIORITY_DEBTS, "credit_card", gbp(11_000), Freq.MONTHLY),
]


def record(
    ledger: CaseLedger,
    lines: list[tuple[Cat, str, ev.Money, Freq]] = LINES,
    *,
    statement_date: date = date(2027, 1, 5),
    savings: ev.Money | None = None,
    statement_id: str = "fs-1",
    case: CaseFacts = CASE,
) -> ev.FinancialStatementRecorded:
    [event] = ledger.record_financial_statement(
        statement_id=statement_id,
        statement_date=statement_date,
        source=ev.StatementSource.DEBTOR_STATED,
        household=ev.Household(adults=1, children=2),
        lines=lines,
        savings=savings,
        recorded_by="col-1",
        case=case,
        now=NOW,
    )
    assert isinstance(event, ev.FinancialStatementRecorded)
    return event


def plan(
    ledger: CaseLedger, monthly: int, months: int = 3, *, supervisor: bool = False
) -> ev.PaymentPlanAgreed:
    installments = [(date(2027, 1 + n, 28), gbp(monthly)) for n in range(months)]
    [event] = ledger.agree_plan(
        plan_id="plan-1",
        total=gbp(monthly * months),
        installments=installments,
        case=CASE,
        now=NOW,
        policy=POLICY,
        by_supervisor=supervisor,
    )
    assert isinstance(event, ev.PaymentPlanAgreed)
    return event


def test_the_statement_states_each_line_per_month_and_what_is_left() -> None:
    event = record(CaseLedger("case-1"))
    food = next(e for e in event.entries if e.line_item == "food_and_housekeeping")
    assert food.monthly == gbp(39_000)  # 90.00 a week * 52 / 12
    assert (event.monthly_income, event.monthly_outgoings, event.monthly_non_priority) == (
        gbp(180_000),
        gbp(139_000),
        gbp(11_000),
    )
    assert (event.monthly_surplus.delta_minor, event.monthly_available.delta_minor) == (41_000, 30_000)


@pytest.mark.parametrize(
    ("amount", "frequency", "monthly"),
    [
        (10_000, Freq.WEEKLY, 43_333),  # 433.33...
        (10_001, Freq.FORTNIGHTLY, 21_669),  # 216.688...: half up
        (12_000, Freq.FOUR_WEEKLY, 13_000),
        (30_000, Freq.QUARTERLY, 10_000),
        (120_001, Freq.ANNUALLY, 10_000),  # 10 000.08...
        (1, Freq.ANNUALLY, 0),
    ],
)
def test_frequencies_are_stated_per_month_to_the_minor_unit(
    amount: int, frequency: Freq, monthly: int
) -> None:
    assert affordability.monthly_minor(amount, frequency) == monthly


@given(st.integers(min_value=0, max_value=10**12), st.sampled_from(list(Freq)))
def test_a_monthly_figure_is_within_half_a_minor_unit_of_the_exact_one(amount: int, frequency: Freq) -> None:
    exact = amount * affordability.PER_MONTH[frequency]
    assert abs(affordability.monthly_minor(amount, frequency) - exact) <= 0.5


def test_a_plan_within_what_the_statement_leaves_carries_the_statement() -> None:
    ledger = CaseLedger("case-1")
    record(ledger)
    agreed = plan(ledger, 30_000)
    judged = agreed.affordability
    assert judged is not None
    assert (judged.statement_id, judged.statement_date, judged.statement_source) == (
        "fs-1",
        date(2027, 1, 5),
        ev.StatementSource.DEBTOR_STATED,
    )
    assert (judged.supported, judged.asked, judged.within) == (gbp(30_000), gbp(30_000), True)


def test_a_plan_asking_more_than_the_statement_leaves_needs_a_supervisor() -> None:
    ledger = CaseLedger("case-1")
    record(ledger)
    with pytest.raises(SupervisorApprovalRequired, match="supports 30000"):
        plan(ledger, 45_000, months=2)
    judged = plan(ledger, 45_000, months=2, supervisor=True).affordability
    assert judged is not None and not judged.within and judged.approved_by_supervisor


def test_a_weekly_plan_is_judged_by_its_largest_calendar_month() -> None:
    ledger = CaseLedger("case-1")
    record(ledger)
    # 70.00 a week from 2 March: five installments in March (350.00), four in April (280.00)
    weekly = [(date(2027, 3, 2), gbp(7_000))]
    while len(weekly) < 9:
        weekly.append((weekly[-1][0].fromordinal(weekly[-1][0].toordinal() + 7), gbp(7_000)))
    assert affordability.largest_month(weekly) == 35_000
    with pytest.raises(SupervisorApprovalRequired, match="asks 35000"):
        ledger.agree_plan(
            plan_id="plan-w", total=gbp(63_000), installments=weekly,
            case=dataclasses.replace(CASE, balance_minor=63_000), now=NOW, policy=POLICY, by_supervisor=False,
        )  # fmt: skip


def test_a_deficit_supports_no_plan_without_a_supervisor() -> None:
    ledger = CaseLedger("case-1")
    benefits = (Cat.INCOME, "universal_credit", gbp(60_000), Freq.MONTHLY)
    record(ledger, [benefits, (Cat.FIXED_COSTS, "rent", gbp(70_000), Freq.MONTHLY)])
    with pytest.raises(SupervisorApprovalRequired, match="supports 0"):
        plan(ledger, 30_000)


def test_the_newest_current_statement_judges_and_an_old_one_judges_nothing() -> None:
    ledger = CaseLedger("case-1")
    record(ledger, statement_date=date(2026, 6, 30), statement_id="fs-old")  # over six months before today
    assert ledger.current_statement(date(2027, 1, 10), POLICY) is None
    assert (
        plan(ledger, 90_000, months=1).affordability is None
    )  # nothing current: the collector's usual limits only
    newer = CaseLedger("case-1")
    record(newer, statement_date=date(2026, 12, 1), statement_id="fs-dec")
    record(newer, statement_date=date(2026, 11, 1), statement_id="fs-nov")  # recorded later, but older
    current = newer.current_statement(date(2027, 1, 10), POLICY)
    assert current is not None and current.statement_id == "fs-dec"


def test_where_a_statement_is_required_a_collector_needs_one() -> None:
    required = dataclasses.replace(POLICY, statement_required_in=("GB",))
    ledger = CaseLedger("case-1")
    args = {
        "plan_id": "plan-1", "total": gbp(90_000),
        "installments": [(date(2027, 1 + n, 28), gbp(30_000)) for n in range(3)],
        "case": CASE, "now": NOW, "policy": required,
    }  # fmt: skip
    with pytest.raises(SupervisorApprovalRequired, match="income and expenditure statement"):
        ledger.agree_plan(**args, by_supervisor=False)  # type: ignore[arg-type]
    assert ledger.agree_plan(**args, by_supervisor=True)  # type: ignore[arg-type]
    record(ledger)
    ledger = CaseLedger.from_events(
        "case-1", [(e, NOW) for e in ledger.pending if isinstance(e, ev.FinancialStatementRecorded)]
    )
    assert ledger.agree_plan(**args, by_supervisor=False)  # type: ignore[arg-type]


def test_a_settlement_is_judged_by_the_months_to_pay_and_the_savings() -> None:
    ledger = CaseLedger("case-1")
    record(ledger, savings=gbp(50_000))

    def settle(minor: int, due_on: date) -> ev.SettlementAgreed:
        fresh = CaseLedger.from_events("case-1", [(e, NOW) for e in ledger.pending])
        [event] = fresh.agree_settlement(
            settlement_id="stl-1", amount=gbp(minor), due_on=due_on, case=CASE, now=NOW,
            policy=dataclasses.replace(POLICY, settlement_supervisor_days=120), by_supervisor=False,
        )  # fmt: skip
        assert isinstance(event, ev.SettlementAgreed)
        return event

    # due within a month: one month's 300.00 plus 500.00 of savings
    judged = settle(80_000, date(2027, 2, 5)).affordability
    assert judged is not None and judged.supported == gbp(80_000) and judged.within
    with pytest.raises(SupervisorApprovalRequired):
        settle(80_001, date(2027, 2, 5))
    later = settle(90_000, date(2027, 3, 31)).affordability  # 80 days: three months of 300.00 + 500.00
    assert later is not None and later.supported == gbp(140_000)


def test_a_statement_in_another_currency_or_dated_ahead_is_refused() -> None:
    with pytest.raises(CurrencyMismatch):
        dollars = ev.Money(amount_minor=1, currency="USD")
        record(CaseLedger("case-1"), [(Cat.INCOME, "salary", dollars, Freq.MONTHLY)])
    with pytest.raises(InvalidFinancialStatement, match="after today"):
        record(CaseLedger("case-1"), statement_date=date(2027, 1, 11))


def test_the_ledger_rebuilt_from_its_events_keeps_the_statement() -> None:
    ledger = CaseLedger("case-1")
    record(ledger)
    rebuilt = CaseLedger.from_events("case-1", [(e, NOW) for e in ledger.pending])
    assert rebuilt.current_statement(date(2027, 1, 10), POLICY) == ledger.current_statement(
        date(2027, 1, 10), POLICY
    )
    assert rebuilt.statements["fs-1"].available_minor == 30_000
