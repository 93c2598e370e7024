"""The case dates its limitation when opened and again when a payment the law counts restarts it."""

from __future__ import annotations

from datetime import date

from case_service.domain.case import Case
from case_service.domain.policy import CollectionPolicy
from dcp_events.catalogue.base import CaseAmounts, Money
from dcp_events.catalogue.cases import CaseLimitationDated
from dcp_events.catalogue.debtor import Account, Debtor, PostalAddress


def usd(minor: int) -> Money:
    return Money(amount_minor=minor, currency="USD")


def us_case(
    policy: CollectionPolicy, region: str, due_since: date, today: date, product: str = "credit_card"
) -> Case:
    case = Case.open(
        "case-us",
        debtor=Debtor(
            debtor_id="d-1",
            full_name="Ada Lovelace",
            language="en-US",
            time_zone="America/New_York",
            time_zone_source="address",
            address=PostalAddress(lines=["1 Main St"], city="Springfield", region=region, country="US"),
        ),
        account=Account(creditor_id="acme", account_reference="a-1", product=product),
        amounts=CaseAmounts(principal=usd(50_000), interest=usd(0), fees=usd(0), total_balance=usd(50_000)),
        due_since=due_since,
        jurisdiction="US",
        risk_score=None,
        placement_id=None,
        today=today,
        policy=policy,
    )
    return case


def dated(case: Case) -> list[CaseLimitationDated]:
    return [e for e in case.pull_changes() if isinstance(e, CaseLimitationDated)]


def test_an_opened_case_is_dated_by_its_state_rule(policy: CollectionPolicy) -> None:
    """N.Y. CPLR 213-a: three years on consumer credit from the date of default."""
    case = us_case(policy, "NY", date(2023, 5, 1), date(2026, 1, 15))
    [event] = dated(case)
    assert event.time_barred_at == date(2026, 5, 1)
    assert event.rule_id == "US-NY-LIM-OPEN-ENDED"
    assert "213-a" in (event.citation or "")
    assert not case.time_barred_on(date(2026, 4, 30))
    assert case.time_barred_on(date(2026, 5, 1))


def test_a_payment_that_restarts_the_period_is_dated_again(policy: CollectionPolicy) -> None:
    """Fla. Stat. 95.051(1): a part payment on a written obligation restarts the five years."""
    case = us_case(policy, "FL", date(2023, 5, 1), date(2026, 1, 15), product="personal_loan")
    case.pull_changes()
    case.apply_payment("pay-1", usd(1_000), paid_on=date(2026, 1, 20))
    [event] = dated(case)
    assert event.time_barred_at == date(2031, 1, 20)
    assert (event.restart_kind, event.restart_on) == ("payment", date(2026, 1, 20))


def test_a_payment_the_law_does_not_count_records_nothing(policy: CollectionPolicy) -> None:
    """Tex. Civ. Prac. & Rem. Code 16.065: a payment alone does not restart the period (no new date)."""
    case = us_case(policy, "TX", date(2023, 5, 1), date(2026, 1, 15))
    case.pull_changes()
    case.apply_payment("pay-1", usd(1_000), paid_on=date(2026, 1, 20))
    assert dated(case) == []
    assert case.limitation is not None and case.limitation.time_barred_at == date(2027, 5, 1)


def test_restarts_survive_the_rebuild_and_a_new_default_date(policy: CollectionPolicy) -> None:
    """The restarts recorded on the case are kept: redating the default keeps the later payment's
    period (Fla. Stat. 95.051(1))."""
    case = us_case(policy, "FL", date(2023, 5, 1), date(2026, 1, 15), product="loan")
    case.apply_payment("pay-1", usd(1_000), paid_on=date(2026, 1, 20))
    history = case.pull_changes()
    rebuilt = Case.from_events("case-us", history)
    assert rebuilt.limitation == case.limitation
    rebuilt.redate(date(2023, 7, 1), date(2026, 2, 1), policy, "creditor's correction")
    assert rebuilt.limitation is not None and rebuilt.limitation.time_barred_at == date(2031, 1, 20)


def test_an_unknown_state_is_dated_as_unknown_with_the_reason(policy: CollectionPolicy) -> None:
    case = us_case(policy, "ZZ", date(2023, 5, 1), date(2026, 1, 15))
    [event] = dated(case)
    assert event.time_barred_at is None
    assert "ZZ" in event.reason
    assert not case.time_barred_on(date(2040, 1, 1))


def test_a_demand_restarts_a_chinese_case_and_not_an_american_one(policy: CollectionPolicy) -> None:
    """CN Civil Code art. 195: the obligee's claim for performance interrupts the three years, which run
    anew; no US state here counts a collector's demand."""
    from dcp_compliance.limitation import RestartEvent, RestartKind

    demand = RestartEvent(kind=RestartKind.CREDITOR_DEMAND, on=date(2026, 1, 20))
    cn = Case.open(
        "case-cn",
        debtor=Debtor(
            debtor_id="d-2",
            full_name="王小明",
            language="zh-CN",
            time_zone="Asia/Shanghai",
            time_zone_source="address",
        ),
        account=Account(creditor_id="acme", account_reference="a-2", product="personal_loan"),
        amounts=CaseAmounts(
            principal=Money(amount_minor=50_000, currency="CNY"),
            interest=Money(amount_minor=0, currency="CNY"),
            fees=Money(amount_minor=0, currency="CNY"),
            total_balance=Money(amount_minor=50_000, currency="CNY"),
        ),
        due_since=date(2024, 5, 1),
        jurisdiction="CN",
        risk_score=None,
        placement_id=None,
        today=date(2026, 1, 15),
        policy=policy,
    )
    [opened] = dated(cn)
    assert opened.time_barred_at == date(2027, 5, 1)
    assert cn.date_limitation(demand)
    [restarted] = dated(cn)
    assert (restarted.time_barred_at, restarted.restart_kind) == (date(2029, 1, 20), "creditor_demand")
    assert "art. 195" in (restarted.citation or "")

    us = us_case(policy, "CA", date(2024, 5, 1), date(2026, 1, 15))
    us.pull_changes()
    assert not us.date_limitation(demand)
    assert dated(us) == []
